"""Callbacks see every loop event: ``on_event(event, run)``. They must not raise."""

from __future__ import annotations

from typing import Any, Protocol


class Callback(Protocol):
    def on_event(self, event: dict[str, Any], run: Any) -> None: ...


class ProgressBar:
    """A tqdm bar over rounds showing best validation score, budget spent and the current step."""

    def __init__(self, **tqdm_kwargs: Any):
        self.tqdm_kwargs = tqdm_kwargs
        self.bar = None

    def on_event(self, event: dict[str, Any], run: Any) -> None:
        from tqdm.auto import tqdm

        if event["type"] == "start":
            self.bar = tqdm(total=run.cfg.max_iterations, desc="promptlearn", unit="round", **self.tqdm_kwargs)
        if self.bar is None:
            return
        if event["type"] == "round":
            self.bar.update(1)
        if event["type"] == "end":
            self.bar.set_postfix_str(f"stopped: {event['stop_reason']}; best val {run.val_mean(run.best_id):.3f}")
            self.bar.close()
            return
        spent = run.meter.snapshot()
        budget = run.cfg.budget.max_rollouts
        self.bar.set_postfix_str(f"best val {run.val_mean(run.best_id):.3f} | rollouts {spent['rollouts']}"
                                 f"{'/' + str(budget) if budget else ''} | calls {spent['llm_calls']} | "
                                 f"{event.get('step', event['type'])}")


class EventLog:
    """Keeps every event in a list (handy in tests and notebooks)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def on_event(self, event: dict[str, Any], run: Any) -> None:
        self.events.append(event)

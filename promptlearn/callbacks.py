"""Callbacks see every loop event: ``on_event(event, run)``.

``event`` is a :class:`LoopEvent`; ``run`` a :class:`RunView`, a read-only view of the
run's progress (never the loop's internals). Callbacks must not raise: an exception
from a callback is logged and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .records import RoundRecord

if TYPE_CHECKING:
    from .config import OptimizeConfig
    from .records import Candidate

EventType = Literal["start", "seed", "step", "round", "end"]


@dataclass(frozen=True)
class LoopEvent:
    """One thing that happened in the loop.

    - ``start``: the run begins (the seed is about to be validated);
    - ``seed``: the seed prompt's validation score is known (``val``);
    - ``step``: a round moved on to ``step`` (e.g. "proposing") in ``iteration``;
    - ``round``: a round ended; ``round`` is its record, ``gained`` whether validation improved;
    - ``end``: the run stopped for ``stop_reason``.
    ``event["type"]`` and ``event.get("step")`` also work, as events were dicts before.
    """

    type: EventType
    iteration: int | None = None
    step: str | None = None
    round: RoundRecord | None = None
    gained: bool | None = None
    val: float | None = None
    stop_reason: str | None = None

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None)
        return default if value is None else value


class RunView(Protocol):
    """What a callback may read about the run in progress."""

    @property
    def config(self) -> "OptimizeConfig": ...

    @property
    def best_id(self) -> str: ...

    @property
    def best_val(self) -> float: ...

    @property
    def history(self) -> tuple[RoundRecord, ...]: ...

    @property
    def best_candidate(self) -> "Candidate": ...

    @property
    def run_dir(self) -> str | None:
        """The run directory (events, run.json, result.json), or None for a run kept in memory."""
        ...

    def val_mean(self, candidate_id: str) -> float: ...

    def spent(self) -> dict[str, Any]:
        """Rollouts, LLM calls, cache hits, tokens, $ and wall seconds so far."""
        ...


class Callback(Protocol):
    def on_event(self, event: LoopEvent, run: RunView) -> None: ...


class ProgressBar:
    """A tqdm bar over rounds showing best validation score, budget spent and the current step."""

    def __init__(self, **tqdm_kwargs: Any):
        self.tqdm_kwargs = tqdm_kwargs
        self.bar: Any = None

    def on_event(self, event: LoopEvent, run: RunView) -> None:
        from tqdm.auto import tqdm

        if event.type == "start":
            self.bar = tqdm(total=run.config.max_iterations, desc="promptlearn", unit="round", **self.tqdm_kwargs)
        if self.bar is None:
            return
        if event.type == "round":
            self.bar.update(1)
        if event.type == "end":
            self.bar.set_postfix_str(f"stopped: {event.stop_reason}; best val {run.best_val:.3f}")
            self.bar.close()
            return
        spent = run.spent()
        budget = run.config.budget.max_rollouts
        self.bar.set_postfix_str(f"best val {run.best_val:.3f} | rollouts {spent['rollouts']}"
                                 f"{'/' + str(budget) if budget else ''} | calls {spent['llm_calls']} | "
                                 f"{event.step or event.type}")


class EventLog:
    """Keeps every event in a list (handy in tests and notebooks)."""

    def __init__(self) -> None:
        self.events: list[LoopEvent] = []

    def on_event(self, event: LoopEvent, run: RunView) -> None:
        self.events.append(event)

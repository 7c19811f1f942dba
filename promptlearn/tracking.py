"""MLflow tracking (the ``mlflow`` extra): an optimisation as an MLflow run, a bench cell as one too.

``MLflowCallback`` logs a run's settings as params, the validation score, rollouts and spend of every round
as metrics (step = round), the best prompt as a version in MLflow's prompt registry (each rule's provenance
as a tag), and, when the run has a run directory, its HTML report and event log as artifacts.
``log_bench_cell`` logs one bench record: test score, its 95% CI, the gain over the seed prompt, rollouts
and cost. Both talk to the tracking store through an ``MlflowClient`` of their own: no global active run,
so parallel runs in one process do not mix (the reason promptlearn has no global settings either).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ._extras import require
from .callbacks import LoopEvent, RunView

DEFAULT_EXPERIMENT = "promptlearn"
DEFAULT_PROMPT_NAME = "promptlearn-best"
MAX_PARAM_CHARS = 500  # MLflow refuses longer param values on some stores
MAX_TAG_CHARS = 5000
ROUND_METRICS = ("best_val", "child_val", "child_minibatch", "parent_minibatch", "rollouts", "llm_calls", "tokens",
                 "cost_usd", "wall_s")


def _client(tracking_uri: str | None) -> Any:
    mlflow = require("mlflow", "mlflow", what="MLflow tracking")
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return str(found.experiment_id if found is not None else client.create_experiment(name))


def flat_params(settings: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow params: dotted keys, JSON for lists, values cut to ``MAX_PARAM_CHARS``."""
    params: dict[str, str] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            params.update(flat_params(value, f"{prefix}{key}."))
        elif value is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            params[f"{prefix}{key}"] = text[:MAX_PARAM_CHARS]
    return params


class MLflowCallback:
    """Logs an optimisation to MLflow (see the module docstring). ``tracking_uri`` as MLflow takes it
    (``sqlite:///mlflow.db``, ``http://host:5000``, a folder); None: MLflow's own default (``MLFLOW_TRACKING_URI``).
    The MLflow run id is ``run_id`` once the run has started; the registered prompt version ``prompt_version``."""

    def __init__(self, tracking_uri: str | None = None, *, experiment: str = DEFAULT_EXPERIMENT,
                 run_name: str | None = None, prompt_name: str | None = DEFAULT_PROMPT_NAME):
        self.client = _client(tracking_uri)
        self.experiment, self.run_name, self.prompt_name = experiment, run_name, prompt_name
        self.run_id: str | None = None
        self.prompt_version: int | None = None

    def on_event(self, event: LoopEvent, run: RunView) -> None:
        if event.type == "start":
            created = self.client.create_run(_experiment_id(self.client, self.experiment), run_name=self.run_name)
            self.run_id = created.info.run_id
            for key, value in flat_params(run.config.model_dump(mode="json")).items():
                self.client.log_param(self.run_id, key, value)
        if self.run_id is None:
            return
        if event.type == "seed" and event.val is not None:
            self.client.log_metric(self.run_id, "seed_val", event.val, step=0)
            self.client.log_metric(self.run_id, "best_val", event.val, step=0)
        elif event.type == "round" and event.round is not None:
            row = event.round
            for name in ROUND_METRICS:
                metric = getattr(row, name, None)
                if metric is not None:
                    self.client.log_metric(self.run_id, name, float(metric), step=row.iteration)
        elif event.type == "end":
            self._finish(event, run)

    def _finish(self, event: LoopEvent, run: RunView) -> None:
        assert self.run_id is not None
        self.client.set_tag(self.run_id, "stop_reason", event.stop_reason or "")
        self.client.set_tag(self.run_id, "best_candidate", run.best_id)
        best = run.best_candidate
        if self.prompt_name:
            tags = {f"rule_{i}": _provenance(rule)[:MAX_TAG_CHARS]
                    for i, rule in enumerate((r for c in best.components.values() for r in c.rules), start=1)}
            version = self.client.register_prompt(
                self.prompt_name, template=best.prompt, tags={"promptlearn_run": self.run_id, **tags},
                commit_message=f"best of run {self.run_id}: validation {run.best_val:.3f}")
            self.prompt_version = int(version.version)
            self.client.set_tag(self.run_id, "prompt", f"prompts:/{self.prompt_name}/{self.prompt_version}")
        if run.run_dir is not None:
            self._artifacts(Path(run.run_dir))
        self.client.set_terminated(self.run_id, "FINISHED")

    def _artifacts(self, run_dir: Path) -> None:
        from .result import OptimizationResult
        from .store import EVENTS_FILE, RESULT_FILE

        assert self.run_id is not None
        if (run_dir / EVENTS_FILE).exists():
            self.client.log_artifact(self.run_id, str(run_dir / EVENTS_FILE))
        if (run_dir / RESULT_FILE).exists():
            with tempfile.TemporaryDirectory() as folder:
                report = OptimizationResult.load(run_dir).report(Path(folder) / "report.html")
                self.client.log_artifact(self.run_id, str(report))


def _provenance(rule: Any) -> str:
    sources = "; ".join(f"{p.example_id} ({p.judge}): {p.critique}" for p in rule.provenance)
    return f"{rule.text} | from: {sources or 'no recorded failure'}"


def log_bench_cell(record: dict[str, Any], tracking_uri: str | None = None, *,
                   experiment: str = DEFAULT_EXPERIMENT + "-bench") -> str:
    """One bench record as a finished MLflow run (named task/method/seed): its settings as params, the test
    score, its 95% CI, the gain over the seed prompt, rollouts and cost as metrics. Returns the run id."""
    client = _client(tracking_uri)
    name = f"{record['task']}/{record['method']}/seed{record['seed']}"
    run_id = str(client.create_run(_experiment_id(client, experiment), run_name=name).info.run_id)
    for key in ("task", "method", "seed", "budget", "agent", "rewriter", "commit", "status", "key"):
        if record.get(key) is not None:
            client.log_param(run_id, key, str(record[key])[:MAX_PARAM_CHARS])
    low, high = record.get("test_ci95") or (None, None)
    metrics = {key: record.get(key) for key in ("test", "seed_test", "gain", "rollouts", "llm_calls", "tokens",
                                                "cost_usd", "optimize_wall_s")}
    metrics.update(test_ci95_low=low, test_ci95_high=high)
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and value == value:  # skips None and NaN
            client.log_metric(run_id, key, float(value))
    if record.get("error"):
        client.set_tag(run_id, "error", str(record["error"])[:MAX_TAG_CHARS])
    client.set_terminated(run_id, "FINISHED" if record.get("status") == "ok" else "FAILED")
    return run_id

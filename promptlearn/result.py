"""What an optimisation run returns, and what it can show."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._extras import require
from .config import OptimizeConfig
from .errors import ConfigError
from .records import Candidate, ExampleResult, RoundRecord, Rule
from .stats import bootstrap_ci, mean, prob_positive

# The report's bootstrap draws come from their own fixed seed, so a result says the same thing each time it is read.
EVIDENCE_SEED = 0


@dataclass(frozen=True)
class PairedGain:
    """How sure a validation gain is: ``after`` minus ``before`` on the validation examples both were scored on.

    Scores are in [0, 1], higher is better. ``ci95`` is a percentile bootstrap over those examples, so it speaks of
    which examples the validation set happens to hold, not of the judge's own noise on each (for which the loop's
    minibatch acceptance asks). ``iteration`` and ``strategy`` name the round that made ``after`` the best (None
    for the seed-to-best comparison).
    """

    before: str
    after: str
    n: int
    gain: float
    ci95: tuple[float, float]
    better: int
    worse: int
    prob_positive: float
    iteration: int | None = None
    strategy: str | None = None

    @property
    def within_noise(self) -> bool:
        """The 95% interval reaches zero: on this validation set the gain may be luck."""
        return self.ci95[0] <= 0.0

    def describe(self) -> str:
        noise = "; within validation noise" if self.within_noise else ""
        return (f"{self.gain:+.3f} [{self.ci95[0]:+.3f}, {self.ci95[1]:+.3f}] paired over {self.n} examples, "
                f"{self.better} better / {self.worse} worse{noise}")


@dataclass
class OptimizationResult:
    seed: Candidate
    best: Candidate
    candidates: dict[str, Candidate]
    val_scores: dict[str, dict[str, float]]       # candidate id -> example id -> score (validated ones)
    history: list[RoundRecord]                    # one record per round
    val_results: dict[str, dict[str, ExampleResult]] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    usage_by_role: dict[str, dict[str, float]] = field(default_factory=dict)
    stop_reason: str = ""
    config: OptimizeConfig | None = None
    output_contract: str | None = None

    @property
    def best_prompt(self) -> str:
        return self.best.prompt

    def val_mean(self, cid: str) -> float:
        scores = self.val_scores.get(cid, {})
        return mean(scores.values())

    @property
    def seed_val(self) -> float:
        return self.val_mean(self.seed.id)

    @property
    def best_val(self) -> float:
        return self.val_mean(self.best.id)

    def history_df(self) -> Any:
        """One row per round: parent, child, minibatch scores, decision, validation, budget spent."""
        import pandas as pd

        return pd.DataFrame([r.model_dump() for r in self.history], columns=list(RoundRecord.model_fields))

    def usage_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_dict(self.usage_by_role, orient="index")

    def lineage(self) -> list[tuple[str, str]]:
        """(parent id, child id) edges for every candidate that was proposed."""
        return [(p, c.id) for c in self.candidates.values() for p in c.parent_ids]

    def rules(self) -> list[Rule]:
        """The best prompt's rules (of every component), each with the critiques and examples that produced it."""
        return [rule for component in self.best.components.values() for rule in component.rules]

    def rule_contributions(self) -> dict[str, float]:
        """Rule text -> its last measured contribution (score with it minus without it, on the same training
        examples), from the run's prune rounds; rules never left out are absent."""
        found: dict[str, float] = {}
        for row in self.history:
            found.update(row.rule_contributions or {})
        return found

    def val_gain(self, before: str | None = None, after: str | None = None) -> PairedGain | None:
        """``after`` (default: the best) minus ``before`` (default: the seed), paired on the validation examples
        both were scored on, with a 95% bootstrap interval; None when the two are one candidate (the seed was
        kept: no gain to weigh), when either was not validated, or when they share no example."""
        before, after = before or self.seed.id, after or self.best.id
        if before == after:
            return None
        a, b = self.val_scores.get(before, {}), self.val_scores.get(after, {})
        common = [eid for eid in a if eid in b]
        if not common:
            return None
        diffs = [b[eid] - a[eid] for eid in common]
        rng = random.Random(EVIDENCE_SEED)
        return PairedGain(before=before, after=after, n=len(diffs), gain=mean(diffs),
                          ci95=bootstrap_ci(diffs, rng=rng), better=sum(d > 0 for d in diffs),
                          worse=sum(d < 0 for d in diffs), prob_positive=prob_positive(diffs, rng=rng))

    def gain_trail(self) -> list[PairedGain]:
        """Each change of the best candidate, in round order, against the best it replaced: how much evidence each
        step of the path to the final prompt rested on."""
        trail, best = [], self.seed.id
        for row in self.history:
            if row.best and row.best != best:
                step = self.val_gain(best, row.best)
                if step is not None:
                    trail.append(replace(step, iteration=row.iteration, strategy=row.strategy))
                best = row.best
        return trail

    def summary(self) -> str:
        if self.seed.id not in self.val_scores:
            return (f"stopped ({self.stop_reason}) before the seed prompt was scored on every validation example: "
                    f"no scores to compare ({self.usage.get('rollouts', 0)} rollouts spent); raise the budget")
        reached, total = len(self.val_scores.get(self.best.id, {})), len(self.val_scores[self.seed.id])
        partly = f" on the {reached} of {total} validation examples the budget reached" if reached < total else ""
        shown = (f"; the best prompt also shows the {self.best.retrieve} training examples nearest each input "
                 f"(ship it with RetrievalAgent(agent, train, k={self.best.retrieve}))") if self.best.retrieve else ""
        gain = self.val_gain()
        evidence = f"; gain {gain.describe()}" if gain else ""
        return (f"validation score {self.seed_val:.3f} -> {self.best_val:.3f}{partly}{evidence} "
                f"({len(self.history)} rounds, {len(self.candidates)} candidates, {self.usage.get('rollouts', 0)} "
                f"rollouts, {self.usage.get('llm_calls', 0)} LLM calls; stopped: {self.stop_reason}){shown}")

    def plot(self, ax: Any = None) -> Any:
        """Score per round: child minibatch (train) and validation, with the best-so-far line."""
        matplotlib = require("matplotlib", "plots", what="result.plot()")

        if ax is None:
            matplotlib.use(matplotlib.get_backend())
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4))
        frame = self.history_df()
        ax.axhline(self.seed_val, color="grey", ls=":", label=f"seed (val {self.seed_val:.2f})")
        if not frame.empty:
            if frame["child_minibatch"].notna().any():
                ax.plot(frame["iteration"], frame["child_minibatch"], "o", alpha=0.5, label="child, train minibatch")
            if frame["parent_minibatch"].notna().any():
                ax.plot(frame["iteration"], frame["parent_minibatch"], "x", alpha=0.5, label="parent, train minibatch")
            if frame["child_val"].notna().any():
                ax.plot(frame["iteration"], frame["child_val"], "s", label="child, validation")
            ax.step(frame["iteration"], frame["best_val"], where="post", label="best validation")
        ax.set_xlabel("round")
        ax.set_ylabel("score (higher is better)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title("promptlearn: score per round")
        return ax

    def report(self, path: str | Path) -> Path:
        from .report import write_report

        return write_report(self, path)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed.model_dump(), "best": self.best.model_dump(),
                "candidates": {k: v.model_dump() for k, v in self.candidates.items()},
                "val_scores": self.val_scores, "history": [r.as_row() for r in self.history],
                "val_results": {cid: {eid: r.model_dump() for eid, r in res.items()}
                                for cid, res in self.val_results.items()},
                "usage": self.usage, "usage_by_role": self.usage_by_role, "stop_reason": self.stop_reason,
                "config": self.config.model_dump() if self.config else None, "output_contract": self.output_contract}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OptimizationResult":
        return cls(seed=Candidate.model_validate(data["seed"]), best=Candidate.model_validate(data["best"]),
                   candidates={k: Candidate.model_validate(v) for k, v in data["candidates"].items()},
                   val_scores=data["val_scores"], history=[RoundRecord.from_row(r) for r in data["history"]],
                   val_results={cid: {eid: ExampleResult.model_validate(r) for eid, r in res.items()}
                                for cid, res in data.get("val_results", {}).items()},
                   usage=data.get("usage", {}), usage_by_role=data.get("usage_by_role", {}),
                   stop_reason=data.get("stop_reason", ""),
                   config=OptimizeConfig.model_validate(data["config"]) if data.get("config") else None,
                   output_contract=data.get("output_contract"))

    @classmethod
    def load(cls, run_dir: str | Path) -> "OptimizationResult":
        from .store import RESULT_FILE

        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise ConfigError(f"{run_dir} is not a run directory")
        path = run_dir / RESULT_FILE
        if not path.exists():
            raise ConfigError(f"{path} not found: the run has not finished (resume it with resume=True / --resume)")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path} is not readable JSON ({exc}); it may be cut off: resume the run "
                              f"(resume=True / --resume) to write it again") from None
        except (KeyError, TypeError, AttributeError, ValidationError) as exc:
            problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise ConfigError(f"{path} is not a promptlearn result ({problem}); resume the run to write it again") \
                from None

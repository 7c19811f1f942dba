"""Methods a benchmark compares, behind one small Protocol.

Contract: ``Method.run(setup) -> MethodOutcome``. Every method gets the same ``CellSetup``:
the train and val examples of the cell's seed, the seed prompt, the agent (a ``CountingAgent``:
one rollout = one agent call on one example, train or val, counted the same way for every
method), the optimizer's judges, the rewriter model, and the rollout budget. It returns the
system prompt it would ship; the runner scores that prompt on the held-out test set with the
same agent code and the task's ground-truth metric, so methods differ only in their search.
A method may raise: the runner records the cell as failed with the error and goes on.
``missing()`` names the pip command when an optional dependency is absent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from ..agents import Agent
from ..callbacks import Callback
from ..config import Budget, OptimizeConfig
from ..errors import ConfigError
from ..judges.base import Judge
from ..llm import LLM
from ..optimizer import PromptOptimizer
from ..records import Candidate, Example, Rollout
from ..result import PairedGain
from ..retrieval import DEFAULT_RETRIEVED_DEMOS, RetrievalAgent
from .task import TaskSpec


class CountingAgent:
    """An agent that counts its calls: the one rollout meter every method is charged by."""

    def __init__(self, agent: Agent):
        self.inner = agent
        self.rollouts = 0
        self._lock = threading.Lock()

    def count(self, n: int = 1) -> None:
        with self._lock:
            self.rollouts += n

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        self.count()
        return await self.inner.arun(candidate, example)

    def __getattr__(self, name: str) -> Any:  # answer_pattern, max_tokens, preflight, messages ...
        return getattr(self.inner, name)


@dataclass
class CellSetup:
    """What one (task, method, seed) cell gives its method. Identical for every method of the cell."""

    task: TaskSpec
    seed: int
    budget: int
    train: list[Example]
    val: list[Example]
    agent: CountingAgent
    judges: list[Judge]
    judge_weights: list[float]
    rewriter: LLM
    work_dir: Path
    callbacks: Sequence[Callback] = ()
    engine_model: str | None = None  # --engine transformers: the model weight methods tune (and all arms score on)
    progress: bool = False  # weight methods: training progress bars (the loop's come from callbacks)

    @property
    def seed_prompt(self) -> str | dict[str, str]:
        """A string, or for a multi-step task each component's seed prompt by name."""
        return self.task.seed_prompt

    def single_prompt(self, method: str) -> str:
        """The seed prompt of a single-prompt task; ConfigError for a multi-step one (``method`` cannot run it)."""
        if not isinstance(self.task.seed_prompt, str):
            raise ConfigError(f"{method} runs single-prompt tasks; {self.task.name!r} has steps "
                              f"{list(self.task.seed_prompt)}")
        return self.task.seed_prompt

    def optimizer(self, config: OptimizeConfig | None = None, *, agent: Agent | None = None) -> PromptOptimizer:
        """A PromptOptimizer over this cell's agent (or ``agent``, a wrapper around it that still counts every
        call through it), judges and rewriter (also the scorer peers use)."""
        return PromptOptimizer(agent or self.agent, self.judges, judge_weights=self.judge_weights, optimizer_llm=self.rewriter,
                               config=config or OptimizeConfig(seed=self.seed), callbacks=list(self.callbacks))


@dataclass
class MethodOutcome:
    """``best_prompt``: what the method ships. ``own_adapter_outputs``: for peers with their own agent code
    (DSPy), their test outputs by example id (None where it failed); the runner scores them with the task's
    metric and reports that beside the one-contract score."""

    best_prompt: str | dict[str, str]  # a dict for a multi-step task: each component's prompt
    val_score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    own_adapter_outputs: Callable[[Sequence[Example]], dict[str, str | None]] | None = None
    adapter: str | None = None  # weight methods: a LoRA adapter folder the test set is scored with
    #: Retrieval methods: the test set is scored with this many nearest training examples per input
    #: (``retrieval.RetrievalAgent`` over the cell's training split), as the method was optimised.
    retrieved_demos: int | None = None
    rollouts: int | None = None  # generations the method made itself, when not through the cell's agent
    tokens: int | None = None  # tokens of the method's own model calls, where it counts them (not recorded by the bench)


class Method(Protocol):
    name: str

    def missing(self) -> str | None:
        """None when the method can run here, else what to install (a pip command)."""
        ...

    def run(self, setup: CellSetup) -> MethodOutcome: ...


class SeedMethod:
    """No optimization: the seed prompt as shipped. Spends no rollouts."""

    name = "seed"

    def missing(self) -> str | None:
        return None

    def run(self, setup: CellSetup) -> MethodOutcome:
        return MethodOutcome(best_prompt=setup.seed_prompt)


class SeedRetrievalMethod:
    """The seed prompt with the ``k`` nearest training examples per input: what retrieval alone gives. No rollouts."""

    name = "seed+retrieval"

    def __init__(self, k: int = DEFAULT_RETRIEVED_DEMOS):
        self.k = k

    def missing(self) -> str | None:
        return None

    def run(self, setup: CellSetup) -> MethodOutcome:
        return MethodOutcome(best_prompt=setup.seed_prompt, retrieved_demos=self.k)


def _gain_row(gain: PairedGain | None) -> dict[str, Any] | None:
    """The best prompt's validation gain over the seed, as a record stores it (how thin a cell's choice was)."""
    if gain is None:
        return None
    return {"gain": round(gain.gain, 4), "ci95": [round(gain.ci95[0], 4), round(gain.ci95[1], 4)],
            "better": gain.better, "worse": gain.worse, "n": gain.n}


class PromptlearnMethod:
    """``PromptOptimizer`` with ``config`` (default: the shipped defaults) and the cell's budget.

    The run directory lives in the cell's work dir, so a killed benchmark resumes the loop where it stopped.
    With ``retrieved_demos=k`` every rollout, in the loop and on the test set, also shows the ``k``
    training examples nearest its input (``retrieval.RetrievalAgent``): the prompt varies per input.
    """

    def __init__(self, name: str = "promptlearn", config: OptimizeConfig | None = None, *,
                 retrieved_demos: int | None = None):
        self.name = name
        self.config = config
        self.retrieved_demos = retrieved_demos

    def missing(self) -> str | None:
        return None

    def run(self, setup: CellSetup) -> MethodOutcome:
        base = self.config or OptimizeConfig()
        config = base.model_copy(update={
            "seed": setup.seed, "budget": Budget(max_rollouts=setup.budget),
            "task_description": base.task_description or setup.task.description})
        agent: Agent = setup.agent
        if self.retrieved_demos:
            agent = RetrievalAgent(setup.agent, setup.train, self.retrieved_demos)
        optimizer = setup.optimizer(config, agent=agent)
        result = optimizer.optimize(setup.seed_prompt, setup.train, setup.val,
                                    run_dir=str(setup.work_dir / "run"), resume=True)
        best: str | dict[str, str] = result.best_prompt if isinstance(setup.seed_prompt, str) else \
            {name: c.prompt for name, c in result.best.components.items()}
        # The loop's meter, not the counting agent: a resumed cell replays its stored rollouts without
        # calling the agent (core suite, logical_deduction seed 2: 181 rollouts reported as 91).
        return MethodOutcome(best_prompt=best, val_score=result.best_val, rollouts=int(result.usage["rollouts"]),
                             tokens=int(result.usage.get("tokens", 0)),
                             retrieved_demos=self.retrieved_demos or result.best.retrieve or None, details={
            "stop_reason": result.stop_reason, "rounds": len(result.history),
            "strategies": [r.strategy for r in result.history],
            "gained": [r.strategy for r in result.history if r.gained],  # the strategies that made a new best
            "accepted": sum(1 for r in result.history if r.accepted),
            "val_gain": _gain_row(result.val_gain())})

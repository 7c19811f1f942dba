"""What a run is made of (:class:`LoopParts`) and the steps that call models (:class:`Steps`): rollouts,
explanations, and the views of their results proposers get (known scores, label mix-ups, format failures).
Which strategy proposes, and its memoised proposal, is ``portfolio.py``'s.

Each step goes through ``RunStore.memo``: a resumed run replays the stored record instead of
calling a model, and is charged what the record first cost, so it takes the same path.
The loop in ``loop.py`` decides *what* to run; this module runs it, once per key.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from ._meter import Meter
from ._redaction import redact
from .agents import Agent, AnswerLine
from .callbacks import Callback
from .config import OptimizeConfig
from .contracts import FORMAT_FAILURES, AnswerContract
from .data import summarize_examples
from .edits import repairs_format
from .errors import LLMCallError, StructuredOutputError
from .judges.base import JudgePanel
from .judges.llm import LLMExplainer
from .proposers import Case, Proposer
from .records import Candidate, Cost, Critique, Example, ExampleResult, RoundRecord
from .store import RunStore
from .strategies import Acceptance, CandidateSelector, ComponentSelector, MinibatchSampler, StrategyChooser
from .strategies.components import RoundRobinComponents
from .strategies.validation import FullPass, ValidationPolicy

log = logging.getLogger("promptlearn")
MIN_REASONING_TOKENS = 64  # fewer and there is no room to work anything out before the answer line
MAX_CONFUSIONS = 3  # label mix-ups the rules meta-prompt names at most
MIN_CONFUSIONS = 2  # times a mix-up must have happened: one is a case, already shown


@dataclass(frozen=True)
class LoopParts:
    """Everything a run uses, passed in; the loop holds no reference back to its caller."""

    agent: Agent
    panel: JudgePanel
    proposers: dict[str, Proposer]  # the strategies, by name, in order of preference
    explainer: LLMExplainer | None
    selector: CandidateSelector
    sampler: MinibatchSampler
    acceptance: Acceptance
    chooser: StrategyChooser
    config: OptimizeConfig
    callbacks: tuple[Callback, ...] = ()
    component_selector: ComponentSelector = RoundRobinComponents()  # copied per run; only multi-component runs
    validation: ValidationPolicy = FullPass()

    async def score(self, candidate: Candidate, example: Example) -> ExampleResult:
        """One rollout of ``candidate`` on ``example``, judged by the panel."""
        rollout = await self.agent.arun(candidate, example)
        critiques, score = await self.panel.acritique(example, rollout)
        return ExampleResult(rollout=rollout, critiques=critiques, score=score)

    def policy_names(self) -> dict[str, str]:
        """The policies actually used: a policy passed as an object is recorded by its own name."""
        names = {role: str(getattr(obj, "name", type(obj).__name__)) for role, obj in (
            ("selector", self.selector), ("sampler", self.sampler), ("acceptance", self.acceptance),
            ("chooser", self.chooser), ("components", self.component_selector), ("validation", self.validation))}
        return {**names, "proposers": ",".join(f"{n}:{type(p).__name__}" for n, p in self.proposers.items())}

    def reasoning_room(self) -> bool:
        """Whether the agent extracts a final answer line and has the tokens to reason before it."""
        return isinstance(self.agent, AnswerLine) and bool(self.agent.answer_pattern) and \
            (self.agent.max_tokens or 0) >= MIN_REASONING_TOKENS


class OutOfBudget(Exception):
    """The budget ran out before a step (or round) could finish; ``reason`` names the limit reached.

    ``record`` is the round so far, when the loop keeps it (a child that ran out during validation).
    """

    def __init__(self, reason: str, record: RoundRecord | None = None):
        super().__init__(reason)
        self.reason, self.record = reason, record


class Steps:
    """Rollouts and explanations for one run, each made at most once, and views of their results."""

    def __init__(self, parts: LoopParts, store: RunStore, meter: Meter, train: Sequence[Example],
                 val: Sequence[Example], contract: AnswerContract | None):
        self.parts, self.config, self.store, self.meter = parts, parts.config, store, meter
        self.train, self.contract = list(train), contract
        self.by_id = {e.id: e for e in [*train, *val]}
        self.results: dict[tuple[str, str], ExampleResult] = {}
        # The training split only: validation and test data never reach the rewriter.
        self.data_summary = summarize_examples(self.train) if self.config.data_summary else ""

    @property
    def contract_text(self) -> str | None:
        """The answer format as the rewriter and run.json see it: the user's words, else the inferred ones."""
        return self.config.output_contract or (self.contract.instruction if self.contract else None)

    async def evaluate(self, cand: Candidate, example_ids: Sequence[str], split: str) -> dict[str, ExampleResult]:
        """Results of ``cand`` on the examples; OutOfBudget if the budget ran out before all were scored.

        Each (candidate, example) pair is rolled out at most once per run. New rollouts are capped
        up front at the rollouts left, in example order, so the same budget admits the same rollouts.
        """
        def key(eid: str) -> str:
            return f"result/{cand.id}/{eid}"

        def load(event: dict[str, Any]) -> ExampleResult:
            return ExampleResult.model_validate(event["result"])

        todo = [e for e in example_ids if (cand.id, e) not in self.results and self.store.recall(key(e), load) is None]
        left = self.meter.rollouts_left()
        allowed = set(todo if left is None else todo[:left])
        sem = asyncio.Semaphore(self.config.concurrency)

        async def rollout(eid: str) -> ExampleResult | None:
            if eid not in allowed:
                return None
            async with sem:
                return None if self.meter.exhausted() else await self.parts.score(cand, self.by_id[eid])

        async def one(eid: str) -> None:
            if (cand.id, eid) in self.results:
                return
            result = await self.store.memo(key(eid), "result", lambda: rollout(eid), load=load,
                                           dump=lambda r: {"split": split, "result": r.model_dump()})
            if result is not None:
                self.results[(cand.id, eid)] = result
                self.meter.charge("agent", result.rollout.cost, rollout=True)
                self.meter.charge("judge", Cost.total(c.cost for c in result.critiques))

        await asyncio.gather(*(one(e) for e in example_ids))
        if any((cand.id, e) not in self.results for e in example_ids):
            raise OutOfBudget(self.meter.exhausted() or "budget")
        return {e: self.results[(cand.id, e)] for e in example_ids}

    def known_scores(self, candidate_id: str) -> dict[str, float]:
        """The scores a candidate already has, by example id (what the failure-focused sampler reads)."""
        return {eid: r.score for (cid, eid), r in self.results.items() if cid == candidate_id}

    def train_results(self, candidate_id: str) -> list[tuple[str, ExampleResult]]:
        """The candidate's results on training examples, by example id."""
        train_ids = {e.id for e in self.train}
        return [(eid, r) for (cid, eid), r in self.results.items() if cid == candidate_id and eid in train_ids]

    def confusions(self, candidate_id: str) -> tuple[tuple[str, str, int], ...]:
        """The candidate's most frequent label mix-ups on training examples: (expected, answered, count), most
        frequent first, pairs seen at least ``MIN_CONFUSIONS`` times, at most ``MAX_CONFUSIONS``. Only answers
        that are themselves a training reference count (a label for another label, not a broken format), so
        tasks without a label set get none and their meta-prompts stay as they were."""
        labels = {str(e.reference) for e in self.train if e.reference is not None}
        pairs: Counter[tuple[str, str]] = Counter()
        for eid, res in self.train_results(candidate_id):
            expected, answered = str(self.by_id[eid].reference), str(res.rollout.output or "").strip()
            if res.score < 1.0 and answered in labels and answered != expected:
                pairs[(expected, answered)] += 1
        return tuple((e, a, n) for (e, a), n in pairs.most_common(MAX_CONFUSIONS) if n >= MIN_CONFUSIONS)

    async def explain(self, parent: Candidate, worst: list[ExampleResult]) -> list[Case]:
        """Cases for the rewriter; the ``explain_failures`` worst get an LLM explanation."""
        explainer = self.parts.explainer

        async def explanation(res: ExampleResult, example: Example) -> Critique:
            assert explainer is not None
            try:
                return await explainer.aexplain(example, res.rollout, res.critiques, res.score)
            except (LLMCallError, StructuredOutputError) as exc:  # the code critique still stands
                log.info("explainer failed on %s: %s", example.id, exc)
                return Critique(judge="explainer", score=res.score, error=redact(str(exc))[:300])

        async def one(i: int, res: ExampleResult) -> Case:
            example = self.by_id[res.rollout.example_id]
            critiques = res.critiques
            if explainer is not None and i < self.config.explain_failures:
                extra = await self.store.memo(f"explain/{parent.id}/{example.id}", "explanation",
                                              lambda: explanation(res, example),
                                              dump=lambda c: {"critique": c.model_dump()},
                                              load=lambda e: Critique.model_validate(e["critique"]))
                assert extra is not None
                self.meter.charge("judge", extra.cost)
                if extra.error is None:
                    critiques = (extra,)  # the explainer's text already includes the code critique
            return Case(example=example, rollout=res.rollout, critiques=critiques, score=res.score,
                        failure=self.failure_kind(res))

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(worst))))

    def failure_kind(self, res: ExampleResult) -> str | None:
        """The contract's verdict on a failed rollout: "content" or a format failure; None if unknown."""
        if self.contract is None:
            return None
        return self.contract.verdict(res.rollout.output, self.by_id[res.rollout.example_id].reference,
                                     score=res.score, error=res.rollout.error)

    def broke_format(self, res: ExampleResult) -> bool:
        """Whether the rollout's answer breaks the answer contract (False without a contract)."""
        return self.failure_kind(res) in FORMAT_FAILURES

    def format_failures(self, candidate_id: str, example_ids: Iterable[str]) -> int | None:
        """How many of the candidate's answers on these (already run) examples break the answer contract; None
        without a contract."""
        if self.contract is None:
            return None
        return sum(self.broke_format(self.results[(candidate_id, eid)]) for eid in example_ids)

    def format_repaired(self, parent: Mapping[str, ExampleResult], child: Mapping[str, ExampleResult]) -> bool:
        """Whether the child fixes the parent's broken answer format on the minibatch (``edits.repairs_format``)."""
        def marked(results: Mapping[str, ExampleResult]) -> list[tuple[float, bool]]:
            return [(r.score, self.broke_format(r)) for r in results.values()]

        return self.contract is not None and repairs_format(marked(parent), marked(child))

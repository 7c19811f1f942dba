"""What a run is made of (:class:`LoopParts`) and the three steps that call models (:class:`Steps`).

Each step goes through ``RunStore.memo``: a resumed run replays the stored record instead of
calling a model, and is charged what the record first cost, so it takes the same path.
The loop in ``loop.py`` decides *what* to run; this module runs it, once per key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Sequence

from ._meter import Meter
from ._redaction import redact
from .agents import Agent
from .callbacks import Callback
from .config import OptimizeConfig
from .errors import LLMCallError, StructuredOutputError
from .judges.base import JudgePanel
from .judges.llm import LLMExplainer
from .proposers import Case, ProposalContext, Proposer
from .records import Candidate, Cost, Critique, Example, ExampleResult, Proposal
from .store import RunStore
from .strategies import Acceptance, CandidateSelector, MinibatchSampler

log = logging.getLogger("promptlearn")


@dataclass(frozen=True)
class LoopParts:
    """Everything a run uses, passed in; the loop holds no reference back to its caller."""

    agent: Agent
    panel: JudgePanel
    proposer: Proposer
    explainer: LLMExplainer | None
    selector: CandidateSelector
    sampler: MinibatchSampler
    acceptance: Acceptance
    config: OptimizeConfig
    callbacks: tuple[Callback, ...] = ()

    async def score(self, candidate: Candidate, example: Example) -> ExampleResult:
        """One rollout of ``candidate`` on ``example``, judged by the panel."""
        rollout = await self.agent.arun(candidate, example)
        critiques, score = await self.panel.acritique(example, rollout)
        return ExampleResult(rollout=rollout, critiques=critiques, score=score)

    def policy_names(self) -> dict[str, str]:
        """The policies actually used: a policy passed as an object is recorded by its own name."""
        names = {role: str(getattr(obj, "name", type(obj).__name__)) for role, obj in (
            ("selector", self.selector), ("sampler", self.sampler), ("acceptance", self.acceptance))}
        return {**names, "proposer": type(self.proposer).__name__}


class OutOfBudget(Exception):
    """A step could not finish within the budget; ``reason`` names the limit reached."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Steps:
    """Rollouts, explanations and proposals for one run, each made at most once."""

    def __init__(self, parts: LoopParts, store: RunStore, meter: Meter, train: Sequence[Example],
                 val: Sequence[Example], output_contract: str | None):
        self.parts, self.config, self.store, self.meter = parts, parts.config, store, meter
        self.train, self.contract = list(train), output_contract
        self.by_id = {e.id: e for e in [*train, *val]}
        self.results: dict[tuple[str, str], ExampleResult] = {}

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
            return Case(example=example, rollout=res.rollout, critiques=critiques, score=res.score)

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(worst))))

    async def propose(self, parent: Candidate, cases: list[Case], iteration: int, batch: list[str]) -> Proposal:
        async def compute() -> Proposal:
            context = ProposalContext(iteration=iteration, train=self.train,
                                      task_description=self.config.task_description, output_contract=self.contract)
            try:
                return await self.parts.proposer.apropose(parent, cases, context)
            except (LLMCallError, StructuredOutputError) as exc:  # the rewriter failed for good: record, go on
                return Proposal(child=None, rejections=(redact(f"proposer failed: {exc}")[:500],))

        digest = hashlib.sha256("|".join(batch).encode()).hexdigest()[:10]
        proposal = await self.store.memo(f"proposal/{iteration}/{parent.id}/{digest}", "proposal", compute,
                                         dump=lambda p: {"parent": parent.id, **p.model_dump()},
                                         load=lambda e: Proposal.model_validate({k: e[k] for k in Proposal.model_fields
                                                                                 if k in e}))
        assert proposal is not None
        self.meter.charge("optimizer", proposal.cost)
        return proposal

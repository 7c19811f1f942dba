"""The prompt-learning loop, in one file.

One round (:meth:`Run.round`):
  1. the selector picks a parent from the validation pool (Pareto or best);
  2. the sampler draws a training minibatch;
  3. the agent runs the parent on it and the judges score each rollout;
  4. an LLM explainer critiques the worst failures (code judges already said *what* is wrong);
  5. the proposer renders a meta-prompt with the failures and asks for rules / a rewrite;
     guards reject proposals that drop variables, leak training data or obey injected text;
  6. the child runs on the same minibatch; the acceptance test (paired, noise-aware) decides;
  7. an accepted child is scored on the validation set and joins the pool.
:meth:`Run.execute` validates the seed, runs rounds until the budget, ``patience`` or
``max_iterations`` stops it, and returns the result. Every model-dependent step goes
through ``RunStore.memo``, so ``resume=True`` replays stored records instead of calling models.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from ._fingerprint import changed_parts, run_fingerprint
from ._meter import Meter
from ._redaction import redact
from ._stats import mean
from .agents import Agent
from .callbacks import Callback, LoopEvent
from .config import OptimizeConfig
from .data import infer_output_contract
from .errors import ConfigError, LLMCallError, RunError, StructuredOutputError
from .judges.base import JudgePanel
from .judges.llm import LLMExplainer
from .proposers import Case, ProposalContext, Proposer
from .records import Candidate, Cost, Critique, Example, ExampleResult, Proposal, RoundRecord
from .result import OptimizationResult
from .store import CONFIG_FILE, RESULT_FILE, RunStore
from .strategies import Acceptance, CandidateSelector, MinibatchSampler

log = logging.getLogger("promptlearn")
NEW_BEST = "new best"


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


class _Stop(Exception):
    """The budget ran out: the one way a round ends the run early (with the round's record, if any)."""

    def __init__(self, reason: str, record: RoundRecord | None = None):
        super().__init__(reason)
        self.reason, self.record = reason, record


def seed_failure(results: dict[str, ExampleResult], judges: Sequence[str]) -> str | None:
    """Why a seed evaluation cannot teach anything, or None.

    Every rollout failing, or one judge failing on every rollout that has an output, is a
    configuration problem (a missing variable, a dead server, a judge that cannot read the
    references), not something a better prompt can fix.
    """
    rollouts = [r.rollout for r in results.values()]
    errors = [r.error for r in rollouts if r.error]
    if rollouts and len(errors) == len(rollouts):
        kind, count = Counter(e.split(":", 1)[0] for e in errors).most_common(1)[0]
        example = next(e for e in errors if e.startswith(kind))
        return (f"every rollout of the seed prompt on the validation set failed ({len(errors)} of {len(rollouts)}; "
                f"{count} with {kind}); e.g. {example[:300]}")
    for name in judges:
        verdicts = [c for r in results.values() if r.rollout.error is None for c in r.critiques if c.judge == name]
        if verdicts and all(c.error for c in verdicts):
            return f"judge {name!r} failed on every seed rollout ({len(verdicts)}); e.g. {(verdicts[0].error or '')[:300]}"
    return None


class Run:
    """The state of one optimisation run; also the read-only ``RunView`` callbacks receive."""

    def __init__(self, parts: LoopParts, seed: Candidate, train: list[Example], val: list[Example], store: RunStore):
        self.parts, self.config, self.store = parts, parts.config, store
        self.seed, self.train, self.val = seed, train, val
        self.by_id = {e.id: e for e in train + val}
        self.rng = random.Random(self.config.seed)
        self.meter = Meter(self.config.budget)
        self.candidates: dict[str, Candidate] = {seed.id: seed}
        self.results: dict[tuple[str, str], ExampleResult] = {}
        self.val_pool: dict[str, dict[str, float]] = {}
        self.rounds: list[RoundRecord] = []
        self.best_id = seed.id
        self.stop_reason = "max_iterations"
        contract = self.config.output_contract
        self.contract = contract if contract is not None or not self.config.infer_contract \
            else infer_output_contract(train)

    # ------------------------------------------------------------------ RunView

    @property
    def history(self) -> tuple[RoundRecord, ...]:
        return tuple(self.rounds)

    @property
    def best_val(self) -> float:
        return self.val_mean(self.best_id)

    def val_mean(self, candidate_id: str) -> float:
        return mean(self.val_pool.get(candidate_id, {}).values())

    def spent(self) -> dict[str, Any]:
        return self.meter.snapshot()

    def _emit(self, event: LoopEvent) -> None:
        for callback in self.parts.callbacks:
            try:
                callback.on_event(event, self)
            except Exception:  # noqa: BLE001 - a broken progress bar must not stop a run
                log.exception("callback %r failed on a %s event", callback, event.type)

    def _check_budget(self) -> None:
        if reason := self.meter.exhausted():
            raise _Stop(reason)

    # ------------------------------------------------------------------ the three model-dependent steps

    async def evaluate(self, cand: Candidate, example_ids: Sequence[str], split: str) -> dict[str, ExampleResult]:
        """Results of ``cand`` on the examples; raises _Stop if the budget ran out before all were scored.

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
            raise _Stop(self.meter.exhausted() or "budget")
        return {e: self.results[(cand.id, e)] for e in example_ids}

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

    # ------------------------------------------------------------------ the loop

    async def round(self, iteration: int) -> RoundRecord:
        row: dict[str, Any] = {"iteration": iteration}
        parent = self.candidates[self.parts.selector.select(self.val_pool, self.rng)]
        known = {eid: r.score for (cid, eid), r in self.results.items() if cid == parent.id}
        batch = self.parts.sampler.sample([e.id for e in self.train], self.config.minibatch_size, self.rng, known)
        row.update(parent=parent.id, batch=tuple(batch))
        self._emit(LoopEvent("step", iteration, "running the parent"))
        parent_res = await self.evaluate(parent, batch, "train")
        row["parent_minibatch"] = mean(r.score for r in parent_res.values())
        self._check_budget()  # explaining and proposing cost calls too
        worst = sorted((r for r in parent_res.values() if r.score < 1.0), key=lambda r: r.score)[: self.config.max_cases]
        if not worst:
            return self._record(row, "parent perfect on minibatch")
        self._emit(LoopEvent("step", iteration, "explaining failures"))
        cases = await self.explain(parent, worst)
        self._check_budget()
        self._emit(LoopEvent("step", iteration, "proposing"))
        proposal = await self.propose(parent, cases, iteration, batch)
        child = proposal.child
        row["rejections"] = proposal.rejections
        if child is None:
            return self._record(row, "no valid proposal")
        row["child"] = child.id
        if child.id in self.candidates:
            return self._record(row, "duplicate of an existing candidate")
        self.candidates[child.id] = child
        self.store.append({"type": "candidate", "candidate": child.model_dump()})
        self._check_budget()
        self._emit(LoopEvent("step", iteration, "running the child"))
        child_res = await self.evaluate(child, batch, "train")
        decision = self.parts.acceptance.decide([parent_res[e].score for e in batch],
                                                [child_res[e].score for e in batch], self.rng)
        row.update(child_minibatch=mean(child_res[e].score for e in batch), accepted=decision.accepted,
                   margin=decision.margin, evidence=decision.evidence)
        if not decision.accepted:
            return self._record(row, "rejected on minibatch")
        self._emit(LoopEvent("step", iteration, "validating the child"))
        try:
            child_val = await self.evaluate(child, [e.id for e in self.val], "val")
        except _Stop as stop:
            raise _Stop(stop.reason, self._record(row, "budget ran out during validation")) from None
        self.val_pool[child.id] = {eid: r.score for eid, r in child_val.items()}
        row["child_val"] = self.val_mean(child.id)
        if row["child_val"] > self.best_val:
            self.best_id = child.id
            return self._record(row, NEW_BEST)
        return self._record(row, "accepted, no validation gain")

    def _record(self, row: dict[str, Any], outcome: str) -> RoundRecord:
        return RoundRecord(**row, outcome=outcome, best_val=self.best_val, best=self.best_id, **self.meter.snapshot())

    def _end_round(self, record: RoundRecord) -> None:
        self.rounds.append(record)
        self.store.append({"type": "round", "row": record.as_row()})
        self._emit(LoopEvent("round", record.iteration, round=record, gained=record.outcome == NEW_BEST))

    async def execute(self) -> OptimizationResult:
        fingerprint = run_fingerprint(seed=self.seed, train=self.train, val=self.val, agent=self.parts.agent,
                                      judges=self.parts.panel, proposer=self.parts.proposer,
                                      explainer=self.parts.explainer, settings=self.config,
                                      policies=self.parts.policy_names())
        self._check_resume(fingerprint)
        self.store.write_json(CONFIG_FILE, {"config": self.config.model_dump(), "seed": self.seed.model_dump(),
                                            "train_ids": [e.id for e in self.train],
                                            "val_ids": [e.id for e in self.val], "output_contract": self.contract,
                                            "policies": self.parts.policy_names(), "fingerprint": fingerprint})
        self._emit(LoopEvent("start", step="evaluating the seed prompt on validation"))
        try:
            seed_val = await self.evaluate(self.seed, [e.id for e in self.val], "val")
            if problem := seed_failure(seed_val, self.parts.panel.names):
                self.store.append({"type": "error", "error": problem})
                raise RunError(f"stopped before optimising: {problem}")
            self.val_pool[self.seed.id] = {eid: r.score for eid, r in seed_val.items()}
            self._emit(LoopEvent("seed", val=self.val_mean(self.seed.id)))
            without_gain = 0
            for iteration in range(1, self.config.max_iterations + 1):
                self._check_budget()
                if without_gain >= self.config.patience:
                    self.stop_reason = "patience"
                    break
                record = await self.round(iteration)
                self._end_round(record)
                without_gain = 0 if record.outcome == NEW_BEST else without_gain + 1
        except _Stop as stop:  # the result's summary says when the seed itself was not fully scored
            self.stop_reason = stop.reason
            if stop.record is not None:
                self._end_round(stop.record)
        return self.finish()

    def _check_resume(self, fingerprint: dict[str, str]) -> None:
        stored = self.store.read_json(CONFIG_FILE) if self.store.records or self.store.skipped_lines else None
        if not stored:
            return
        if "fingerprint" not in stored:
            log.warning("%s has no fingerprint (written by an older promptlearn); resuming without checking "
                        "that examples, prompt, judges and agent are unchanged", self.store.run_dir)
            return
        changed = changed_parts(stored["fingerprint"], fingerprint)
        if changed:
            raise ConfigError(f"cannot resume {self.store.run_dir}: the {', '.join(changed)} differ from the run "
                              f"stored there, so its records would answer a different question; "
                              f"use a new run_dir (or resume=False in an empty one)")

    def finish(self) -> OptimizationResult:
        result = OptimizationResult(
            seed=self.seed, best=self.candidates[self.best_id], candidates=self.candidates,
            val_scores={cid: dict(s) for cid, s in self.val_pool.items()}, history=list(self.rounds),
            val_results={cid: {eid: self.results[(cid, eid)] for eid in scores} for cid, scores in self.val_pool.items()},
            usage=self.meter.snapshot(), usage_by_role=self.meter.usage_by_role(), stop_reason=self.stop_reason,
            config=self.config, output_contract=self.contract)
        self.store.write_json(RESULT_FILE, result.to_dict())
        self.store.append({"type": "end", "stop_reason": self.stop_reason, "best": self.best_id})
        self._emit(LoopEvent("end", stop_reason=self.stop_reason))
        return result

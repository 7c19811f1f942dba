"""The prompt-learning loop, in one file.

One round (:meth:`Run.round`):
  1. the selector picks a parent from the validation pool (Pareto or best; a candidate that scores exactly as
     the best on every example stands aside);
  2. the sampler draws a training minibatch;
  3. the agent runs the parent on it and the judges score each rollout;
  4. an LLM explainer critiques the worst failures (code judges already said *what* is wrong);
  5. the proposer renders a meta-prompt with the failures and asks for rules / a rewrite;
     guards reject proposals that drop variables, leak training data or obey injected text;
  6. the child runs on the same minibatch; the acceptance test (paired, noise-aware) decides
     (a child that ties but repairs the parent's broken answer format, or drops rules at no cost, passes too;
     a proposal marked ``validate_directly``, a one-off wholesale change, skips this test: validation is its test);
     a proposal with alternatives (demo sets, rule ablations) is screened first (:meth:`Run._screen`) and
     its survivor is tested on every example the screen ran it on;
  7. an accepted child is scored on the validation set and joins the pool (the validation policy may stop the
     pass part-way when the child clearly trails the best: it then joins nothing); it becomes the best when it
     beats it, or ties it with fewer rules or with fewer answers off the output contract.
:meth:`Run.execute` validates the seed, runs rounds until the budget, ``patience`` or
``max_iterations`` stops it, and returns the result. The steps that call models live in
``steps.py`` and are memoised in the run directory, so ``resume=True`` replays them.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from ._checks import check_resume, seed_failure
from ._fingerprint import run_fingerprint
from ._meter import Meter
from .callbacks import LoopEvent
from .contracts import infer_contract
from .edits import dropped_rule, is_simplification
from .errors import RunError
from .portfolio import Portfolio
from .records import NEW_BEST, Candidate, Example, RoundRecord
from .result import OptimizationResult
from .stats import mean
from .steps import LoopParts, OutOfBudget, Steps
from .store import CONFIG_FILE, RESULT_FILE, RunStore

log = logging.getLogger("promptlearn")


class Run:
    """The state of one optimisation run; also the read-only ``RunView`` callbacks receive."""

    def __init__(self, parts: LoopParts, seed: Candidate, train: list[Example], val: list[Example], store: RunStore):
        self.parts, self.config, self.store = parts, parts.config, store
        self.seed, self.train, self.val = seed, train, val
        self.rng = random.Random(self.config.seed)
        self.meter = Meter(self.config.budget)
        contract = infer_contract(train) if self.config.infer_contract else None
        if contract is not None and self.config.output_contract:  # the user's words, the data's kind
            contract = contract.model_copy(update={"instruction": self.config.output_contract})
        elif contract is not None and parts.reasoning_room():  # keep the working, shape the answer line
            contract = contract.with_reasoning()
        self.steps = Steps(parts, store, self.meter, train, val, contract)
        self.portfolio = Portfolio(self.steps)
        self.contract = self.steps.contract_text
        self.candidates: dict[str, Candidate] = {seed.id: seed}
        self.val_pool: dict[str, dict[str, float]] = {}  # validated candidate -> example id -> score
        self.rounds: list[RoundRecord] = []
        self.best_id = seed.id
        self.stop_reason = "max_iterations"

    # ------------------------------------------------------------------ RunView

    @property
    def history(self) -> tuple[RoundRecord, ...]:
        return tuple(self.rounds)

    @property
    def best_val(self) -> float:
        return self.val_mean(self.best_id)

    @property
    def best_candidate(self) -> Candidate:
        return self.candidates[self.best_id]

    @property
    def run_dir(self) -> str | None:
        return None if self.store.run_dir is None else str(self.store.run_dir)

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

    # ------------------------------------------------------------------ the loop

    def _check_budget(self) -> None:
        if reason := self.meter.exhausted():
            raise OutOfBudget(reason)

    async def round(self, iteration: int) -> RoundRecord:
        row: dict[str, Any] = {"iteration": iteration}
        parent = self.candidates[self.parts.selector.select(self._selection_pool(), self.rng)]
        batch = self.parts.sampler.sample([e.id for e in self.train], self.config.minibatch_size, self.rng,
                                          self.steps.known_scores(parent.id))
        row.update(parent=parent.id, batch=tuple(batch))
        self._emit(LoopEvent("step", iteration, "running the parent"))
        parent_res = await self.steps.evaluate(parent, batch, "train")
        row["parent_minibatch"] = mean(r.score for r in parent_res.values())
        self._check_budget()  # explaining and proposing cost calls too
        worst = sorted((r for r in parent_res.values() if r.score < 1.0), key=lambda r: r.score)[: self.config.max_cases]
        if not worst:
            return self._record(row, "parent perfect on minibatch")
        self._emit(LoopEvent("step", iteration, "explaining failures"))
        cases = await self.steps.explain(parent, worst)
        row["format_failures"] = sum(c.is_format_failure for c in cases)
        self._check_budget()
        component = self.portfolio.choose_component(parent, cases, self.rng)
        row["component"] = component
        self._emit(LoopEvent("step", iteration, "proposing" + (f" ({component})" if component else "")))
        proposal = await self.portfolio.propose(parent, cases, iteration, batch, candidates=self.candidates,
                                            pool=self.val_pool, rng=self.rng, component=component)
        child = proposal.child
        row.update(rejections=proposal.rejections, strategy=proposal.strategy or None)
        if child is None:  # every strategy tried failed or repeated a candidate (steps told the chooser)
            return self._record(row, "no valid proposal")
        self._check_budget()
        spent_before = self.meter.rollouts
        on_val = (bool(proposal.screen) and self.config.screen_on == "val") or proposal.validate_directly
        if proposal.screen:
            alternatives = [c for c in (child, *proposal.screen) if c.id not in self.candidates]
            self._emit(LoopEvent("step", iteration, f"screening {len(alternatives)} alternatives"))
            row["screened"] = len(alternatives)
            if on_val:  # the survivor skips the minibatch test: validation, below, is its test
                val_ids = [e.id for e in self.val]
                first = self.rng.sample(val_ids, min(self.config.minibatch_size, len(val_ids)))
                child, seen = await self._screen(alternatives, first, pool=val_ids, split="val")
            else:
                child, batch = await self._screen(alternatives, batch)
                parent_res = await self.steps.evaluate(parent, batch, "train")
                seen = batch
            # The parent has results on every example seen: the round's minibatch, or (it is in the pool) validation.
            row["rule_contributions"] = self._contributions(parent, alternatives, seen) or None
        row["child"] = child.id
        self.candidates[child.id] = child
        self.store.append({"type": "candidate", "candidate": child.model_dump()})
        if on_val:
            row.update(accepted=True)
            if proposal.validate_directly:  # the chooser learns whether validation kept it, at what cost
                record = await self._validate(row, parent, child, simpler=False)
                self.portfolio.feedback(proposal.strategy, record.gained, self.meter.rollouts - spent_before)
                return record
            self.portfolio.feedback(proposal.strategy, True, self.meter.rollouts - spent_before)
            return await self._validate(row, parent, child, simpler=is_simplification(parent, child))
        self._emit(LoopEvent("step", iteration, "running the child"))
        child_res = await self.steps.evaluate(child, batch, "train")
        decision = self.parts.acceptance.decide([parent_res[e].score for e in batch],
                                                [child_res[e].score for e in batch], self.rng)
        repaired = not decision.accepted and self.steps.format_repaired(parent_res, child_res)  # validation decides
        # A prompt with fewer rules that scores no lower goes to validation too: a rule that earns nothing goes.
        simpler = not (decision.accepted or repaired) and is_simplification(parent, child) and \
            mean(child_res[e].score for e in batch) >= mean(parent_res[e].score for e in batch)
        accepted = decision.accepted or repaired or simpler
        self.portfolio.feedback(proposal.strategy, accepted, self.meter.rollouts - spent_before)
        row.update(child_minibatch=mean(child_res[e].score for e in batch), accepted=accepted,
                   format_repaired=repaired or None, simplified=simpler or None, margin=decision.margin,
                   evidence=decision.evidence)
        if not accepted:
            return self._record(row, "rejected on minibatch")
        return await self._validate(row, parent, child, simpler=simpler)

    async def _validate(self, row: dict[str, Any], parent: Candidate, child: Candidate, *, simpler: bool) -> RoundRecord:
        """Score an accepted child on the validation set; it joins the pool and becomes the best if it beats it.
        The validation policy may stop the pass part-way (``strategies/validation.py``): the child then joins nothing."""
        self._emit(LoopEvent("step", row["iteration"], "validating the child"))
        policy = self.parts.validation
        order = policy.order([e.id for e in self.val])
        stages = policy.stages(len(order))
        # The policy's own draws: asking it must not move the sampler's or the acceptance test's.
        rng = random.Random(f"{self.config.seed}/validation/{row['iteration']}")
        for reached in stages:
            try:
                await self.steps.evaluate(child, order[:reached], "val")
            except OutOfBudget as stop:
                raise OutOfBudget(stop.reason, self._last_validation(row)) from None
            if reached < len(order) and (stopped := self._give_up(row, child, order[:reached], rng)) is not None:
                return stopped
        self.val_pool[child.id] = {e.id: self.steps.results[(child.id, e.id)].score for e in self.val}
        row["child_val"] = self.val_mean(child.id)
        if row["child_val"] > self.best_val:
            self.best_id = child.id
            return self._record(row, NEW_BEST)
        if simpler and parent.id == self.best_id and row["child_val"] == self.best_val:
            self.best_id = child.id
            dropped = len(parent.rules) - len(child.rules)
            return self._record(row, f"{NEW_BEST} (as good on validation with {dropped} rule(s) fewer)")
        if row["child_val"] == self.best_val and (fewer := self._fewer_off_contract(child.id)):
            self.best_id = child.id
            return self._record(row, f"{NEW_BEST} (as good on validation with {fewer} fewer answer(s) off the contract)")
        return self._record(row, "accepted, no validation gain")

    def _fewer_off_contract(self, child_id: str) -> int:
        """How many fewer of its validation answers than the best's break the answer contract (0: not fewer).

        A tie on validation is broken towards the answer format: where the agent is weak at the content, a
        format repair can tie its broken seed at zero (core_head2 bbh_temporal_sequences seed 1: the contract rule
        turned 40 explanations into 34 "(B) 9am to 4" and 6 bare letters, 0 of 40 right either way). Kept as "no
        gain", the run went on from the seed, repeated the repair as a duplicate and stopped on patience at 0%;
        as the best, the next rounds build on it (its worked examples are what taught the agent to stop)."""
        ids = [e.id for e in self.val]
        child, best = self.steps.format_failures(child_id, ids), self.steps.format_failures(self.best_id, ids)
        return 0 if child is None or best is None else max(best - child, 0)

    def _selection_pool(self) -> dict[str, dict[str, float]]:
        """The validation pool less the candidates that score exactly as the best does on every example.

        They add nothing the best does not: the best got there by a tie-break (fewer rules, fewer answers off
        the contract) or came first. Left in, a Pareto draw picks them as often as the best
        (core_head3 bbh_temporal_sequences seed 1: the format repair tied its 0% seed on all 40 examples, won the
        tie, and 4 of the 6 rounds after it still started from the seed)."""
        best = self.val_pool[self.best_id]
        return {cid: scores for cid, scores in self.val_pool.items() if cid == self.best_id or scores != best}

    def _give_up(self, row: dict[str, Any], child: Candidate, reached: list[str], rng: random.Random) -> RoundRecord | None:
        """Ask the validation policy whether the child, part-way through its pass, trails the best too far to go on."""
        best = self.val_pool[self.best_id]
        paired = [eid for eid in reached if eid in best]
        child_scores = [self.steps.results[(child.id, eid)].score for eid in paired]
        stop = self.parts.validation.give_up([best[eid] for eid in paired], child_scores, rng)
        if not stop.stop:
            return None
        row.update(child_val=mean(child_scores), val_reached=len(reached))
        return self._record(row, f"stopped after {len(reached)} of {len(self.val)} validation examples: trails the "
                                 f"best by {-stop.margin:.3f} there (P(gain>0) = {stop.evidence:.2f})")

    async def _screen(self, alternatives: list[Candidate], batch: list[str], *, pool: list[str] | None = None,
                      split: str = "train") -> tuple[Candidate, list[str]]:
        """Successive halving over a proposal's alternatives: all run on ``batch``, the better half (ties: the
        proposer's order) on fresh examples of ``pool`` (default: the training set) too, and so on until one is
        left. Returns it with every example it ran on. On training data the acceptance test then pairs it with
        the parent on all of them, so the fresh rungs temper the luck of the first; with ``screen_on="val"`` the
        rungs are validation examples and the survivor's full validation score decides. Each rollout is charged
        and memoised like any other, so a resumed run replays the screening."""
        alive, seen, rung = list(alternatives), list(batch), list(batch)
        ids = [e.id for e in self.train] if pool is None else pool
        while True:
            for candidate in alive:  # one after another: the budget cuts the same rollouts on every replay
                await self.steps.evaluate(candidate, rung, split)
            alive.sort(key=lambda c: -mean(self.steps.results[(c.id, eid)].score for eid in seen))
            alive = alive[: (len(alive) + 1) // 2]
            unseen = [eid for eid in ids if eid not in seen]
            if len(alive) == 1 or not unseen:
                return alive[0], seen
            rung = self.rng.sample(unseen, min(self.config.minibatch_size, len(unseen)))
            seen += rung

    def _contributions(self, parent: Candidate, alternatives: list[Candidate], seen: list[str]) -> dict[str, float]:
        """For each alternative that only drops one of the parent's rules: that rule's measured contribution, the
        parent's mean minus the alternative's on the examples the alternative ran on (positive: the rule helps)."""
        found: dict[str, float] = {}
        results = self.steps.results
        for alternative in alternatives:
            if (rule := dropped_rule(parent, alternative)) is not None:
                ran = [eid for eid in seen if (alternative.id, eid) in results]
                found[rule] = mean(results[(parent.id, e)].score - results[(alternative.id, e)].score for e in ran)
        return found

    def _last_validation(self, row: dict[str, Any]) -> RoundRecord:
        """The budget ran out while validating the round's child: judge it on the validation examples it reached.

        Those rollouts would otherwise be spent for nothing. The child replaces the best only when the
        acceptance test, paired with the best on the same examples, says so; no round follows, so the
        partly validated child never competes in the pool, only for the final pick.
        """
        child, best = row["child"], self.val_pool[self.best_id]
        reached = [e.id for e in self.val if (child, e.id) in self.steps.results and e.id in best]
        if len(reached) < max(self.config.minibatch_size, len(self.val) // 4):
            return self._record(row, "budget ran out during validation")
        child_scores = [self.steps.results[(child, eid)].score for eid in reached]
        decision = self.parts.acceptance.decide([best[eid] for eid in reached], child_scores, self.rng)
        row["child_val"] = mean(child_scores)
        outcome = f"validated on {len(reached)} of {len(self.val)} before the budget ran out"
        if not decision.accepted:
            return self._record(row, outcome + ": not better than the best there")
        self.val_pool[child] = dict(zip(reached, child_scores))
        self.best_id = child
        return self._record(row, f"{NEW_BEST} ({outcome})")

    def _record(self, row: dict[str, Any], outcome: str) -> RoundRecord:
        return RoundRecord(**row, outcome=outcome, best_val=self.best_val, best=self.best_id, **self.meter.snapshot())

    def _end_round(self, record: RoundRecord) -> None:
        self.rounds.append(record)
        key = f"round/{record.iteration}/{record.parent}/{record.child}"
        if self.store.recall(key) is None:  # a resumed run replays its rounds: the log keeps each once
            self.store.append({"type": "round", "key": key, "row": record.as_row()})
        self._emit(LoopEvent("round", record.iteration, round=record, gained=record.gained))

    async def execute(self) -> OptimizationResult:
        parts = self.parts
        fingerprint = run_fingerprint(seed=self.seed, train=self.train, val=self.val, agent=parts.agent,
                                      judges=parts.panel, proposer=parts.proposers, explainer=parts.explainer,
                                      settings=self.config, policies=parts.policy_names())
        check_resume(self.store, fingerprint)
        self.store.write_json(CONFIG_FILE, {"config": self.config.model_dump(), "seed": self.seed.model_dump(),
                                            "train_ids": [e.id for e in self.train],
                                            "val_ids": [e.id for e in self.val], "output_contract": self.contract,
                                            "policies": parts.policy_names(), "fingerprint": fingerprint})
        self._emit(LoopEvent("start", step="evaluating the seed prompt on validation"))
        try:
            seed_val = await self.steps.evaluate(self.seed, [e.id for e in self.val], "val")
            if problem := seed_failure(seed_val, parts.panel.names):
                self.store.append({"type": "error", "error": problem})
                raise RunError(f"stopped before optimising: {problem}")
            self.val_pool[self.seed.id] = {eid: r.score for eid, r in seed_val.items()}
            if unread := self.portfolio.check_reads(self.seed, list(seed_val)):
                warning = f"the agent never read component(s) {unread}: optimising them cannot change anything"
                log.warning(warning)
                self.store.append({"type": "warning", "warning": warning})
            self._emit(LoopEvent("seed", val=self.val_mean(self.seed.id)))
            without_gain = 0
            for iteration in range(1, self.config.max_iterations + 1):
                self._check_budget()
                if without_gain >= self.config.patience:
                    self.stop_reason = "patience"
                    break
                record = await self.round(iteration)
                self._end_round(record)
                without_gain = 0 if record.gained else without_gain + 1
        except OutOfBudget as stop:  # the result's summary says when the seed itself was not fully scored
            self.stop_reason = stop.reason
            if stop.record is not None:
                self._end_round(stop.record)
        return self.finish()

    def finish(self) -> OptimizationResult:
        results = self.steps.results
        result = OptimizationResult(
            seed=self.seed, best=self.candidates[self.best_id], candidates=self.candidates,
            val_scores={cid: dict(s) for cid, s in self.val_pool.items()}, history=list(self.rounds),
            val_results={cid: {eid: results[(cid, eid)] for eid in scores} for cid, scores in self.val_pool.items()},
            usage=self.meter.snapshot(), usage_by_role=self.meter.usage_by_role(), stop_reason=self.stop_reason,
            config=self.config, output_contract=self.contract)
        self.store.write_json(RESULT_FILE, result.to_dict())
        self.store.append({"type": "end", "stop_reason": self.stop_reason, "best": self.best_id})
        self._emit(LoopEvent("end", stop_reason=self.stop_reason))
        return result

"""The prompt-learning loop, in one file.

One round:
  1. the selector picks a parent from the validation pool (Pareto or best);
  2. the sampler draws a training minibatch;
  3. the agent runs the parent on it and the judges score each rollout;
  4. an LLM explainer critiques the worst failures (code judges already said *what* is wrong);
  5. the proposer renders a meta-prompt with the failures and asks for rules / a rewrite;
     guards reject proposals that drop variables, leak training data or talk about the meta-task;
  6. the child runs on the same minibatch; the acceptance test (paired, noise-aware) decides;
  7. an accepted child is scored on the validation set and joins the pool;
  8. stop on budget, on ``patience`` rounds without a validation gain, or after ``max_iterations``.

Every result is appended to the run directory as it happens; ``resume=True``
replays the loop with stored results as a memo (see ``store.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from typing import Any, Sequence

from ._async import run_sync
from .agents import Agent, as_agent
from ._meter import Meter
from .callbacks import Callback
from .config import OptimizeConfig
from .errors import ConfigError, LLMCallError, RunError, StructuredOutputError
from ._fingerprint import changed_parts, run_fingerprint
from .guards import infer_output_contract
from .judges.base import Judge, JudgePanel
from .judges.llm import LLMExplainer
from .llm import LLM
from .proposers import Case, Proposal, ProposalContext, Proposer, RewriteProposer, RulesetProposer
from .records import Candidate, Cost, Critique, Evaluation, Example, ExampleResult
from ._redaction import redact
from .result import OptimizationResult
from .store import CONFIG_FILE, RESULT_FILE, RunStore
from .strategies import ACCEPTANCES, SAMPLERS, SELECTORS, BootstrapAcceptance

log = logging.getLogger("promptlearn")


def _check_examples(train: Sequence[Example], val: Sequence[Example]) -> None:
    for name, examples in (("train", train), ("val", val)):
        if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
            raise ConfigError(f"{name} must be a list of Examples (see load_examples), got {type(examples).__name__}")
        bad = next((i for i, e in enumerate(examples) if not isinstance(e, Example)), None)
        if bad is not None:
            raise ConfigError(f"{name}[{bad}] is a {type(examples[bad]).__name__}, not an Example; "
                              f"build examples with load_examples(...) or Example(id=..., inputs=...)")
    if not train:
        raise ConfigError("the training set is empty")
    if not val:
        raise ConfigError("the validation set is empty")
    for name, examples in (("train", train), ("val", val)):
        ids = [e.id for e in examples]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"duplicate example id {dup!r} in {name}")
    overlap = {e.id for e in train} & {e.id for e in val}
    if overlap:
        raise ConfigError(f"train and val share example ids, e.g. {sorted(overlap)[:3]}; keep them disjoint")


class PromptOptimizer:
    """Optimises an agent's system prompt against judges, within a budget.

    ``agent``: an Agent (e.g. ``ChatAgent``) or a callable ``(candidate, example) -> output``.
    ``judges``: judges whose weighted score (higher is better) the loop maximises.
    ``optimizer_llm``: the rewriter; also the failure explainer unless ``explainer`` is given.
    """

    def __init__(self, agent: Agent | Any, judges: Judge | Sequence[Judge], *, optimizer_llm: LLM | None = None,
                 config: OptimizeConfig | None = None, judge_weights: Sequence[float] | None = None,
                 proposer: Proposer | None = None, explainer: LLMExplainer | None = None,
                 callbacks: Sequence[Callback] = (), meta_prompt_dir: str | None = None,
                 selector=None, sampler=None, acceptance=None):
        self.config = config or OptimizeConfig()
        self.agent = as_agent(agent)
        self.panel = JudgePanel([judges] if hasattr(judges, "acritique") else list(judges), judge_weights)
        if proposer is None:
            if optimizer_llm is None:
                raise ConfigError("pass optimizer_llm (the rewriter model) or a proposer")
            cls = RulesetProposer if self.config.mode == "rules" else RewriteProposer
            extra = {"max_new_rules": self.config.max_new_rules, "max_rules": self.config.max_rules} \
                if self.config.mode == "rules" else {}
            proposer = cls(optimizer_llm, max_attempts=self.config.proposal_attempts,
                           meta_prompt_dir=meta_prompt_dir, **extra)
        self.proposer = proposer
        if explainer is None and optimizer_llm is not None and self.config.explain_failures > 0:
            explainer = LLMExplainer(optimizer_llm.with_role("judge"), task=self.config.task_description)
        self.explainer = explainer
        self.callbacks = list(callbacks)
        self.selector = selector or SELECTORS[self.config.selector]()
        self.sampler = sampler or SAMPLERS[self.config.sampler]()
        if acceptance is None:
            acceptance = BootstrapAcceptance(self.config.acceptance_confidence) \
                if self.config.acceptance == "bootstrap" else ACCEPTANCES[self.config.acceptance]()
        self.acceptance = acceptance

    def policy_names(self) -> dict[str, str]:
        """The classes actually used (a policy passed as an object is recorded by its own name)."""
        return {role: type(obj).__name__ for role, obj in (("selector", self.selector), ("sampler", self.sampler),
                                                          ("acceptance", self.acceptance), ("proposer", self.proposer))}

    # ------------------------------------------------------------------ public API

    def optimize(self, seed_prompt: str | Candidate, train: Sequence[Example], val: Sequence[Example], **kw
                 ) -> OptimizationResult:
        """Sync wrapper of ``aoptimize`` for scripts and notebooks."""
        return run_sync(self.aoptimize(seed_prompt, train, val, **kw))

    async def aoptimize(self, seed_prompt: str | Candidate, train: Sequence[Example], val: Sequence[Example], *,
                        run_dir: str | None = None, resume: bool = False) -> OptimizationResult:
        """Optimise ``seed_prompt``. Everything that can be checked without a model call is checked
        first (examples, budget, templates, judges' needs, a resumed run's fingerprint): ConfigError."""
        seed = _seed_candidate(seed_prompt)
        _check_examples(train, val)
        max_rollouts = self.config.budget.max_rollouts
        if max_rollouts is not None and max_rollouts < len(val):
            raise ConfigError(f"Budget(max_rollouts={max_rollouts}) cannot even score the seed prompt on the "
                              f"{len(val)} validation examples; allow at least {len(val)} rollouts, plus "
                              f"{2 * self.config.minibatch_size} per round (parent and child minibatch) and "
                              f"{len(val)} per accepted child")
        self.preflight(seed, [*train, *val])
        run = _Run(self, seed, list(train), list(val), RunStore(run_dir, resume=resume))
        try:
            return await run.execute()
        finally:
            run.store.close()

    def preflight(self, seed: Candidate, examples: Sequence[Example]) -> None:
        """Checks that need no model call: the agent's templates render and the judges have what they need."""
        check = getattr(self.agent, "preflight", None)
        if check is not None:
            check(seed, examples)
        self.panel.preflight(examples)

    def fingerprint(self, seed: Candidate, train: Sequence[Example], val: Sequence[Example]) -> dict[str, str]:
        return run_fingerprint(seed=seed, train=train, val=val, agent=self.agent, judges=self.panel,
                               proposer=self.proposer, explainer=self.explainer, settings=self.config)

    async def score(self, candidate: Candidate, example: Example) -> ExampleResult:
        """One rollout of ``candidate`` on ``example``, judged by the panel."""
        rollout = await self.agent.arun(candidate, example)
        critiques, score = await self.panel.acritique(example, rollout)
        return ExampleResult(rollout=rollout, critiques=critiques, score=score)

    def evaluate(self, prompt: str | Candidate, examples: Sequence[Example]) -> Evaluation:
        return run_sync(self.aevaluate(prompt, examples))

    async def aevaluate(self, prompt: str | Candidate, examples: Sequence[Example], *, split: str = "test"
                        ) -> Evaluation:
        """Score a prompt on examples (e.g. a held-out test set) with this optimizer's agent and judges."""
        candidate = _seed_candidate(prompt)
        sem = asyncio.Semaphore(self.config.concurrency)

        async def one(example: Example) -> ExampleResult:
            async with sem:
                return await self.score(candidate, example)

        results = await asyncio.gather(*(one(e) for e in examples))
        return Evaluation(candidate_id=candidate.id, split=split, results={e.id: r for e, r in zip(examples, results)})


def _seed_candidate(prompt: Any) -> Candidate:
    if isinstance(prompt, Candidate):
        return prompt
    if not isinstance(prompt, str):
        raise ConfigError(f"the seed prompt must be a string or a Candidate, got {type(prompt).__name__}")
    if not prompt.strip():
        raise ConfigError("the seed prompt is empty; start from a one-line task instruction")
    return Candidate.create(prompt)


def seed_failure(results: dict[str, ExampleResult], judges: Sequence[str]) -> str | None:
    """Why a seed evaluation cannot teach anything, or None.

    Every rollout failing, or one judge failing on every rollout that has an output, is a
    configuration problem (a missing template variable, a dead server, a judge that cannot
    read the references), not something a better prompt can fix.
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
            return f"judge {name!r} failed on every seed rollout ({len(verdicts)}); e.g. {verdicts[0].error[:300]}"
    return None


class _Run:
    """The state of one optimisation run. Lives for one ``aoptimize`` call."""

    def __init__(self, opt: PromptOptimizer, seed: Candidate, train: list[Example], val: list[Example],
                 store: RunStore):
        self.opt, self.cfg, self.store = opt, opt.config, store
        self.train, self.val = train, val
        self.by_id = {e.id: e for e in train + val}
        self.rng = random.Random(self.cfg.seed)
        self.meter = Meter(self.cfg.budget)
        self.cost_by_role: dict[str, dict[str, float]] = {}
        self.seed = seed
        self.candidates: dict[str, Candidate] = {seed.id: seed}
        self.results: dict[tuple[str, str], ExampleResult] = {}
        self.val_pool: dict[str, dict[str, float]] = {}
        self.history: list[dict[str, Any]] = []
        self.best_id = seed.id
        self.stop_reason = "max_iterations"
        self.started = time.time()
        contract = self.cfg.output_contract
        if contract is None and self.cfg.infer_contract:
            contract = infer_output_contract(train)
        self.contract = contract

    # ------------------------------------------------------------------ bookkeeping

    def _charge(self, role: str, cost: Cost, rollout: bool = False) -> None:
        self.meter.charge(cost, rollout=rollout)
        row = self.cost_by_role.setdefault(role, {"calls": 0, "cache_hits": 0, "tokens": 0, "cost_usd": 0.0})
        row["calls"] += cost.calls
        row["cache_hits"] += cost.cache_hits
        row["tokens"] += cost.tokens
        row["cost_usd"] += cost.cost_usd

    def _emit(self, event: dict[str, Any]) -> None:
        for callback in self.opt.callbacks:
            callback.on_event(event, self)

    def val_mean(self, cid: str) -> float:
        scores = self.val_pool.get(cid, {})
        return sum(scores.values()) / len(scores) if scores else 0.0

    # ------------------------------------------------------------------ evaluation

    async def evaluate(self, cand: Candidate, examples: Sequence[Example], split: str) -> dict[str, ExampleResult] | None:
        """Results of ``cand`` on ``examples``; None if the budget ran out before all were scored.

        Each (candidate, example) pair is rolled out at most once per run: results are memoised
        in memory and in the run store. New rollouts are capped up front at the rollouts left,
        in example order, so the same budget always admits the same rollouts.
        """
        def stored_result(event: dict[str, Any]) -> ExampleResult:
            return ExampleResult.model_validate(event["result"])

        todo = [e for e in examples if (cand.id, e.id) not in self.results
                and self.store.recall(f"result/{cand.id}/{e.id}", stored_result) is None]
        left = self.meter.rollouts_left()
        allowed = {e.id for e in (todo if left is None else todo[:left])}
        sem = asyncio.Semaphore(self.cfg.concurrency)

        async def one(example: Example) -> None:
            key = f"result/{cand.id}/{example.id}"
            if (cand.id, example.id) in self.results:
                return
            result = self.store.recall(key, stored_result)
            if result is None:
                if example.id not in allowed:
                    return
                async with sem:
                    if self.meter.exhausted():
                        return
                    result = await self.opt.score(cand, example)
                self.store.append({"type": "result", "key": key, "split": split, "result": result.model_dump()})
            self.results[(cand.id, example.id)] = result
            self._charge("agent", result.rollout.cost, rollout=True)
            self._charge("judge", Cost.total(c.cost for c in result.critiques))

        await asyncio.gather(*(one(e) for e in examples))
        if any((cand.id, e.id) not in self.results for e in examples):
            return None
        return {e.id: self.results[(cand.id, e.id)] for e in examples}

    async def explain(self, parent: Candidate, worst: list[ExampleResult]) -> list[Case]:
        """Cases for the rewriter; the ``explain_failures`` worst get an LLM explanation."""
        explainer, k = self.opt.explainer, self.cfg.explain_failures

        async def one(i: int, res: ExampleResult) -> Case:
            example = self.by_id[res.rollout.example_id]
            critiques = res.critiques
            if explainer is not None and i < k:
                key = f"explain/{parent.id}/{example.id}"
                extra = self.store.recall(key, lambda event: Critique.model_validate(event["critique"]))
                if extra is None:
                    try:
                        extra = await explainer.aexplain(example, res.rollout, res.critiques, res.score)
                    except (LLMCallError, StructuredOutputError) as exc:  # the code critique still stands
                        extra = Critique(judge="explainer", score=res.score, error=redact(str(exc))[:300])
                    self.store.append({"type": "explanation", "key": key, "critique": extra.model_dump()})
                self._charge("judge", extra.cost)
                if extra.error is None:
                    critiques = (extra,)  # the explainer's text already includes the code critique
            return Case(example=example, rollout=res.rollout, critiques=critiques, score=res.score)

        cases = await asyncio.gather(*(one(i, r) for i, r in enumerate(worst)))
        return list(cases)

    async def propose(self, parent: Candidate, cases: list[Case], iteration: int, batch: list[str]) -> Proposal:
        digest = hashlib.sha256("|".join(batch).encode()).hexdigest()[:10]
        key = f"proposal/{iteration}/{parent.id}/{digest}"
        def stored_proposal(event: dict[str, Any]) -> Proposal:
            child = Candidate.model_validate(event["child"]) if event["child"] else None
            return Proposal(child, event["rationale"], list(event["rejections"]), Cost.model_validate(event["cost"]),
                            event.get("meta_prompt", ""))

        proposal = self.store.recall(key, stored_proposal)
        if proposal is None:
            context = ProposalContext(iteration=iteration, train=self.train,
                                      task_description=self.cfg.task_description, output_contract=self.contract)
            try:
                proposal = await self.opt.proposer.apropose(parent, cases, context)
            except (LLMCallError, StructuredOutputError) as exc:  # the rewriter failed for good: record, go on
                proposal = Proposal(None, "", [redact(f"proposer failed: {exc}")[:500]])
            self.store.append({"type": "proposal", "key": key, "parent": parent.id,
                               "child": proposal.child.model_dump() if proposal.child else None,
                               "rationale": proposal.rationale, "rejections": proposal.rejections,
                               "cost": proposal.cost.model_dump(), "meta_prompt": proposal.meta_prompt})
        self._charge("optimizer", proposal.cost)
        return proposal

    # ------------------------------------------------------------------ the loop

    def _check_resume(self, fingerprint: dict[str, str]) -> None:
        stored = self.store.read_json(CONFIG_FILE) if self.store.memo or self.store.skipped_lines else None
        if not stored:
            return
        old = stored.get("fingerprint")
        if old is None:
            log.warning("%s has no fingerprint (written by an older promptlearn); resuming without checking "
                        "that examples, prompt, judges and agent are unchanged", self.store.run_dir)
            return
        changed = changed_parts(old, fingerprint)
        if changed:
            raise ConfigError(f"cannot resume {self.store.run_dir}: the {', '.join(changed)} differ from the run "
                              f"stored there, so its records would answer a different question; "
                              f"use a new run_dir (or resume=False in an empty one)")

    async def execute(self) -> OptimizationResult:
        fingerprint = self.opt.fingerprint(self.seed, self.train, self.val)
        self._check_resume(fingerprint)
        self.store.write_json(CONFIG_FILE, {"config": self.cfg.model_dump(), "seed": self.seed.model_dump(),
                                            "train_ids": [e.id for e in self.train],
                                            "val_ids": [e.id for e in self.val], "output_contract": self.contract,
                                            "policies": self.opt.policy_names(), "fingerprint": fingerprint})
        self._emit({"type": "start", "step": "evaluating the seed prompt on validation"})
        seed_val = await self.evaluate(self.seed, self.val, "val")
        if seed_val is None:  # the result's summary says the seed was not fully scored
            self.stop_reason = self.meter.exhausted() or "budget"
            return self.finish()
        problem = seed_failure(seed_val, self.opt.panel.names)
        if problem:
            self.store.append({"type": "error", "error": problem})
            raise RunError(f"stopped before optimising: {problem}")
        self.val_pool[self.seed.id] = {eid: r.score for eid, r in seed_val.items()}
        self._emit({"type": "seed", "val": self.val_mean(self.seed.id)})
        rounds_without_gain = 0
        train_ids = [e.id for e in self.train]

        for iteration in range(1, self.cfg.max_iterations + 1):
            if reason := self.meter.exhausted():
                self.stop_reason = reason
                break
            if rounds_without_gain >= self.cfg.patience:
                self.stop_reason = "patience"
                break
            row: dict[str, Any] = {"iteration": iteration}
            parent = self.candidates[self.opt.selector.select(self.val_pool, self.rng)]
            known = {eid: r.score for (cid, eid), r in self.results.items() if cid == parent.id}
            batch = self.opt.sampler.sample(train_ids, self.cfg.minibatch_size, self.rng, known)
            row.update(parent=parent.id, batch=batch)
            self._emit({"type": "step", "iteration": iteration, "step": "running the parent"})
            parent_res = await self.evaluate(parent, [self.by_id[e] for e in batch], "train")
            if parent_res is None:
                self.stop_reason = self.meter.exhausted() or "budget"
                break
            row["parent_minibatch"] = sum(r.score for r in parent_res.values()) / len(batch)
            if reason := self.meter.exhausted():  # explaining and proposing cost calls too
                self.stop_reason = reason
                break
            worst = sorted((r for r in parent_res.values() if r.score < 1.0), key=lambda r: r.score)
            worst = worst[: self.cfg.max_cases]
            if not worst:
                row["outcome"] = "parent perfect on minibatch"
                self._finish_round(row, gained=False)
                rounds_without_gain += 1
                continue
            self._emit({"type": "step", "iteration": iteration, "step": "explaining failures"})
            cases = await self.explain(parent, worst)
            if reason := self.meter.exhausted():
                self.stop_reason = reason
                break
            self._emit({"type": "step", "iteration": iteration, "step": "proposing"})
            proposal = await self.propose(parent, cases, iteration, batch)
            row["rejections"] = proposal.rejections
            child = proposal.child
            if child is None:
                row["outcome"] = "no valid proposal"
                rounds_without_gain += 1
                self._finish_round(row, gained=False)
                continue
            row["child"] = child.id
            if child.id in self.candidates:
                row["outcome"] = "duplicate of an existing candidate"
                rounds_without_gain += 1
                self._finish_round(row, gained=False)
                continue
            self.candidates[child.id] = child
            self.store.append({"type": "candidate", "candidate": child.model_dump()})
            if reason := self.meter.exhausted():
                self.stop_reason = reason
                break
            self._emit({"type": "step", "iteration": iteration, "step": "running the child"})
            child_res = await self.evaluate(child, [self.by_id[e] for e in batch], "train")
            if child_res is None:
                self.stop_reason = self.meter.exhausted() or "budget"
                break
            p_scores = [parent_res[e].score for e in batch]
            c_scores = [child_res[e].score for e in batch]
            decision = self.opt.acceptance.decide(p_scores, c_scores, self.rng)
            row.update(child_minibatch=sum(c_scores) / len(batch), accepted=decision.accepted,
                       margin=decision.margin, evidence=decision.evidence)
            gained = False
            if decision.accepted:
                self._emit({"type": "step", "iteration": iteration, "step": "validating the child"})
                child_val = await self.evaluate(child, self.val, "val")
                if child_val is None:
                    self.stop_reason = self.meter.exhausted() or "budget"
                    row["outcome"] = "budget ran out during validation"
                    self._finish_round(row, gained=False)
                    break
                self.val_pool[child.id] = {eid: r.score for eid, r in child_val.items()}
                row["child_val"] = self.val_mean(child.id)
                gained = row["child_val"] > self.val_mean(self.best_id)
                if gained:
                    self.best_id = child.id
                row["outcome"] = "new best" if gained else "accepted, no validation gain"
            else:
                row["outcome"] = "rejected on minibatch"
            rounds_without_gain = 0 if gained else rounds_without_gain + 1
            self._finish_round(row, gained)
        return self.finish()

    def _finish_round(self, row: dict[str, Any], gained: bool) -> None:
        row.update(best_val=self.val_mean(self.best_id), best=self.best_id, **self.meter.snapshot())
        self.history.append(row)
        self.store.append({"type": "round", "row": row})
        self._emit({"type": "round", "row": row, "gained": gained})

    def finish(self) -> OptimizationResult:
        result = OptimizationResult(
            seed=self.seed, best=self.candidates[self.best_id], candidates=self.candidates,
            val_scores={cid: dict(s) for cid, s in self.val_pool.items()}, history=self.history,
            val_results={cid: {eid: self.results[(cid, eid)] for eid in scores} for cid, scores in self.val_pool.items()},
            usage=self.meter.snapshot(), usage_by_role=self.cost_by_role, stop_reason=self.stop_reason,
            config=self.cfg, output_contract=self.contract)
        self.store.write_json(RESULT_FILE, result.to_dict())
        self.store.append({"type": "end", "stop_reason": self.stop_reason, "best": self.best_id})
        self._emit({"type": "end", "stop_reason": self.stop_reason})
        return result


def optimize(agent: Agent | Any, seed_prompt: str | Candidate, train: Sequence[Example], val: Sequence[Example], *,
             judges: Judge | Sequence[Judge], optimizer_llm: LLM | None = None, config: OptimizeConfig | None = None,
             run_dir: str | None = None, resume: bool = False, progress: bool = True, **kwargs: Any
             ) -> OptimizationResult:
    """One call: optimise ``seed_prompt`` for ``agent`` on ``train``, keeping what wins on ``val``.

    Sync; from async code use ``PromptOptimizer(...).aoptimize``. ``kwargs`` go to PromptOptimizer.
    """
    from .callbacks import ProgressBar

    callbacks = list(kwargs.pop("callbacks", []))
    if progress:
        callbacks.append(ProgressBar())
    optimizer = PromptOptimizer(agent, judges, optimizer_llm=optimizer_llm, config=config, callbacks=callbacks,
                                **kwargs)
    return optimizer.optimize(seed_prompt, train, val, run_dir=run_dir, resume=resume)

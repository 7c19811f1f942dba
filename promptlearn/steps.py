"""What a run is made of (:class:`LoopParts`) and the three steps that call models (:class:`Steps`).

Each step goes through ``RunStore.memo``: a resumed run replays the stored record instead of
calling a model, and is charged what the record first cost, so it takes the same path.
The loop in ``loop.py`` decides *what* to run; this module runs it, once per key.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from ._meter import Meter
from ._redaction import redact
from .agents import Agent, AnswerLine
from .callbacks import Callback
from .config import OptimizeConfig
from .contracts import FORMAT_FAILURES, AnswerContract
from .edits import FORMAT_SHARE, repairs_format
from .errors import LLMCallError, StructuredOutputError
from .judges.base import JudgePanel
from .judges.llm import LLMExplainer
from .proposers import Case, ProposalContext, Proposer
from .records import Candidate, Cost, Critique, Example, ExampleResult, Proposal, RoundRecord
from .store import RunStore
from .strategies import Acceptance, CandidateSelector, ComponentSelector, MinibatchSampler, StrategyChooser
from .strategies.components import RoundRobinComponents

log = logging.getLogger("promptlearn")
MIN_REASONING_TOKENS = 64  # fewer and there is no room to work anything out before the answer line
# Strategies one round may try before it gives up; bounds a round's rewriter calls when proposals keep failing.
MAX_STRATEGIES_PER_ROUND = 3
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

    async def score(self, candidate: Candidate, example: Example) -> ExampleResult:
        """One rollout of ``candidate`` on ``example``, judged by the panel."""
        rollout = await self.agent.arun(candidate, example)
        critiques, score = await self.panel.acritique(example, rollout)
        return ExampleResult(rollout=rollout, critiques=critiques, score=score)

    def policy_names(self) -> dict[str, str]:
        """The policies actually used: a policy passed as an object is recorded by its own name."""
        names = {role: str(getattr(obj, "name", type(obj).__name__)) for role, obj in (
            ("selector", self.selector), ("sampler", self.sampler), ("acceptance", self.acceptance),
            ("chooser", self.chooser), ("components", self.component_selector))}
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
    """Rollouts, explanations and proposals for one run, each made at most once."""

    def __init__(self, parts: LoopParts, store: RunStore, meter: Meter, train: Sequence[Example],
                 val: Sequence[Example], contract: AnswerContract | None):
        self.parts, self.config, self.store, self.meter = parts, parts.config, store, meter
        self.train, self.contract = list(train), contract
        self.by_id = {e.id: e for e in [*train, *val]}
        self.results: dict[tuple[str, str], ExampleResult] = {}
        self.chooser = copy.deepcopy(parts.chooser)  # strategy statistics belong to this run
        self.component_selector = copy.deepcopy(parts.component_selector)
        self.unread: set[str] = set()  # components the agent was never seen to read (set after the seed runs)

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

    def _train_results(self, candidate_id: str) -> list[tuple[str, ExampleResult]]:
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
        for eid, res in self._train_results(candidate_id):
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

    def format_repaired(self, parent: Mapping[str, ExampleResult], child: Mapping[str, ExampleResult]) -> bool:
        """Whether the child fixes the parent's broken answer format on the minibatch (``edits.repairs_format``)."""
        def marked(results: Mapping[str, ExampleResult]) -> list[tuple[float, bool]]:
            return [(r.score, self.failure_kind(r) in FORMAT_FAILURES) for r in results.values()]

        return self.contract is not None and repairs_format(marked(parent), marked(child))

    def choose_strategy(self, parent: Candidate, cases: list[Case], context: ProposalContext,
                        rng: random.Random, exclude: Sequence[str] = ()) -> str | None:
        """Format repair whenever it applies (it is free and fixes what nothing else can); otherwise the
        chooser picks among the applicable strategies not in ``exclude``. None: nothing (else) applies."""
        names = [name for name, proposer in self.parts.proposers.items()
                 if name not in exclude and getattr(proposer, "applicable", lambda *_: True)(parent, cases, context)]
        if not names:
            return None
        if "format" in names:
            return "format"
        return names[0] if len(names) == 1 else self.chooser.choose(names, rng)

    def feedback(self, strategy: str, accepted: bool, rollouts: int) -> None:
        """Tell the chooser how a round that used ``strategy`` went (rollouts spent testing its child)."""
        if len(self.parts.proposers) > 1 and strategy in self.parts.proposers:
            self.chooser.update(strategy, accepted, rollouts)

    def check_reads(self, seed: Candidate, example_ids: Sequence[str]) -> list[str]:
        """Components of a multi-component seed that no rollout read (when the agent reports reads at all):
        the loop warns about them and never picks them, since changing them cannot change anything."""
        if len(seed.components) < 2:
            return []
        read = {name for eid in example_ids if (seed.id, eid) in self.results
                for name in self.results[(seed.id, eid)].rollout.components_read}
        self.unread = {n for n in seed.names if n not in read} if read else set()
        return [n for n in seed.names if n in self.unread]

    def choose_component(self, parent: Candidate, cases: Sequence[Case], rng: random.Random) -> str | None:
        """The component this round edits; None for a single-prompt candidate. When most failures break the
        answer contract, the last component (the step that writes the answer); else the selector's pick."""
        if len(parent.components) < 2:
            return None
        names = [n for n in parent.names if n not in self.unread] or list(parent.names)
        if cases and sum(c.is_format_failure for c in cases) >= FORMAT_SHARE * len(cases):
            return names[-1]  # a broken answer format is the last step's to fix: it writes the answer
        return names[0] if len(names) == 1 else self.component_selector.select(names, cases, rng)

    async def propose(self, parent: Candidate, cases: list[Case], iteration: int, batch: list[str], *,
                      candidates: Mapping[str, Candidate], pool: Mapping[str, Mapping[str, float]],
                      rng: random.Random, component: str | None = None) -> Proposal:
        """A child of ``parent``; with ``component`` set, only that component changes: proposers see it
        as a single prompt (and each case's trace of that step), and the edit is spliced back.

        The child is new (not in ``candidates``) or None: a strategy that fails or repeats a candidate is
        reported to the chooser as rejected and the next applicable one is tried, up to
        ``MAX_STRATEGIES_PER_ROUND``; the failures are the proposal's ``rejections``."""
        known: set[str] = set(candidates)
        tried: list[str] = []
        rejections: list[str] = []
        view = parent
        if component is not None:
            view = parent.focus(component)
            cases = [replace(c, component=component) for c in cases]
            candidates = {cid: c.focus(component) for cid, c in candidates.items() if component in c.components}
        context = ProposalContext(iteration=iteration, train=self.train, task_description=self.config.task_description,
                                  output_contract=self.contract_text, contract=self.contract, candidates=candidates, pool=pool,
                                  reasoning_room=self.parts.reasoning_room(), component=component,
                                  train_scores={eid: r.score for eid, r in self._train_results(parent.id)},
                                  confusions=self.confusions(parent.id))
        # A strategy whose child is not new (a merge of a candidate with itself, a format repair already made)
        # hands the round to the next one: in the core suite such rounds ended runs on patience with up to a
        # third of the budget unspent (benchmarks/README "Rounds that test nothing").
        while len(tried) < MAX_STRATEGIES_PER_ROUND:
            strategy = self.choose_strategy(view, cases, context, rng, exclude=tried)
            if strategy is None:
                break
            tried.append(strategy)
            proposal = await self._propose_with(strategy, parent, view, cases, context, iteration, batch, component)
            if proposal.child is not None and proposal.child.id not in known:
                return proposal.model_copy(update={"rejections": (*rejections, *proposal.rejections)})
            why = list(proposal.rejections) if proposal.child is None else [
                f"duplicate of candidate {proposal.child.id}"]
            rejections += [f"{strategy}: {reason}" for reason in why or ["no proposal"]]
            self.feedback(strategy, False, 0)
            if self.meter.exhausted():
                break
        return Proposal(child=None, rejections=tuple(rejections) or ("no proposal strategy applies",),
                        strategy=tried[-1] if tried else "")

    async def _propose_with(self, strategy: str, parent: Candidate, view: Candidate, cases: list[Case],
                            context: ProposalContext, iteration: int, batch: list[str],
                            component: str | None) -> Proposal:
        proposer = self.parts.proposers[strategy]

        async def compute() -> Proposal:
            try:
                proposal = (await proposer.apropose(view, cases, context)).model_copy(update={"strategy": strategy})
            except (LLMCallError, StructuredOutputError) as exc:  # the rewriter failed for good: record, go on
                return Proposal(child=None, rejections=(redact(f"proposer failed: {exc}")[:500],), strategy=strategy)
            return proposal if component is None else splice(parent, component, proposal)

        digest = hashlib.sha256("|".join(batch).encode()).hexdigest()[:10]
        # One strategy keeps the key runs were stored under before strategies existed.
        suffix = f"/{strategy}" if len(self.parts.proposers) > 1 else ""
        suffix += f"/{component}" if component is not None else ""
        proposal = await self.store.memo(f"proposal/{iteration}/{parent.id}/{digest}{suffix}", "proposal", compute,
                                         dump=lambda p: {"parent": parent.id, **p.model_dump()},
                                         load=lambda e: Proposal.model_validate({k: e[k] for k in Proposal.model_fields
                                                                                 if k in e}))
        assert proposal is not None
        self.meter.charge("optimizer", proposal.cost)
        return proposal


def splice(parent: Candidate, component: str, proposal: Proposal) -> Proposal:
    """A proposal made on ``parent.focus(component)``, as a child of the whole ``parent``."""
    sub = proposal.child
    if sub is None:
        return proposal
    child = parent.with_component(component, sub.components[sub.main], parent_ids=sub.parent_ids,
                                  iteration=sub.iteration, rationale=sub.rationale, strategy=sub.strategy)
    if child.id == parent.id:
        return proposal.model_copy(update={"child": None, "rejections": (
            *proposal.rejections, f"the edit leaves component {component!r} unchanged")})
    return proposal.model_copy(update={"child": child})

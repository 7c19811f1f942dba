"""The strategy portfolio of one run: which component a round edits, which proposal strategy makes its child,
the proposal itself (memoised: a resumed run replays it), and what the chooser learns from the round.

Apart from ``steps.py`` (issue 27), whose ``Steps`` only makes and remembers model calls and the views of
their results proposers read.
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import replace
from typing import Mapping, Sequence

from ._redaction import redact
from .edits import FORMAT_SHARE
from .errors import LLMCallError, StructuredOutputError
from .proposers import Case, ProposalContext
from .records import Candidate, Proposal
from .steps import Steps

# Strategies one round may try before it gives up; bounds a round's rewriter calls when proposals keep failing.
MAX_STRATEGIES_PER_ROUND = 3
# Strategies a run tries first, once, when they are in its portfolio and apply (format repair still comes
# first). Retrieval changes what every later rollout sees: found late, the rules already accepted were written
# without the retrieved examples in view, and on the core suite the loop that met retrieval when the bandit
# chose it lost to always-on retrieval on banking77-15 (-5.8 [-9.3, -2.2], benchmarks/README "Retrieval demos").
# A worked example per label (cover) is the cheapest large gain on a classification seed (benchmarks/README
# "Which demos"); rules written after it see which labels the examples already settle. A label glossary next:
# validation keeps it where the descriptions add to the examples (benchmarks/README "A label glossary").
FIRST_ONCE = ("retrieval", "cover", "glossary")


class Portfolio:
    """The run's proposal strategies behind one chooser (Thompson sampling or round robin, ``LoopParts.chooser``),
    and its component selector; both copied, so their statistics belong to this run."""

    def __init__(self, steps: Steps):
        self.steps, self.parts = steps, steps.parts
        self.chooser = copy.deepcopy(steps.parts.chooser)
        self.component_selector = copy.deepcopy(steps.parts.component_selector)
        self.unread: set[str] = set()  # components the agent was never seen to read (set after the seed runs)
        self.went_first: set[str] = set()  # the FIRST_ONCE strategies already given their turn

    def choose_strategy(self, parent: Candidate, cases: list[Case], context: ProposalContext,
                        rng: random.Random, exclude: Sequence[str] = ()) -> str | None:
        """Format repair whenever it applies (it is free and fixes what nothing else can); then each
        ``FIRST_ONCE`` strategy once; otherwise the chooser picks among the applicable strategies not in
        ``exclude``. None: nothing (else) applies."""
        names = [name for name, proposer in self.parts.proposers.items()
                 if name not in exclude and getattr(proposer, "applicable", lambda *_: True)(parent, cases, context)]
        if not names:
            return None
        if "format" in names:
            return "format"
        for name in FIRST_ONCE:
            if name in names and name not in self.went_first:
                self.went_first.add(name)
                return name
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
        read = {name for eid in example_ids if (seed.id, eid) in self.steps.results
                for name in self.steps.results[(seed.id, eid)].rollout.components_read}
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
        steps = self.steps
        context = ProposalContext(iteration=iteration, train=steps.train, task_description=self.parts.config.task_description,
                                  output_contract=steps.contract_text, contract=steps.contract, candidates=candidates,
                                  pool=pool, reasoning_room=self.parts.reasoning_room(), component=component,
                                  train_scores={eid: r.score for eid, r in steps.train_results(parent.id)},
                                  confusions=steps.confusions(parent.id), data_summary=steps.data_summary)
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
            if self.steps.meter.exhausted():
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
            proposal = proposal if component is None else splice(parent, component, proposal)
            return proposal if strategy == "retrieval" else keep_retrieval(parent, proposal)

        digest = hashlib.sha256("|".join(batch).encode()).hexdigest()[:10]
        # One strategy keeps the key runs were stored under before strategies existed.
        suffix = f"/{strategy}" if len(self.parts.proposers) > 1 else ""
        suffix += f"/{component}" if component is not None else ""
        proposal = await self.steps.store.memo(f"proposal/{iteration}/{parent.id}/{digest}{suffix}", "proposal", compute,
                                         dump=lambda p: {"parent": parent.id, **p.model_dump()},
                                         load=lambda e: Proposal.model_validate({k: e[k] for k in Proposal.model_fields
                                                                                 if k in e}))
        assert proposal is not None
        self.steps.meter.charge("optimizer", proposal.cost)
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


def keep_retrieval(parent: Candidate, proposal: Proposal) -> Proposal:
    """A child keeps its parent's retrieval setting (``Component.retrieve``): proposers other than ``retrieval``
    build components from text, rules and demos, and a rule written with retrieved examples in view must be
    tested with them. A no-op for parents that retrieve nothing (every run before the strategy existed)."""
    child = proposal.child
    if child is None:
        return proposal
    parts = {name: c.model_copy(update={"retrieve": parent.components[name].retrieve})
             if name in parent.components and c.retrieve != parent.components[name].retrieve else c
             for name, c in child.components.items()}
    if all(parts[name] is c for name, c in child.components.items()):
        return proposal
    kept = Candidate.from_components(parts, parent_ids=child.parent_ids, iteration=child.iteration,
                                     rationale=child.rationale, strategy=child.strategy)
    return proposal.model_copy(update={"child": kept})

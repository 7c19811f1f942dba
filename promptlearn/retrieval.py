"""Retrieval demos: each call shows the training examples nearest its input as worked examples.

Which worked examples a prompt shows moved SNIPS by up to 20 points (benchmarks/README "Which demos"),
and one fixed set cannot show a 15-label task all its labels. ``RetrievalAgent`` wraps any agent
and, per input, adds the ``k`` training examples most like it (BM25 over the demo inputs) after the
candidate's own demos, the most similar last, nearest the question. The prompt then varies per input,
so the bench reports it as its own method (``promptlearn+retrieval``) and scores its test set with
the same wrapper over the same training pool.

Leakage: the pool is training examples only (the caller passes them; validation and test examples
are never shown), an example never retrieves itself or another with the same input text, and only
examples ``edits.usable_demo`` accepts are in the pool (short, one-line answers, no markup or
instructions in the data). Deterministic: ties go to the earlier pool example, so cached rollouts
replay. Pure Python: a few hundred short training inputs index in milliseconds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Sequence

from .agents import Agent, component_for
from .edits import as_demo, demo_input, usable_demos
from .errors import ConfigError
from .proposers import Case, ProposalContext
from .records import Candidate, Example, Proposal, Rollout

DEFAULT_RETRIEVED_DEMOS = 4
#: The settings one ``retrieval`` round screens, in the order the alternatives take them.
RETRIEVAL_SIZES = (4, 2, 8)
_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers: enough for BM25 over short task inputs."""
    return _TOKEN.findall(text.lower())


class BM25Index:
    """Okapi BM25 over a fixed list of texts (``k1`` and ``b`` as in most implementations)."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75):
        self.docs = [Counter(tokenize(t)) for t in texts]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg_length = (sum(self.lengths) / len(self.docs)) if self.docs else 0.0
        frequency: Counter[str] = Counter(term for d in self.docs for term in d)
        n = len(self.docs)
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in frequency.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        """One score per indexed text; higher is more similar (0 when no word is shared)."""
        terms = [t for t in set(tokenize(query)) if t in self.idf]
        out = []
        for doc, length in zip(self.docs, self.lengths):
            norm = self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1.0))
            out.append(sum(self.idf[t] * doc[t] * (self.k1 + 1) / (doc[t] + norm) for t in terms if t in doc))
        return out


class RetrievalAgent:
    """``agent`` with the ``k`` training examples nearest each input shown as worked examples.

    ``pool`` must be training examples (the caller's split); those ``usable_demo`` rejects are left out.
    ``k=None``: each candidate says how many (``Component.retrieve``, set by the loop's ``retrieval``
    strategy; 0 shows none). The rollout keeps the candidate's id and its trace holds the prompt as sent.
    Other attributes (``answer_pattern``, ``max_tokens``, ``preflight`` ...) are the wrapped agent's.
    """

    def __init__(self, agent: Agent, pool: Sequence[Example], k: int | None = DEFAULT_RETRIEVED_DEMOS):
        if k is not None and k < 1:
            raise ConfigError(f"retrieved demos: k must be at least 1 (or None: the candidate's), got {k}")
        self.inner = agent
        self.k = k
        self.pool = usable_demos(pool)
        self._inputs = [demo_input(e) for e in self.pool]
        self._index = BM25Index(self._inputs)

    def nearest(self, example: Example, k: int | None = None) -> list[Example]:
        """The ``k`` (default: this agent's) pool examples most like ``example`` (never itself), most similar first."""
        query = demo_input(example)
        ranked = sorted(((-s, i) for i, s in enumerate(self._index.scores(query))
                         if self.pool[i].id != example.id and self._inputs[i] != query))
        return [self.pool[i] for _, i in ranked[:k if k is not None else self.k or 0]]

    def candidate_for(self, candidate: Candidate, example: Example) -> Candidate:
        """``candidate`` (same id) with the nearest examples appended to the demos of the component the agent reads."""
        name = component_for(candidate, getattr(self.inner, "component", None))
        part = candidate.components[name]
        k = self.k if self.k is not None else part.retrieve
        if k == 0:
            return candidate
        retrieved = [e for e in self.nearest(example, k) if e.id not in {d.example_id for d in part.demos}]
        demos = (*part.demos, *(as_demo(e, candidate.iteration) for e in reversed(retrieved)))
        components = {**candidate.components, name: part.model_copy(update={"demos": demos})}
        return candidate.model_copy(update={"components": components})

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        return await self.inner.arun(self.candidate_for(candidate, example), example)

    def __getattr__(self, name: str) -> Any:  # answer_pattern, max_tokens, preflight ... of the wrapped agent
        return getattr(self.inner, name)


class RetrievalProposer:
    """Strategy ``retrieval`` (no LLM): the parent with ``k`` retrieved examples per input, for each ``k`` in
    ``sizes``, screened by the loop like demo sets; the paired acceptance test and the validation gate then
    decide whether retrieval helps this task at all. Applies while the parent retrieves nothing and at least
    two training examples can be shown. The loop's agent must be a ``RetrievalAgent`` with ``k=None`` over the
    training split (``PromptOptimizer`` wraps it when this strategy is on)."""

    name = "retrieval"

    def __init__(self, sizes: Sequence[int] = RETRIEVAL_SIZES):
        self.sizes = tuple(sizes)

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return parent.retrieve == 0 and len(usable_demos(context.train)) >= 2

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        most = len(usable_demos(context.train)) - 1  # an example never retrieves itself
        sizes = list(dict.fromkeys(min(k, most) for k in self.sizes if k >= 1))
        part = parent.components[parent.main]
        children = [parent.with_component(parent.main, part.model_copy(update={"retrieve": k}),
                                          parent_ids=(parent.id,), iteration=context.iteration, strategy=self.name,
                                          rationale=f"show the {k} training examples nearest each input")
                    for k in sizes if k >= 1]
        if not children:
            return Proposal(child=None, rejections=(f"{self.name}: too few training examples to show",),
                            strategy=self.name)
        return Proposal(child=children[0], screen=tuple(children[1:]), strategy=self.name,
                        rationale=f"screen {len(children)} retrieval settings, keep the best")

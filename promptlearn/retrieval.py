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
from .edits import as_demo, demo_input, usable_demo
from .errors import ConfigError
from .records import Candidate, Component, Example, Rollout

DEFAULT_RETRIEVED_DEMOS = 4
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
    The rollout keeps the candidate's id (the retrieved demos are part of the call, not of the
    candidate) and its trace holds the prompt as sent. Other attributes (``answer_pattern``,
    ``max_tokens``, ``preflight`` ...) are the wrapped agent's.
    """

    def __init__(self, agent: Agent, pool: Sequence[Example], k: int = DEFAULT_RETRIEVED_DEMOS):
        if k < 1:
            raise ConfigError(f"retrieved demos: k must be at least 1, got {k}")
        train_ids = {e.id for e in pool}
        self.inner = agent
        self.k = k
        self.pool = [e for e in pool if usable_demo(e, train_ids)]
        self._inputs = [demo_input(e) for e in self.pool]
        self._index = BM25Index(self._inputs)

    def nearest(self, example: Example) -> list[Example]:
        """The ``k`` pool examples most like ``example`` (never itself), most similar first."""
        query = demo_input(example)
        ranked = sorted(((-s, i) for i, s in enumerate(self._index.scores(query))
                         if self.pool[i].id != example.id and self._inputs[i] != query))
        return [self.pool[i] for _, i in ranked[:self.k]]

    def candidate_for(self, candidate: Candidate, example: Example) -> Candidate:
        """``candidate`` (same id) with the nearest examples appended to the demos of the component the agent reads."""
        name = component_for(candidate, getattr(self.inner, "component", None))
        part = candidate.components[name]
        retrieved = [e for e in self.nearest(example) if e.id not in {d.example_id for d in part.demos}]
        demos = (*part.demos, *(as_demo(e, candidate.iteration) for e in reversed(retrieved)))
        components = {**candidate.components, name: Component(text=part.text, rules=part.rules, demos=demos)}
        return candidate.model_copy(update={"components": components})

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        return await self.inner.arun(self.candidate_for(candidate, example), example)

    def __getattr__(self, name: str) -> Any:  # answer_pattern, max_tokens, preflight ... of the wrapped agent
        return getattr(self.inner, name)

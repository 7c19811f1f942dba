"""Core records. Small, frozen, JSON-serialisable (they are what the run directory stores)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._stats import mean
from .llm.types import Cost as Cost  # re-exported: every record carries its cost


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Example(Record):
    """One task instance. ``inputs`` feed the agent's templates; ``reference`` feeds the judges."""

    id: str
    inputs: dict[str, Any]
    reference: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Provenance(Record):
    """Where a rule came from: the failure it was written to fix and what the judge said."""

    example_id: str
    judge: str
    critique: str


class Rule(Record):
    id: int
    text: str
    provenance: tuple[Provenance, ...] = ()
    iteration: int = 0


class Demo(Record):
    """A worked example shown in the prompt: a *training* input and its reference answer."""

    example_id: str
    input: str
    answer: str
    iteration: int = 0


class Candidate(Record):
    """A prompt under test: a base system prompt plus numbered rules and demonstrations.

    The id is a hash of the rendered prompt, so two identical prompts are one candidate.
    """

    id: str
    system_prompt: str
    rules: tuple[Rule, ...] = ()
    demos: tuple[Demo, ...] = ()
    parent_ids: tuple[str, ...] = ()
    iteration: int = 0
    rationale: str = ""
    strategy: str = ""  # the proposal strategy that made it ("" for the seed)

    @staticmethod
    def render_prompt(system_prompt: str, rules: tuple[Rule, ...], demos: tuple[Demo, ...] = ()) -> str:
        text = system_prompt
        if rules:
            lines = "\n".join(f"{i}. {rule.text}" for i, rule in enumerate(rules, start=1))
            text = f"{text.rstrip()}\n\nRules:\n{lines}"
        if demos:
            shown = "\n\n".join(f"Input: {d.input}\nAnswer: {d.answer}" for d in demos)
            text = f"{text.rstrip()}\n\nExamples:\n{shown}"
        return text

    @property
    def prompt(self) -> str:
        """The system prompt the agent actually sees."""
        return self.render_prompt(self.system_prompt, self.rules, self.demos)

    @classmethod
    def create(cls, system_prompt: str, rules: tuple[Rule, ...] = (), demos: tuple[Demo, ...] = (),
               **kw: Any) -> "Candidate":
        rendered = cls.render_prompt(system_prompt, rules, demos)
        return cls(id="c-" + hashlib.sha256(rendered.encode()).hexdigest()[:10], system_prompt=system_prompt,
                   rules=tuple(rules), demos=tuple(demos), **kw)


class Rollout(Record):
    """One run of a candidate on an example. A failure is data: ``error`` is set, ``output`` is None."""

    example_id: str
    candidate_id: str
    output: str | None = None
    trace: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    latency_s: float = 0.0
    cost: Cost = Cost()


class Critique(Record):
    """A judge's verdict. ``score`` is in [0, 1], higher is better; ``explanation`` says why."""

    judge: str
    score: float = Field(ge=0.0, le=1.0)
    label: str | None = None
    explanation: str = ""
    error: str | None = None
    cost: Cost = Cost()
    agreement: float | None = None  # self-consistency / ensemble: share of votes for the verdict
    per_rule: tuple[bool, ...] | None = None  # rule_compliance: followed (True) or broken, one per rule in order


class ExampleResult(Record):
    """A rollout, its critiques, and the weighted score the loop uses."""

    rollout: Rollout
    critiques: tuple[Critique, ...]
    score: float


class Evaluation(Record):
    """A candidate's results over a set of examples."""

    candidate_id: str
    split: str
    results: dict[str, ExampleResult]

    @property
    def scores(self) -> dict[str, float]:
        return {eid: r.score for eid, r in self.results.items()}

    @property
    def mean(self) -> float:
        return mean(self.scores.values())


class Proposal(Record):
    """What a proposer returns: a child (None when every attempt was rejected) and why."""

    child: Candidate | None
    rationale: str = ""
    rejections: tuple[str, ...] = ()
    cost: Cost = Cost()
    meta_prompt: str = ""
    strategy: str = ""


class RoundRecord(Record):
    """One round of the loop, as the history, the report and callbacks see it.

    Steps a round did not reach are None (e.g. ``child_val`` when the child was rejected).
    Read access by key (``row["margin"]``, ``row.get("accepted")``, ``"accepted" in row``)
    covers the fields that are set, as the history's rows were plain dicts before.
    """

    iteration: int
    parent: str
    batch: tuple[str, ...] = ()
    parent_minibatch: float | None = None
    strategy: str | None = None
    format_failures: int | None = None  # parent's minibatch failures that broke the answer contract
    rejections: tuple[str, ...] | None = None
    child: str | None = None
    child_minibatch: float | None = None
    accepted: bool | None = None
    margin: float | None = None
    evidence: float | None = None
    child_val: float | None = None
    outcome: str = ""
    best_val: float = 0.0
    best: str = ""
    rollouts: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "RoundRecord":
        """A stored row (also one written by an older promptlearn, whose extra keys are ignored)."""
        return cls.model_validate({k: v for k, v in row.items() if k in cls.model_fields})

    def as_row(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None) if key in type(self).model_fields else None
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def keys(self) -> list[str]:
        return list(self.as_row())

    def items(self) -> list[tuple[str, Any]]:
        return list(self.as_row().items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):  # a row as older code built it
            return self.as_row() == other
        return super().__eq__(other)

    __hash__ = Record.__hash__

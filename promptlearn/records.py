"""Core records. Small, frozen, JSON-serialisable (they are what the run directory stores)."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .llm.types import Cost as Cost  # re-exported: every record carries its cost
from .stats import mean

MAIN_COMPONENT = "system"  # the one component of a single-prompt candidate


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
    """One instruction the loop added, with the critiques behind it. ``placement`` says where the prompt shows it:
    ``"list"``, numbered under "Rules:" before the worked examples; ``"end"``, as the prompt's last line, after
    every worked example (retrieved ones too), next to the input. ``cover`` puts the answer contract there: beside a
    set of one example per label the same sentence scored +3.3 (SNIPS), +2.5 (banking77-15) and +0.2 (banking77-13b)
    points more as the last line than as rule 1 on dev sets outside the cells' splits (benchmarks/README "Rules on
    the test set, and the label contract as a rule")."""

    id: int
    text: str
    provenance: tuple[Provenance, ...] = ()
    iteration: int = 0
    placement: Literal["list", "end"] = "list"


class Demo(Record):
    """A worked example shown in the prompt: a *training* input and its reference answer."""

    example_id: str
    input: str
    answer: str
    iteration: int = 0


class Component(Record):
    """One named prompt of a candidate: its base text, numbered rules and worked examples, and how many training
    examples nearest each input a ``retrieval.RetrievalAgent`` adds to it per call (0: none)."""

    text: str
    rules: tuple[Rule, ...] = ()
    demos: tuple[Demo, ...] = ()
    retrieve: int = Field(0, ge=0)

    @property
    def prompt(self) -> str:
        """The text the agent sees for this component (before any retrieved examples)."""
        return render_prompt(self.text, self.rules, self.demos)

    @property
    def identity(self) -> str:
        """What the candidate id hashes: the prompt, and the retrieval setting when there is one (so ids of
        candidates without retrieval are what they always were)."""
        return self.prompt + (f"\n\n[retrieve {self.retrieve}]" if self.retrieve else "")


def render_prompt(text: str, rules: tuple[Rule, ...] = (), demos: tuple[Demo, ...] = ()) -> str:
    """The prompt an agent reads: the text, the numbered ``"list"`` rules, the worked examples, then any ``"end"``
    rules, each on its own line. Without ``"end"`` rules the text is what it always was (candidate ids hash it)."""
    listed = [rule for rule in rules if rule.placement == "list"]
    if listed:
        lines = "\n".join(f"{i}. {rule.text}" for i, rule in enumerate(listed, start=1))
        text = f"{text.rstrip()}\n\nRules:\n{lines}"
    if demos:
        shown = "\n\n".join(f"Input: {d.input}\nAnswer: {d.answer}" for d in demos)
        text = f"{text.rstrip()}\n\nExamples:\n{shown}"
    for rule in rules:
        if rule.placement == "end":
            text = f"{text.rstrip()}\n\n{rule.text}"
    return text


# Which components the agent reads during one rollout (see ``reading_components``); None: nobody is counting.
_READS: ContextVar[set[str] | None] = ContextVar("promptlearn_component_reads", default=None)


@contextmanager
def reading_components() -> Iterator[set[str]]:
    """Collects the names of the components read (``candidate[name]``) inside the block, on any thread
    that inherited this context (agents use it to learn which prompts a rollout actually used)."""
    names: set[str] = set()
    token = _READS.set(names)
    try:
        yield names
    finally:
        _READS.reset(token)


class Candidate(Record):
    """A prompt under test: one or more named components, each a base prompt plus rules and demos.

    A single-prompt candidate has one component, ``"system"``; ``system_prompt``, ``rules`` and
    ``demos`` read it (for several components: the first one). Agents with several prompts read
    ``candidate["planner"]``. The id is a hash of the rendered components, so two identical
    prompts are one candidate (and a single-prompt id is the hash of its prompt, as before
    components existed).
    """

    id: str
    components: dict[str, Component]
    parent_ids: tuple[str, ...] = ()
    iteration: int = 0
    rationale: str = ""
    strategy: str = ""  # the proposal strategy that made it ("" for the seed)

    @model_validator(mode="before")
    @classmethod
    def _single_prompt_form(cls, data: Any) -> Any:
        """Records written before components existed (``system_prompt``, ``rules``, ``demos``) still load."""
        if isinstance(data, dict) and "components" not in data and "system_prompt" in data:
            data = dict(data)
            data["components"] = {MAIN_COMPONENT: {"text": data.pop("system_prompt"), "rules": data.pop("rules", ()),
                                                   "demos": data.pop("demos", ())}}
        return data

    @model_validator(mode="after")
    def _has_components(self) -> "Candidate":
        if not self.components:
            raise ValueError("a candidate needs at least one component")
        return self

    @staticmethod
    def render_prompt(system_prompt: str, rules: tuple[Rule, ...], demos: tuple[Demo, ...] = ()) -> str:
        return render_prompt(system_prompt, rules, demos)

    # ------------------------------------------------------------ the components

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.components)

    @property
    def main(self) -> str:
        """The first component's name (``"system"`` for a single prompt)."""
        return next(iter(self.components))

    def __getitem__(self, name: str) -> str:
        """The rendered prompt of component ``name`` (what an agent with several prompts reads)."""
        if name not in self.components:
            raise KeyError(f"candidate {self.id} has no component {name!r}; it has {list(self.components)}")
        reads = _READS.get()
        if reads is not None:
            reads.add(name)
        return self.components[name].prompt

    @property
    def system_prompt(self) -> str:
        return self.components[self.main].text

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.components[self.main].rules

    @property
    def demos(self) -> tuple[Demo, ...]:
        return self.components[self.main].demos

    @property
    def retrieve(self) -> int:
        """Training examples nearest each input shown with the first component (``retrieval.RetrievalAgent``)."""
        return self.components[self.main].retrieve

    @property
    def prompt(self) -> str:
        """The system prompt the agent sees; with several components, all of them under their names."""
        if len(self.components) == 1:
            return self.components[self.main].prompt
        return "\n\n".join(f"### {name}\n{c.prompt}" for name, c in self.components.items())

    # ------------------------------------------------------------ making candidates

    @classmethod
    def create(cls, system_prompt: str, rules: tuple[Rule, ...] = (), demos: tuple[Demo, ...] = (),
               **kw: Any) -> "Candidate":
        """A single-prompt candidate (one component, ``"system"``)."""
        return cls.from_components({MAIN_COMPONENT: Component(text=system_prompt, rules=tuple(rules),
                                                              demos=tuple(demos))}, **kw)

    @classmethod
    def from_components(cls, components: Mapping[str, "str | Component"], **kw: Any) -> "Candidate":
        """A candidate from named prompts (``{"planner": "...", "answer": "..."}``) or Components."""
        parts = {name: c if isinstance(c, Component) else Component(text=c) for name, c in components.items()}
        return cls(id=candidate_id(parts), components=parts, **kw)

    def with_component(self, name: str, component: Component, **kw: Any) -> "Candidate":
        """A new candidate with component ``name`` replaced (other components and their order kept)."""
        return self.from_components({**self.components, name: component}, **kw)

    def focus(self, name: str) -> "Candidate":
        """Component ``name`` alone, as a single-prompt candidate that keeps this candidate's id: what a
        proposer edits when the loop changes one component of several."""
        return type(self)(id=self.id, components={name: self.components[name]}, parent_ids=self.parent_ids,
                          iteration=self.iteration, rationale=self.rationale, strategy=self.strategy)


def candidate_id(components: Mapping[str, Component]) -> str:
    if list(components) == [MAIN_COMPONENT]:  # the id single prompts always had
        rendered = components[MAIN_COMPONENT].identity
    else:
        rendered = json.dumps({name: c.identity for name, c in components.items()})
    return "c-" + hashlib.sha256(rendered.encode()).hexdigest()[:10]


class Rollout(Record):
    """One run of a candidate on an example. A failure is data: ``error`` is set, ``output`` is None.

    ``trace`` holds chat messages (``role``/``content``) and, for agents with several steps, one
    entry per step: ``{"component": name, "input": ..., "output": ...}`` (see ``agents.record_step``),
    which the rewriter sees when it edits that component. ``components_read`` names the components
    the agent read (empty: not known).
    """

    example_id: str
    candidate_id: str
    output: str | None = None
    trace: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    latency_s: float = 0.0
    cost: Cost = Cost()
    components_read: tuple[str, ...] = ()

    def steps(self, component: str) -> list[dict[str, Any]]:
        """The trace entries of one component's step(s)."""
        return [t for t in self.trace if t.get("component") == component]


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
    # Alternatives to ``child`` (e.g. other demo sets): the loop screens them all on training minibatches and
    # tests only the survivor (loop.Run._screen).
    screen: tuple[Candidate, ...] = ()
    # The child's validation score is its test (no paired minibatch test): for one-off wholesale changes whose
    # effect eight examples cannot resolve (the cover set: benchmarks/README "Validation as the cover set's test").
    validate_directly: bool = False


NEW_BEST = "new best"  # the outcome of a round whose child became the best (possibly with a note after it)


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
    component: str | None = None  # the component this round changed (candidates with several)
    format_failures: int | None = None  # parent's minibatch failures that broke the answer contract
    rejections: tuple[str, ...] | None = None
    child: str | None = None
    screened: int | None = None  # alternatives screened before the child was tested (demo_search)
    child_minibatch: float | None = None  # on the minibatch, or every example the screening ran it on
    accepted: bool | None = None
    format_repaired: bool | None = None  # accepted because it fixed the answer format, tying on score
    simplified: bool | None = None  # accepted because it drops rules at no cost on the minibatch (prune)
    # rule text -> the parent's mean minus the mean without that rule, on the examples that ablation ran on (prune)
    rule_contributions: dict[str, float] | None = None
    margin: float | None = None
    evidence: float | None = None
    child_val: float | None = None  # on the validation examples reached (all, unless val_reached says fewer)
    val_reached: int | None = None  # validation examples the child ran on when the policy stopped its pass
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

    @property
    def gained(self) -> bool:
        """The round's child became the best candidate."""
        return self.outcome.startswith(NEW_BEST)

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

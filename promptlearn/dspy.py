"""DSPy interop: optimise the instructions of every predictor of a ``dspy.Module`` with promptlearn.

    from promptlearn.dspy import optimize_program
    found = optimize_program(program, trainset, valset, metric=metric, lm=agent_llm, optimizer_llm=rewriter)
    found.program          # a copy of ``program`` with the best instructions written in
    found.result.report("runs/dspy.html")

Each predictor is one component of the candidate (named as ``program.named_predictors()`` names
it); the loop picks which one a round changes and shows the rewriter that predictor's inputs and
outputs from DSPy's trace. The metric is a DSPy metric: ``metric(example, prediction)`` returning a
number or bool, ``(score, feedback)``, or ``dspy.Prediction(score=..., feedback=...)`` as ``dspy.GEPA``
metrics do; feedback becomes the critique the rewriter reads. Models are our ``LLM`` objects (the
embedded local model included), seen by DSPy through ``dspy_lm``; no ``dspy.configure``: the LM
is passed per call with ``dspy.context``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from ._extras import require
from .agents import FunctionAgent, record_step, record_trace
from .config import OptimizeConfig
from .errors import ConfigError
from .judges.base import failed_rollout_critique
from .llm import LLM
from .optimizer import optimize
from .records import Candidate, Critique, Example, Rollout
from .result import OptimizationResult

#: Tokens a predictor may generate: room for DSPy's ``[[ ## field ## ]]`` markers and short fields.
DEFAULT_PREDICTOR_TOKENS = 256
MAX_FIELD_CHARS = 1500  # per field in a step's trace: enough for a passage, not a whole document


def dspy_lm(llm: LLM, *, max_tokens: int = DEFAULT_PREDICTOR_TOKENS, on_call: Callable[[], None] | None = None) -> Any:
    """Our LLM as a DSPy LM, so DSPy programs run on any model the LLM layer reaches (and share its
    cache, retries and usage counting). Uses DSPy 2.6-3.4's ``BaseLM.forward`` (3.5 drops it: dspy<3.5)."""
    base_lm: Any = require("dspy", "dspy", what="DSPy interop").BaseLM

    class PromptlearnLM(base_lm):  # type: ignore[misc]
        def forward(self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None,
                    **kwargs: Any) -> Any:
            if on_call is not None:
                on_call()
            chat = messages or [{"role": "user", "content": prompt or ""}]
            completion = llm.complete(chat, max_tokens=min(int(kwargs.get("max_tokens") or max_tokens), max_tokens))
            message = SimpleNamespace(content=completion.text, tool_calls=None, reasoning_content=None)
            return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop", logprobs=None)],
                                   usage={"prompt_tokens": completion.prompt_tokens,
                                          "completion_tokens": completion.completion_tokens},
                                   model=llm.model, cache_hit=False)

    return PromptlearnLM(model=f"promptlearn/{llm.model}", cache=False, max_tokens=max_tokens, temperature=0.0)


def _fields(values: Any) -> str:
    items = values.items() if hasattr(values, "items") else []
    return "\n".join(f"{k}: {str(v)[:MAX_FIELD_CHARS]}" for k, v in items)


def predictor_names(program: Any) -> list[str]:
    """The program's predictors, by the names DSPy gives them; ConfigError if it has none."""
    dspy = require("dspy", "dspy", what="DSPy interop")

    if not isinstance(program, dspy.Module):
        raise ConfigError(f"expected a dspy.Module, got {type(program).__name__}")
    names = [name for name, _ in program.named_predictors()]
    if not names:
        raise ConfigError(f"the {type(program).__name__} program has no predictors (dspy.Predict, ChainOfThought, "
                          f"...): there are no instructions to optimise")
    return names


def seed_candidate(program: Any) -> Candidate:
    """The program's current instructions, one component per predictor."""
    names = predictor_names(program)
    predictors = dict(program.named_predictors())
    return Candidate.from_components({name: str(predictors[name].signature.instructions) for name in names})


def with_instructions(program: Any, candidate: Candidate) -> Any:
    """A copy of ``program`` whose predictors carry ``candidate``'s instructions (rules and demos rendered in)."""
    copied = program.deepcopy()
    for name, predictor in copied.named_predictors():
        if name in candidate.components:
            predictor.signature = predictor.signature.with_instructions(candidate.components[name].prompt)
    return copied


def single_label(dataset: Sequence[Any]) -> str | None:
    """The one label field every example has (e.g. ``answer``), or None when there is no single one."""
    try:
        fields = {tuple(sorted(item.labels().keys())) for item in dataset}
    except Exception:  # noqa: BLE001 - no with_inputs: as_examples says so
        return None
    return fields.pop()[0] if len(fields) == 1 and len(next(iter(fields))) == 1 else None


def as_examples(dataset: Sequence[Any], split: str, answer_field: str | None = None
                ) -> tuple[list[Example], dict[str, Any]]:
    """DSPy examples as promptlearn Examples, and the gold by id. With ``answer_field``, its value is the
    Example's reference (answer contracts, format repair and demos read it); the metric reads the gold."""
    examples, gold = [], {}
    for i, item in enumerate(dataset):
        try:
            inputs = dict(item.inputs())
        except Exception as exc:  # noqa: BLE001 - dspy raises ValueError without with_inputs
            raise ConfigError(f"{split}[{i}]: {exc} (mark the input fields with .with_inputs(...))") from None
        digest = hashlib.sha256(json.dumps(item.toDict(), sort_keys=True, default=str).encode()).hexdigest()[:8]
        eid = f"{split}{i}-{digest}"
        reference = None if answer_field is None else str(item.get(answer_field, ""))
        examples.append(Example(id=eid, inputs=inputs, reference=reference))
        gold[eid] = item
    return examples, gold


def metric_score(value: Any, metric_name: str) -> tuple[float, str]:
    """A DSPy metric's return value as (score in [0, 1], feedback); ConfigError when it is neither a number
    nor a score with feedback (that would fail every example the same way)."""
    feedback: Any = ""
    if isinstance(value, tuple) and len(value) == 2:
        value, feedback = value
    elif hasattr(value, "score") and not isinstance(value, (int, float)):  # dspy.Prediction(score=, feedback=)
        value, feedback = value.score, getattr(value, "feedback", "") or ""
    elif isinstance(value, dict) and "score" in value:
        value, feedback = value["score"], value.get("feedback", "")
    if isinstance(value, bool) or isinstance(value, (int, float)):
        score = float(value)
        if 0.0 <= score <= 1.0:
            return score, str(feedback or "")
        raise ConfigError(f"metric {metric_name!r} returned score {score}; scores must be in [0, 1]")
    raise ConfigError(f"metric {metric_name!r} returned {type(value).__name__} ({str(value)[:80]!r}); return a number, "
                      f"a bool, (score, feedback) or dspy.Prediction(score=..., feedback=...)")


class MetricJudge:
    """A DSPy metric as a promptlearn Judge: rebuilds the prediction from the rollout's JSON output."""

    def __init__(self, metric: Callable[..., Any], gold: dict[str, Any], name: str | None = None):
        if not callable(metric):
            raise ConfigError(f"metric must be callable (example, prediction) -> score, got {type(metric).__name__}")
        self.metric, self.gold = metric, gold
        self.name = name or str(getattr(metric, "__name__", "metric"))

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        dspy = require("dspy", "dspy", what="DSPy interop")

        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        fields = next((t["prediction"] for t in rollout.trace if "prediction" in t), None)
        prediction = dspy.Prediction(**(fields if fields is not None else json.loads(rollout.output or "{}")))
        # A worker thread: a DSPy metric is sync code and may block or run its own event loop.
        value = await asyncio.to_thread(self.metric, self.gold[example.id], prediction)
        score, feedback = metric_score(value, self.name)
        return Critique(judge=self.name, score=score, label="pass" if score >= 0.5 else "fail",
                        explanation=feedback or f"{self.name} scored {score:g}.")


class ProgramAgent:
    """Runs a DSPy program with a candidate's instructions; each predictor call is a traced step.

    The output the loop sees is the prediction's ``answer_field`` (or, without one, all its fields as
    JSON); the whole prediction goes to the trace, where the metric judge reads it.
    """

    def __init__(self, program: Any, lm: LLM, *, max_tokens: int = DEFAULT_PREDICTOR_TOKENS,
                 answer_field: str | None = None):
        # Public attributes are what a run's fingerprint records (resume compares them); the program and
        # DSPy's LM stay private: their reprs hold addresses and a call history that change every run.
        self.program_class = f"{type(program).__module__}.{type(program).__qualname__}"
        self.names = predictor_names(program)
        self.model = lm.for_role("agent")
        self.max_tokens = max_tokens
        self.answer_field = answer_field
        self._program = program
        self._lm = dspy_lm(self.model, max_tokens=max_tokens)
        self._copies: dict[str, tuple[Any, dict[int, str]]] = {}
        self._lock = threading.Lock()

    def _program_for(self, candidate: Candidate) -> tuple[Any, dict[int, str]]:
        with self._lock:
            if candidate.id not in self._copies:
                program = with_instructions(self._program, candidate)
                self._copies[candidate.id] = (program, {id(p): n for n, p in program.named_predictors()})
            return self._copies[candidate.id]

    def __call__(self, candidate: Candidate, example: Example) -> str:
        dspy = require("dspy", "dspy", what="DSPy interop")

        program, name_of = self._program_for(candidate)
        with warnings.catch_warnings(), dspy.context(lm=self._lm, trace=[]):
            warnings.simplefilter("ignore", DeprecationWarning)  # BaseLM.forward: see dspy_lm
            prediction = program(**example.inputs)
            trace = list(dspy.settings.trace)
        for predictor, inputs, outputs in trace:
            name = name_of.get(id(predictor))
            if name is not None:
                candidate[name]  # noqa: B018 - a read: tells the loop this predictor's instructions matter
                record_step(name, _fields(inputs), _fields(outputs))
        fields = json.loads(json.dumps(dict(prediction.items()), default=str))
        record_trace({"prediction": fields})
        if self.answer_field is not None:
            return str(fields.get(self.answer_field, ""))
        return json.dumps(fields)

    def agent(self) -> FunctionAgent:
        return FunctionAgent(self)


@dataclass
class ProgramResult:
    """What ``optimize_program`` found: the program with the best instructions, and the run's result."""

    program: Any
    result: OptimizationResult

    @property
    def instructions(self) -> dict[str, str]:
        """The best instructions, by predictor name (what was written into ``program``)."""
        return {name: c.prompt for name, c in self.result.best.components.items()}


def optimize_program(program: Any, trainset: Sequence[Any], valset: Sequence[Any], *, metric: Callable[..., Any],
                     lm: LLM, optimizer_llm: LLM, config: OptimizeConfig | None = None, run_dir: str | None = None,
                     resume: bool = False, progress: bool = True, max_tokens: int = DEFAULT_PREDICTOR_TOKENS,
                     answer_field: str | None = "auto") -> ProgramResult:
    """Optimise the instructions of every predictor of ``program`` on ``trainset``, keeping what wins on ``valset``.

    ``lm`` runs the program (the agent); ``optimizer_llm`` rewrites and explains. ``program`` is not
    changed: the result holds a copy. Budget, policies and run directory work as in ``optimize``.
    ``answer_field``: the prediction field that is the answer (``"auto"``: the one label field every
    training example has, if there is one; None: none). With one, the loop sees that field as the
    output and its gold value as the reference, so answer contracts, format repair and demos work.
    """
    seed = seed_candidate(program)
    field = single_label(trainset) if answer_field == "auto" else answer_field
    train, train_gold = as_examples(trainset, "train", field)
    val, val_gold = as_examples(valset, "val", field)
    judge = MetricJudge(metric, {**train_gold, **val_gold})
    cfg = config or OptimizeConfig()
    if field is None and cfg.infer_contract:  # no reference to infer a contract from
        cfg = cfg.model_copy(update={"infer_contract": False})
    agent = ProgramAgent(program, lm, max_tokens=max_tokens, answer_field=field)
    result = optimize(agent.agent(), seed, train, val, judges=judge, optimizer_llm=optimizer_llm, config=cfg,
                      run_dir=run_dir, resume=resume, progress=progress)
    return ProgramResult(program=with_instructions(program, result.best), result=result)


__all__ = ["optimize_program", "ProgramResult", "ProgramAgent", "MetricJudge", "dspy_lm", "seed_candidate",
           "with_instructions", "predictor_names", "metric_score", "as_examples", "single_label"]

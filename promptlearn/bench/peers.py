"""The field's optimizers as bench methods, each on the cell's one contract.

- ``gepa``: ``gepa.optimize`` with an adapter that runs *our* agent (plain chat, same template,
  max_tokens and parsing) and gives our judges' critiques as feedback; ``max_metric_calls``
  is the rollout budget. Only the search differs from promptlearn.
- ``dspy-gepa`` and ``dspy-miprov2``: ``dspy.GEPA`` and ``dspy.MIPROv2`` on the equivalent
  ``dspy.Predict`` program (task inputs -> ``answer``), driven by the same two models through
  our LLM layer and scored by our judges. Their instruction (and MIPROv2's demos) becomes a
  system prompt our agent runs on the test set; the compiled program's test outputs through DSPy's
  own adapter are scored by the same ground-truth metric and reported beside it (``own_adapter_test``),
  so both numbers are visible.
No ``dspy.configure``: models are passed per call with ``dspy.context`` (thread-safe).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any, Sequence

from .._extras import available
from .._templating import format_inputs
from ..judges.base import JudgePanel
from ..llm import LLM
from ..optimizer import PromptOptimizer
from ..records import Candidate, Example, Rollout
from .methods import CellSetup, MethodOutcome

log = logging.getLogger("promptlearn")

#: Extra tokens DSPy's ChatAdapter needs for its ``[[ ## answer ## ]]`` markers beyond the task's answer budget.
DSPY_MARKUP_TOKENS = 32
MIPRO_CANDIDATES = 4
MIPRO_DEMOS = 2
GEPA_SINGLE = "system_prompt"
#: Feedback each reflective record carries at most (characters per field).
FEEDBACK_CHARS = 600


def _feedback(critiques: Sequence[Any]) -> str:
    """The judges' critiques as the feedback text a reflective optimizer reads."""
    return " ".join(c.explanation or c.error or "" for c in critiques)


def as_candidate(components: dict[str, str]) -> Candidate:
    """A GEPA candidate as ours: its one ``system_prompt`` is our single prompt; several are named components."""
    if list(components) == [GEPA_SINGLE]:
        return Candidate.create(components[GEPA_SINGLE])
    return Candidate.from_components(components)


class GepaAdapter:
    """GEPA's adapter protocol over a PromptOptimizer's agent and judges: a single prompt is GEPA's
    ``system_prompt`` component; a multi-step task's components keep their names, and each one's
    reflective records show that step's own input and output."""

    def __init__(self, scorer: PromptOptimizer):
        self.scorer = scorer
        self.propose_new_texts = None  # GEPA's own reflective proposer

    def evaluate(self, batch: list[Example], candidate: dict[str, str], capture_traces: bool = False) -> Any:
        from gepa.core.adapter import EvaluationBatch

        evaluation = asyncio.run(self.scorer.aevaluate(as_candidate(candidate), batch, split="train"))
        results = [evaluation.results[e.id] for e in batch]
        trajectories = None
        if capture_traces:
            trajectories = [{"input": format_inputs(e), "output": r.rollout.output or f"(failed: {r.rollout.error})",
                             "feedback": _feedback(r.critiques),
                             "steps": {t["component"]: (t["input"], t["output"]) for t in r.rollout.trace
                                       if "component" in t}} for e, r in zip(batch, results)]
        return EvaluationBatch(outputs=[r.rollout.output for r in results], scores=[r.score for r in results],
                               trajectories=trajectories)

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: Any,
                                components_to_update: list[str]) -> dict[str, list[dict[str, str]]]:
        def records(name: str) -> list[dict[str, str]]:  # a step's own input and output where the trace has them
            return [{"Inputs": t["steps"].get(name, (t["input"],))[0][:FEEDBACK_CHARS],
                     "Generated Outputs": t["steps"].get(name, (None, t["output"]))[1][:FEEDBACK_CHARS],
                     "Feedback": t["feedback"][:FEEDBACK_CHARS]} for t in eval_batch.trajectories or []]

        return {name: records(name) for name in components_to_update}


def _missing(module: str, pip: str) -> str | None:
    return None if available(module) else pip


class GepaMethod:
    name = "gepa"

    def missing(self) -> str | None:
        return _missing("gepa", "pip install 'promptlearn[bench]'")

    def run(self, setup: CellSetup) -> MethodOutcome:
        import gepa  # type: ignore[import-untyped,unused-ignore]

        rewriter = setup.rewriter

        def reflection_lm(prompt: str | list[dict[str, Any]]) -> str:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            return rewriter.complete(messages, max_tokens=700).text

        adapter: Any = GepaAdapter(setup.optimizer())  # the cell's counting agent and judges; duck-typed
        result: Any = gepa.optimize(  # type: ignore[attr-defined,unused-ignore]
            seed_candidate=dict(seed) if isinstance(seed := setup.seed_prompt, dict) else {GEPA_SINGLE: seed},
            trainset=setup.train, valset=setup.val,
            adapter=adapter, reflection_lm=reflection_lm, max_metric_calls=setup.budget,
            reflection_minibatch_size=min(8, len(setup.train)), seed=setup.seed,
            run_dir=str(setup.work_dir / "gepa"), display_progress_bar=False)
        best = result.best_idx
        found = dict(result.best_candidate)
        return MethodOutcome(best_prompt=found[GEPA_SINGLE] if list(found) == [GEPA_SINGLE] else found,
                             val_score=float(result.val_aggregate_scores[best]),
                             details={"candidates": len(result.candidates)})


def _dspy_lm(llm: LLM, *, max_tokens: int, on_call: Any = None) -> Any:
    from ..dspy import dspy_lm

    return dspy_lm(llm, max_tokens=max_tokens, on_call=on_call)


class _DspyTask:
    """The cell's task as a ``dspy.Predict`` program, examples and metric (our judges on ``pred.answer``)."""

    def __init__(self, setup: CellSetup):
        import dspy

        self.setup = setup
        self.fields = list(setup.train[0].inputs)
        by_id = {e.id: e for e in [*setup.train, *setup.val]}
        self.by_id = by_id
        signature = dspy.make_signature({**{f: (str, dspy.InputField()) for f in self.fields},
                                         "answer": (str, dspy.OutputField())}, setup.single_prompt("dspy methods"))
        self.program = dspy.Predict(signature)
        self.panel = JudgePanel(setup.judges, setup.judge_weights)
        self.agent_tokens = (setup.agent.max_tokens or 64) + DSPY_MARKUP_TOKENS
        self.agent_lm = _dspy_lm(setup.agent.llm, max_tokens=self.agent_tokens, on_call=setup.agent.count)
        self.rewriter_lm = _dspy_lm(setup.rewriter, max_tokens=700)

    def examples(self, examples: Sequence[Example]) -> list[Any]:
        import dspy

        return [dspy.Example(pl_id=e.id, answer=str(e.reference or ""), **{f: str(e.inputs[f]) for f in self.fields}
                             ).with_inputs(*self.fields) for e in examples]

    def judge(self, gold: Any, pred: Any) -> tuple[float, str]:
        example = self.by_id.get(gold.pl_id) or Example(id=gold.pl_id, inputs={f: gold[f] for f in self.fields},
                                                         reference=gold.answer)
        rollout = Rollout(example_id=example.id, candidate_id="dspy", output=self.output(pred))
        critiques, score = asyncio.run(self.panel.acritique(example, rollout))
        return score, _feedback(critiques)

    def output(self, pred: Any) -> str:
        """The prediction's answer, parsed as our agent parses a reply (e.g. its first line)."""
        answer = str(getattr(pred, "answer", "") or "")
        parse = getattr(self.setup.agent.inner, "parse", None)
        return str(parse(answer)) if parse else answer

    def prompt_of(self, program: Any) -> str:
        """The compiled program as one system prompt: its instruction, then its demos as worked examples."""
        predictor = program.predictors()[0]
        prompt = str(predictor.signature.instructions).strip()
        demos = [d for d in getattr(predictor, "demos", []) if all(f in d for f in [*self.fields, "answer"])]
        if demos:
            shown = "\n\n".join("\n".join(f"{f}: {d[f]}" for f in self.fields) + f"\nAnswer: {d['answer']}"
                                for d in demos)
            prompt += "\n\nExamples:\n" + shown
        return prompt

    def own_adapter_outputs(self, program: Any, test: Sequence[Example]) -> dict[str, str | None]:
        """The compiled program's test outputs through DSPy's own adapter (None where it failed; not rollouts)."""
        import dspy

        outputs: dict[str, str | None] = {}
        with dspy.context(lm=_dspy_lm(self.setup.agent.llm, max_tokens=self.agent_tokens)):
            for gold in self.examples(test):
                try:
                    outputs[gold.pl_id] = self.output(program(**{f: gold[f] for f in self.fields}))
                except Exception as exc:  # noqa: BLE001 - DSPy's adapter failing to parse is a 0, as in its Evaluate
                    log.info("dspy program failed on %s: %s", gold.pl_id, exc)
                    outputs[gold.pl_id] = None
        return outputs


class _DspyMethod:
    name = ""

    def missing(self) -> str | None:
        return _missing("dspy", "pip install 'promptlearn[bench]'")

    def run(self, setup: CellSetup) -> MethodOutcome:
        import dspy

        task = _DspyTask(setup)
        with warnings.catch_warnings(), dspy.context(lm=task.agent_lm):
            warnings.simplefilter("ignore", DeprecationWarning)  # BaseLM.forward: see _dspy_lm
            compiled = self.compile(task, setup)
        return MethodOutcome(best_prompt=task.prompt_of(compiled),
                             details={"instruction": compiled.predictors()[0].signature.instructions},
                             own_adapter_outputs=lambda test: task.own_adapter_outputs(compiled, test))

    def compile(self, task: _DspyTask, setup: CellSetup) -> Any:
        raise NotImplementedError


class DspyGepaMethod(_DspyMethod):
    name = "dspy-gepa"

    def compile(self, task: _DspyTask, setup: CellSetup) -> Any:
        import dspy

        def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
            score, feedback = task.judge(gold, pred)
            return dspy.Prediction(score=score, feedback=feedback[:FEEDBACK_CHARS])

        optimizer = dspy.GEPA(metric=metric, max_metric_calls=setup.budget, reflection_lm=task.rewriter_lm,
                              reflection_minibatch_size=min(8, len(setup.train)), num_threads=1,
                              log_dir=str(setup.work_dir / "dspy_gepa"), seed=setup.seed)
        return optimizer.compile(task.program, trainset=task.examples(setup.train), valset=task.examples(setup.val))


class DspyMiproMethod(_DspyMethod):
    """MIPROv2 has no rollout budget; its trials are sized to fit it and the real count is reported."""

    name = "dspy-miprov2"

    def missing(self) -> str | None:
        return _missing("dspy", "pip install 'promptlearn[bench]'") or _missing("optuna", "pip install 'promptlearn[bench]'")

    def compile(self, task: _DspyTask, setup: CellSetup) -> Any:
        import dspy

        def metric(gold: Any, pred: Any, trace: Any = None) -> float:
            return task.judge(gold, pred)[0]

        minibatch = min(10, len(setup.val))
        bootstrap = MIPRO_CANDIDATES * min(len(setup.train), 3 * MIPRO_DEMOS)  # runs on train to find demos
        trials = max(1, (setup.budget - 2 * len(setup.val) - bootstrap) // minibatch)
        optimizer = dspy.MIPROv2(metric=metric, prompt_model=task.rewriter_lm, task_model=task.agent_lm, auto=None,
                                 num_candidates=MIPRO_CANDIDATES, max_bootstrapped_demos=MIPRO_DEMOS,
                                 max_labeled_demos=MIPRO_DEMOS, num_threads=1, seed=setup.seed, verbose=False)
        return optimizer.compile(task.program, trainset=task.examples(setup.train), valset=task.examples(setup.val),
                                 num_trials=trials, minibatch=len(setup.val) > minibatch, minibatch_size=minibatch,
                                 minibatch_full_eval_steps=max(trials, 1))

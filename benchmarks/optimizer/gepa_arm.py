"""The ``gepa`` arm of run_benchmark.py: ``gepa.optimize`` driving *our* agent on one contract.

Same split, seed prompt, agent (ChatAgent: same user template, max_tokens and first-line parse),
judges (their critiques are GEPA's feedback), reflection model (the 1.5B through our LLM layer)
and rollout budget (``max_metric_calls``: every agent call on a train or val example). Only the
search differs, so the held-out test scores compare the optimisers, not their adapters.
"""

from __future__ import annotations

import asyncio
from typing import Any

from promptlearn import LLM, Example, PromptOptimizer
from promptlearn._templating import format_inputs
from promptlearn.records import Candidate


class PromptlearnAdapter:
    """GEPA's adapter protocol over a promptlearn optimizer's agent and judges (one component: the prompt)."""

    def __init__(self, optimizer: PromptOptimizer):
        self.optimizer = optimizer
        self.rollouts = 0
        self.propose_new_texts = None  # use GEPA's own reflective proposer

    def evaluate(self, batch: list[Example], candidate: dict[str, str], capture_traces: bool = False) -> Any:
        from gepa.core.adapter import EvaluationBatch

        evaluation = asyncio.run(self.optimizer.aevaluate(Candidate.create(candidate["system_prompt"]), batch))
        self.rollouts += len(batch)
        results = [evaluation.results[e.id] for e in batch]
        trajectories = None
        if capture_traces:
            trajectories = [{"input": format_inputs(e), "output": r.rollout.output or f"(failed: {r.rollout.error})",
                             "feedback": " ".join(c.explanation or c.error or "" for c in r.critiques)}
                            for e, r in zip(batch, results)]
        return EvaluationBatch(outputs=[r.rollout.output for r in results], scores=[r.score for r in results],
                               trajectories=trajectories)

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: Any,
                                components_to_update: list[str]) -> dict[str, list[dict[str, str]]]:
        records = [{"Inputs": t["input"][:600], "Generated Outputs": t["output"][:600], "Feedback": t["feedback"][:600]}
                   for t in eval_batch.trajectories or []]
        return {name: records for name in components_to_update}


def run_gepa(optimizer: PromptOptimizer, rewriter: LLM, seed_prompt: str, train: list[Example], val: list[Example],
             *, budget: int, seed: int, minibatch: int, run_dir: str) -> tuple[str, int]:
    """GEPA's best prompt and the rollouts it spent."""
    import gepa

    def reflection_lm(prompt: str | list[dict[str, Any]]) -> str:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return rewriter.complete(messages, max_tokens=700).text

    adapter = PromptlearnAdapter(optimizer)
    result = gepa.optimize(seed_candidate={"system_prompt": seed_prompt}, trainset=train, valset=val,
                           adapter=adapter, reflection_lm=reflection_lm, max_metric_calls=budget,
                           reflection_minibatch_size=minibatch, seed=seed, run_dir=run_dir,
                           display_progress_bar=True)
    return result.best_candidate["system_prompt"], adapter.rollouts

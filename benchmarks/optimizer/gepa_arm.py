"""The ``gepa`` arm of run_benchmark.py: ``gepa.optimize`` driving *our* agent on one contract.

Same split, seed prompt, agent (ChatAgent: same user template, max_tokens and first-line parse),
judges (their critiques are GEPA's feedback), reflection model (the 1.5B through our LLM layer)
and rollout budget (``max_metric_calls``: every agent call on a train or val example). Only the
search differs, so the held-out test scores compare the optimisers, not their adapters. The adapter
is ``promptlearn.bench.peers.GepaAdapter``, the one ``promptlearn bench --methods gepa`` uses.
"""

from __future__ import annotations

from typing import Any

from promptlearn import LLM, Example, PromptOptimizer
from promptlearn.bench import CountingAgent
from promptlearn.bench.peers import GepaAdapter


def run_gepa(optimizer: PromptOptimizer, rewriter: LLM, seed_prompt: str, train: list[Example], val: list[Example],
             *, budget: int, seed: int, minibatch: int, run_dir: str) -> tuple[str, int]:
    """GEPA's best prompt and the rollouts it spent."""
    import gepa

    def reflection_lm(prompt: str | list[dict[str, Any]]) -> str:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return rewriter.complete(messages, max_tokens=700).text

    agent = CountingAgent(optimizer.agent)
    scorer = PromptOptimizer(agent, optimizer.panel.judges, judge_weights=optimizer.panel.weights,
                             optimizer_llm=rewriter, config=optimizer.config)
    result = gepa.optimize(seed_candidate={"system_prompt": seed_prompt}, trainset=train, valset=val,
                           adapter=GepaAdapter(scorer), reflection_lm=reflection_lm, max_metric_calls=budget,
                           reflection_minibatch_size=minibatch, seed=seed, run_dir=run_dir,
                           display_progress_bar=True)
    return result.best_candidate["system_prompt"], agent.rollouts

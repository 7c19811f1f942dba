"""The quickstart: a real optimisation on the embedded local models, no API key.

SNIPS intent classification (7 labels, CC0, shipped in the package); the
0.5B model is the agent, the 1.5B model explains failures and proposes rules and rewrites (auto mode).
``promptlearn quickstart`` runs it; ``notebooks/01_quickstart.ipynb`` walks
through the same steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Sequence

from ..agents import ChatAgent, first_line
from ..callbacks import Callback
from ..config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL, Budget, OptimizeConfig
from ..data import load_examples, split_examples
from ..judges import ExactMatch
from ..llm import LLM, Usage
from ..optimizer import PromptOptimizer
from ..records import Example

AGENT_MODEL = DEFAULT_AGENT_MODEL
OPTIMIZER_MODEL = DEFAULT_REWRITER_MODEL

SNIPS_SEED_PROMPT = ("Classify the user's request into one of these intents: AddToPlaylist, BookRestaurant, "
                     "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent.")
SNIPS_TASK = "classify a voice-assistant request into its intent label"
SNIPS_USER_TEMPLATE = "Request: {{ text }}\nIntent:"
AGENT_MAX_TOKENS = 12

QUICKSTART_CONFIG = OptimizeConfig(
    seed=0, minibatch_size=10, max_iterations=12, patience=6, explain_failures=0, max_cases=8,
    task_description=SNIPS_TASK, budget=Budget(max_rollouts=400, max_wall_s=12 * 60))


def snips_examples() -> list[Example]:
    path = resources.files("promptlearn.datasets").joinpath("snips_intents.jsonl")
    with resources.as_file(path) as p:
        return load_examples(p, inputs="text", reference="intent", id_column="id")


def snips_task(n_train: int = 35, n_val: int = 35, n_test: int = 140, seed: int = 0
               ) -> tuple[list[Example], list[Example], list[Example]]:
    """Stratified train / val / test splits of the shipped SNIPS subset."""
    train, val, test = split_examples(snips_examples(), [n_train, n_val, n_test], seed=seed, stratify=True)
    return train, val, test


@dataclass
class QuickstartOutcome:
    result: Any
    test_before: float
    test_after: float
    n_test: int
    wall_s: float
    usage: Usage


def agent_llm_usage(optimizer: PromptOptimizer) -> Usage:
    """The shared usage of the quickstart's models (the agent's LLM carries it)."""
    agent = optimizer.agent
    return agent.llm.usage if isinstance(agent, ChatAgent) else Usage()


def make_optimizer(agent_model: str = AGENT_MODEL, optimizer_model: str = OPTIMIZER_MODEL,
                   config: OptimizeConfig = QUICKSTART_CONFIG, cache: Any = None,
                   callbacks: Sequence[Callback] = ()) -> PromptOptimizer:
    usage = Usage()
    extra = {} if cache is None else {"cache": cache}
    agent = ChatAgent(LLM(agent_model, role="agent", usage=usage, **extra), SNIPS_USER_TEMPLATE,
                      max_tokens=AGENT_MAX_TOKENS, parse=first_line)
    optimizer_llm = LLM(optimizer_model, role="optimizer", usage=usage, temperature=0.0, **extra)
    return PromptOptimizer(agent, [ExactMatch()], optimizer_llm=optimizer_llm, config=config, callbacks=callbacks)


def run_quickstart(*, agent_model: str = AGENT_MODEL, optimizer_model: str = OPTIMIZER_MODEL,
                   config: OptimizeConfig = QUICKSTART_CONFIG, n_test: int = 70, run_dir: str | None = None,
                   resume: bool = False, progress: bool = True,
                   echo: Callable[[str], None] = print) -> QuickstartOutcome:
    from ..callbacks import ProgressBar

    start = time.time()
    train, val, test = snips_task(n_test=n_test)
    optimizer = make_optimizer(agent_model, optimizer_model, config, callbacks=[ProgressBar()] if progress else [])
    echo(f"SNIPS intents: {len(train)} train / {len(val)} val / {len(test)} test; agent {agent_model}, "
         f"judge + rewriter {optimizer_model}\n")
    echo("Seed prompt:\n  " + SNIPS_SEED_PROMPT + "\n")
    result = optimizer.optimize(SNIPS_SEED_PROMPT, train, val, run_dir=run_dir, resume=resume)
    echo("\n" + result.summary())
    echo("\nBest prompt:\n" + "\n".join("  " + line for line in result.best_prompt.splitlines()))
    before = optimizer.evaluate(result.seed, test).mean
    after = optimizer.evaluate(result.best, test).mean if result.best.id != result.seed.id else before
    echo(f"\nHeld-out test accuracy ({len(test)} examples): {before:.1%} -> {after:.1%}")
    echo(f"Wall time {time.time() - start:.0f} s")
    return QuickstartOutcome(result, before, after, len(test), time.time() - start,
                             agent_llm_usage(optimizer))

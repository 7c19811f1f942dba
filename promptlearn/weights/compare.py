"""Prompt tuning vs weight tuning on one task, one set of judges, one scoring engine.

``compare_prompt_vs_weights`` runs each method at each budget and scores every arm on the same
held-out test examples with one ``transformers_agent`` (a ChatAgent on ``TransformersBackend``) over the
same base weights: prompt arms run their prompt on the base model, weight arms run the seed prompt on
base + their LoRA adapter. The prompt arm's *search* runs on ``agent_llm`` (e.g. the embedded llama.cpp model: the same weights,
quantized, and many times faster on a CPU); its result is re-scored through transformers here.

Budget axis: rollouts, i.e. generations from the model while learning (promptlearn's agent calls,
GRPO's samples, judged SFT's samples). SFT on references generates nothing; its budget is the
number of training examples it sees, reported in its own column.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .._async import run_sync
from .._extras import require
from ..config import Budget, OptimizeConfig
from ..data import read_jsonl
from ..errors import ConfigError
from ..judges.base import Judge, JudgePanel
from ..llm import LLM
from ..records import Candidate, Example
from ..stats import bootstrap_ci
from .backend import transformers_agent
from .config import GRPOSettings, SFTSettings

METHODS = ("seed", "promptlearn", "sft", "grpo", "promptlearn+sft")
#: The methods that run promptlearn's search (and so need the agent and rewriter LLMs).
PROMPT_METHODS = ("promptlearn", "promptlearn+sft")
RESULTS_FILE = "comparison.jsonl"


@dataclass
class ArmResult:
    method: str
    budget: int
    test: float
    test_ci95: tuple[float, float]
    rollouts: int
    examples_seen: int
    wall_s: float
    engine: str
    prompt: str
    adapter: str | None = None
    tokens: int = 0  # prompt arms: tokens of every model call of the search; weight arms: tokens trained on
    device: str = "cpu"  # where training and scoring ran (GPU-seconds = wall_s where this names a GPU)


def _score(agent: Any, prompt: str, test: Sequence[Example], panel: JudgePanel, seed: int
           ) -> tuple[float, tuple[float, float]]:
    import random

    candidate = Candidate.create(prompt)  # an empty prompt means no system message (see chat)

    async def one(example: Example) -> float:
        rollout = await agent.arun(candidate, example)
        return (await panel.acritique(example, rollout))[1]

    scores = [run_sync(one(e)) for e in test]
    return sum(scores) / len(scores), bootstrap_ci(scores, rng=random.Random(seed))


def compare_prompt_vs_weights(model: str | Path, train: Sequence[Example], val: Sequence[Example],
                              test: Sequence[Example], *, judges: Judge | Sequence[Judge], seed_prompt: str,
                              output_dir: str | Path, agent_llm: LLM | None = None,
                              optimizer_llm: LLM | None = None,
                              methods: Sequence[str] = METHODS, budgets: Sequence[int] = (100,),
                              user_template: str = "{{ input }}", max_tokens: int = 16,
                              parse: Callable[[str], str] | None = None, config: OptimizeConfig | None = None,
                              sft: SFTSettings | None = None, grpo: GRPOSettings | None = None,
                              progress: bool = True) -> Any:
    """Run ``methods`` at each of ``budgets`` and return a DataFrame (one row per arm; also in
    ``OUTPUT/comparison.jsonl``, where finished arms are kept and skipped on a rerun) and draw
    ``OUTPUT/score_vs_rollouts.png``. ``agent_llm`` and ``optimizer_llm`` run the prompt search, so only the
    prompt arms (promptlearn, promptlearn+sft) need them: the weight arms run on a machine without llama.cpp."""
    import pandas as pd

    from ..agents import ChatAgent
    from ..optimizer import PromptOptimizer
    from .grpo import train_grpo
    from .sft import train_sft

    if unknown := [m for m in methods if m not in METHODS]:
        raise ConfigError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    if (prompt_arms := [m for m in methods if m in PROMPT_METHODS]) and (agent_llm is None or optimizer_llm is None):
        raise ConfigError(f"methods {prompt_arms} search prompts: pass agent_llm and optimizer_llm")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    store = output / RESULTS_FILE
    done = {(r["method"], r["budget"]): r for r in _arms(store)} if store.exists() else {}
    panel = JudgePanel([judges] if isinstance(judges, Judge) else list(judges))
    base = transformers_agent(model, user_template, max_tokens=max_tokens, parse=parse)
    sft_settings, grpo_settings = sft or SFTSettings(), grpo or GRPOSettings()
    cfg = config or OptimizeConfig()

    def optimized_prompt(budget: int) -> tuple[str, int, int]:
        assert agent_llm is not None and optimizer_llm is not None  # checked above
        chat_agent = ChatAgent(agent_llm, user_template, max_tokens=max_tokens, parse=parse)
        optimizer = PromptOptimizer(chat_agent, list(panel.judges), optimizer_llm=optimizer_llm,
                                    config=cfg.model_copy(update={"budget": Budget(max_rollouts=budget)}))
        result = optimizer.optimize(seed_prompt, train, val, run_dir=str(output / f"promptlearn-{budget}"), resume=True)
        return result.best_prompt, int(result.usage.get("rollouts", 0)), int(result.usage.get("tokens", 0))

    for budget in budgets:
        for method in methods:
            if (method, budget) in done:
                continue
            start = time.time()
            prompt, adapter, rollouts, seen, tokens = seed_prompt, None, 0, 0, 0
            if method == "promptlearn":
                prompt, rollouts, tokens = optimized_prompt(budget)
            elif method == "sft":
                steps = max(1, budget // sft_settings.batch_size)
                summary = train_sft(model, train, output / f"sft-{budget}", user_template=user_template,
                                    settings=replace(sft_settings, max_steps=steps), progress=progress)
                adapter, seen, tokens = summary.adapter_dir, summary.examples_seen, summary.train_tokens
            elif method == "grpo":
                per_step = grpo_settings.prompts_per_step * grpo_settings.num_generations
                summary = train_grpo(model, train, output / f"grpo-{budget}", judges=list(panel.judges),
                                     user_template=user_template, parse=parse, progress=progress,
                                     settings=replace(grpo_settings, max_steps=max(1, budget // per_step)))
                adapter, rollouts, seen = summary.adapter_dir, summary.rollouts, summary.examples_seen
                tokens = summary.train_tokens
            elif method == "promptlearn+sft":  # distil the optimized prompt's judge-approved answers into LoRA
                teacher, rollouts, tokens = optimized_prompt(budget)
                summary = train_sft(model, train, output / f"promptlearn+sft-{budget}", user_template=user_template,
                                    settings=replace(sft_settings, source="judged", train_system_prompt=seed_prompt),
                                    judges=list(panel.judges), sample_prompt=teacher, max_new_tokens=max_tokens,
                                    progress=progress)
                adapter, seen = summary.adapter_dir, summary.examples_seen
                rollouts, tokens = rollouts + summary.rollouts, tokens + summary.train_tokens
            agent = base if adapter is None else transformers_agent(model, user_template, adapter=adapter,
                                                                    max_tokens=max_tokens, parse=parse)
            score, ci = _score(agent, prompt, test, panel, cfg.seed)
            arm = ArmResult(method=method, budget=budget, test=score, test_ci95=ci, rollouts=rollouts,
                            examples_seen=seen, wall_s=round(time.time() - start, 1), engine=_engine(agent),
                            prompt=prompt, adapter=adapter, tokens=tokens, device=agent.llm.backend.device)
            with store.open("a") as handle:
                handle.write(json.dumps(asdict(arm)) + "\n")
            done[(method, budget)] = asdict(arm)
    frame = pd.DataFrame([done[(m, b)] for b in budgets for m in methods])
    plot_comparison(frame, output / "score_vs_rollouts.png")
    return frame


def _engine(agent: Any) -> str:
    """The engine column as recorded before adapters carried a weights hash: ``transformers:MODEL[+FOLDER]``."""
    return str(agent.llm.model).split("@", 1)[0]


def _arms(path: Path) -> list[dict[str, Any]]:
    return [arm for _, arm in read_jsonl(path)]  # a bad line is a ConfigError naming its number


def load_comparison(path: str | Path) -> Any:
    """The arms a comparison saved (its output folder or its ``comparison.jsonl``) as a DataFrame."""
    import pandas as pd

    store = Path(path)
    store = store / RESULTS_FILE if store.is_dir() else store
    if not store.exists():
        raise ConfigError(f"no comparison results at {store}; compare_prompt_vs_weights writes {RESULTS_FILE}")
    frame = pd.DataFrame(_arms(store))
    if frame.empty:
        raise ConfigError(f"{store} holds no arms yet")
    frame["test_ci95"] = frame["test_ci95"].map(tuple)
    return frame


def comparison_table(frame: Any) -> str:
    """A markdown table of the arms: held-out score with its 95% CI, rollouts, examples seen, wall time, engine."""
    lines = ["| method | budget | held-out (95% CI) | rollouts | examples seen | wall s | device | engine |",
             "|---|---:|---|---:|---:|---:|---|---|"]
    for arm in frame.to_dict("records"):
        low, high = arm["test_ci95"]
        lines.append(f"| {arm['method']} | {arm['budget']} | {100 * arm['test']:.1f}% [{100 * low:.1f}, {100 * high:.1f}] "
                     f"| {arm['rollouts']} | {arm['examples_seen']} | {arm['wall_s']:.0f} | {arm.get('device', 'cpu')} "
                     f"| {arm['engine']} |")
    return "\n".join(lines)


def plot_comparison(frame: Any, path: str | Path) -> Path:
    """Held-out score vs rollouts spent, one line per method (SFT on references: training examples seen)."""
    matplotlib = require("matplotlib", "plots", what="the comparison chart")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, rows in frame.groupby("method", sort=False):
        x = rows["rollouts"] if rows["rollouts"].any() or method == "seed" else rows["examples_seen"]
        label = method if rows["rollouts"].any() or method == "seed" else f"{method} (x: examples seen)"
        ax.errorbar(x, rows["test"], yerr=[rows["test"] - rows["test_ci95"].str[0], rows["test_ci95"].str[1] - rows["test"]],
                    marker="o", capsize=3, label=label)
    ax.set_xlabel("rollouts spent learning")
    ax.set_ylabel("held-out score")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

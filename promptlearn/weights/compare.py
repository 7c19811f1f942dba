"""Prompt tuning vs weight tuning on one task, one set of judges, one scoring engine.

``compare_prompt_vs_weights`` runs each method (the bench's method of that name, on one cell setup) at
each budget and scores every arm on the same held-out test examples with one ``transformers_agent`` (a
ChatAgent on ``TransformersBackend``) over the same base weights: prompt arms run their prompt on the base
model, weight arms run the seed prompt on base + their LoRA adapter. The prompt arm's *search* runs on
``agent_llm`` (e.g. the embedded llama.cpp model: the same weights, quantized, and many times faster on a
CPU); its result is re-scored through transformers here.

Budget axis: rollouts, i.e. generations from the model while learning (promptlearn's agent calls,
GRPO's samples, judged SFT's samples). SFT on references generates nothing; its budget is the
number of training examples it sees, reported in its own column.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .._async import run_sync
from .._extras import require
from ..config import OptimizeConfig
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
    prompt arms (promptlearn, promptlearn+sft) need them: the weight arms run on a machine without llama.cpp.

    Each arm is the bench's method of that name (``bench/methods.py``, ``bench/weight_methods.py``) run on one
    cell setup, so the comparison and ``promptlearn bench --engine transformers`` train and search the same way;
    ``sft`` / ``grpo`` settings given here replace the bench's defaults (the seed prompt as the training system
    message). ``parse`` is ``first_line`` or None, the two the task schema names."""
    import pandas as pd

    from ..agents import first_line
    from ..bench.methods import CellSetup, CountingAgent, MethodOutcome, PromptlearnMethod
    from ..bench.weight_methods import GRPOMethod, PromptlearnSFTMethod, SFTMethod
    from ..task import TaskAgent, TaskData, TaskSpec, task_agent

    if unknown := [m for m in methods if m not in METHODS]:
        raise ConfigError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    output = Path(output_dir)
    store = output / RESULTS_FILE
    done = {(r["method"], r["budget"]): r for r in _arms(store)} if store.exists() else {}
    to_search = [m for m in methods if m in PROMPT_METHODS and any((m, b) not in done for b in budgets)]
    if to_search and (agent_llm is None or optimizer_llm is None):
        raise ConfigError(f"methods {to_search} search prompts: pass agent_llm and optimizer_llm")
    if parse not in (None, first_line):
        raise ConfigError("parse must be promptlearn.agents.first_line or None (the task schema's first_line / whole)")
    if not train or not test:
        raise ConfigError("compare_prompt_vs_weights needs training and test examples")
    output.mkdir(parents=True, exist_ok=True)
    panel = JudgePanel([judges] if isinstance(judges, Judge) else list(judges))
    base = transformers_agent(model, user_template, max_tokens=max_tokens, parse=parse)
    cfg = config or OptimizeConfig()
    task = TaskSpec(name="comparison", description=cfg.task_description, seed_prompt=seed_prompt,
                    data=TaskData(train_path="(in memory)", val_path="(in memory)", inputs=sorted(train[0].inputs)),
                    agent=TaskAgent(user_template=user_template, max_tokens=max_tokens,
                                    parse="first_line" if parse is first_line else "whole"))
    arms = {"seed": None, "promptlearn": PromptlearnMethod(config=cfg), "sft": SFTMethod(sft), "grpo": GRPOMethod(grpo),
            "promptlearn+sft": PromptlearnSFTMethod(sft, config=cfg)}

    def search_agent() -> CountingAgent:
        if agent_llm is None:  # weight arms never call it
            return CountingAgent(_NoSearchAgent())
        return CountingAgent(task_agent(task, agent_llm))

    for budget in budgets:
        for method in methods:
            if (method, budget) in done:
                continue
            start = time.time()
            # promptlearn and promptlearn+sft share a folder: the second resumes the first's finished search.
            folder = output / (f"promptlearn-{budget}" if method in PROMPT_METHODS else f"{method}-{budget}")
            setup = CellSetup(task=task, seed=cfg.seed, budget=budget, train=list(train), val=list(val),
                              agent=search_agent(), judges=list(panel.judges), judge_weights=list(panel.weights),
                              rewriter=optimizer_llm or _no_rewriter(), work_dir=folder, engine_model=str(model),
                              progress=progress)
            method_obj = arms[method]
            outcome = MethodOutcome(best_prompt=seed_prompt, rollouts=0) if method_obj is None else method_obj.run(setup)
            prompt = outcome.best_prompt
            assert isinstance(prompt, str)  # single-prompt task
            details = outcome.details
            seen = int(details.get("examples_seen", 0))
            rollouts = 0 if method == "sft" else int(outcome.rollouts or 0)  # references: no generations
            tokens = int(outcome.tokens or 0) + int(details.get("search_tokens") or 0) + int(details.get("train_tokens", 0))
            adapter = outcome.adapter
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


class _NoSearchAgent:
    """The cell agent of a comparison without ``agent_llm``: weight arms never call it (checked above)."""

    async def arun(self, candidate: Candidate, example: Example) -> Any:
        raise ConfigError("this comparison has no agent_llm; only the weight arms can run")


def _no_rewriter() -> LLM:
    """The cell rewriter of a comparison without ``optimizer_llm``: weight arms never call it either."""
    from ..llm import FunctionBackend

    def refuse(request: Any) -> str:
        raise ConfigError("this comparison has no optimizer_llm; only the weight arms can run")
    return LLM("none/no-rewriter", backend=FunctionBackend(refuse), cache=None)


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

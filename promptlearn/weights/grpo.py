"""GRPO-style RL with TRL's GRPOTrainer, rewarded by the same judges the prompt loop uses.

Each sample is a rollout: the judges' weighted score is its reward, and every verdict's
explanation goes to ``OUTPUT/rewards.jsonl`` (the log a person reads to see *why* a sample was
rewarded). Checkpoints every ``checkpoint_every`` steps; a killed run resumes from the last one.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .._async import run_sync
from ..errors import ConfigError
from ..judges.base import Judge, JudgePanel
from ..records import Example, Rollout
from . import require
from .backend import chat, default_device
from .config import GRPOSettings
from .models import hf_model
from .sft import ADAPTER_DIR, CHECKPOINT_PREFIX, TrainingError, TrainingSummary

REWARDS_FILE = "rewards.jsonl"


def judge_reward(panel: JudgePanel, by_id: dict[str, Example], log_path: Path,
                 parse: Callable[[str], str] | None = None) -> Callable[..., list[float | None]]:
    """A TRL reward function: each completion judged by ``panel`` against its example (by ``example_id``)."""

    def reward(prompts: list[Any], completions: list[Any], example_id: list[str], **_: Any) -> list[float | None]:
        rewards: list[float | None] = []
        with log_path.open("a", encoding="utf-8") as log:
            for completion, eid in zip(completions, example_id):
                text = completion[0]["content"] if isinstance(completion, list) else str(completion)
                output = parse(text) if parse else text
                critiques, score = run_sync(panel.acritique(by_id[eid], Rollout(example_id=eid, candidate_id="grpo",
                                                                                output=output)))
                log.write(json.dumps({"example_id": eid, "output": output, "reward": score,
                                      "critiques": [c.explanation or c.error or "" for c in critiques]}) + "\n")
                rewards.append(score)
        return rewards

    reward.__name__ = "judges"
    return reward


def train_grpo(model: str | Path, train: Sequence[Example], output_dir: str | Path, *,
               judges: Judge | Sequence[Judge], user_template: str = "{{ input }}",
               settings: GRPOSettings | None = None, judge_weights: Sequence[float] | None = None,
               parse: Callable[[str], str] | None = None, progress: bool = True) -> TrainingSummary:
    """Train a LoRA adapter with GRPO on ``train``'s inputs; ``rollouts`` in the summary counts every sample."""
    require("torch", "transformers", "peft", "trl", "datasets")
    from datasets import Dataset
    from peft import LoraConfig
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.grpo_trainer import GRPOTrainer

    settings = settings or GRPOSettings()
    if settings.num_generations < 2:
        raise ConfigError("GRPO compares samples of one prompt: num_generations must be at least 2")
    if settings.max_steps < 1 or not train:
        raise ConfigError(f"the budget leaves nothing to train ({len(train)} examples, {settings.max_steps} steps)")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    folder = hf_model(model)
    panel = JudgePanel([judges] if isinstance(judges, Judge) else list(judges), judge_weights)
    panel.preflight(train)
    rows = [{"prompt": chat(e, user_template, settings.train_system_prompt), "example_id": e.id} for e in train]
    lora = settings.lora
    device = default_device()
    args = GRPOConfig(output_dir=str(output), use_cpu=device == "cpu", bf16=False, seed=settings.seed,
                      per_device_train_batch_size=settings.prompts_per_step * settings.num_generations,
                      num_generations=settings.num_generations, max_completion_length=settings.max_completion_length,
                      learning_rate=settings.learning_rate, max_steps=settings.max_steps, beta=settings.beta,
                      temperature=settings.temperature, save_steps=settings.checkpoint_every, save_total_limit=2,
                      logging_steps=1, report_to="none", disable_tqdm=not progress)
    trainer = GRPOTrainer(model=str(folder), reward_funcs=judge_reward(panel, {e.id: e for e in train},
                                                                       output / REWARDS_FILE, parse),
                          args=args, train_dataset=Dataset.from_list(rows),
                          peft_config=LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                 target_modules=list(lora.target_modules), task_type="CAUSAL_LM"))
    checkpoints = sorted(int(p.name[len(CHECKPOINT_PREFIX):]) for p in output.glob(f"{CHECKPOINT_PREFIX}*")
                         if p.name[len(CHECKPOINT_PREFIX):].isdigit())
    start = time.time()
    try:
        trainer.train(resume_from_checkpoint=str(output / f"{CHECKPOINT_PREFIX}{checkpoints[-1]}")
                      if checkpoints else None)
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        raise TrainingError(f"out of memory; lower prompts_per_step, num_generations or max_completion_length. "
                            f"Checkpoints kept: {checkpoints or 'none yet'} in {output}") from None
    adapter = output / ADAPTER_DIR
    shutil.rmtree(adapter, ignore_errors=True)
    trainer.save_model(str(adapter))
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    log_path = output / REWARDS_FILE
    sampled = len(log_path.read_text(encoding="utf-8").splitlines()) if log_path.exists() else 0
    summary = TrainingSummary(method="grpo", adapter_dir=str(adapter), steps=int(trainer.state.global_step),
                              examples_seen=int(trainer.state.global_step) * settings.prompts_per_step
                              * settings.num_generations,
                              rollouts=sampled, train_tokens=int(getattr(trainer.state, "num_input_tokens_seen", 0)),
                              wall_s=round(time.time() - start, 1), losses=[round(float(e["loss"]), 4) for e in logged],
                              resumed_from=checkpoints[-1] if checkpoints else None, device=device)
    summary.save(output)
    return summary

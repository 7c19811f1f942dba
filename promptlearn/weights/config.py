"""Settings of the weight-tuning methods: frozen, documented dataclasses (like TRL's configs), no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_LORA_RANK = 8
DEFAULT_LORA_ALPHA = 16
DEFAULT_SFT_LEARNING_RATE = 2e-4
DEFAULT_GRPO_LEARNING_RATE = 2e-5
DEFAULT_BATCH_SIZE = 4
DEFAULT_NUM_GENERATIONS = 4
DEFAULT_CHECKPOINT_EVERY = 10


@dataclass(frozen=True)
class LoRASettings:
    """The adapter every method trains: rank, scale, dropout, and the attention/MLP projections it wraps."""

    rank: int = DEFAULT_LORA_RANK
    alpha: int = DEFAULT_LORA_ALPHA
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class SFTSettings:
    """LoRA supervised fine-tuning.

    ``source="references"`` trains on each training example's reference answer;
    ``source="judged"`` samples ``samples_per_example`` answers per example from the model
    (with ``system_prompt`` as the system message, e.g. an optimized prompt) and keeps those
    the judges score at least ``min_score`` (rejection sampling: the judges are the filter, and
    each sample is a rollout). Training runs ``epochs`` passes (or ``max_steps`` optimizer steps),
    saves a checkpoint every ``checkpoint_every`` steps and resumes from the last one.
    ``train_system_prompt`` is the system message during training ("" trains without one).
    """

    source: Literal["references", "judged"] = "references"
    epochs: int = 2
    max_steps: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float = DEFAULT_SFT_LEARNING_RATE
    samples_per_example: int = 4
    sample_temperature: float = 0.8
    min_score: float = 1.0
    train_system_prompt: str = ""
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    max_length: int = 512
    seed: int = 0
    lora: LoRASettings = LoRASettings()


@dataclass(frozen=True)
class GRPOSettings:
    """GRPO-style RL with TRL's GRPOTrainer: ``num_generations`` samples per prompt, each a rollout, rewarded
    by the judges' weighted score; ``max_steps`` optimizer steps of ``prompts_per_step`` prompts each."""

    max_steps: int = 10
    prompts_per_step: int = 2
    num_generations: int = DEFAULT_NUM_GENERATIONS
    learning_rate: float = DEFAULT_GRPO_LEARNING_RATE
    max_completion_length: int = 16
    temperature: float = 0.8
    beta: float = 0.0  # KL penalty weight; 0 skips the reference model (half the memory and time on a CPU)
    train_system_prompt: str = ""
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    seed: int = 0
    lora: LoRASettings = LoRASettings()

    @property
    def rollouts(self) -> int:
        """Agent generations the run makes: every sample of every prompt of every step."""
        return self.max_steps * self.prompts_per_step * self.num_generations

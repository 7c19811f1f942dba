"""Weight tuning on the same tasks, judges and budget as prompt tuning (the ``weights`` extra).

torch and transformers are imported only inside this package, and only when a function here
runs; without the extra, ``require()`` raises a ConfigError naming ``pip install "promptlearn[weights]"``.

- ``hf_model(name)``: a Hugging Face folder for a model: any causal-LM folder as is, or the
  embedded GGUF models converted once into ``~/.cache/promptlearn/hf/`` (so every arm tunes and
  scores the same Qwen2.5-Coder weights).
- ``TransformersBackend``: a model folder plus an optional LoRA adapter as a backend of the one LLM layer;
  ``transformers_agent`` is a ``ChatAgent`` over it. Prompt arms and weight arms of one comparison are scored
  by it, so the engine and base weights match.
- ``train_sft`` (LoRA SFT on reference answers or on judge-approved samples), ``train_grpo``
  (TRL's GRPOTrainer, rewards from the same judges), each with a TRL-style config dataclass,
  checkpoints, resume and a final adapter folder.
- ``compare_prompt_vs_weights``: one table and one chart, held-out score vs rollouts per method;
  ``load_comparison`` reads a saved comparison back, ``comparison_table`` renders it as markdown.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ..errors import ConfigError
from .config import GRPOSettings, LoRASettings, SFTSettings

WEIGHTS_EXTRA = 'pip install "promptlearn[weights]"'
REQUIRED = ("torch", "transformers", "peft")


def require(*modules: str) -> None:
    """ConfigError naming the install command when the weights extra (or one of ``modules``) is missing."""
    missing = [m for m in (modules or REQUIRED) if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"weight tuning needs {', '.join(missing)}: {WEIGHTS_EXTRA}")


def __getattr__(name: str) -> Any:
    """The torch-backed parts load on first use, so ``import promptlearn.weights`` works without the extra."""
    lazy = {"TransformersBackend": ".backend", "transformers_agent": ".backend", "hf_model": ".models",
            "train_sft": ".sft", "TrainingSummary": ".sft",
            "TrainingError": ".sft", "train_grpo": ".grpo", "compare_prompt_vs_weights": ".compare",
            "plot_comparison": ".compare", "load_comparison": ".compare", "comparison_table": ".compare"}
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(name)


__all__ = ["require", "WEIGHTS_EXTRA", "SFTSettings", "GRPOSettings", "LoRASettings", "TransformersBackend",
           "transformers_agent", "hf_model",
           "train_sft", "train_grpo", "TrainingSummary", "TrainingError", "compare_prompt_vs_weights",
           "plot_comparison", "load_comparison", "comparison_table"]

"""Model folders for weight tuning: any Hugging Face causal LM, or an embedded GGUF model converted once."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..llm.local_models import LOCAL_MODELS, resolve_model_path

HF_DIR_ENV = "PROMPTLEARN_HF_DIR"
DEFAULT_HF_DIR = "~/.cache/promptlearn/hf"
#: The tokenizer and weights of the embedded models; the GGUF files carry both.
_DONE = "converted.json"


def hf_dir() -> Path:
    return Path(os.environ.get(HF_DIR_ENV, DEFAULT_HF_DIR)).expanduser()


def check_causal_lm(folder: Path) -> None:
    """ConfigError unless ``folder`` holds a Hugging Face causal language model (config.json says so)."""
    config = folder / "config.json"
    if not config.exists():
        raise ConfigError(f"{folder} is not a Hugging Face model folder (no config.json)")
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{config} is not valid JSON ({exc})") from None
    if not any(str(a).endswith("ForCausalLM") for a in architectures):
        raise ConfigError(f"{folder} holds {architectures or 'an unnamed architecture'}, not a causal language model "
                          f"(…ForCausalLM): weight tuning trains text generators")


def hf_model(name_or_dir: str | Path, *, progress: bool = True) -> Path:
    """A causal-LM folder: ``name_or_dir`` itself if it is one, or ``local/<name>`` converted once from its GGUF.

    Conversion (transformers dequantizes the GGUF; ~80 s and ~3 GB RAM for the 0.5B on a CPU) writes
    into a temporary folder that is renamed when complete, so an interrupted conversion is redone.
    """
    folder = Path(str(name_or_dir)).expanduser()
    if folder.is_dir():
        check_causal_lm(folder)
        return folder
    name = str(name_or_dir).removeprefix("local/")
    if name not in LOCAL_MODELS:
        raise ConfigError(f"{name_or_dir!r} is neither a model folder nor an embedded model "
                          f"({', '.join('local/' + n for n in LOCAL_MODELS)})")
    target = hf_dir() / name
    if (target / _DONE).exists():
        return target
    gguf = resolve_model_path(name)
    if progress:
        print(f"converting {gguf.name} into a Hugging Face folder at {target} (once) ...", flush=True)
    _convert(gguf, target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers refuses to save a GGUF-loaded model until the (already undone) quantization is forgotten
    # (../shared/MODELS.md). Can go when save_pretrained handles dequantized GGUF models itself.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    (partial / _DONE).write_text(json.dumps({"from": gguf.name, "size": gguf.stat().st_size}))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)

"""``TransformersBackend``: a causal-LM folder (plus an optional LoRA adapter) as an ``LLM`` backend.

Issue 27: the transformers engine is a backend under the one LLM layer, so ``ChatAgent``, ``PipelineAgent``,
the cache, retries, usage and the rollout meter work on it unchanged, and a prompt arm and a weight arm of one
comparison differ only in the backend's weights. ``transformers_agent`` builds that ``ChatAgent``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .._templating import render
from ..errors import ConfigError
from ..llm.types import Completion, Request
from ..records import Example
from . import require
from .models import hf_model

DEFAULT_AGENT_TOKENS = 16
#: Generations run one at a time behind a lock, so a rollout may wait behind every other one of a batch:
#: the agent's per-rollout timeout must not count that queue (a CPU scores ~1 example a second).
QUEUED_ROLLOUT_TIMEOUT_S = 24 * 3600.0


def default_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu": every arm trains and scores where the weights can go fastest."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def chat(example: Example, user_template: str, system_prompt: str) -> list[dict[str, str]]:
    """The chat an example becomes: the system prompt (left out when empty), then the rendered user template.
    Training (SFT, GRPO) builds its chats here; scoring through ``ChatAgent`` sends the same messages once
    ``without_empty_system`` has dropped an empty system prompt, so training and scoring match."""
    user = render(user_template, example.inputs, what="user template")
    return ([{"role": "system", "content": system_prompt}] if system_prompt.strip() else []) + \
        [{"role": "user", "content": user}]


def without_empty_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """An empty system prompt is no system message: weight arms train and score with none (``chat``)."""
    return [dict(m) for m in messages if not (m["role"] == "system" and not m["content"].strip())]


class TransformersBackend:
    """Greedy (or seeded sampled) generation with transformers. One model in memory; generations run one batch
    at a time on a worker thread, so the event loop stays free and the model is never used concurrently."""

    enforces_schema = False

    def __init__(self, model: str | Path, *, adapter: str | Path | None = None, device: str | None = None):
        require()
        self.model_dir = hf_model(model)
        self.adapter = Path(adapter) if adapter is not None else None
        if self.adapter is not None and not (self.adapter / "adapter_config.json").exists():
            raise ConfigError(f"{self.adapter} is not a LoRA adapter folder (no adapter_config.json)")
        self.requested_device = device
        # One lock around loading and generating: concurrent rollouts arrive on worker threads, and both
        # transformers' lazy imports and a tokenizer are unsafe to use from several threads at once (rollouts
        # failed with "cannot import name 'AutoModelForCausalLM'" when the first batch raced the load).
        self._lock = threading.RLock()
        self._loaded: tuple[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"TransformersBackend({self.name!r})"

    @functools.cached_property
    def name(self) -> str:
        """The model string the LLM layer bills and caches under: the base folder's name, and for an adapter its
        folder name and a hash of its weights (a retrained adapter in the same folder is another model)."""
        if self.adapter is None:
            return f"transformers:{self.model_dir.name}"
        weights = sorted(self.adapter.glob("adapter_model.*"))
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in weights)).hexdigest()[:12]
        return f"transformers:{self.model_dir.name}+{self.adapter.name}@{digest}"

    @functools.cached_property
    def device(self) -> str:
        """Where the model runs: ``device`` if given, else the first CUDA GPU when there is one, else the CPU."""
        return self.requested_device or default_device()

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once."""
        with self._lock:
            if self._loaded is None:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
                tokenizer.padding_side = "left"  # batched generation continues every row from its last token
                model: Any = AutoModelForCausalLM.from_pretrained(str(self.model_dir), dtype=torch.float32)
                if self.adapter is not None:
                    from peft import PeftModel

                    model = PeftModel.from_pretrained(model, str(self.adapter))
                model.to(self.device)
                model.eval()
                self._loaded = (model, tokenizer)
            return self._loaded

    def generate(self, chats: Sequence[Sequence[dict[str, str]]], *, max_tokens: int = DEFAULT_AGENT_TOKENS,
                 temperature: float = 0.0, seed: int = 0) -> list[tuple[str, int, int]]:
        """Replies to ``chats`` as (text, prompt tokens, completion tokens); sampling when ``temperature`` > 0."""
        with self._lock:
            import torch

            model, tokenizer = self.load()
            texts = [tokenizer.apply_chat_template(without_empty_system(chat), tokenize=False,
                                                   add_generation_prompt=True) for chat in chats]
            batch = tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
            sampling: dict[str, Any] = {"do_sample": False}
            if temperature > 0:
                torch.manual_seed(seed)
                sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_tokens,
                                     pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **sampling)
            width = batch["input_ids"].shape[1]
            replies = []
            for row, mask in zip(out, batch["attention_mask"]):
                new = row[width:]
                text = tokenizer.decode(new, skip_special_tokens=True)
                replies.append((text, int(mask.sum()), int((new != tokenizer.pad_token_id).sum())))
            return replies

    async def acomplete(self, request: Request) -> Completion:
        params = request.params
        start = time.perf_counter()
        (text, prompt_tokens, completion_tokens), = await asyncio.to_thread(
            self.generate, [list(request.messages)], max_tokens=int(params.get("max_tokens") or DEFAULT_AGENT_TOKENS),
            temperature=float(params.get("temperature") or 0.0), seed=int(params.get("seed") or 0))
        limit = int(params.get("max_tokens") or DEFAULT_AGENT_TOKENS)
        return Completion(text=text, model=request.model, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, latency_s=time.perf_counter() - start, cost_usd=0.0,
                          finish_reason="length" if completion_tokens >= limit else "stop")


def transformers_agent(model: str | Path, user_template: str = "{{ input }}", *, adapter: str | Path | None = None,
                       max_tokens: int = DEFAULT_AGENT_TOKENS, parse: Callable[[str], str] | None = None,
                       answer_pattern: str | None = None, component: str | None = None, device: str | None = None,
                       cache: Any = "off", usage: Any = None) -> Any:
    """A ``ChatAgent`` whose model is ``model`` (+ ``adapter``) run by transformers: the engine every arm of a
    prompt-vs-weights comparison is scored with. ``cache``: off by default (a path caches like any LLM)."""
    from ..agents import ChatAgent
    from ..llm import LLM

    backend = TransformersBackend(model, adapter=adapter, device=device)
    llm = LLM(backend.name, role="agent", backend=backend, cache=cache, usage=usage, max_concurrency=1)
    return ChatAgent(llm, user_template, max_tokens=max_tokens, parse=parse, answer_pattern=answer_pattern,
                     component=component, timeout_s=QUEUED_ROLLOUT_TIMEOUT_S)

"""``TransformersAgent``: a causal-LM folder (plus an optional LoRA adapter) as a promptlearn Agent.

Scoring every arm of a comparison with this one engine keeps the inference code and the base
weights identical: a prompt arm runs its prompt on the base model, a weight arm runs the seed
prompt (or none) on base + adapter.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .._templating import has_markup, render
from ..agents import _error_text, compile_answer_pattern, component_for, extract_answer
from ..records import Candidate, Cost, Example, Rollout
from . import require
from .models import hf_model

DEFAULT_AGENT_TOKENS = 16


def default_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu": every arm trains and scores where the weights can go fastest."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def chat(example: Example, user_template: str, system_prompt: str) -> list[dict[str, str]]:
    """The chat an example becomes: the system prompt (left out when empty), then the rendered user template.
    Scoring (TransformersAgent) and training (SFT, GRPO) build their chats here, so they match."""
    user = render(user_template, example.inputs, what="user template")
    return ([{"role": "system", "content": system_prompt}] if system_prompt.strip() else []) + \
        [{"role": "user", "content": user}]


class TransformersAgent:
    """Greedy generation with transformers: the candidate's prompt as system message (none when it is
    empty), ``user_template`` over the inputs. One model in memory; generations run one batch at a
    time on a worker thread, so the event loop stays free and the model is never used concurrently."""

    def __init__(self, model: str | Path, user_template: str = "{{ input }}", *, adapter: str | Path | None = None,
                 max_tokens: int = DEFAULT_AGENT_TOKENS, parse: Callable[[str], str] | None = None,
                 answer_pattern: str | None = None, component: str | None = None, device: str | None = None):
        require()
        self.model_dir = hf_model(model)
        self.adapter = Path(adapter) if adapter is not None else None
        if self.adapter is not None and not (self.adapter / "adapter_config.json").exists():
            from ..errors import ConfigError

            raise ConfigError(f"{self.adapter} is not a LoRA adapter folder (no adapter_config.json)")
        self.user_template = user_template
        self.max_tokens = max_tokens
        self.parse = parse
        self.answer_pattern = answer_pattern
        self.component = component
        self.requested_device = device
        self._answer_re = compile_answer_pattern(answer_pattern)
        # One lock around loading and generating: concurrent rollouts arrive on worker threads, and both
        # transformers' lazy imports and a tokenizer are unsafe to use from several threads at once (rollouts
        # failed with "cannot import name 'AutoModelForCausalLM'" when the first batch raced the load).
        self._lock = threading.RLock()
        self._loaded: tuple[Any, Any] | None = None

    @functools.cached_property
    def device(self) -> str:
        """Where the model runs: ``device`` if given, else the first CUDA GPU when there is one, else the CPU."""
        return self.requested_device or default_device()

    @property
    def name(self) -> str:
        return f"transformers:{self.model_dir.name}" + (f"+{self.adapter.name}" if self.adapter else "")

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once."""
        with self._lock:
            return self._loaded or self._load()

    def _load(self) -> tuple[Any, Any]:
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

    def messages(self, candidate: Candidate, example: Example) -> list[dict[str, str]]:
        prompt = candidate[component_for(candidate, self.component)]
        system = render(prompt, example.inputs, what="system prompt") if has_markup(prompt) else prompt
        return chat(example, self.user_template, system)

    def generate(self, chats: Sequence[list[dict[str, str]]], *, max_tokens: int | None = None,
                 temperature: float = 0.0, seed: int = 0) -> list[tuple[str, int, int]]:
        """Replies to ``chats`` as (text, prompt tokens, completion tokens); sampling when ``temperature`` > 0."""
        with self._lock:
            import torch

            model, tokenizer = self.load()
            texts = [tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) for chat in chats]
            batch = tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
            sampling: dict[str, Any] = {"do_sample": False}
            if temperature > 0:
                torch.manual_seed(seed)
                sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_tokens or self.max_tokens,
                                     pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **sampling)
            width = batch["input_ids"].shape[1]
            replies = []
            for row, mask in zip(out, batch["attention_mask"]):
                new = row[width:]
                text = tokenizer.decode(new, skip_special_tokens=True)
                replies.append((text, int(mask.sum()), int((new != tokenizer.pad_token_id).sum())))
            return replies

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        trace: tuple[dict[str, Any], ...] = ()
        try:
            messages = self.messages(candidate, example)
            trace = tuple(messages)
            (text, prompt_tokens, completion_tokens), = await asyncio.to_thread(self.generate, [messages])
            answer = extract_answer(self._answer_re, text)
            output = self.parse(answer) if self.parse else answer
            cost = Cost(calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                        latency_s=time.perf_counter() - start)
            return Rollout(example_id=example.id, candidate_id=candidate.id, output=output, cost=cost,
                           trace=(*trace, {"role": "assistant", "content": text}),
                           latency_s=time.perf_counter() - start,
                           components_read=(component_for(candidate, self.component),))
        except Exception as exc:  # a failed rollout is a record, not a crash
            return Rollout(example_id=example.id, candidate_id=candidate.id, trace=trace, error=_error_text(exc),
                           latency_s=time.perf_counter() - start)

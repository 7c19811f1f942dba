"""LoRA supervised fine-tuning: on reference answers, or on the answers the judges approve.

``train_sft`` writes ``OUTPUT/checkpoint-<step>/`` every ``checkpoint_every`` steps (adapter,
optimizer state, progress) and ``OUTPUT/adapter/`` at the end, with ``OUTPUT/training.json``
holding the accounting. A killed run started again with the same output folder resumes from
its last checkpoint. Running out of memory stops with a TrainingError naming the checkpoint kept.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .._async import run_sync
from ..errors import ConfigError, RunError
from ..judges.base import Judge, JudgePanel
from ..records import Example, Rollout
from . import require
from .backend import TransformersBackend, chat
from .config import SFTSettings

CHECKPOINT_PREFIX = "checkpoint-"
ADAPTER_DIR = "adapter"
SUMMARY_FILE = "training.json"


class TrainingError(RunError):
    """Training stopped (out of memory, a loss that is NaN or infinite); the message names the last checkpoint kept."""


class NonFiniteLoss(ArithmeticError):
    """A step's loss was NaN or infinite; it never reaches the weights (internal: becomes a TrainingError)."""


@dataclass
class TrainingSummary:
    """What a weight-tuning run spent and produced: the accounting every arm reports on one axis."""

    method: str
    adapter_dir: str
    steps: int
    examples_seen: int  # training sequences through the model (an example seen twice counts twice)
    rollouts: int  # generations from the model during training (judged samples, GRPO's samples)
    train_tokens: int
    wall_s: float
    losses: list[float] = field(default_factory=list)
    approved: int | None = None  # judged SFT: samples the judges kept
    resumed_from: int | None = None
    device: str = "cpu"  # where it trained; GPU-seconds = wall_s when this names a GPU

    def save(self, folder: Path) -> None:
        (folder / SUMMARY_FILE).write_text(json.dumps(asdict(self), indent=2))


def judged_pairs(backend: TransformersBackend, train: Sequence[Example], panel: JudgePanel, settings: SFTSettings,
                 user_template: str, sample_prompt: str, max_new_tokens: int
                 ) -> tuple[list[tuple[list[dict[str, str]], str]], int]:
    """Rejection sampling: ``samples_per_example`` answers per example under ``sample_prompt``, kept when the
    judges score them at least ``min_score``; returns (training pairs, samples drawn)."""
    pairs, drawn = [], 0
    for example in train:
        messages = chat(example, user_template, sample_prompt)
        kept: set[str] = set()
        for k in range(settings.samples_per_example):
            (text, _, _), = backend.generate([messages], max_tokens=max_new_tokens,
                                             temperature=settings.sample_temperature, seed=settings.seed * 1000 + k)
            drawn += 1
            answer = text
            rollout = Rollout(example_id=example.id, candidate_id="sft-sample", output=answer)
            _, score = run_sync(panel.acritique(example, rollout))
            if score >= settings.min_score and answer not in kept:
                kept.add(answer)
                pairs.append((chat(example, user_template, settings.train_system_prompt), text.strip()))
    return pairs, drawn


def _last_checkpoint(output: Path) -> Path | None:
    points = sorted((p for p in output.glob(f"{CHECKPOINT_PREFIX}*")
                     if p.name[len(CHECKPOINT_PREFIX):].isdigit() and (p / "state.json").exists()),
                    key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))
    return points[-1] if points else None


def train_sft(model: str | Path, train: Sequence[Example], output_dir: str | Path, *, user_template: str = "{{ input }}",
              settings: SFTSettings | None = None, judges: Judge | Sequence[Judge] | None = None,
              sample_prompt: str = "", max_new_tokens: int = 16, progress: bool = True) -> TrainingSummary:
    """Train a LoRA adapter on ``train`` and return the summary (``adapter_dir`` is what ``transformers_agent`` loads).

    ``source="references"`` needs references; ``source="judged"`` needs ``judges`` and samples under
    ``sample_prompt`` (e.g. a promptlearn-optimized prompt: that is ``promptlearn+sft``).
    """
    require()
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model

    settings = settings or SFTSettings()
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    start = time.time()
    backend = TransformersBackend(model)
    rollouts, approved = 0, None
    if settings.source == "references":
        if missing := [e.id for e in train if e.reference is None]:
            raise ConfigError(f"SFT on references needs a reference on every training example; none on {missing[:5]}")
        pairs = [(chat(e, user_template, settings.train_system_prompt), str(e.reference)) for e in train]
    else:
        if judges is None:
            raise ConfigError('source="judged" needs judges to approve the sampled answers')
        panel = JudgePanel([judges] if isinstance(judges, Judge) else list(judges))
        pairs, rollouts = judged_pairs(backend, train, panel, settings, user_template, sample_prompt,
                                       max_new_tokens)
        approved = len(pairs)
    steps_per_epoch = -(-len(pairs) // settings.batch_size) if pairs else 0
    total_steps = settings.max_steps if settings.max_steps is not None else settings.epochs * steps_per_epoch
    if not pairs or total_steps < 1:
        raise ConfigError(f"the budget leaves nothing to train on ({len(pairs)} training pairs, {total_steps} steps): "
                          f"give more examples or steps" + (" (no sample passed the judges)" if approved == 0 else ""))

    base, tokenizer = backend.load()
    last = _last_checkpoint(output)
    if last is not None:
        net = PeftModel.from_pretrained(base, str(last), is_trainable=True)
    else:
        lora = settings.lora
        net = get_peft_model(base, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                              target_modules=list(lora.target_modules), task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=settings.learning_rate)
    step, losses, seen, tokens = 0, [], 0, 0
    if last is not None:
        state = json.loads((last / "state.json").read_text())
        step, losses, seen, tokens = state["step"], state["losses"], state["examples_seen"], state["train_tokens"]
        optimizer.load_state_dict(torch.load(last / "optimizer.pt", map_location=backend.device))

    encoded = [_encode(tokenizer, messages, answer, settings.max_length) for messages, answer in pairs]
    net.train()
    bar = _bar(total_steps, step, progress)
    try:
        while step < total_steps:
            batch = [encoded[i] for i in _batch_indices(step, settings.batch_size, len(encoded), settings.seed)]
            loss = _step(net, optimizer, batch, tokenizer.pad_token_id or 0, backend.device)
            step, seen = step + 1, seen + len(batch)
            tokens += sum(len(ids) for ids, _ in batch)
            losses.append(round(loss, 4))
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if step % settings.checkpoint_every == 0 or step == total_steps:
                _checkpoint(net, optimizer, output, step, losses, seen, tokens)
    except NonFiniteLoss as exc:
        kept = _last_checkpoint(output)
        raise TrainingError(f"the loss became {exc.args[0]} at step {step + 1}: lower learning_rate or check the "
                            f"data. Last checkpoint kept: {kept or 'none yet'}") from None
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        kept = _last_checkpoint(output)
        raise TrainingError(f"out of memory at step {step + 1}; lower batch_size or max_length. "
                            f"Last checkpoint kept: {kept or 'none yet'}") from None
    finally:
        bar.close()
    adapter = output / ADAPTER_DIR
    shutil.rmtree(adapter, ignore_errors=True)
    net.save_pretrained(str(adapter))
    summary = TrainingSummary(method="sft" if settings.source == "references" else "sft-judged",
                              adapter_dir=str(adapter), steps=step, examples_seen=seen, rollouts=rollouts,
                              train_tokens=tokens, wall_s=round(time.time() - start, 1), losses=losses,
                              approved=approved, resumed_from=int(last.name.removeprefix(CHECKPOINT_PREFIX))
                              if last is not None else None, device=backend.device)
    summary.save(output)
    return summary


def _encode(tokenizer: Any, messages: list[dict[str, str]], answer: str, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels; the loss covers the answer (and end of turn) only, never the prompt.

    The reply ends the way the chat template ends an assistant turn, not with ``tokenizer.eos_token``: the two
    differ for Qwen2.5 converted from GGUF by transformers 5.17 (eos ``<|endoftext|>``, turn end ``<|im_end|>``,
    generation stops on the latter), and training on the eos taught the adapter to run on past its answer:
    "BookRestaurantI will book a reservation..." and 0% held-out on the first GPU run (benchmarks/README).
    """
    prompt = _ids(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
    # Text, not tokens, for the turn: the generation prompt's last token can merge with the answer's first.
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    turn = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
    tail = turn[len(head):] if turn.startswith(head) and answer in turn[len(head):] else answer
    reply = list(tokenizer(tail, add_special_tokens=False)["input_ids"])
    special = set(tokenizer.all_special_ids)
    if closing := [i for i, token in enumerate(reply) if token in special]:
        reply = reply[:closing[-1] + 1]  # up to the template's end-of-turn token; what follows it is never generated
    else:  # the template closes no turn: the answer, then the eos
        reply = list(tokenizer(tail.rstrip(), add_special_tokens=False)["input_ids"])
        reply += [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids = (prompt + reply)[-max_length:]
    labels = ([-100] * len(prompt) + reply)[-max_length:]
    return ids, labels


def _ids(encoded: Any) -> list[int]:
    """Token ids from ``apply_chat_template(tokenize=True)``: a list, or (transformers 5) a mapping."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _batch_indices(step: int, batch_size: int, n: int, seed: int) -> list[int]:
    """The examples of optimizer step ``step``: a stream of shuffled epochs cut into full batches (a batch
    may span two epochs, so every step sees ``batch_size`` examples); the same batches after a resume."""
    orders: dict[int, list[int]] = {}
    indices = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, n)
        if epoch not in orders:
            orders[epoch] = list(range(n))
            random.Random(seed + epoch).shuffle(orders[epoch])
        indices.append(orders[epoch][offset])
    return indices


def _step(net: Any, optimizer: Any, batch: list[tuple[list[int], list[int]]], pad_id: int, device: str) -> float:
    import torch

    # Padding on the right: a left pad is a query row with no key to attend to, which fused attention kernels
    # may turn into NaN, and a NaN anywhere in the forward pass reaches every LoRA weight through backward.
    width = max(len(ids) for ids, _ in batch)
    ids = torch.tensor([i + [pad_id] * (width - len(i)) for i, _ in batch], device=device)
    labels = torch.tensor([la + [-100] * (width - len(la)) for _, la in batch], device=device)
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch], device=device)
    loss = net(input_ids=ids, attention_mask=mask, labels=labels).loss
    if not torch.isfinite(loss):
        optimizer.zero_grad()
        raise NonFiniteLoss(float(loss.detach()))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())


def _checkpoint(net: Any, optimizer: Any, output: Path, step: int, losses: list[float], seen: int, tokens: int) -> None:
    import torch

    point = output / f"{CHECKPOINT_PREFIX}{step}"
    partial = point.with_name(point.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    net.save_pretrained(str(partial))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    (partial / "state.json").write_text(json.dumps({"step": step, "losses": losses, "examples_seen": seen,
                                                    "train_tokens": tokens}))
    shutil.rmtree(point, ignore_errors=True)
    partial.rename(point)
    points = sorted((p for p in output.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()),
                    key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))
    for old in points[:-2]:  # the last two are enough to resume from
        shutil.rmtree(old, ignore_errors=True)


def _bar(total: int, done: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="sft", unit="step", disable=not enabled)

"""Checks around a run: its inputs before the first call, its seed after validation, its resume.

Each raises with a message that names the problem; none calls a model.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Mapping, Sequence

from ._fingerprint import changed_parts
from .errors import ConfigError
from .records import Candidate, Example, ExampleResult
from .store import CONFIG_FILE, RunStore

log = logging.getLogger("promptlearn")


def as_candidate(prompt: Any) -> Candidate:
    """A prompt string, a mapping of named prompts, or a Candidate, as a Candidate; else ConfigError."""
    if isinstance(prompt, Candidate):
        return prompt
    if isinstance(prompt, Mapping):
        if not prompt:
            raise ConfigError("the seed has no components; give {name: prompt} for each prompt the agent reads")
        bad = [k for k, v in prompt.items() if not isinstance(k, str) or not isinstance(v, str) or not v.strip()]
        if bad:
            raise ConfigError(f"seed components {bad}: each needs a name and a non-empty prompt string")
        return Candidate.from_components(dict(prompt))
    if not isinstance(prompt, str):
        raise ConfigError(f"the seed prompt must be a string, a mapping of named prompts or a Candidate, "
                          f"got {type(prompt).__name__}")
    if not prompt.strip():
        raise ConfigError("the seed prompt is empty; start from a one-line task instruction")
    return Candidate.create(prompt)


def check_examples(train: Sequence[Example], val: Sequence[Example]) -> None:
    """Both splits are non-empty lists of Examples with unique ids, and share none."""
    for name, examples in (("train", train), ("val", val)):
        if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
            raise ConfigError(f"{name} must be a list of Examples (see load_examples), got {type(examples).__name__}")
        bad = next((i for i, e in enumerate(examples) if not isinstance(e, Example)), None)
        if bad is not None:
            raise ConfigError(f"{name}[{bad}] is a {type(examples[bad]).__name__}, not an Example; "
                              f"build examples with load_examples(...) or Example(id=..., inputs=...)")
    if not train:
        raise ConfigError("the training set is empty")
    if not val:
        raise ConfigError("the validation set is empty")
    for name, examples in (("train", train), ("val", val)):
        ids = [e.id for e in examples]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"duplicate example id {dup!r} in {name}")
    overlap = {e.id for e in train} & {e.id for e in val}
    if overlap:
        raise ConfigError(f"train and val share example ids, e.g. {sorted(overlap)[:3]}; keep them disjoint")


def check_rollout_budget(max_rollouts: int | None, n_val: int, minibatch_size: int) -> None:
    if max_rollouts is not None and max_rollouts < n_val:
        raise ConfigError(f"Budget(max_rollouts={max_rollouts}) cannot even score the seed prompt on the "
                          f"{n_val} validation examples; allow at least {n_val} rollouts, plus "
                          f"{2 * minibatch_size} per round (parent and child minibatch) and {n_val} per accepted child")


def seed_failure(results: dict[str, ExampleResult], judges: Sequence[str]) -> str | None:
    """Why a seed evaluation cannot teach anything, or None.

    Every rollout failing, or one judge failing on every rollout that has an output, is a
    configuration problem (a missing variable, a dead server, a judge that cannot read the
    references), not something a better prompt can fix.
    """
    rollouts = [r.rollout for r in results.values()]
    errors = [r.error for r in rollouts if r.error]
    if rollouts and len(errors) == len(rollouts):
        kind, count = Counter(e.split(":", 1)[0] for e in errors).most_common(1)[0]
        example = next(e for e in errors if e.startswith(kind))
        return (f"every rollout of the seed prompt on the validation set failed ({len(errors)} of {len(rollouts)}; "
                f"{count} with {kind}); e.g. {example[:300]}")
    for name in judges:
        verdicts = [c for r in results.values() if r.rollout.error is None for c in r.critiques if c.judge == name]
        if verdicts and all(c.error for c in verdicts):
            return f"judge {name!r} failed on every seed rollout ({len(verdicts)}); e.g. {(verdicts[0].error or '')[:300]}"
    return None


def check_resume(store: RunStore, fingerprint: dict[str, str]) -> None:
    """Refuse to resume a run whose records were made for other examples, prompt, judges or settings."""
    stored = store.read_json(CONFIG_FILE) if store.records or store.skipped_lines else None
    if not stored:
        return
    if "fingerprint" not in stored:
        log.warning("%s has no fingerprint (written by an older promptlearn); resuming without checking "
                    "that examples, prompt, judges and agent are unchanged", store.run_dir)
        return
    changed = changed_parts(stored["fingerprint"], fingerprint)
    if changed:
        raise ConfigError(f"cannot resume {store.run_dir}: the {', '.join(changed)} differ from the run "
                          f"stored there, so its records would answer a different question; "
                          f"use a new run_dir (or resume=False in an empty one)")

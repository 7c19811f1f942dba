"""Checks around a run: its inputs before the first call, its seed after validation, its resume.

Each raises with a message that names the problem; none calls a model.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any, Mapping, Sequence

from ._fingerprint import changed_parts
from .data import is_missing
from .errors import ConfigError
from .records import Candidate, Example, ExampleResult
from .store import CONFIG_FILE, RunStore

# A prompt the rewriter cannot see whole cannot be improved: the meta-prompt renders at most
# _templating.MAX_RENDERED_CHARS, and it holds the prompt plus the cases.
MAX_PROMPT_CHARS = 100_000


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
        for name, text in prompt.items():
            check_prompt_size(text, f"seed component {name!r}")
        return Candidate.from_components(dict(prompt))
    if not isinstance(prompt, str):
        raise ConfigError(f"the seed prompt must be a string, a mapping of named prompts or a Candidate, "
                          f"got {type(prompt).__name__}")
    if not prompt.strip():
        raise ConfigError("the seed prompt is empty; start from a one-line task instruction")
    check_prompt_size(prompt, "the seed prompt")
    return Candidate.create(prompt)


def check_prompt_size(text: str, what: str) -> None:
    if len(text) > MAX_PROMPT_CHARS:
        raise ConfigError(f"{what} is {len(text):,} characters; at most {MAX_PROMPT_CHARS:,} fit the rewriter's "
                          f"meta-prompt (state the task; put data in the examples)")


def check_split(examples: Sequence[Example], name: str, *, unique_ids: bool = True) -> None:
    """A non-empty list of Examples with unique ids, no empty input value and no NaN reference.

    An input that is None or NaN reached the agent as the text "None"/"nan", and a NaN reference
    was scored as the label "nan" (issue 29): both are data errors, named here by example id.
    """
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise ConfigError(f"{name} must be a list of Examples (see load_examples), got {type(examples).__name__}")
    bad = next((i for i, e in enumerate(examples) if not isinstance(e, Example)), None)
    if bad is not None:
        raise ConfigError(f"{name}[{bad}] is a {type(examples[bad]).__name__}, not an Example; "
                          f"build examples with load_examples(...) or Example(id=..., inputs=...)")
    if not examples:
        raise ConfigError({"train": "the training set is empty", "val": "the validation set is empty"}.get(
            name, f"{name} is empty: give at least one Example"))
    ids = [e.id for e in examples]
    if unique_ids and len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"duplicate example id {dup!r} in {name}")
    for example in examples:
        empty = [k for k, v in example.inputs.items() if is_missing(v)]
        if empty:
            raise ConfigError(f"{name} example {example.id!r} has no value for input(s) {empty} (None or NaN); "
                              f"drop or fill such rows")
        if isinstance(example.reference, float) and math.isnan(example.reference):
            raise ConfigError(f"{name} example {example.id!r} has a NaN reference; drop the row or give its answer")


def check_examples(train: Sequence[Example], val: Sequence[Example]) -> None:
    """Both splits are checked by :func:`check_split` and share no example id."""
    check_split(train, "train")
    check_split(val, "val")
    overlap = {e.id for e in train} & {e.id for e in val}
    if overlap:
        raise ConfigError(f"train and val share example ids, e.g. {sorted(overlap)[:3]}; keep them disjoint")


def check_run_dir(run_dir: Any) -> None:
    """None (no run folder) or a non-empty path; "" used to write into the working directory."""
    if run_dir is None:
        return
    if not isinstance(run_dir, (str, os.PathLike)):
        raise ConfigError(f"run_dir must be a folder path (str or Path), got {type(run_dir).__name__} {run_dir!r}")
    if not str(run_dir).strip():
        raise ConfigError("run_dir is empty; give a folder path, or None for no run folder")


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
    """Refuse to resume a run whose records were made for other examples, prompt, judges or settings.

    Records with no readable fingerprint beside them (``run.json`` deleted, cut off, emptied or
    written by a promptlearn too old to have one) cannot be checked, so they are refused too:
    resuming them silently replayed another run's scores as this one's (issue 29).
    """
    if not (store.records or store.skipped_lines):
        return
    assert store.run_dir is not None
    path = store.run_dir / CONFIG_FILE
    stored = store.read_json(CONFIG_FILE)
    if not isinstance(stored, dict) or not isinstance(stored.get("fingerprint"), dict) or not stored["fingerprint"]:
        state = ("is missing" if not path.exists() else "is not readable JSON" if stored is None
                 else "holds no fingerprint")
        raise ConfigError(f"cannot resume {store.run_dir}: it holds records but {path} {state}, so nothing shows "
                          f"they were made for these examples, prompt, judges and agent; use a new run_dir "
                          f"(or resume=False in an empty one)")
    changed = changed_parts(stored["fingerprint"], fingerprint)
    missing = [part for part in fingerprint if part not in stored["fingerprint"]]
    if changed or missing:
        raise ConfigError(f"cannot resume {store.run_dir}: the {', '.join(changed + missing)} differ from the run "
                          f"stored there, so its records would answer a different question; "
                          f"use a new run_dir (or resume=False in an empty one)")

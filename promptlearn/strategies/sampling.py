"""Minibatch sampling: which training examples the next rewrite learns from.

Contract: ``sample(train_ids, size, rng, history) -> list of example ids`` with
no repeats, ``min(size, len(train_ids))`` long. ``history`` maps example id to
the parent's last known score on it (higher is better; absent = unseen).
"""

from __future__ import annotations

import random
from typing import Mapping, Protocol, Sequence


class MinibatchSampler(Protocol):
    name: str

    def sample(self, train_ids: Sequence[str], size: int, rng: random.Random,
               history: Mapping[str, float]) -> list[str]: ...


class EpochSampler:
    """Shuffled passes over the training set, so every example is seen before any repeats."""

    name = "epoch"

    def __init__(self) -> None:
        self._queue: list[str] = []

    def sample(self, train_ids: Sequence[str], size: int, rng: random.Random,
               history: Mapping[str, float]) -> list[str]:
        size = min(size, len(train_ids))
        batch: list[str] = []
        while len(batch) < size:
            if not self._queue:
                self._queue = list(train_ids)
                rng.shuffle(self._queue)
            eid = self._queue.pop()
            if eid not in batch:
                batch.append(eid)
        return batch


class FailureFocusedSampler:
    """Half known failures of the parent (most informative for the rewriter), half fresh examples.

    Fresh examples keep the acceptance test honest: a child judged only on the
    failures it was written for would look better than it is.
    """

    name = "failures"

    def __init__(self, failure_fraction: float = 0.5):
        self.failure_fraction = failure_fraction

    def sample(self, train_ids: Sequence[str], size: int, rng: random.Random,
               history: Mapping[str, float]) -> list[str]:
        size = min(size, len(train_ids))
        failures = [e for e in train_ids if history.get(e, 1.0) < 1.0]
        rng.shuffle(failures)
        batch = failures[: int(size * self.failure_fraction)]
        rest = [e for e in train_ids if e not in batch]
        rng.shuffle(rest)
        return batch + rest[: size - len(batch)]


SAMPLERS: dict[str, type[MinibatchSampler]] = {"epoch": EpochSampler, "failures": FailureFocusedSampler}

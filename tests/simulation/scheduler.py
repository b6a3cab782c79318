"""The simulation's only sources of chance and time: one `random.Random(seed)` picks
every step and every fault, a simulated clock stands for the wall clock, and counters
stand for uuids. Nothing else may be random or read the time, or a seed would no
longer replay its run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

START = datetime(2026, 1, 1, tzinfo=UTC)
# The simulated time between two steps, at most (seconds): a run spans months.
MAX_PAUSE_S = 600


class SimClock:
    """A `Clock` that moves only when the scheduler says so."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += timedelta(seconds=seconds)


class Ids:
    """An `IdGenerator` per prefix: `evt-0000001`, `evt-0000002`..."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._last = 0

    def __call__(self) -> str:
        self._last += 1
        return f"{self._prefix}-{self._last:07d}"


class Scheduler:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def chance(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def choice(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def weighted(self, items: Sequence[T], cumulative_weights: Sequence[float]) -> T:
        return self.rng.choices(items, cum_weights=cumulative_weights)[0]

    def between(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

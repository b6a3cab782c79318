"""The soak's judge: whether a series sampled once a minute grows.

A series grows when the least-squares slope over its second half (the first half is the
warm-up: caches filling, workers starting, moto's tables growing to their working size)
would carry it, over that half's length, further than its allowance above the half's
mean. The allowance is a share of the mean plus an absolute floor, so a small series'
noise (a file descriptor opened for a moment, a lag of a few milliseconds) does not
fail a run, and a large series' real growth does. A series that must grow with the data
the system holds (the moto server's memory: every stored event is items and a stream
record in it) is also allowed `per_item` for each item stored over the judged half, so
what it is judged on is growth beyond its data: memory kept per request served.
With fewer than 4 samples there is no second half to fit: such a series is not judged
(a 2-minute soak tests the machinery, not the trend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_SAMPLES = 4


@dataclass(frozen=True)
class Allowance:
    """How much a series may rise over the judged half: `share` of its mean, plus `floor`,
    plus `per_item` for each item stored meanwhile."""

    share: float
    floor: float
    per_item: float = 0.0


@dataclass(frozen=True)
class Verdict:
    judged: bool
    grows: bool
    slope_per_sample: float
    rise: float
    allowed: float

    def describe(self) -> str:
        if not self.judged:
            return "not judged (too few samples)"
        word = "GROWS" if self.grows else "flat"
        return f"{word}: +{self.rise:.3g} over the second half (allowed {self.allowed:.3g})"


def slope(values: Sequence[float]) -> float:
    """The least-squares slope of the values against their positions 0, 1, 2, ..."""
    count = len(values)
    if count < 2:
        return 0.0
    mean_x = (count - 1) / 2
    mean_y = sum(values) / count
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    variance = sum((x - mean_x) ** 2 for x in range(count))
    return covariance / variance


def judge(
    values: Sequence[float], allowance: Allowance, stored: Sequence[float] | None = None
) -> Verdict:
    """`stored`: the items held at each sample (cumulative), for an allowance per item."""
    if len(values) < MIN_SAMPLES:
        return Verdict(False, False, 0.0, 0.0, 0.0)
    start = len(values) // 2
    half = values[start:]
    per_sample = slope(half)
    rise = per_sample * (len(half) - 1)
    allowed = allowance.share * abs(sum(half) / len(half)) + allowance.floor
    if stored is not None and allowance.per_item:
        allowed += allowance.per_item * max(0.0, stored[-1] - stored[start])
    return Verdict(True, rise > allowed, per_sample, rise, allowed)

"""Generations of a read model, so one can be rebuilt from nothing while readers keep
reading the complete one.

Each read model name has a pointer: readers use the `active` generation; projectors
write the active one, the one `building` (if a rebuild runs) and, for a grace period
after a switch, the `previous` one, so a reader whose cached pointer is a few seconds
old still reads a read model that moves forward. Generation 0 is the read model as it
was before generations existed: its items keep their plain keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen

# How long projectors and readers may cache the pointers (seconds): a rebuild waits
# this long before it scans, and keeps the old generation written this long after.
POINTER_TTL_SECONDS = 10.0

# Not a valid account id (identifiers.py), so never the partition of a real account.
POINTER_PARTITION = "#generations"


@frozen
class Generations:
    active: int = 0
    building: int | None = None
    previous: int | None = None
    previous_until: datetime | None = None
    # The highest generation ever started: a new one never reuses an abandoned one's items.
    latest: int = 0

    def written(self, now: datetime) -> list[int]:
        """The generations a projector keeps up to date at `now`, the active one first."""
        generations = [self.active]
        if self.building is not None:
            generations.append(self.building)
        if (
            self.previous is not None
            and self.previous_until is not None
            and now < self.previous_until
            and self.previous not in generations
        ):
            generations.append(self.previous)
        return generations

    def prunable(self, generation: int, now: datetime) -> bool:
        """Whether nobody writes or reads `generation` any more: an abandoned one, or one
        replaced and past its grace period. One above `latest` may be starting: never."""
        return generation <= self.latest and generation not in self.written(now)


@frozen
class Lag:
    """An item of the active generation that the building one has not caught up with."""

    account_id: str
    qualifier: str | None
    active_version: int
    building_version: int | None


class GenerationConflict(Exception):
    """Another rebuild of this read model started, switched or was abandoned meanwhile."""


class GenerationStore(Protocol):
    def generations(self, read_model: str) -> Generations: ...

    def start_building(self, read_model: str) -> int:
        """Open a fresh generation for writes; raises GenerationConflict if one is open."""

    def switch(self, read_model: str, generation: int, *, grace_until: datetime) -> None:
        """Make `generation` the active one; the old one stays written until `grace_until`."""

    def abandon(self, read_model: str, generation: int) -> None: ...

    def lagging(self, read_model: str, generation: int) -> Sequence[Lag]:
        """Every item of the active generation that `generation` is behind of."""

    def prune(self, read_model: str, *, now: datetime, dry_run: bool = False) -> dict[int, int]:
        """Delete the items of every prunable generation (`dry_run`: count them only);
        answers how many items each such generation held."""


def sort_key(read_model: str, generation: int, qualifier: str | None = None) -> str:
    """The projections table's sort key: `TotalBalanceForProfile`,
    `MonthlyStatementForProfile@2#2026-11` (generation 2, month 2026-11)."""
    base = read_model if generation == 0 else f"{read_model}@{generation}"
    return base if qualifier is None else f"{base}#{qualifier}"


def parse_sort_key(key: str) -> tuple[str, int, str | None]:
    base, _, qualifier = key.partition("#")
    name, _, generation = base.partition("@")
    return name, int(generation or 0), qualifier or None


def lag_between(
    active: dict[tuple[str, str | None], int], building: dict[tuple[str, str | None], int]
) -> list[Lag]:
    """Compare the versions of two generations, keyed by (account, qualifier)."""
    return [
        Lag(account_id, qualifier, version, building.get((account_id, qualifier)))
        for (account_id, qualifier), version in sorted(active.items(), key=str)
        if building.get((account_id, qualifier), 0) < version
    ]

"""Generations of a read model, so one can be rebuilt from nothing while readers keep
reading the complete one.

Each read model name has a pointer: readers use the `active` generation; projectors
write the active one, the one `building` (if a rebuild runs) and, for a grace period
after a switch, the `previous` one, so a reader whose cached pointer is a few seconds
old still reads a read model that moves forward. Generation 0 is the read model as it
was before generations existed: its items keep their plain keys.
"""

from __future__ import annotations

from banking.application.ports import Lag

# How long projectors and readers may cache the pointers (seconds): a rebuild waits
# this long before it scans, and keeps the old generation written this long after.
POINTER_TTL_SECONDS = 10.0

# Not a valid account id (identifiers.py), so never the partition of a real account.
POINTER_PARTITION = "#generations"


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

"""Verify: fold an account's stored events and compare every read model with what
the fold says it must be.

The expected read models come from the same projection functions the projectors
run, applied to states from the fold (not from the stored snapshots), so a wrong
snapshot shows up as well as a wrong or missing read model.

A read model missing or behind is repaired by a replay (the projectors' own path); one
at or ahead of the fold's version with another value (what a forged event leaves:
the version guard then refuses every true write) is overwritten with the fold's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import EventStore, ProjectionStore
from banking.domain.account import Account, evolve
from banking.domain.events import Event
from banking.domain.read_models import (
    PROJECTIONS,
    READ_MODEL_NAMES,
    ReadModel,
    StateCarriedEvent,
    qualifier_of,
)

ReadModelKey = tuple[str, str | None]  # (name, qualifier such as a statement's month)
PAGE = 500
# How long verify lets in-flight events land before it looks again.
SETTLE_SECONDS = 1.0


@frozen
class Difference:
    account_id: str
    read_model: str
    qualifier: str | None
    expected: ReadModel | None
    actual: ReadModel | None

    @property
    def repairable(self) -> bool:
        """Whether a replay can fix it: a newer version lands, an equal one does not
        (that takes a rebuild into a fresh generation)."""
        return self.expected is not None and (
            self.actual is None or self.actual.version < self.expected.version
        )

    @property
    def overwritable(self) -> bool:
        """Whether only an overwrite can fix it: the read model is at or ahead of the
        fold's version (a replay's older or equal version never lands on it)."""
        return (
            self.expected is not None
            and self.actual is not None
            and self.actual.version >= self.expected.version
        )

    def __str__(self) -> str:
        name = self.read_model + (f" {self.qualifier}" if self.qualifier else "")
        return f"{self.account_id} {name}: expected {self.expected}, found {self.actual}"


@frozen
class Expected:
    version: int
    read_models: dict[ReadModelKey, ReadModel]


def expected_read_models(
    account_id: str,
    events: Iterable[Event],
    zone: ZoneInfo,
    read_models: Sequence[str] = tuple(PROJECTIONS),
) -> Expected:
    events = list(events)
    return _latest(events, read_models_by_version(account_id, events, zone, read_models))


def _latest(
    events: Sequence[Event], history: dict[tuple[int, str, str | None], ReadModel]
) -> Expected:
    # In event order, so each key ends with its latest model.
    latest = {(name, qualifier): model for (_, name, qualifier), model in history.items()}
    return Expected(events[-1].version if events else 0, latest)


def differences(
    account_id: str,
    expected: Expected,
    actual: Iterable[ReadModel],
    read_models: Sequence[str] = tuple(PROJECTIONS),
) -> list[Difference]:
    found: dict[ReadModelKey, ReadModel] = {
        (READ_MODEL_NAMES[type(model)], qualifier_of(model)): model
        for model in actual
        if READ_MODEL_NAMES[type(model)] in read_models
    }
    keys = sorted(set(expected.read_models) | set(found), key=str)
    return [
        Difference(account_id, key[0], key[1], expected.read_models.get(key), found.get(key))
        for key in keys
        if expected.read_models.get(key) != found.get(key)
    ]


def all_events(store: EventStore, account_id: str) -> list[Event]:
    events: list[Event] = []
    while True:
        page = store.events(account_id, after=len(events), limit=PAGE)
        events.extend(page)
        if len(page) < PAGE:
            return events


def verify_account(
    account_id: str,
    store: EventStore,
    load: Callable[[str], Sequence[ReadModel]],
    zone: ZoneInfo,
    *,
    read_models: Sequence[str] = tuple(PROJECTIONS),
    attempts: int = 3,
    sleep: Callable[[float], None] | None = None,
) -> list[Difference]:
    """The differences that persist over `attempts` looks, `SETTLE_SECONDS` apart.

    With live traffic the events keep coming, so a read model may never be at the
    fold's latest version when looked at; it is still right if it is exactly what the
    projection gives at its own version, and has reached, by a later look, the version
    the first look's fold had: what was stored then has landed since."""
    baseline: Expected | None = None
    found: list[Difference] = []
    for attempt in range(attempts):
        events = all_events(store, account_id)
        history = read_models_by_version(account_id, events, zone, read_models)
        expected = _latest(events, history)
        found = differences(account_id, expected, load(account_id), read_models)
        if baseline is None:
            baseline = expected
        elif found:
            found = [d for d in found if not _landed_since(d, baseline, history)]
        if not found:
            return []
        if attempt + 1 < attempts:
            (sleep or time.sleep)(SETTLE_SECONDS)
    return found


def read_models_by_version(
    account_id: str, events: Iterable[Event], zone: ZoneInfo, read_models: Sequence[str]
) -> dict[tuple[int, str, str | None], ReadModel]:
    """What each read model is right after each event: (version, name, qualifier) ->
    model, for the read models that event writes."""
    state = Account(account_id)
    models: dict[tuple[int, str, str | None], ReadModel] = {}
    for event in events:
        state = evolve(state, event, zone)
        carried = StateCarriedEvent.of(event, state)
        for name in read_models:
            model = PROJECTIONS[name](carried)
            if model is not None:
                models[(model.version, name, qualifier_of(model))] = model
    return models


def _landed_since(
    difference: Difference,
    baseline: Expected,
    at_versions: dict[tuple[int, str, str | None], ReadModel],
) -> bool:
    actual = difference.actual
    if actual is None:
        return False
    key = (difference.read_model, difference.qualifier)
    owed = baseline.read_models.get(key)
    right_at_its_version = at_versions.get((actual.version, *key)) == actual
    return right_at_its_version and (owed is None or actual.version >= owed.version)


def overwrite(
    found: Iterable[Difference],
    store: EventStore,
    projections: ProjectionStore,
    zone: ZoneInfo,
) -> list[Difference]:
    """Overwrite each read model at or ahead of the fold's version that is wrong with the
    fold's, as the events are now; returns those written.

    Each account is folded again first, so a read model that is merely newer than
    verify's look (live traffic) and right at its own version is left alone, and the
    write replaces only the version verify saw (a true write landing meanwhile wins)."""
    by_account: dict[str, list[Difference]] = {}
    for difference in found:
        if difference.overwritable:
            by_account.setdefault(difference.account_id, []).append(difference)
    written = []
    for account_id, owed in by_account.items():
        names = tuple(sorted({d.read_model for d in owed}))
        events = all_events(store, account_id)
        history = read_models_by_version(account_id, events, zone, names)
        latest = _latest(events, history).read_models
        for difference in owed:
            key = (difference.read_model, difference.qualifier)
            actual, fresh = difference.actual, latest.get(key)
            if actual is None or fresh is None or history.get((actual.version, *key)) == actual:
                continue
            if projections.repair(account_id, fresh, replacing=actual.version):
                written.append(difference)
    return written

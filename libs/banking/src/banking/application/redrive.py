"""Redrive: what a parked stream batch or bus event stands for, built afresh from the
events table (`ledger redrive`, scripts/ops/redrive.py, reads the dead-letter queues
and calls this).

No parked copy goes back on the bus as it was: a dead-letter queue is only as
trustworthy as whoever could send to it, and a forged state-carried event would land
in the read models. A parked message only says which stored event to re-send: an
`EventStored` envelope gets a fresh envelope, as the fanout builds it, and a
state-carried event is rebuilt as the dispatcher (source `ledger.dispatcher`) or the
replay (source `ledger.replay`, keeping its `readModels`) builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from banking.application.dispatch import bus_entry
from banking.application.envelope import (
    EVENT_STORED_DETAIL_TYPE,
    EVENT_STORED_SOURCE,
    STATE_CARRIED_SOURCE,
    EventStored,
)
from banking.application.fanout import envelope_entry
from banking.application.ports import BusEntry, EventNotFound, EventStore
from banking.application.replay import REPLAY_SOURCE, replay_entry
from banking.domain.errors import UnknownEvent
from banking.domain.events import type_name
from banking.domain.read_models import PROJECTIONS, StateCarriedEvent

# The events-table item of (account, version) as it is stored (the fanout wraps the
# item as is, without reading the event), or None when there is none.
ItemReader = Callable[[str, int], dict[str, Any] | None]


class CannotRedrive(Exception):
    """The parked message names nothing that can be re-sent: it stays parked."""


def parked_key(entry: BusEntry) -> tuple[str, int]:
    """The (account, version) a parked bus event names."""
    return str(entry.detail.get("accountId")), int(entry.detail.get("version") or 0)


def envelopes(keys: Iterable[tuple[str, int]], item_of: ItemReader) -> list[BusEntry]:
    """Fresh `EventStored` envelopes of these events, as they are stored now. A key with
    no event is skipped: events are never deleted, so it named something else."""
    entries = []
    for account_id, version in keys:
        item = item_of(account_id, version)
        if item is not None:
            entries.append(envelope_entry(EventStored.from_item(item)))
    return entries


def redriven(parked: BusEntry, store: EventStore, item_of: ItemReader) -> list[BusEntry]:
    """What one parked bus event stands for, built afresh from the events table."""
    if (parked.source, parked.detail_type) != (EVENT_STORED_SOURCE, EVENT_STORED_DETAIL_TYPE):
        return [rebuilt(parked, store)]
    fresh = envelopes([parked_key(parked)], item_of)
    if not fresh:
        raise CannotRedrive(f"no stored event {parked_key(parked)}: nothing to re-send")
    return fresh


def rebuilt(parked: BusEntry, store: EventStore) -> BusEntry:
    """The state-carried event `parked` names, built afresh from the events table."""
    if parked.source not in (STATE_CARRIED_SOURCE, REPLAY_SOURCE):
        raise CannotRedrive(f"{parked.detail_type} from unknown source {parked.source!r}")
    try:
        account_id, version = parked_key(parked)
        stored = store.get(account_id, version)
    except (EventNotFound, UnknownEvent, KeyError, TypeError, ValueError) as error:
        raise CannotRedrive(f"{parked.detail_type} names no readable stored event") from error
    if type_name(stored.event) != parked.detail_type:
        raise CannotRedrive(
            f"{parked.detail_type} names {(account_id, version)}, "
            f"which is a {type_name(stored.event)}"
        )
    if parked.source == REPLAY_SOURCE:
        wanted = parked.detail.get("readModels")
        names = [n for n in PROJECTIONS if n in wanted] if isinstance(wanted, list) else None
        return replay_entry(stored, names)
    carried = StateCarriedEvent.of(stored.event, stored.state)
    return bus_entry(carried, correlation_id=stored.correlation_id, replay=False)

"""The dispatcher's use case: turn the generic envelope into a typed, state-carried
event with the aggregate as of the event's own version.

The aggregate is read from the source of truth, not from the envelope: every stored
event carries the account state after it (written atomically with the event by the
command, the single writer per version), so this costs one read whatever the age of
the account, and a forged or stale envelope cannot inject a balance.
"""

from __future__ import annotations

from typing import Any

from banking.application.envelope import STATE_CARRIED_SOURCE, EventStored
from banking.application.ports import BusEntry, EventStore
from banking.domain.errors import UnknownEvent
from banking.domain.events import TYPES_BY_NAME, type_name
from banking.domain.read_models import StateCarriedEvent
from banking.serialization import event_from_dict, state_carried_to_dict


def state_carried_event(envelope: EventStored, store: EventStore) -> StateCarriedEvent:
    # Validate what the envelope claims first: an unknown type or schema version is
    # this record's failure (retried, then dead-lettered), never skipped.
    event_from_dict(envelope.payload)
    stored = store.get(envelope.account_id, envelope.version)
    if type_name(stored.event) != envelope.type:
        raise UnknownEvent(
            f"envelope says {envelope.type} but version {envelope.version} of "
            f"{envelope.account_id} is a {type_name(stored.event)}"
        )
    return StateCarriedEvent.of(stored.event, stored.state)


def bus_entry(event: StateCarriedEvent, *, correlation_id: str | None, replay: bool) -> BusEntry:
    if event.type not in TYPES_BY_NAME:
        raise UnknownEvent(f"unknown event type {event.type!r}")
    detail: dict[str, Any] = {
        **state_carried_to_dict(event),
        "correlationId": correlation_id,
        "replay": replay,
    }
    return BusEntry(source=STATE_CARRIED_SOURCE, detail_type=event.type, detail=detail)

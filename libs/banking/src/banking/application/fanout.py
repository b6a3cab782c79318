"""The fanout's use case: wrap every new stored event in the generic envelope and
publish it, reporting exactly which records could not be published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import frozen

from banking.application.envelope import EVENT_STORED_DETAIL_TYPE, EVENT_STORED_SOURCE, EventStored
from banking.application.ports import BusEntry, Publisher


@frozen
class StreamChange:
    record_id: str
    change: str  # INSERT, MODIFY or REMOVE
    new_item: dict[str, Any] | None


def fan_out(changes: Sequence[StreamChange], publisher: Publisher) -> dict[str, str]:
    """Publishes the envelopes; returns {record id: why it failed} for the failures."""
    failures: dict[str, str] = {}
    ready: list[tuple[str, BusEntry]] = []
    for change in changes:
        if change.change != "INSERT" or change.new_item is None:
            # Events are never updated or deleted: a change that is not an insert is
            # an anomaly someone must look at, so it is set aside, not dropped.
            failures[change.record_id] = f"unexpected {change.change} on the events table"
            continue
        try:
            envelope = EventStored.from_item(change.new_item)
        except (KeyError, TypeError, ValueError) as error:
            failures[change.record_id] = f"malformed event item: {error!r}"
            continue
        ready.append((change.record_id, envelope_entry(envelope)))
    failed = publisher.publish([entry for _, entry in ready])
    for index in failed:
        failures[ready[index][0]] = "the bus rejected the entry"
    return failures


def envelope_entry(envelope: EventStored) -> BusEntry:
    return BusEntry(
        source=EVENT_STORED_SOURCE,
        detail_type=EVENT_STORED_DETAIL_TYPE,
        detail=envelope.to_detail(),
    )

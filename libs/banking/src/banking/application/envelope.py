"""The generic "event stored" envelope that the fanout publishes for every new event,
and the bus names shared by its producers and consumers."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from banking.serialization import converter, register_camel_case

EVENT_STORED_SOURCE = "ledger.events"
EVENT_STORED_DETAIL_TYPE = "EventStored"
STATE_CARRIED_SOURCE = "ledger.dispatcher"


@frozen
class EventStored:
    account_id: str
    version: int
    type: str
    schema_version: int
    payload: dict[str, Any]
    correlation_id: str | None = None
    # Set by replays, so consumers with side effects can tell a re-published event
    # from a new one.
    replay: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any], *, replay: bool = False) -> EventStored:
        """Wrap a stored item (the event's JSON form plus store metadata) as is: the
        fanout is generic and does not interpret the event."""
        payload = {key: _plain(value) for key, value in item.items()}
        return cls(
            account_id=str(item["accountId"]),
            version=int(item["version"]),
            type=str(item.get("type")),
            schema_version=int(item.get("schemaVersion", 0)),
            payload=payload,
            correlation_id=item.get("correlationId"),
            replay=replay,
        )

    def to_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = converter.unstructure(self)
        return detail

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> EventStored:
        envelope: EventStored = converter.structure(detail, cls)
        return envelope


# On the bus: every field, in camelCase.
register_camel_case(EventStored)


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; JSON wants int (versions and counts are
    whole) or an exact string."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value

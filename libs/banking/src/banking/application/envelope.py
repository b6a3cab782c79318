"""The generic "event stored" envelope that the fanout publishes for every new event,
and the bus names shared by its producers and consumers."""

from __future__ import annotations

from typing import Any

from attrs import frozen

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
        return {
            "accountId": self.account_id,
            "version": self.version,
            "type": self.type,
            "schemaVersion": self.schema_version,
            "payload": self.payload,
            "correlationId": self.correlation_id,
            "replay": self.replay,
        }

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> EventStored:
        return cls(
            account_id=str(detail["accountId"]),
            version=int(detail["version"]),
            type=str(detail["type"]),
            schema_version=int(detail["schemaVersion"]),
            payload=dict(detail.get("payload") or {}),
            correlation_id=detail.get("correlationId"),
            replay=bool(detail.get("replay", False)),
        )


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

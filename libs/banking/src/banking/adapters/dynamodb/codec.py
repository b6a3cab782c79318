"""How items look in the DynamoDB tables: the attribute-value codec and the events
table's item of a stored event, shared by the stores of this package."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from banking.application.ports import StoredEvent
from banking.domain.account import LEGACY_TERMS, LegacyTerms
from banking.domain.upcasting import upcast
from banking.serialization import (
    account_from_snapshot,
    event_from_dict,
    event_to_dict,
    snapshot_of,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in data.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def event_item(stored: StoredEvent) -> dict[str, Any]:
    """The events-table item of a stored event (what an append writes)."""
    return to_item(
        {
            **event_to_dict(stored.event),
            "snapshot": snapshot_of(stored.state),
            "correlationId": stored.correlation_id,
        }
    )


def stored_event_from_item(data: dict[str, Any], legacy: LegacyTerms = LEGACY_TERMS) -> StoredEvent:
    """A deserialized events-table item of any schema version back to the stored event,
    its snapshot included (raises UnknownEvent)."""
    data = upcast(data, legacy)
    event = event_from_dict(data, legacy)
    return StoredEvent(
        event=event,
        state=account_from_snapshot(event, data["snapshot"]),
        correlation_id=data.get("correlationId"),
    )


def error_code(error: ClientError) -> str | None:
    return error.response.get("Error", {}).get("Code")


# What DynamoDB answers when a table or account runs out of capacity; the SDK has
# already retried these (standard retry mode) by the time the store sees them.
THROTTLING_ERRORS = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# The same, as a reason a transaction was canceled for.
THROTTLING_REASONS = frozenset({"ProvisionedThroughputExceeded", "ThrottlingError"})


def throttled(error: ClientError) -> bool:
    return error_code(error) in THROTTLING_ERRORS


def failed_condition(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def whole(value: Any) -> int:
    """A whole number as DynamoDB returns it (Decimal) or as a string."""
    return int(value) if isinstance(value, Decimal | int) else int(str(value))

"""Publishing to the EventBridge bus, at most 10 entries per PutEvents call (the API's
limit), reporting exactly which entries failed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from banking.application.ports import BusEntry

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        failed: list[int] = []
        for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            chunk = entries[start : start + MAX_ENTRIES_PER_CALL]
            request: list[PutEventsRequestEntryTypeDef] = [
                {
                    "EventBusName": self._bus,
                    "Source": entry.source,
                    "DetailType": entry.detail_type,
                    "Detail": json.dumps(entry.detail, separators=(",", ":")),
                }
                for entry in chunk
            ]
            response = self._client.put_events(Entries=request)
            if response.get("FailedEntryCount", 0):
                # Results are positional: an entry with an ErrorCode failed.
                failed.extend(
                    start + index
                    for index, result in enumerate(response["Entries"])
                    if result.get("ErrorCode")
                )
        return failed

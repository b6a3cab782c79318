"""The event store on DynamoDB.

Events table: partition key `accountId`, sort key `version`; one item per event, in
its JSON form, plus `snapshot` (the account state after it) and `correlationId`.
An append is a put conditional on the version being free. With an idempotency key,
the event and the key are written in one transaction, so a crash between the two
cannot leave an event without its key (or a key without its event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from banking.adapters.dynamodb.codec import (
    THROTTLING_REASONS,
    error_code,
    event_item,
    failed_condition,
    from_item,
    stored_event_from_item,
    throttled,
    to_item,
    whole,
)
from banking.application.ports import (
    Cursor,
    EventNotFound,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    Scanned,
    StoredEvent,
    StoreThrottled,
    Unreadable,
    VersionConflict,
    WriteCanceled,
)
from banking.domain.account import Account
from banking.domain.errors import UnknownEvent
from banking.domain.events import Event
from banking.serialization import event_from_dict, event_to_dict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBEventStore:
    def __init__(
        self,
        client: DynamoDBClient,
        events_table: str,
        idempotency_table: str | None = None,
        *,
        idempotency_ttl: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._client = client
        self._events = events_table
        self._idempotency = idempotency_table
        self._ttl = idempotency_ttl
        self._clock = clock

    def load(self, account_id: str) -> Account:
        # The newest item carries the state after it: one read, however long the history.
        response = self._client.query(
            TableName=self._events,
            KeyConditionExpression="accountId = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return Account(account_id)
        return stored_event_from_item(from_item(items[0])).state

    def get(self, account_id: str, version: int) -> StoredEvent:
        response = self._client.get_item(
            TableName=self._events,
            Key={"accountId": {"S": account_id}, "version": {"N": str(version)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise EventNotFound(f"{account_id} has no version {version}")
        return stored_event_from_item(from_item(response["Item"]))

    def append(self, stored: StoredEvent, idempotency: IdempotencyRecord | None = None) -> None:
        item = event_item(stored)
        if idempotency is None:
            self._put_event(item)
        else:
            self._put_event_with_key(item, idempotency)

    def _put_event(self, item: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._events,
                Item=item,
                ConditionExpression="attribute_not_exists(version)",
            )
        except ClientError as error:
            if failed_condition(error):
                raise VersionConflict(str(item["version"])) from error
            if throttled(error):
                raise StoreThrottled(f"events table throttled: {error_code(error)}") from error
            raise

    def _put_event_with_key(self, item: dict[str, Any], record: IdempotencyRecord) -> None:
        if self._idempotency is None:
            raise ValueError("this store has no idempotency table")
        now = self._now()
        key_item = to_item(
            {
                "idempotencyKey": _key(record.account_id, record.caller, record.key),
                "accountId": record.account_id,
                "fingerprint": record.fingerprint,
                "event": event_to_dict(record.event),
                "expiresAt": int((now + self._ttl).timestamp()),
            }
        )
        try:
            self._client.transact_write_items(
                # The same token makes the SDK's retry of a transaction whose answer
                # was lost a no-op instead of a conflict with itself.
                ClientRequestToken=record.event.event_id[:36],
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._events,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(version)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._idempotency,
                            "Item": key_item,
                            # TTL deletion lags by up to days: an expired key is free.
                            "ConditionExpression": (
                                "attribute_not_exists(idempotencyKey) OR expiresAt < :now"
                            ),
                            "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
                        }
                    },
                ],
            )
        except ClientError as error:
            raise _transaction_error(error, item, record) from error

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        response = self._client.query(
            TableName=self._events,
            KeyConditionExpression="accountId = :a AND version > :v",
            ExpressionAttributeValues={":a": {"S": account_id}, ":v": {"N": str(after)}},
            ScanIndexForward=True,
            Limit=limit,
            ConsistentRead=True,
        )
        return [event_from_dict(from_item(item)) for item in response.get("Items", [])]

    def scan(
        self, *, segment: int = 0, total_segments: int = 1, after: Cursor | None = None
    ) -> Iterator[Scanned]:
        """Every stored event of one parallel-scan segment, each account's in version
        order (a segment holds whole partitions), resuming after `after`."""
        request: dict[str, Any] = {"TableName": self._events}
        if total_segments > 1:
            request.update(Segment=segment, TotalSegments=total_segments)
        yield from self._pages("scan", request, after)

    def scan_account(self, account_id: str, *, after: Cursor | None = None) -> Iterator[Scanned]:
        request: dict[str, Any] = {
            "TableName": self._events,
            "KeyConditionExpression": "accountId = :a",
            "ExpressionAttributeValues": {":a": {"S": account_id}},
        }
        yield from self._pages("query", request, after)

    def _pages(
        self, operation: str, request: dict[str, Any], after: Cursor | None
    ) -> Iterator[Scanned]:
        # Events are immutable, so an eventually consistent read (half the cost) sees
        # them right; one appended during the scan reaches projections live anyway.
        start = _cursor_key(after) if after else None
        while True:
            response: Any = getattr(self._client, operation)(
                **request, **({"ExclusiveStartKey": start} if start else {})
            )
            for raw in response.get("Items", []):
                yield _scanned(from_item(raw))
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def idempotency_record(
        self, account_id: str, caller: str, key: str
    ) -> IdempotencyRecord | None:
        if self._idempotency is None:
            return None
        response = self._client.get_item(
            TableName=self._idempotency,
            Key={"idempotencyKey": {"S": _key(account_id, caller, key)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        data = from_item(response["Item"])
        if int(data["expiresAt"]) < self._now().timestamp():
            return None
        return IdempotencyRecord(
            account_id=account_id,
            caller=caller,
            key=key,
            fingerprint=str(data["fingerprint"]),
            event=event_from_dict(data["event"]),
        )

    def _now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(UTC)


def _transaction_error(
    error: ClientError, item: dict[str, Any], record: IdempotencyRecord
) -> Exception:
    """What a failed append-with-key means. Only a version conflict is retried (by
    reloading and deciding again); a throttle is answered "try later"; anything else
    is a fault, reported with its reasons."""
    if throttled(error):
        return StoreThrottled(f"events table throttled: {error_code(error)}")
    if error_code(error) != "TransactionCanceledException":
        return error
    # One reason per item, in order: the event, then the idempotency key.
    reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
    event_reason, key_reason = [*reasons, None, None][:2]
    if key_reason == "ConditionalCheckFailed":
        return IdempotencyKeyTaken(record.key)
    # Another writer took the version, or a concurrent transaction touched the same
    # items: either way, reload and decide again.
    if event_reason == "ConditionalCheckFailed" or "TransactionConflict" in reasons:
        return VersionConflict(str(item["version"]))
    if THROTTLING_REASONS.intersection(reasons):
        return StoreThrottled(f"the transaction was throttled: {reasons}")
    return WriteCanceled(reasons)


def _cursor_key(cursor: Cursor) -> dict[str, Any]:
    return {"accountId": {"S": cursor.account_id}, "version": {"N": str(cursor.version)}}


def _scanned(data: dict[str, Any]) -> Scanned:
    try:
        return stored_event_from_item(data)
    except (UnknownEvent, KeyError, TypeError, ValueError) as error:
        return Unreadable(str(data.get("accountId")), whole(data.get("version", 0)), repr(error))


def _key(account_id: str, caller: str, key: str) -> str:
    # Scoped to the caller too. The caller's length makes the key unambiguous whatever
    # characters a subject or a key holds (an account id never holds "#"). Keys stored
    # in the earlier `account#key` form are simply not found: they expire within 7 days.
    return f"{account_id}#{len(caller)}:{caller}#{key}"

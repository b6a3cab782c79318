"""The event store on DynamoDB.

Events table: partition key `accountId`, sort key `version`; one item per event, in
its JSON form, plus `snapshot` (the account state after it) and `correlationId`.
Index `byRecordedAt` (partition `accountId`, sort `recordedAt`, keys only) finds the
event an account stood at at any moment, for balances as of then and date ranges.
An append is a put conditional on the version being free; a refused put returns the
item that holds the version (`ReturnValuesOnConditionCheckFailure`), so telling our own
landed write from another writer's costs no read, and a taken idempotency key returns
its record the same way. With an idempotency key,
the event and the key are written in one transaction, so a crash between the two
cannot leave an event without its key (or a key without its event). A transfer is one
transaction too: a conditional put per leg, the transfer record (transfers table,
partition key `transferId`) and the idempotency record, all or nothing. A reversal's
transaction also holds one marker per original it reverses (idempotency table, key
`#reversal#<accountId>#<version>`, never expiring), conditional on its being new. A
hold's event is written with its hold record in one transaction too (holds table,
partition key `holdId`): put iff new when placed, iff still pending when resolved.
The holds table's index `byAccount` (`accountId`, `version`) lists an account's
holds; `pendingByExpiry` (`pendingShard`, `expiresAt`) holds only the pending ones
(the attribute is dropped when a hold is resolved), so the expirer finds the due ones
without a scan.
"""

from __future__ import annotations

import zlib
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
    NO_RECORDS,
    Cursor,
    EventNotFound,
    HoldRecord,
    HoldStatus,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    ReversalMarker,
    ReversalTaken,
    Scanned,
    StoredEvent,
    StoreThrottled,
    TransactionRecords,
    TransferRecord,
    Unreadable,
    VersionConflict,
    WriteCanceled,
)
from banking.domain.account import LEGACY_TERMS, Account, LegacyTerms
from banking.domain.errors import UnknownEvent
from banking.domain.events import Event, EventRef
from banking.serialization import (
    converter,
    event_from_dict,
    event_to_dict,
    format_time,
    parse_time,
)

# The events table's index of each account's events by `recordedAt` (keys only).
RECORDED_AT_INDEX = "byRecordedAt"

# Pending holds spread over this many partitions of the expiry index, so placing holds
# at any rate never makes one index partition hot; the expirer queries each.
PENDING_SHARDS = 8
BY_ACCOUNT_INDEX = "byAccount"
PENDING_BY_EXPIRY_INDEX = "pendingByExpiry"

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef


class DynamoDBEventStore:
    def __init__(
        self,
        client: DynamoDBClient,
        events_table: str,
        idempotency_table: str | None = None,
        *,
        transfers_table: str | None = None,
        holds_table: str | None = None,
        idempotency_ttl: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] | None = None,
        legacy: LegacyTerms = LEGACY_TERMS,
    ) -> None:
        self._client = client
        self._events = events_table
        self._idempotency = idempotency_table
        self._transfers = transfers_table
        self._holds = holds_table
        self._ttl = idempotency_ttl
        self._clock = clock
        self._legacy = legacy

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
            return Account.unopened(account_id, self._legacy)
        return stored_event_from_item(from_item(items[0]), self._legacy).state

    def get(self, account_id: str, version: int) -> StoredEvent:
        response = self._client.get_item(
            TableName=self._events,
            Key={"accountId": {"S": account_id}, "version": {"N": str(version)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise EventNotFound(f"{account_id} has no version {version}")
        return stored_event_from_item(from_item(response["Item"]), self._legacy)

    def append(self, stored: StoredEvent, records: TransactionRecords = NO_RECORDS) -> None:
        self.append_many([stored], records)

    def _put_event(self, item: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._events,
                Item=item,
                ConditionExpression="attribute_not_exists(version)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if failed_condition(error):
                answer: Any = error.response
                found = answer.get("Item")
                raise VersionConflict(
                    str(item["version"]), self._taken([found] if found else [])
                ) from error
            if throttled(error):
                raise StoreThrottled(f"events table throttled: {error_code(error)}") from error
            raise

    def append_many(
        self, stored_events: Sequence[StoredEvent], records: TransactionRecords = NO_RECORDS
    ) -> None:
        if len(stored_events) == 1 and records.empty:
            # A lone event needs no transaction: a conditional put costs half as much.
            self._put_event(event_item(stored_events[0]))
            return
        puts: list[PutTypeDef] = [
            {
                "TableName": self._events,
                "Item": event_item(stored),
                "ConditionExpression": "attribute_not_exists(version)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
            for stored in stored_events
        ]
        puts.extend(self._record_puts(records))
        # The same token makes the SDK's retry of a transaction whose answer was lost a
        # no-op instead of a conflict with itself.
        token = (
            records.transfer.transfer_id if records.transfer else stored_events[0].event.event_id
        )
        try:
            self._client.transact_write_items(
                ClientRequestToken=token[:36], TransactItems=[{"Put": put} for put in puts]
            )
        except ClientError as error:
            raise self._transaction_error(error, len(stored_events), records) from error

    def _transaction_error(
        self, error: ClientError, events: int, records: TransactionRecords
    ) -> Exception:
        """What a failed transaction means. Only a version conflict is retried (by
        reloading and deciding again); a throttle is answered "try later"; anything
        else is a fault, reported with its reasons."""
        if throttled(error):
            return StoreThrottled(f"events table throttled: {error_code(error)}")
        if error_code(error) != "TransactionCanceledException":
            return error
        # One reason per item, in order: the events, the transfer and/or the hold (the
        # records `kept`), the reversal markers, the idempotency key. A refused put
        # whose request asked for it carries the item that refused it.
        kept = (records.transfer is not None) + (records.hold is not None)
        markers = len(records.reversals)
        answer: Any = error.response
        given: list[dict[str, Any]] = list(answer.get("CancellationReasons", []))
        given += [{}] * (events + kept + markers + (records.idempotency is not None) - len(given))
        reasons = [reason.get("Code") for reason in given]
        if records.idempotency is not None and reasons[-1] == "ConditionalCheckFailed":
            found = given[-1].get("Item")
            return IdempotencyKeyTaken(
                records.idempotency.key,
                _idempotency_record(records.idempotency, from_item(found), self._legacy)
                if found
                else None,
            )
        first_marker = events + kept
        if "ConditionalCheckFailed" in reasons[first_marker : first_marker + markers]:
            return ReversalTaken(f"an original of the transaction is reversed already: {reasons}")
        # Another writer took a version, or a concurrent transaction touched the same
        # items: either way, reload and decide again. A transfer id already stored is
        # the same transfer landed before (ids are fresh UUIDs): the caller recognises it.
        if "ConditionalCheckFailed" in reasons[: events + kept] or (
            "TransactionConflict" in reasons
        ):
            return VersionConflict(
                f"the transaction of {events} event(s) was refused: {reasons}",
                self._taken([reason["Item"] for reason in given[:events] if "Item" in reason]),
            )
        if THROTTLING_REASONS.intersection(reasons):
            return StoreThrottled(f"the transaction was throttled: {reasons}")
        return WriteCanceled(reasons)

    def _taken(self, items: Sequence[dict[str, Any]]) -> list[StoredEvent]:
        return [stored_event_from_item(from_item(item), self._legacy) for item in items]

    def _record_puts(self, records: TransactionRecords) -> list[PutTypeDef]:
        """The transaction's writes besides its events, in the order `_transaction_error`
        reads their cancellation reasons: the transfer, the hold, the reversal markers,
        the idempotency key."""
        puts: list[PutTypeDef] = []
        if records.transfer is not None:
            puts.append(
                {
                    "TableName": _required(self._transfers, "transfers"),
                    "Item": to_item(converter.unstructure(records.transfer)),
                    "ConditionExpression": "attribute_not_exists(transferId)",
                }
            )
        if records.hold is not None:
            puts.append(self._hold_put(records.hold))
        puts.extend(self._marker_put(marker) for marker in records.reversals)
        if records.idempotency is not None:
            puts.append(self._key_put(records.idempotency))
        return puts

    def _hold_put(self, hold: HoldRecord) -> PutTypeDef:
        item = converter.unstructure(hold)
        if hold.status is HoldStatus.PENDING:
            item["pendingShard"] = _pending_shard(hold.hold_id)
            condition = "attribute_not_exists(holdId)"
            values = None
        else:
            condition = "#status = :pending"
            values = {":pending": {"S": HoldStatus.PENDING.value}}
        put: PutTypeDef = {
            "TableName": _required(self._holds, "holds"),
            "Item": to_item(item),
            "ConditionExpression": condition,
        }
        if values is not None:
            put["ExpressionAttributeNames"] = {"#status": "status"}
            put["ExpressionAttributeValues"] = values
        return put

    def hold(self, hold_id: str) -> HoldRecord | None:
        response = self._client.get_item(
            TableName=_required(self._holds, "holds"),
            Key={"holdId": {"S": hold_id}},
            ConsistentRead=True,
        )
        return _hold(response["Item"]) if "Item" in response else None

    def holds_of(
        self, account_id: str, *, status: HoldStatus | None, after: int, limit: int
    ) -> Sequence[HoldRecord]:
        request: dict[str, Any] = {
            "TableName": _required(self._holds, "holds"),
            "IndexName": BY_ACCOUNT_INDEX,
            "KeyConditionExpression": "accountId = :a AND version > :v",
            "ExpressionAttributeValues": {":a": {"S": account_id}, ":v": {"N": str(after)}},
        }
        if status is not None:
            request["FilterExpression"] = "#status = :s"
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"][":s"] = {"S": status.value}
        found: list[HoldRecord] = []
        # A filter is applied after the page is read: read on until the page is full.
        while len(found) < limit:
            response: Any = self._client.query(**request, Limit=limit)
            found.extend(_hold(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def expiring(self, moment: datetime, *, limit: int) -> Sequence[HoldRecord]:
        due: list[HoldRecord] = []
        for shard in range(PENDING_SHARDS):
            response = self._client.query(
                TableName=_required(self._holds, "holds"),
                IndexName=PENDING_BY_EXPIRY_INDEX,
                KeyConditionExpression="pendingShard = :p AND expiresAt <= :t",
                ExpressionAttributeValues={
                    ":p": {"S": f"pending#{shard}"},
                    ":t": {"S": format_time(moment)},
                },
                Limit=limit,
            )
            due.extend(_hold(item) for item in response.get("Items", []))
        # The index is eventually consistent: a hold just resolved may still be listed,
        # which the expirer's conditional write then refuses.
        return sorted(due, key=lambda hold: (hold.expires_at, hold.hold_id))[:limit]

    def _marker_put(self, marker: ReversalMarker) -> PutTypeDef:
        # Beside the idempotency keys, and like none of them never expiring: an original
        # stays reversed forever.
        return {
            "TableName": _required(self._idempotency, "idempotency"),
            "Item": to_item(
                {"idempotencyKey": _marker_key(marker.original), **converter.unstructure(marker)}
            ),
            "ConditionExpression": "attribute_not_exists(idempotencyKey)",
        }

    def reversal(self, original: EventRef) -> ReversalMarker | None:
        response = self._client.get_item(
            TableName=_required(self._idempotency, "idempotency"),
            Key={"idempotencyKey": {"S": _marker_key(original)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        data = from_item(response["Item"])
        data.pop("idempotencyKey")
        marker: ReversalMarker = converter.structure(data, ReversalMarker)
        return marker

    def _key_put(self, record: IdempotencyRecord) -> PutTypeDef:
        now = self._now()
        return {
            "TableName": _required(self._idempotency, "idempotency"),
            "Item": to_item(
                {
                    "idempotencyKey": _key(record.account_id, record.caller, record.key),
                    "accountId": record.account_id,
                    "fingerprint": record.fingerprint,
                    "event": event_to_dict(record.event) if record.event else None,
                    "transferId": record.transfer_id,
                    "expiresAt": int((now + self._ttl).timestamp()),
                }
            ),
            # TTL deletion lags by up to days: an expired key is free.
            "ConditionExpression": "attribute_not_exists(idempotencyKey) OR expiresAt < :now",
            "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
            # The record that holds the key answers the request: no read to find it.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        response = self._client.get_item(
            TableName=_required(self._transfers, "transfers"),
            Key={"transferId": {"S": transfer_id}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        record: TransferRecord = converter.structure(from_item(response["Item"]), TransferRecord)
        return record

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        response = self._client.query(
            TableName=self._events,
            KeyConditionExpression="accountId = :a AND version > :v",
            ExpressionAttributeValues={":a": {"S": account_id}, ":v": {"N": str(after)}},
            ScanIndexForward=True,
            Limit=limit,
            ConsistentRead=True,
        )
        return [
            event_from_dict(from_item(item), self._legacy) for item in response.get("Items", [])
        ]

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
                yield _scanned(from_item(raw), self._legacy)
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
        return _idempotency_record(
            IdempotencyRecord(account_id, caller, key, ""), data, self._legacy
        )

    def last_at(
        self, account_id: str, moment: datetime, *, inclusive: bool = True
    ) -> StoredEvent | None:
        # The index is eventually consistent and orders equal times arbitrarily: it
        # only names a version that is surely not after the answer. The table, read
        # consistently from there, confirms it and walks on past what the index has
        # not seen yet or ordered among equal times: two reads unless `moment` is
        # within the index's replication lag (well under a second) of a write.
        bound = format_time(moment)
        response = self._client.query(
            TableName=self._events,
            IndexName=RECORDED_AT_INDEX,
            KeyConditionExpression=f"accountId = :a AND recordedAt {'<=' if inclusive else '<'} :t",
            ExpressionAttributeValues={":a": {"S": account_id}, ":t": {"S": bound}},
            ScanIndexForward=False,
            Limit=1,
        )
        hint = response.get("Items", [])
        found: dict[str, Any] | None = None
        for data in self._from_version(account_id, whole(hint[0]["version"]["N"]) if hint else 1):
            recorded = parse_time(str(data["recordedAt"]))
            if recorded > moment or (recorded == moment and not inclusive):
                break
            found = data
        return stored_event_from_item(found, self._legacy) if found is not None else None

    def _from_version(self, account_id: str, version: int) -> Iterator[dict[str, Any]]:
        """The account's items from `version` on, read consistently: two first (the
        hint and the one after it), then in pages of a hundred."""
        request: dict[str, Any] = {
            "TableName": self._events,
            "KeyConditionExpression": "accountId = :a AND version >= :v",
            "ExpressionAttributeValues": {":a": {"S": account_id}, ":v": {"N": str(version)}},
            "ScanIndexForward": True,
            "Limit": 2,
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            for raw in response.get("Items", []):
                yield from_item(raw)
            if not response.get("LastEvaluatedKey"):
                return
            request.update(ExclusiveStartKey=response["LastEvaluatedKey"], Limit=100)

    def _now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(UTC)


def _idempotency_record(
    claim: IdempotencyRecord, data: dict[str, Any], legacy: LegacyTerms
) -> IdempotencyRecord:
    """The record stored under `claim`'s key, from its item."""
    return IdempotencyRecord(
        account_id=claim.account_id,
        caller=claim.caller,
        key=claim.key,
        fingerprint=str(data["fingerprint"]),
        event=event_from_dict(data["event"], legacy) if "event" in data else None,
        transfer_id=data.get("transferId"),
    )


def _pending_shard(hold_id: str) -> str:
    return f"pending#{zlib.crc32(hold_id.encode()) % PENDING_SHARDS}"


def _hold(item: dict[str, Any]) -> HoldRecord:
    data = from_item(item)
    data["version"] = whole(data["version"])
    if data.get("resolvedVersion") is not None:
        data["resolvedVersion"] = whole(data["resolvedVersion"])
    hold: HoldRecord = converter.structure(data, HoldRecord)
    return hold


def _required(table: str | None, what: str) -> str:
    if table is None:
        raise ValueError(f"this store has no {what} table")
    return table


def _cursor_key(cursor: Cursor) -> dict[str, Any]:
    return {"accountId": {"S": cursor.account_id}, "version": {"N": str(cursor.version)}}


def _scanned(data: dict[str, Any], legacy: LegacyTerms) -> Scanned:
    try:
        return stored_event_from_item(data, legacy)
    except (UnknownEvent, KeyError, TypeError, ValueError) as error:
        return Unreadable(str(data.get("accountId")), whole(data.get("version", 0)), repr(error))


def _marker_key(original: EventRef) -> str:
    # "#" first, like the transfers' scope: never an account id's key.
    return f"#reversal#{original.account_id}#{original.version}"


def _key(account_id: str, caller: str, key: str) -> str:
    # Scoped to the caller too. The caller's length makes the key unambiguous whatever
    # characters a subject or a key holds (an account id never holds "#"). Keys stored
    # in the earlier `account#key` form are simply not found: they expire within 7 days.
    return f"{account_id}#{len(caller)}:{caller}#{key}"

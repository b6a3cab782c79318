"""The event store and the projection store on DynamoDB.

Events table: partition key `accountId`, sort key `version`; one item per event, in
its JSON form, plus `snapshot` (the account state after it) and `correlationId`.
An append is a put conditional on the version being free. With an idempotency key,
the event and the key are written in one transaction, so a crash between the two
cannot leave an event without its key (or a key without its event).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from banking.application.generations import (
    POINTER_PARTITION,
    POINTER_TTL_SECONDS,
    GenerationConflict,
    Generations,
    Lag,
    lag_between,
    parse_sort_key,
    sort_key,
)
from banking.application.ports import (
    EventNotFound,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredEvent,
    VersionConflict,
)
from banking.application.replay import Cursor, Scanned, Unreadable
from banking.domain.account import Account
from banking.domain.errors import UnknownEvent
from banking.domain.events import Event
from banking.domain.money import Money
from banking.domain.read_models import (
    CURRENT_MONTH_BALANCE,
    MONTHLY_STATEMENT,
    READ_MODEL_NAMES,
    TOTAL_BALANCE,
    CurrentMonthBalance,
    MonthlyStatement,
    ReadModel,
    TotalBalance,
    qualifier_of,
)
from banking.serialization import (
    account_from_snapshot,
    event_from_dict,
    event_to_dict,
    snapshot_of,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# BatchWriteItem takes at most 25 requests; what it leaves unprocessed is sent again.
BATCH_WRITE_LIMIT = 25
BATCH_WRITE_ATTEMPTS = 8

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


def stored_event_from_item(data: dict[str, Any]) -> StoredEvent:
    """A deserialized events-table item back to the stored event (raises UnknownEvent)."""
    event = event_from_dict(data)
    return StoredEvent(
        event=event,
        state=account_from_snapshot(event, data["snapshot"]),
        correlation_id=data.get("correlationId"),
    )


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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
            if _failed_condition(error):
                raise VersionConflict(str(item["version"])) from error
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
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [
                reason.get("Code") for reason in error.response.get("CancellationReasons", [])
            ]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise IdempotencyKeyTaken(record.key) from error
            # A failed version condition, or a concurrent transaction on the same
            # items ("TransactionConflict"): either way, reload and decide again.
            raise VersionConflict(str(item["version"])) from error

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
        from datetime import UTC

        return self._clock() if self._clock else datetime.now(UTC)


def _cursor_key(cursor: Cursor) -> dict[str, Any]:
    return {"accountId": {"S": cursor.account_id}, "version": {"N": str(cursor.version)}}


def _scanned(data: dict[str, Any]) -> Scanned:
    try:
        return stored_event_from_item(data)
    except (UnknownEvent, KeyError, TypeError, ValueError) as error:
        return Unreadable(str(data.get("accountId")), _int(data.get("version", 0)), repr(error))


def _key(account_id: str, caller: str, key: str) -> str:
    # Scoped to the caller too. The caller's length makes the key unambiguous whatever
    # characters a subject or a key holds (an account id never holds "#"). Keys stored
    # in the earlier `account#key` form are simply not found: they expire within 7 days.
    return f"{account_id}#{len(caller)}:{caller}#{key}"


class DynamoDBProjectionStore:
    """Read models, one item per account, read model (and month, for statements) and
    generation, guarded by `lastKnownVersion`; generation pointers in the partition
    `#generations`, cached for `pointer_ttl` seconds (see application.generations)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        pointer_ttl: float = POINTER_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._table = table
        self._ttl = pointer_ttl
        self._monotonic = monotonic
        self._now = now
        self._pointers: dict[str, Generations] = {}
        self._pointers_read_at: float | None = None

    # Writing (projectors) and reading (queries, verify)

    def save(self, account_id: str, model: ReadModel) -> bool:
        """Writes every live generation; returns whether the active one changed."""
        name = READ_MODEL_NAMES[type(model)]
        generations = self.generations(name)
        written = [
            self._save(account_id, model, generation)
            for generation in generations.written(self._now())
        ]
        return written[0]

    def repair(self, account_id: str, model: ReadModel, *, replacing: int | None) -> bool:
        generation = self.generations(READ_MODEL_NAMES[type(model)]).active
        if replacing is None:
            return self._save(account_id, model, generation, "attribute_not_exists(#version)")
        return self._save(
            account_id, model, generation, "#version = :replacing", {":replacing": replacing}
        )

    def _save(
        self,
        account_id: str,
        model: ReadModel,
        generation: int,
        # A projection never goes backwards: only a newer version lands.
        condition: str = "attribute_not_exists(#version) OR #version < :version",
        condition_values: dict[str, Any] | None = None,
    ) -> bool:
        fields = _fields(model)
        names = {f"#f{index}": field for index, field in enumerate(fields)}
        values = {f":f{index}": value for index, value in enumerate(fields.values())}
        names["#version"], values[":version"] = "lastKnownVersion", model.version
        assignments = ", ".join(
            f"{name} = {value}" for name, value in zip(names, values, strict=True)
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    "accountId": {"S": account_id},
                    "readModel": {
                        "S": sort_key(
                            READ_MODEL_NAMES[type(model)], generation, qualifier_of(model)
                        )
                    },
                },
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({**values, **(condition_values or {})}),
            )
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def load(
        self, account_id: str, *, generations: dict[str, int] | None = None
    ) -> Sequence[ReadModel]:
        """The account's read models in their active generation (or the ones given)."""
        chosen = generations or {}
        models: list[ReadModel] = []
        for data in self._query(account_id):
            name, generation, _ = parse_sort_key(str(data["readModel"]))
            wanted = chosen[name] if name in chosen else self.generations(name).active
            if generation == wanted:
                model = _model(name, data)
                if model is not None:
                    models.append(model)
        return models

    def statement(self, account_id: str, month: str) -> MonthlyStatement | None:
        active = self.generations(MONTHLY_STATEMENT).active
        response = self._client.get_item(
            TableName=self._table,
            Key={
                "accountId": {"S": account_id},
                "readModel": {"S": sort_key(MONTHLY_STATEMENT, active, month)},
            },
        )
        model = (
            _model(MONTHLY_STATEMENT, from_item(response["Item"])) if "Item" in response else None
        )
        return model if isinstance(model, MonthlyStatement) else None

    def _query(self, account_id: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "accountId = :a",
            "ExpressionAttributeValues": {":a": {"S": account_id}},
        }
        while True:
            response = self._client.query(**request)
            yield from (from_item(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # Generations (the GenerationStore port)

    def generations(self, read_model: str) -> Generations:
        fresh = self._pointers_read_at is not None and (
            self._monotonic() - self._pointers_read_at < self._ttl
        )
        if not fresh:
            self._pointers = {
                str(data["readModel"]): _generations(data)
                for data in self._query(POINTER_PARTITION)
            }
            self._pointers_read_at = self._monotonic()
        return self._pointers.get(read_model, Generations())

    def _pointer(self, read_model: str) -> Generations:
        response = self._client.get_item(
            TableName=self._table,
            Key={"accountId": {"S": POINTER_PARTITION}, "readModel": {"S": read_model}},
            ConsistentRead=True,
        )
        return _generations(from_item(response["Item"])) if "Item" in response else Generations()

    def start_building(self, read_model: str) -> int:
        current = self._pointer(read_model)
        if current.building is not None:
            raise GenerationConflict(
                f"generation {current.building} of {read_model} is already being built"
            )
        generation = current.latest + 1
        self._update_pointer(
            read_model,
            "SET building = :g, latest = :g, active = if_not_exists(active, :zero)",
            "attribute_not_exists(building) AND (attribute_not_exists(latest) OR latest = :latest)",
            {":g": generation, ":latest": current.latest, ":zero": 0},
        )
        self._pointers_read_at = None
        return generation

    def switch(self, read_model: str, generation: int, *, grace_until: datetime) -> None:
        current = self._pointer(read_model)
        self._update_pointer(
            read_model,
            "SET active = :g, previous = :old, previousUntil = :until REMOVE building",
            "building = :g AND active = :old",
            {":g": generation, ":old": current.active, ":until": _format_until(grace_until)},
        )
        self._pointers_read_at = None

    def abandon(self, read_model: str, generation: int) -> None:
        self._update_pointer(read_model, "REMOVE building", "building = :g", {":g": generation})
        self._pointers_read_at = None

    def _update_pointer(
        self, read_model: str, update: str, condition: str, values: dict[str, Any]
    ) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"accountId": {"S": POINTER_PARTITION}, "readModel": {"S": read_model}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as error:
            if _failed_condition(error):
                raise GenerationConflict(
                    f"the generations of {read_model} changed meanwhile"
                ) from error
            raise

    def lagging(self, read_model: str, generation: int) -> Sequence[Lag]:
        active = self._pointer(read_model).active
        versions: dict[int, dict[tuple[str, str | None], int]] = {active: {}, generation: {}}
        for account_id, item_generation, qualifier, data in self._items_of(read_model):
            if item_generation in versions:
                key = (account_id, qualifier)
                versions[item_generation][key] = _int(data["lastKnownVersion"])
        return lag_between(versions[active], versions[generation])

    def prune(self, read_model: str, *, now: datetime, dry_run: bool = False) -> dict[int, int]:
        # The pointer as it is now: a generation a rebuild opens meanwhile is above its
        # `latest`, so never pruned, even if its first items show up in this scan.
        pointer = self._pointer(read_model)
        counts: Counter[int] = Counter()
        doomed: list[dict[str, Any]] = []
        for account_id, generation, _, data in self._items_of(read_model):
            if pointer.prunable(generation, now):
                counts[generation] += 1
                doomed.append(
                    {"accountId": {"S": account_id}, "readModel": {"S": str(data["readModel"])}}
                )
        if not dry_run:
            for start in range(0, len(doomed), BATCH_WRITE_LIMIT):
                self._delete(doomed[start : start + BATCH_WRITE_LIMIT])
        return dict(counts)

    def _delete(self, keys: list[dict[str, Any]]) -> None:
        requests: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys]
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            response = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(self._table, []))
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))
        raise RuntimeError(f"{len(requests)} item(s) of {self._table} still unprocessed")

    def _items_of(self, read_model: str) -> Iterator[tuple[str, int, str | None, dict[str, Any]]]:
        """Every item of `read_model`, of any generation: (account, generation, qualifier,
        item), without the pointers."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(readModel, :name) AND accountId <> :pointers",
            "ProjectionExpression": "accountId, readModel, lastKnownVersion",
            "ExpressionAttributeValues": {
                ":name": {"S": read_model},
                ":pointers": {"S": POINTER_PARTITION},
            },
        }
        while True:
            response = self._client.scan(**request)
            for raw in response.get("Items", []):
                data = from_item(raw)
                name, generation, qualifier = parse_sort_key(str(data["readModel"]))
                if name == read_model:
                    yield str(data["accountId"]), generation, qualifier, data
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _format_until(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _generations(data: dict[str, Any]) -> Generations:
    until = data.get("previousUntil")
    return Generations(
        active=_int(data.get("active", 0)),
        building=_int(data["building"]) if "building" in data else None,
        previous=_int(data["previous"]) if "previous" in data else None,
        previous_until=datetime.fromisoformat(str(until)) if until else None,
        latest=_int(data.get("latest", 0)),
    )


def _fields(model: ReadModel) -> dict[str, Any]:
    if isinstance(model, TotalBalance):
        return {"amount": str(model.amount)}
    if isinstance(model, CurrentMonthBalance):
        return {"month": model.month, "amount": str(model.amount)}
    return {
        "month": model.month,
        "credits": str(model.credits),
        "debits": str(model.debits),
        "closingBalance": str(model.closing_balance),
        "eventCount": model.event_count,
    }


def _model(name: str, data: dict[str, Any]) -> ReadModel | None:
    version = _int(data["lastKnownVersion"])
    if name == TOTAL_BALANCE:
        return TotalBalance(amount=Money.of(str(data["amount"])), version=version)
    if name == CURRENT_MONTH_BALANCE:
        return CurrentMonthBalance(
            month=str(data["month"]), amount=Money.of(str(data["amount"])), version=version
        )
    if name == MONTHLY_STATEMENT:
        return MonthlyStatement(
            month=str(data["month"]),
            credits=Money.of(str(data["credits"])),
            debits=Money.of(str(data["debits"])),
            closing_balance=Money.of(str(data["closingBalance"])),
            event_count=_int(data["eventCount"]),
            version=version,
        )
    return None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, Decimal | int) else int(str(value))

"""The event store and the projection store on DynamoDB.

Events table: partition key `accountId`, sort key `version`; one item per event, in
its JSON form, plus `snapshot` (the account state after it) and `correlationId`.
An append is a put conditional on the version being free. With an idempotency key,
the event and the key are written in one transaction, so a crash between the two
cannot leave an event without its key (or a key without its event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from banking.application.ports import (
    EventNotFound,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredEvent,
    VersionConflict,
)
from banking.domain.account import Account
from banking.domain.events import Event
from banking.domain.money import Money
from banking.domain.read_models import (
    CURRENT_MONTH_BALANCE,
    READ_MODEL_NAMES,
    TOTAL_BALANCE,
    CurrentMonthBalance,
    ReadModel,
    TotalBalance,
)
from banking.serialization import (
    account_from_snapshot,
    event_from_dict,
    event_to_dict,
    snapshot_of,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in data.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


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
        item = to_item(
            {
                **event_to_dict(stored.event),
                "snapshot": snapshot_of(stored.state),
                "correlationId": stored.correlation_id,
            }
        )
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
                "idempotencyKey": _key(record.account_id, record.key),
                "accountId": record.account_id,
                "fingerprint": record.fingerprint,
                "event": event_to_dict(record.event),
                "expiresAt": int((now + self._ttl).timestamp()),
            }
        )
        try:
            self._client.transact_write_items(
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
                ]
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

    def idempotency_record(self, account_id: str, key: str) -> IdempotencyRecord | None:
        if self._idempotency is None:
            return None
        response = self._client.get_item(
            TableName=self._idempotency,
            Key={"idempotencyKey": {"S": _key(account_id, key)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        data = from_item(response["Item"])
        if int(data["expiresAt"]) < self._now().timestamp():
            return None
        return IdempotencyRecord(
            account_id=account_id,
            key=key,
            fingerprint=str(data["fingerprint"]),
            event=event_from_dict(data["event"]),
        )

    def _now(self) -> datetime:
        from datetime import UTC

        return self._clock() if self._clock else datetime.now(UTC)


def _key(account_id: str, key: str) -> str:
    return f"{account_id}#{key}"


class DynamoDBProjectionStore:
    """Read models, one item per account and read model, guarded by `lastKnownVersion`."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def save(self, account_id: str, model: ReadModel) -> bool:
        values: dict[str, Any] = {":amount": str(model.amount), ":version": model.version}
        names = {"#amount": "amount", "#version": "lastKnownVersion"}
        update = "SET #amount = :amount, #version = :version"
        if isinstance(model, CurrentMonthBalance):
            values[":month"], names["#month"] = model.month, "month"
            update += ", #month = :month"
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    "accountId": {"S": account_id},
                    "readModel": {"S": READ_MODEL_NAMES[type(model)]},
                },
                UpdateExpression=update,
                # A projection never goes backwards: only a newer version lands.
                ConditionExpression="attribute_not_exists(#version) OR #version < :version",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def load(self, account_id: str) -> Sequence[ReadModel]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="accountId = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
        )
        models: list[ReadModel] = []
        for raw in response.get("Items", []):
            data = from_item(raw)
            amount, version = Money.of(str(data["amount"])), _int(data["lastKnownVersion"])
            if data["readModel"] == TOTAL_BALANCE:
                models.append(TotalBalance(amount=amount, version=version))
            elif data["readModel"] == CURRENT_MONTH_BALANCE:
                models.append(
                    CurrentMonthBalance(month=str(data["month"]), amount=amount, version=version)
                )
        return models


def _int(value: Any) -> int:
    return int(value) if isinstance(value, Decimal | int) else int(str(value))

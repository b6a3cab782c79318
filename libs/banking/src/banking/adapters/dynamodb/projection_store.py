"""The projection store on DynamoDB: read models, one item per account, read model
(and month, for statements) and generation, guarded by `lastKnownVersion`; and the
generation pointers of each read model, in the partition `#generations`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from attrs import evolve
from botocore.exceptions import ClientError

from banking.adapters.dynamodb.codec import failed_condition, from_item, to_item, whole
from banking.application.generations import (
    POINTER_PARTITION,
    POINTER_TTL_SECONDS,
    lag_between,
    parse_sort_key,
    sort_key,
)
from banking.application.ports import GenerationConflict, Generations, Lag
from banking.domain.read_models import (
    ACCOUNTS_BY_OWNER,
    MONTHLY_STATEMENT,
    READ_MODEL_NAMES,
    AccountSummary,
    MonthlyStatement,
    ReadModel,
    owner_partition,
    qualifier_of,
)
from banking.serialization import converter, read_model_from_item, read_model_to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# BatchWriteItem takes at most 25 requests; what it leaves unprocessed is sent again.
BATCH_WRITE_LIMIT = 25
BATCH_WRITE_ATTEMPTS = 8


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
        fields = read_model_to_item(model)
        version = fields.pop("lastKnownVersion")
        # A field that is None now (a balance no longer holding anything) is removed, so
        # the item never keeps an older version's value of it.
        absent = [field for field, value in fields.items() if value is None]
        fields = {field: value for field, value in fields.items() if value is not None}
        names = {f"#f{index}": field for index, field in enumerate(fields)}
        values = {f":f{index}": value for index, value in enumerate(fields.values())}
        names["#version"], values[":version"] = "lastKnownVersion", version
        assignments = ", ".join(
            f"{name} = {value}" for name, value in zip(names, values, strict=True)
        )
        removals = {f"#r{index}": field for index, field in enumerate(absent)}
        names.update(removals)
        update = f"SET {assignments}" + (f" REMOVE {', '.join(removals)}" if removals else "")
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
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({**values, **(condition_values or {})}),
            )
        except ClientError as error:
            if failed_condition(error):
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

    def accounts_of(self, owner: str, *, after: str | None, limit: int) -> Sequence[AccountSummary]:
        """Up to `limit` of the owner's accounts with an id after `after`, by id."""
        prefix = sort_key(ACCOUNTS_BY_OWNER, self.generations(ACCOUNTS_BY_OWNER).active) + "#"
        partition = owner_partition(owner)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "accountId = :o AND begins_with(readModel, :p)",
            "ExpressionAttributeValues": {":o": {"S": partition}, ":p": {"S": prefix}},
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {
                "accountId": {"S": partition},
                "readModel": {"S": prefix + after},
            }
        items = self._client.query(**request).get("Items", [])
        return [
            summary
            for raw in items
            if isinstance(summary := _model(ACCOUNTS_BY_OWNER, from_item(raw)), AccountSummary)
        ]

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
                str(data["readModel"]): converter.structure(data, Generations)
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
        if "Item" not in response:
            return Generations()
        pointer: Generations = converter.structure(from_item(response["Item"]), Generations)
        return pointer

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
        switched = converter.unstructure(
            evolve(current, active=generation, previous=current.active, previous_until=grace_until)
        )
        self._update_pointer(
            read_model,
            "SET active = :g, previous = :old, previousUntil = :until REMOVE building",
            "building = :g AND active = :old",
            {":g": generation, ":old": current.active, ":until": switched["previousUntil"]},
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
            if failed_condition(error):
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
                versions[item_generation][key] = whole(data["lastKnownVersion"])
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


_READ_MODEL_TYPES = {name: model_type for model_type, name in READ_MODEL_NAMES.items()}


def _model(name: str, item: dict[str, Any]) -> ReadModel | None:
    """The read model an item holds; None for a name this code does not keep."""
    model_type = _READ_MODEL_TYPES.get(name)
    return read_model_from_item(item, model_type) if model_type else None

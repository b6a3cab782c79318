"""The ledger's tables, created directly with boto3 as Terraform declares them
(terraform/modules/ledger): for the handler tests on in-process moto and for tools
that run the application without Terraform (bench/replay_benchmark.py). Keys and
streams must match the module's; tests/infra checks the module's side.
"""

from __future__ import annotations

from typing import Any

# (attribute, type): the partition key, then the sort key if any.
Key = tuple[tuple[str, str], ...]
EVENTS_KEY: Key = (("accountId", "S"), ("version", "N"))
IDEMPOTENCY_KEY: Key = (("idempotencyKey", "S"),)
PROJECTIONS_KEY: Key = (("accountId", "S"), ("readModel", "S"))
TRANSFERS_KEY: Key = (("transferId", "S"),)
HOLDS_KEY: Key = (("holdId", "S"),)
# The holds table's indexes: an account's holds in the order placed, and the pending
# ones by expiry (sparse: only pending holds carry `pendingShard`), every attribute.
HOLDS_INDEXES: dict[str, tuple[Key, str]] = {
    "byAccount": ((("accountId", "S"), ("version", "N")), "ALL"),
    "pendingByExpiry": ((("pendingShard", "S"), ("expiresAt", "S")), "ALL"),
}
# The events table's global secondary indexes, by name: (key, projection type).
EVENTS_INDEXES: dict[str, tuple[Key, str]] = {
    "byRecordedAt": ((("accountId", "S"), ("recordedAt", "S")), "KEYS_ONLY"),
}


def create_table(
    client: Any,
    name: str,
    key: Key,
    *,
    stream: bool = False,
    indexes: dict[str, tuple[Key, str]] | None = None,
) -> None:
    """An on-demand table with that key (and a NEW_IMAGE stream if ``stream``, and
    the global secondary ``indexes``: name to key and projection type)."""
    extra: dict[str, Any] = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
        if stream
        else {}
    )
    if indexes:
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": _key_schema(index_key),
                "Projection": {"ProjectionType": projection},
            }
            for index, (index_key, projection) in indexes.items()
        ]
    attributes = dict(key)
    for index_key, _ in (indexes or {}).values():
        attributes.update(index_key)
    client.create_table(
        TableName=name,
        KeySchema=_key_schema(key),
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": type_}
            for attribute, type_ in attributes.items()
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _key_schema(key: Key) -> list[dict[str, str]]:
    return [
        {"AttributeName": attribute, "KeyType": kind}
        for (attribute, _), kind in zip(key, ("HASH", "RANGE"), strict=False)
    ]


# Every table of the module, by the name after the environment's prefix: what each is
# created with here, and what `scripts.ops.aws.Ledger` names for the operators' tools.
LEDGER_TABLES: dict[str, tuple[Key, bool, dict[str, tuple[Key, str]]]] = {
    "events": (EVENTS_KEY, True, EVENTS_INDEXES),
    "idempotency": (IDEMPOTENCY_KEY, False, {}),
    "projections": (PROJECTIONS_KEY, False, {}),
    "transfers": (TRANSFERS_KEY, False, {}),
    "holds": (HOLDS_KEY, False, HOLDS_INDEXES),
}


def table_name(prefix: str, table: str) -> str:
    if table not in LEDGER_TABLES:
        raise KeyError(f"the ledger has no {table!r} table")
    return f"{prefix}-{table}"


def create_ledger_tables(client: Any, prefix: str) -> dict[str, str]:
    names = {table: table_name(prefix, table) for table in LEDGER_TABLES}
    for table, (key, stream, indexes) in LEDGER_TABLES.items():
        create_table(client, names[table], key, stream=stream, indexes=indexes or None)
    return names

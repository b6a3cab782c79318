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


def create_table(client: Any, name: str, key: Key, *, stream: bool = False) -> None:
    """An on-demand table with that key (and a NEW_IMAGE stream if ``stream``)."""
    extra: dict[str, Any] = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
        if stream
        else {}
    )
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": attribute, "KeyType": kind}
            for (attribute, _), kind in zip(key, ("HASH", "RANGE"), strict=False)
        ],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": type_} for attribute, type_ in key
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def create_ledger_tables(client: Any, prefix: str) -> dict[str, str]:
    names = {
        "events": f"{prefix}-events",
        "idempotency": f"{prefix}-idempotency",
        "projections": f"{prefix}-projections",
        "transfers": f"{prefix}-transfers",
    }
    create_table(client, names["events"], EVENTS_KEY, stream=True)
    create_table(client, names["idempotency"], IDEMPOTENCY_KEY)
    create_table(client, names["projections"], PROJECTIONS_KEY)
    create_table(client, names["transfers"], TRANSFERS_KEY)
    return names

"""The ledger's three tables, created directly with boto3 as Terraform declares them
(terraform/modules/ledger): for the handler tests on in-process moto and for tools
that run the application without Terraform (bench/replay_benchmark.py). Keys and
streams must match the module's; tests/infra checks the module's side.
"""

from __future__ import annotations

from typing import Any


def create_ledger_tables(client: Any, prefix: str) -> dict[str, str]:
    names = {
        "events": f"{prefix}-events",
        "idempotency": f"{prefix}-idempotency",
        "projections": f"{prefix}-projections",
    }
    client.create_table(
        TableName=names["events"],
        KeySchema=[
            {"AttributeName": "accountId", "KeyType": "HASH"},
            {"AttributeName": "version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "accountId", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    client.create_table(
        TableName=names["idempotency"],
        KeySchema=[{"AttributeName": "idempotencyKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "idempotencyKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName=names["projections"],
        KeySchema=[
            {"AttributeName": "accountId", "KeyType": "HASH"},
            {"AttributeName": "readModel", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "accountId", "AttributeType": "S"},
            {"AttributeName": "readModel", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return names

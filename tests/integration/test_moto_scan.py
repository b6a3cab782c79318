"""Our moto server's Scan and Query (scripts.local.moto_patches: `_scan_by_partition`,
`_query_by_partition`) give the pages moto's own give: same items, same order, same
LastEvaluatedKey; whole table or a parallel-scan segment, key conditions, backwards,
with filters and projections."""

from __future__ import annotations

from typing import Any

import pytest
from moto.dynamodb.models.table import Table

from scripts.local.moto_patches import _query_by_partition, _scan_by_partition

# The `aws` fixture's tables (tests/conftest.py).
EVENTS, KEYS = "ledger-test-events", "ledger-test-idempotency"
PADDING = "x" * 9_000  # ~110 items make a 1 MB page: size-limited pages too


@pytest.fixture
def dynamodb(aws: dict[str, Any]) -> Any:
    client = aws["dynamodb"]
    # Partitions of 1 to 30 items, written out of order; numbers that sort
    # differently as strings (9 < 10).
    for account in range(40, 0, -1):
        for version in range(account % 30 + 1, 0, -1):
            client.put_item(
                TableName=EVENTS,
                Item={
                    "accountId": {"S": f"acct-{account:03d}"},
                    "version": {"N": str(version)},
                    "kind": {"S": "credit" if version % 3 else "debit"},
                    "padding": {"S": PADDING if account % 4 == 0 else "-"},
                },
            )
    for key in range(150, 0, -1):
        client.put_item(
            TableName=KEYS, Item={"idempotencyKey": {"S": f"k{key}"}, "n": {"N": str(key)}}
        )
    return client


def pages(client: Any, operation: str = "scan", **request: Any) -> list[tuple[list[Any], Any, int]]:
    found = []
    while True:
        page = getattr(client, operation)(**request)
        found.append((page.get("Items"), page.get("LastEvaluatedKey"), page["ScannedCount"]))
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


REQUESTS: list[dict[str, Any]] = [
    {"TableName": EVENTS},
    {"TableName": EVENTS, "Limit": 7},
    {"TableName": EVENTS, "Segment": 0, "TotalSegments": 3},
    {"TableName": EVENTS, "Segment": 2, "TotalSegments": 3, "Limit": 11},
    {
        "TableName": EVENTS,
        "Segment": 1,
        "TotalSegments": 4,
        "FilterExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": "debit"}},
        "ProjectionExpression": "accountId, version",
        "Limit": 13,
    },
    {"TableName": EVENTS, "Select": "COUNT", "Limit": 50},
    {"TableName": KEYS, "Limit": 9},
    {"TableName": KEYS, "Segment": 1, "TotalSegments": 2},
    {
        "TableName": EVENTS,
        "ScanFilter": {
            "kind": {"AttributeValueList": [{"S": "debit"}], "ComparisonOperator": "EQ"}
        },
    },
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: ",".join(sorted(r)))
def test_pages_are_those_of_moto_s_own_scan(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, request_: dict[str, Any]
) -> None:
    # GIVEN the pages moto's own Scan gives
    theirs = pages(dynamodb, **request_)

    # WHEN the same scan runs on ours
    monkeypatch.setattr(Table, "scan", _scan_by_partition(Table.scan))
    ours = pages(dynamodb, **request_)

    # THEN the pages are the same, and there were several
    assert ours == theirs
    assert len(theirs) > 1 or "Limit" not in request_


def query(account: str, condition: str = "", **extra: Any) -> dict[str, Any]:
    values = {":a": {"S": account}, **extra.pop("values", {})}
    return {
        "TableName": EVENTS,
        "KeyConditionExpression": "accountId = :a" + condition,
        "ExpressionAttributeValues": values,
        **extra,
    }


QUERIES: list[dict[str, Any]] = [
    query("acct-029"),
    query("acct-029", Limit=4),
    query("acct-028", " AND version > :v", values={":v": {"N": "9"}}, Limit=5),
    query(
        "acct-028",
        " AND version BETWEEN :a1 AND :a2",
        values={":a1": {"N": "2"}, ":a2": {"N": "12"}},
    ),
    query("acct-029", ScanIndexForward=False, Limit=6),
    query(
        "acct-029",
        FilterExpression="kind = :k",
        values={":k": {"S": "debit"}},
        ProjectionExpression="version",
        Limit=7,
    ),
    query("acct-404"),
    {
        "TableName": KEYS,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": "idempotencyKey"},
        "ExpressionAttributeValues": {":k": {"S": "k77"}},
    },
]


@pytest.mark.parametrize("request_", QUERIES, ids=lambda r: str(sorted(r.items()))[:60])
def test_query_pages_are_those_of_moto_s_own_query(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, request_: dict[str, Any]
) -> None:
    theirs = pages(dynamodb, "query", **request_)

    monkeypatch.setattr(Table, "query", _query_by_partition(Table.query))
    ours = pages(dynamodb, "query", **request_)

    assert ours == theirs
    assert len(theirs) > 1 or "Limit" not in request_

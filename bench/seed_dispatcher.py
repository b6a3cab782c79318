"""The seed's dispatcher, as a reference: it computes the aggregate for every event from
"the list of events on 3 months" of the account.

The seed's table has no date index (and in ours the sort key is the version), so the
last three months can only be found by reading. Two faithful ways, both measured:

- ``partition``: what the seed's schema forces: read the account's whole partition
  (a Query on the partition key, every page) and keep the events of the 90 days up to
  the event. A FilterExpression on the date would return fewer items but read, and
  bill, exactly the same ones, so the filter is applied here, after the read.
- ``window``: the best the seed's design can do on our version-keyed table: read by
  version descending from the event, in pages of 100, and stop at the first page that
  reaches an event older than 90 days.

Either way the aggregate is the seed's: the sum of those events (which is wrong for
the total balance whenever the account is older than three months) and of those in
the event's month.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from attrs import frozen

WINDOW = timedelta(days=90)
PAGE = 100


@frozen
class SeedAggregate:
    total_balance: Decimal
    current_month_balance: Decimal
    events_in_window: int
    items_read: int
    requests: int


def _signed(item: dict[str, Any]) -> Decimal:
    amount = Decimal(item["amount"]["S"])
    return amount if item["type"]["S"] == "CreditEvent" else -amount


def _time(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["recordedAt"]["S"].replace("Z", "+00:00"))


def _pages(client: Any, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    while True:
        response = client.query(**request)
        yield response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def seed_aggregate(
    client: Any, table: str, account_id: str, version: int, *, variant: str
) -> SeedAggregate:
    key = {":a": {"S": account_id}, ":v": {"N": str(version)}}
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "accountId = :a",
        "ExpressionAttributeValues": {":a": key[":a"]},
        "ConsistentRead": True,
    }
    if variant == "window":
        request.update(
            KeyConditionExpression="accountId = :a AND version <= :v",
            ExpressionAttributeValues=key,
            ScanIndexForward=False,
            Limit=PAGE,
        )
    elif variant != "partition":
        raise ValueError(f"unknown variant {variant!r}")
    read: list[dict[str, Any]] = []
    requests = 0
    for page in _pages(client, request):
        requests += 1
        read.extend(page)
        if (
            variant == "window"
            and page
            and any(_time(item) < _time(read[0]) - WINDOW for item in page)
        ):
            break
    current = next(item for item in read if int(item["version"]["N"]) == version)
    now, month = _time(current), current["recordedAt"]["S"][:7]
    window = [
        item
        for item in read
        if int(item["version"]["N"]) <= version and now - WINDOW <= _time(item) <= now
    ]
    return SeedAggregate(
        total_balance=sum((_signed(item) for item in window), Decimal(0)),
        current_month_balance=sum(
            (_signed(item) for item in window if item["recordedAt"]["S"][:7] == month),
            Decimal(0),
        ),
        events_in_window=len(window),
        items_read=len(read),
        requests=requests,
    )

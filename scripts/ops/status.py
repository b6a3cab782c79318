"""`ledger status`: is every stored event projected, and is anything parked?

For the whole ledger (a scan of the events table: meant for operators, not for hot
paths) or one account: the head version in the events table next to each read
model's version, the depth of every dead-letter queue, and the oldest event not yet
reflected by the read models.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.domain.read_models import (
    BALANCE_READ_MODELS,
    MONTHLY_STATEMENT,
    PROJECTIONS,
    READ_MODEL_NAMES,
)
from banking.serialization import parse_time
from scripts.ops.aws import Ledger, dead_letter_queue_urls


@frozen
class AccountStatus:
    account_id: str
    head: int
    read_models: dict[str, int]

    @property
    def behind(self) -> int:
        # An account's own read models; it has a statement only once it had a posting.
        names = [*BALANCE_READ_MODELS, *({MONTHLY_STATEMENT} & set(self.read_models))]
        projected = min(self.read_models.get(name, 0) for name in names)
        return self.head - projected


@frozen
class Unprojected:
    account_id: str
    version: int
    recorded_at: datetime


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="head versions vs read models, dead letters")
    parser.add_argument("--account", help="one account (default: every account, by scan)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_args(args)
    dynamodb = ledger.client("dynamodb")
    heads = (
        {args.account: _head(dynamodb, ledger.events_table, args.account)}
        if args.account
        else dict(_heads(dynamodb, ledger.events_table))
    )
    store = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    accounts = [
        AccountStatus(
            account_id,
            head,
            {READ_MODEL_NAMES[type(m)]: m.version for m in store.load(account_id)},
        )
        for account_id, head in sorted(heads.items())
    ]
    print(f"Ledger status: {ledger.environment} ({ledger.endpoint_url or 'AWS'})")
    print(
        f"events table {ledger.events_table}: {len(accounts)} account(s), "
        f"{sum(a.head for a in accounts)} event(s)"
    )
    _print_accounts(accounts)
    oldest = _oldest_unprojected(dynamodb, ledger.events_table, accounts)
    if oldest is None:
        print("every stored event is reflected by every read model")
    else:
        age = (datetime.now(UTC) - oldest.recorded_at).total_seconds()
        print(
            f"oldest unprojected event: {oldest.account_id} v{oldest.version}, "
            f"recorded {oldest.recorded_at.isoformat()} ({age:.0f}s ago)"
        )
    depths = dead_letter_depths(ledger)
    print("dead-letter queues:")
    for name, depth in depths.items():
        print(f"  {name:<48} {depth}")
    parked = sum(depths.values())
    return 1 if parked or oldest is not None else 0


def _print_accounts(accounts: list[AccountStatus], limit: int = 50) -> None:
    names = list(PROJECTIONS)
    print(f"  {'account':<24} {'head':>7} " + " ".join(f"{n:>30}" for n in names) + "  behind")
    lagging = sorted(accounts, key=lambda a: -a.behind)
    for account in lagging[:limit]:
        versions = " ".join(f"{account.read_models.get(n, 0):>30}" for n in names)
        print(f"  {account.account_id:<24} {account.head:>7} {versions}  {account.behind:>6}")
    if len(accounts) > limit:
        print(f"  … {len(accounts) - limit} more account(s), the most behind shown first")


def _head(dynamodb: Any, table: str, account_id: str) -> int:
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="accountId = :a",
        ExpressionAttributeValues={":a": {"S": account_id}},
        ProjectionExpression="version",
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )["Items"]
    return int(items[0]["version"]["N"]) if items else 0


def _heads(dynamodb: Any, table: str) -> Iterator[tuple[str, int]]:
    heads: dict[str, int] = {}
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="accountId, version"
    ):
        for item in page["Items"]:
            account, version = item["accountId"]["S"], int(item["version"]["N"])
            heads[account] = max(version, heads.get(account, 0))
    yield from heads.items()


def _oldest_unprojected(
    dynamodb: Any, table: str, accounts: list[AccountStatus]
) -> Unprojected | None:
    oldest: Unprojected | None = None
    for account in accounts:
        if account.behind <= 0:
            continue
        version = account.head - account.behind + 1
        item = dynamodb.get_item(
            TableName=table,
            Key={"accountId": {"S": account.account_id}, "version": {"N": str(version)}},
            ProjectionExpression="recordedAt",
        ).get("Item")
        if item is None:
            continue
        candidate = Unprojected(account.account_id, version, parse_time(item["recordedAt"]["S"]))
        if oldest is None or candidate.recorded_at < oldest.recorded_at:
            oldest = candidate
    return oldest


def dead_letter_depths(ledger: Ledger) -> dict[str, int]:
    sqs = ledger.client("sqs")
    depths: dict[str, int] = {}
    for url in dead_letter_queue_urls(ledger):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[url.rsplit("/", 1)[-1]] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths

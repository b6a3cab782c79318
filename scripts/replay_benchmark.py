"""Replay throughput on moto, in-process: seed N stored events, replay them all.

    .venv/bin/python -m scripts.replay_benchmark --events 100000 --segments 4

Seeds `--events` events (100 per account, 10 per month) straight into the events
table, in the stored form the commands write, then runs `ledger replay --all
--in-process` twice: as it ships (the last event of each account-month) and with
`--every-event`. Prints events read per second for each.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from moto import mock_aws

from banking.adapters.dynamodb import to_item
from banking.domain.account import Account, RecordCredit, decide, evolve
from banking.domain.money import Money
from banking.serialization import event_to_dict, snapshot_of
from scripts.ops.__main__ import main
from tests.support import create_ledger_tables

PER_ACCOUNT, PER_MONTH = 100, 10


def seed(client: Any, table: str, events: int) -> None:
    zone = ZoneInfo("UTC")
    batch: list[dict[str, Any]] = []
    for account_index in range(events // PER_ACCOUNT):
        state = Account(f"acct-{account_index:06d}")
        for index in range(PER_ACCOUNT):
            now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=3 * index)
            event = decide(
                state,
                RecordCredit(state.account_id, Money(100 + index)),
                event_id=f"{account_index}-{index}",
                now=now,
                overdraft_limit=Money(0),
            )
            state = evolve(state, event, zone)
            batch.append(
                {
                    "PutRequest": {
                        "Item": to_item({**event_to_dict(event), "snapshot": snapshot_of(state)})
                    }
                }
            )
            if len(batch) == 25:
                client.batch_write_item(RequestItems={table: batch})
                batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def run() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=4)
    args = parser.parse_args()
    # moto's fake credentials, so boto3 never looks for real ones.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106
        AWS_DEFAULT_REGION="eu-west-1",
    )
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        tables = create_ledger_tables(dynamodb, "ledger-bench")
        boto3.client("events", region_name="eu-west-1").create_event_bus(Name="ledger-bench")
        started = time.monotonic()
        seed(dynamodb, tables["events"], args.events)
        print(f"seeded {args.events} events in {time.monotonic() - started:.1f}s")
        for extra in ([], ["--every-event"]):
            started = time.monotonic()
            replay = ["replay", "--all", "--in-process", "--segments", str(args.segments), *extra]
            main(["--environment", "bench", "--endpoint-url", "", *replay])
            elapsed = time.monotonic() - started
            print(
                f"{' '.join(replay)}: {args.events / elapsed:,.0f} events read/s ({elapsed:.1f}s)"
            )


if __name__ == "__main__":
    run()

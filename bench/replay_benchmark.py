"""Replay throughput for N stored events: on the local runtime, or on moto in-process.

    .venv/bin/python -m bench.replay_benchmark --runtime local --events 100000 --segments 4
    .venv/bin/python -m bench.replay_benchmark --runtime moto --events 100000 --segments 4

Both seed `--events` events (100 per account: its opening, then credits, 10 per month)
straight into the events table, in the stored form the commands write: history older
than the stream's 24 hours, which only a replay can bring to the read models.

`--runtime local` starts a whole local system (`python -m scripts.local up`, in a
temporary state directory, on a free port) with the live stream mapping disabled
(`live_stream_enabled = false`), so the seeded history reaches the read models through
the replay alone. It then runs the operator's command, `scripts/ledger --environment
local replay --all --segments N`: each segment runs in the replay function in the
runtime's workers, invoked through the runtime's Lambda Invoke API, publishing to the
runtime's bus, whose rule invokes the projectors. It times the replay function's work
(events read per second), then the end to end: until every account's balance read
model holds its last version. `ledger verify` then checks every read model against a
fold of the events.

`--runtime moto` runs `ledger replay --all --in-process` twice on moto in-process: as
it ships (the last event of each account-month) and with `--every-event`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from moto import mock_aws

from banking.adapters.dynamodb import to_item
from banking.domain.account import Account, evolve
from banking.domain.commands import OpenAccount, RecordCredit
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.money import Money
from banking.serialization import event_to_dict, snapshot_of
from scripts.local.__main__ import down, up
from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.system import REPO, Settings, free_port
from scripts.local.tables import create_ledger_tables
from scripts.ops.__main__ import main

PER_ACCOUNT, PER_MONTH = 100, 10
PROJECTION_TIMEOUT_S = 3600


def seed(client: Any, table: str, events: int) -> None:
    zone = ZoneInfo("UTC")
    batch: list[dict[str, Any]] = []
    for account_index in range(events // PER_ACCOUNT):
        state = Account(f"acct-{account_index:06d}")
        for index in range(PER_ACCOUNT):
            now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=3 * index)
            command = (
                OpenAccount(state.account_id, Currency("EUR"), {state.account_id})
                if index == 0
                else RecordCredit(state.account_id, Money(100 + index))
            )
            event = decide(state, command, event_id=f"{account_index}-{index}", now=now)
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


def run_on_moto(events: int, segments: int) -> None:
    # moto's fake credentials, so boto3 never looks for real ones.
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "eu-west-1"})
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        tables = create_ledger_tables(dynamodb, "ledger-bench")
        boto3.client("events", region_name="eu-west-1").create_event_bus(Name="ledger-bench")
        started = time.monotonic()
        seed(dynamodb, tables["events"], events)
        print(f"seeded {events} events in {time.monotonic() - started:.1f}s")
        for extra in ([], ["--every-event"]):
            started = time.monotonic()
            replay = ["replay", "--all", "--in-process", "--segments", str(segments), *extra]
            main(["--environment", "bench", "--endpoint-url", "", *replay])
            elapsed = time.monotonic() - started
            print(f"{' '.join(replay)}: {events / elapsed:,.0f} events read/s ({elapsed:.1f}s)")


def run_on_local_runtime(events: int, segments: int) -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="ledger-replay-bench-"))
    settings = Settings(state_dir=state_dir, port=free_port())
    # Read by Terraform from the environment `up` hands down: no live path, so the seeded
    # history reaches the read models through the replay only.
    os.environ["TF_VAR_live_stream_enabled"] = "false"  # noqa: SIM112  (Terraform's case)
    started = time.monotonic()
    if up(settings) != 0:
        return 1
    print(f"local system up in {time.monotonic() - started:.1f}s ({state_dir})")
    try:
        for name, value in FAKE_CREDENTIALS.items():  # moto takes any
            os.environ.setdefault(name, value)
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=(state_dir / "moto-url").read_text().strip(),
            region_name=(state_dir / "region").read_text().strip(),
        )
        started = time.monotonic()
        seed(dynamodb, "ledger-local-events", events)
        print(f"seeded {events} events in {time.monotonic() - started:.1f}s")
        ledger = [str(REPO / "scripts" / "ledger"), "--environment", "local"]
        environment = {**os.environ, "LEDGER_LOCAL_DIR": str(state_dir)}
        replay = [*ledger, "replay", "--all", "--segments", str(segments)]
        print("$ " + " ".join(["scripts/ledger", *replay[1:]]), flush=True)
        started = time.monotonic()
        if subprocess.run(replay, env=environment, check=False).returncode != 0:
            print(f"the replay failed; the system's logs are in {state_dir / 'logs'}")
            return 1
        replayed = time.monotonic() - started
        print(f"replay function: {events / replayed:,.0f} events read/s ({replayed:.1f}s)")
        waited = wait_until_projected(dynamodb, events // PER_ACCOUNT)
        projected = replayed + waited
        print(
            f"end to end, until every balance holds its last version: "
            f"{events / projected:,.0f} events/s ({projected:.1f}s)",
            flush=True,
        )
        started = time.monotonic()
        verified = subprocess.run([*ledger, "verify"], env=environment, check=False)
        print(f"ledger verify: {time.monotonic() - started:.1f}s")
        return verified.returncode
    finally:
        down(settings)


def wait_until_projected(dynamodb: Any, accounts: int) -> float:
    """Seconds until every account's total balance is at its last version."""
    started = time.monotonic()
    while time.monotonic() - started < PROJECTION_TIMEOUT_S:
        done = _balances_at(dynamodb, PER_ACCOUNT)
        if done >= accounts:
            return time.monotonic() - started
        print(f"  projected {done}/{accounts} accounts", flush=True)
        time.sleep(5)
    raise SystemExit(f"not every account was projected within {PROJECTION_TIMEOUT_S}s")


def _balances_at(dynamodb: Any, version: int) -> int:
    request: dict[str, Any] = {
        "TableName": "ledger-local-projections",
        "FilterExpression": "readModel = :name AND lastKnownVersion = :version",
        "ExpressionAttributeValues": {
            ":name": {"S": "TotalBalanceForProfile"},
            ":version": {"N": str(version)},
        },
        "Select": "COUNT",
    }
    count = 0
    for page in dynamodb.get_paginator("scan").paginate(**request):
        count += page["Count"]
    return count


def run() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replay_benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runtime", choices=["local", "moto"], default="local")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=4)
    args = parser.parse_args()
    if args.runtime == "moto":
        run_on_moto(args.events, args.segments)
        return 0
    return run_on_local_runtime(args.events, args.segments)


if __name__ == "__main__":
    sys.exit(run())

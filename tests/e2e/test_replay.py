"""Replay and rebuild on the whole local system, as an operator runs them: `scripts/ledger`
invokes the replay function through the runtime's Lambda Invoke API, the function
publishes to the bus, and the bus's rule invokes the projectors."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from banking.domain.read_models import MONTHLY_STATEMENT
from scripts.local.system import REPO
from tests.e2e.conftest import Api, eventually
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

LIVE_TRAFFIC_S = 25


def ledger(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ledger"), "--environment", "local", *args],
        env={**os.environ, "LEDGER_LOCAL_DIR": str(system.state_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def test_lost_read_models_come_back_from_a_replay_of_the_account(
    api: Api, account: str, system: System
) -> None:
    # GIVEN an opened account whose read models hold its three credits (versions 2-4)
    for amount in ("10.00", "20.00", "30.00"):
        assert api.credit(account, amount).status_code == 201
    api.balance_at(account, 4)
    # WHEN every read model of the account is lost
    projections = system.ledger()
    dynamodb = projections.client("dynamodb")
    items = dynamodb.query(
        TableName=projections.projections_table,
        KeyConditionExpression="accountId = :a",
        ExpressionAttributeValues={":a": {"S": account}},
    )["Items"]
    assert len(items) == 3  # total, current month, this month's statement
    for item in items:
        key = {"accountId": item["accountId"], "readModel": item["readModel"]}
        dynamodb.delete_item(TableName=projections.projections_table, Key=key)
    # (an opened account the read models do not know reads zeros at version 0)
    assert api.get(f"/accounts/{account}/balance").json()["version"] == 0

    # AND the operator replays the account
    done = ledger(system, "replay", "--account", account)

    # THEN the replay function read its 4 events (the opening too) and published the
    # month's last one, and every read model is back, equal to a fold of the events
    assert done.returncode == 0, done.stdout + done.stderr
    assert "read 4 events" in done.stdout
    assert "published 1," in done.stdout
    assert api.balance_at(account, 4)["totalBalance"] == "60.00"
    statement = api.get(f"/accounts/{account}/statements/{this_month()}").json()
    assert (statement["totalCredits"], statement["eventCount"]) == ("60.00", 3)
    verified = ledger(system, "verify", "--account", account)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_rebuild_during_live_traffic_switches_readers_to_a_complete_generation(
    api: Api, account: str, system: System
) -> None:
    # GIVEN an account with history, and credits still arriving while the rebuild runs
    assert api.credit(account, "5.00").status_code == 201
    api.balance_at(account, 2)
    stop = threading.Event()
    sent: list[int] = []
    # Through the rebuild's pointer wait (20 s) and into its replay.
    until = time.monotonic() + LIVE_TRAFFIC_S

    def live_traffic() -> None:
        while not stop.wait(0.5) and time.monotonic() < until:
            response = api.credit(account, "1.00")
            assert response.status_code == 201, response.text
            sent.append(response.json()["version"])

    traffic = threading.Thread(target=live_traffic)
    traffic.start()
    try:
        # WHEN the statements are rebuilt into a new generation (the whole system's)
        done = ledger(
            system, "rebuild", "--projection", MONTHLY_STATEMENT, "--segments", "2", "--verify"
        )
    finally:
        stop.set()
        traffic.join()

    # THEN readers were switched to it, and it holds every event, the live ones too
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{MONTHLY_STATEMENT}: readers now read generation" in done.stdout
    assert sent, "no live credit was sent during the rebuild"
    last = max(sent)
    api.balance_at(account, last)
    statement = eventually(
        lambda: _statement_at(api, account, last), f"the statement at version {last}"
    )
    assert statement["totalCredits"] == f"{5 + len(sent)}.00"
    verified = ledger(system, "verify", "--account", account)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _statement_at(api: Api, account: str, version: int) -> dict[str, Any] | None:
    response = api.get(f"/accounts/{account}/statements/{this_month()}")
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 and body["version"] == version else None

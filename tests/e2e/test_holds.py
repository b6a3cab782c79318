"""Holds end to end, over HTTP only, on the local runtime: placed, captured (in part,
into another account), voided, refused twice or after expiry, and released by the
expirer the runtime runs on its schedule.

This module starts a system of its own with LEDGER_EXPIRER_INTERVAL=1, so the expirer
runs every second instead of every minute and an expiry is seen within seconds; the
clock itself is never faked here (the unit and integration tests inject one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.e2e.conftest import (
    MANAGE_SCOPE,
    READ_ANY_SCOPE,
    WRITE_SCOPE,
    Api,
    error_code,
    eventually,
    new_account_id,
    new_key,
)
from tests.local_system import System, local_system

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def holds_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    environment = {"LEDGER_EXPIRER_INTERVAL": "1"}
    with local_system(tmp_path_factory.mktemp("holds-system"), environment) as started:
        yield started


@pytest.fixture(scope="module")
def api(holds_system: System) -> Api:
    token = holds_system.token("e2e-holds", WRITE_SCOPE, READ_ANY_SCOPE, MANAGE_SCOPE)
    return Api(holds_system.api_url, token)


def funded(api: Api, amount: str) -> str:
    account = api.opened(new_account_id())
    assert api.credit(account, amount).status_code == 201
    return account


def place(
    api: Api, account: str, amount: str, expires_in: int = 3600, key: str | None = None
) -> requests.Response:
    body = {"amount": amount, "expiresIn": expires_in}
    return api.post(
        f"/accounts/{account}/holds", body, headers={"Idempotency-Key": key or new_key()}
    )


def act(api: Api, hold_id: str, action: str, body: Any = None, key: str | None = None):
    return api.post(
        f"/holds/{hold_id}/{action}", body, headers={"Idempotency-Key": key or new_key()}
    )


def balances(api: Api, account: str, version: int) -> tuple[str, str, str]:
    balance = api.balance_at(account, version)
    return balance["totalBalance"], balance["heldBalance"], balance["availableBalance"]


def test_a_hold_reserves_then_a_partial_capture_debits_and_releases_the_rest(api):
    # GIVEN an account with 100.00
    account = funded(api, "100.00")
    # WHEN 30.00 is held
    placed = place(api, account, "30.00")
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["accountId"], hold["amount"], hold["version"]) == (account, "30.00", 3)
    # THEN the balance is whole, 30.00 held and 70.00 available
    assert balances(api, account, 3) == ("100.00", "30.00", "70.00")
    # WHEN 10.00 of it is captured
    captured = act(api, hold["holdId"], "capture", {"amount": "10.00"})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured"
    # THEN 10.00 was debited and the remaining 20.00 is available again
    assert balances(api, account, 4) == ("90.00", "0.00", "90.00")
    debit = api.events(account)[-1]
    assert (debit["type"], debit["holdId"], debit["amount"]) == (
        "DebitEvent",
        hold["holdId"],
        "10.00",
    )


def test_a_capture_into_another_account_credits_it(api):
    payer, payee = funded(api, "50.00"), api.opened(new_account_id())
    hold = place(api, payer, "20.00").json()
    captured = act(api, hold["holdId"], "capture", {"to": payee})
    assert captured.status_code == 200, captured.text
    assert balances(api, payee, 2) == ("20.00", "0.00", "20.00")
    transfer = api.get(f"/transfers/{captured.json()['transferId']}")
    assert transfer.status_code == 200
    assert transfer.json()["postings"][0]["to"] == payee


def test_a_voided_hold_is_released_and_cannot_be_captured(api):
    account = funded(api, "50.00")
    hold = place(api, account, "20.00").json()
    voided = act(api, hold["holdId"], "void")
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    assert balances(api, account, 4) == ("50.00", "0.00", "50.00")
    again = act(api, hold["holdId"], "capture")
    assert (again.status_code, error_code(again)) == (409, "hold_not_pending")


def test_a_second_capture_is_409_and_stores_nothing(api):
    account = funded(api, "50.00")
    hold = place(api, account, "20.00").json()
    assert act(api, hold["holdId"], "capture").status_code == 200
    again = act(api, hold["holdId"], "capture")
    assert (again.status_code, error_code(again)) == (409, "hold_not_pending")
    assert len(api.events(account)) == 4


def test_a_retried_request_with_its_key_is_stored_once(api):
    account = funded(api, "50.00")
    first, second = (place(api, account, "20.00", key="place-once") for _ in range(2))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    captures = [act(api, first.json()["holdId"], "capture", key="capture-once") for _ in range(2)]
    assert captures[0].json() == captures[1].json()
    assert [e["type"] for e in api.events(account)] == [
        "AccountOpened",
        "CreditEvent",
        "HoldPlaced",
        "DebitEvent",
    ]


def test_the_available_balance_refuses_a_debit_and_another_hold(api):
    account = funded(api, "50.00")
    assert place(api, account, "40.00").status_code == 201
    debit = api.debit(account, "20.00")
    assert (debit.status_code, error_code(debit)) == (422, "insufficient_funds")
    other = place(api, account, "20.00")
    assert (other.status_code, error_code(other)) == (422, "insufficient_funds")


def test_an_expired_hold_is_refused_before_and_released_by_the_expirer(api):
    # GIVEN a hold of 2 seconds
    account = funded(api, "50.00")
    hold = place(api, account, "20.00", expires_in=2).json()
    # WHEN it is captured once its time is up
    time.sleep(2.1)
    late = act(api, hold["holdId"], "capture")
    # THEN it is refused as expired (whether the expirer has run yet or not)
    assert (late.status_code, error_code(late)) == (422, "hold_expired")
    # AND the expirer releases it: HoldExpired is stored and the money is available again
    expired = eventually(
        lambda: (
            (found := api.get(f"/holds/{hold['holdId']}").json())["status"] == "expired" and found
        )
        or None,
        "the expirer to release the hold",
    )
    assert expired["resolvedVersion"] == 4
    assert [e["type"] for e in api.events(account)][-1] == "HoldExpired"
    assert balances(api, account, 4) == ("50.00", "0.00", "50.00")
    listed = api.get(f"/accounts/{account}/holds", status="expired").json()["holds"]
    assert [h["holdId"] for h in listed] == [hold["holdId"]]


def test_money_is_exact_across_many_holds(api):
    account = funded(api, "1.00")
    for _ in range(3):
        hold = place(api, account, "0.10").json()
        assert act(api, hold["holdId"], "capture", {"amount": "0.05"}).status_code == 200
    total = Decimal(api.balance_at(account, 8)["availableBalance"])
    assert total == Decimal("0.85")

"""Transfers end to end, over HTTP only, on the local runtime: money moved between
accounts, both legs or neither; every refusal a 4xx with its code that stores nothing;
many concurrent transfers in both directions neither deadlock nor lose an update."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.e2e.conftest import (
    BACK_OFFICE,
    Api,
    error_code,
    new_account_id,
    new_key,
)
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

THREADS = 6
TRANSFERS_PER_THREAD = 4
# A transfer's threads finish well within this unless something waits forever.
DEADLOCK_S = 300
# On a small shared machine a burst of transfers can outlast the client's timeout; a
# client then sends the transfer again with its key, which stores it at most once.
SEND_ATTEMPTS = 4


def funded(api: Api, amount: str, currency: str = "EUR") -> str:
    """A new account holding `amount` (version 2)."""
    account = api.opened(new_account_id(), currency)
    assert api.credit(account, amount).status_code == 201
    return account


def answered(api: Api, source: str, target: str, amount: str) -> requests.Response:
    """The transfer's answer, sent again with the same key after no answer or a 5xx."""
    key = {"Idempotency-Key": new_key()}
    for _ in range(SEND_ATTEMPTS - 1):
        try:
            response = api.transfer(source, target, amount, headers=key)
        except requests.RequestException:
            continue
        if response.status_code < 500:
            return response
    return api.transfer(source, target, amount, headers=key)


def heads(api: Api, *accounts: str) -> list[int]:
    """Each account's last stored version: what a refusal must leave unchanged."""
    return [len(api.events(account)) for account in accounts]


def test_a_transfer_moves_money_and_both_accounts_show_their_leg(api: Api, system: System) -> None:
    # GIVEN two accounts, one holding 100.00
    source, target = funded(api, "100.00"), api.opened(new_account_id())

    # WHEN 30.00 is transferred from one to the other
    response = api.post(
        "/transfers",
        {"from": source, "to": target, "amount": "30", "description": "rent share"},
        headers={"Idempotency-Key": new_key()},
    )

    # THEN the answer names the transfer and where each leg is stored
    assert response.status_code == 201, response.text
    transfer = response.json()
    transfer_id = transfer["transferId"]
    assert (transfer["amount"], transfer["currency"]) == ("30.00", "EUR")
    assert transfer["description"] == "rent share"
    assert transfer["postings"] == [
        {"from": source, "to": target, "amount": "30.00", "currency": "EUR"}
    ]
    legs = transfer["legs"]
    assert [(leg["accountId"], leg["version"], leg["type"]) for leg in legs] == [
        (source, 3, "DebitEvent"),
        (target, 2, "CreditEvent"),
    ]
    # AND both balances reach the versions answered
    assert api.balance_at(source, 3)["totalBalance"] == "70.00"
    assert api.balance_at(target, 2)["totalBalance"] == "30.00"
    # AND each history shows its leg, with the transfer and the counterparty
    for leg, counterparty in zip(legs, (target, source), strict=True):
        stored = api.events(leg["accountId"])[-1]
        assert stored["eventId"] == leg["eventId"]
        assert stored["transferId"] == transfer_id
        assert stored["counterparty"] == counterparty
        assert stored["amount"] == "30.00"
        assert stored["recordedBy"] == BACK_OFFICE
    # AND the transfer reads back as it was answered
    read = api.get(f"/transfers/{transfer_id}")
    assert (read.status_code, read.json()) == (200, transfer)


def test_a_transfer_retried_with_its_key_is_stored_once(api: Api) -> None:
    # GIVEN a transfer made with an idempotency key
    source, target = funded(api, "10.00"), api.opened(new_account_id())
    key = {"Idempotency-Key": new_key()}
    first = api.transfer(source, target, "4.00", headers=key)
    assert first.status_code == 201

    # WHEN the client retries it, then reuses the key for another amount
    retry = api.transfer(source, target, "4.00", headers=key)
    reused = api.transfer(source, target, "5.00", headers=key)

    # THEN the retry answers the first answer, the reuse a 409; one transfer is stored
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert (reused.status_code, error_code(reused)) == (409, "idempotency_key_reused")
    assert heads(api, source, target) == [3, 2]


def test_a_transfer_without_an_idempotency_key_is_refused(api: Api) -> None:
    source, target = funded(api, "10.00"), api.opened(new_account_id())

    response = api.post("/transfers", {"from": source, "to": target, "amount": "1.00"})

    assert (response.status_code, error_code(response)) == (400, "idempotency_key_required")
    assert heads(api, source, target) == [2, 1]


def _refusal(api: Api, case: str) -> tuple[dict[str, Any], list[str]]:
    """A transfer refused for `case`, and the accounts it must leave untouched."""
    source = funded(api, "10.00")
    target = api.opened(new_account_id())
    if case == "same account":
        return {"from": source, "to": source, "amount": "1.00"}, [source]
    if case == "unknown target":
        return {"from": source, "to": new_account_id(), "amount": "1.00"}, [source]
    if case == "unknown source":
        return {"from": new_account_id(), "to": target, "amount": "1.00"}, [target]
    if case == "other currency":
        dollars = api.opened(new_account_id(), "USD")
        return {"from": source, "to": dollars, "amount": "1.00"}, [source, dollars]
    if case == "frozen target":
        assert api.post(f"/accounts/{target}/freeze").status_code == 200
    if case == "frozen source":
        assert api.post(f"/accounts/{source}/freeze").status_code == 200
    if case == "closed target":
        assert api.post(f"/accounts/{target}/close").status_code == 200
    if case == "too much":
        return {"from": source, "to": target, "amount": "10.01"}, [source, target]
    if case == "too precise":
        return {"from": source, "to": target, "amount": "1.001"}, [source, target]
    return {"from": source, "to": target, "amount": "1.00"}, [source, target]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("same account", 400, "invalid_request"),
        ("unknown target", 404, "account_not_found"),
        ("unknown source", 404, "account_not_found"),
        ("other currency", 422, "currency_mismatch"),
        ("frozen target", 422, "account_frozen"),
        ("frozen source", 422, "account_frozen"),
        ("closed target", 422, "account_closed"),
        ("too much", 422, "insufficient_funds"),
        ("too precise", 400, "invalid_amount"),
    ],
)
def test_a_refused_transfer_says_why_and_stores_nothing(
    api: Api, case: str, status: int, code: str
) -> None:
    # GIVEN accounts set up for the case
    body, accounts = _refusal(api, case)
    before = heads(api, *accounts)

    # WHEN the transfer is posted
    response = api.post("/transfers", body, headers={"Idempotency-Key": new_key()})

    # THEN it is refused with its code, and no account got a leg
    assert (response.status_code, error_code(response)) == (status, code), response.text
    assert heads(api, *accounts) == before
    for never_opened in {body["from"], body["to"]} - set(accounts):
        assert api.events(never_opened) == []  # a typo opens nothing


def test_a_transfer_with_several_postings_stores_every_leg_in_one_answer(api: Api) -> None:
    # GIVEN a customer holding 100.00, a merchant and the bank's fee account
    customer, merchant, fees = (
        funded(api, "100.00"),
        api.opened(new_account_id()),
        api.opened(new_account_id()),
    )

    # WHEN a payment of 40.00 and its 0.50 fee are posted as one transfer
    response = api.transfer_postings([(customer, merchant, "40.00"), (customer, fees, "0.50")])

    # THEN four legs are stored: the customer's two debits at consecutive versions
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert [(leg["accountId"], leg["version"], leg["type"]) for leg in transfer["legs"]] == [
        (customer, 3, "DebitEvent"),
        (merchant, 2, "CreditEvent"),
        (customer, 4, "DebitEvent"),
        (fees, 2, "CreditEvent"),
    ]
    assert "amount" not in transfer  # only a one-posting transfer has one amount
    assert api.balance_at(customer, 4)["totalBalance"] == "59.50"
    assert api.balance_at(merchant, 2)["totalBalance"] == "40.00"
    assert api.balance_at(fees, 2)["totalBalance"] == "0.50"


def test_a_transfer_is_judged_with_all_its_postings_applied(api: Api) -> None:
    # GIVEN an account holding 10.00 and two empty ones
    rich, poor, other = (
        funded(api, "10.00"),
        api.opened(new_account_id()),
        api.opened(new_account_id()),
    )

    # WHEN one transfer takes 8.00 and 3.00 from it: each fits alone, not both
    overdrawn = api.transfer_postings([(rich, poor, "8.00"), (rich, other, "3.00")])

    # THEN all of it is refused, and no posting of it is stored
    assert (overdrawn.status_code, error_code(overdrawn)) == (422, "insufficient_funds")
    assert heads(api, rich, poor, other) == [2, 1, 1]

    # WHEN an empty account is credited and debited within one transfer
    passed_on = api.transfer_postings([(rich, poor, "6.00"), (poor, other, "6.00")])

    # THEN it is judged on the net, which is zero: accepted
    assert passed_on.status_code == 201, passed_on.text
    assert api.balance_at(poor, 3)["totalBalance"] == "0.00"
    assert api.balance_at(other, 2)["totalBalance"] == "6.00"


def test_a_transfer_with_one_bad_posting_stores_none_of_them(api: Api) -> None:
    # GIVEN a funded account, an open one and a frozen one
    source, target, frozen = (
        funded(api, "50.00"),
        api.opened(new_account_id()),
        api.opened(new_account_id()),
    )
    assert api.post(f"/accounts/{frozen}/freeze").status_code == 200
    before = heads(api, source, target, frozen)

    # WHEN the last of three postings goes to an unknown account, or a frozen one
    unknown = api.transfer_postings(
        [(source, target, "1.00"), (source, target, "2.00"), (source, new_account_id(), "3.00")]
    )
    to_frozen = api.transfer_postings([(source, target, "1.00"), (source, frozen, "2.00")])

    # THEN each is refused whole
    assert (unknown.status_code, error_code(unknown)) == (404, "account_not_found")
    assert (to_frozen.status_code, error_code(to_frozen)) == (422, "account_frozen")
    assert heads(api, source, target, frozen) == before


@pytest.mark.parametrize("postings", [0, 11])
def test_a_transfer_has_one_to_ten_postings(api: Api, postings: int) -> None:
    source, target = funded(api, "100.00"), api.opened(new_account_id())

    response = api.transfer_postings([(source, target, "1.00")] * postings)

    assert (response.status_code, error_code(response)) == (400, "invalid_request")
    assert heads(api, source, target) == [2, 1]


def test_a_transfer_is_read_by_an_owner_of_either_side_and_nobody_else(
    api: Api, system: System
) -> None:
    # GIVEN a transfer between an account of ann and one of bob
    source = api.opened(new_account_id(), owners=["ann"])
    target = api.opened(new_account_id(), owners=["bob"])
    assert api.credit(source, "5.00").status_code == 201
    posted = api.transfer(source, target, "5.00")
    assert posted.status_code == 201
    path = f"/transfers/{posted.json()['transferId']}"

    # WHEN ann, bob and a stranger read it
    ann, bob, stranger = (
        api.as_(system.token(name)).get(path) for name in ("ann", "bob", "mallory")
    )

    # THEN both owners read it; the stranger is forbidden
    assert (ann.status_code, ann.json()) == (200, posted.json())
    assert (bob.status_code, bob.json()) == (200, posted.json())
    assert (stranger.status_code, error_code(stranger)) == (403, "forbidden")


def test_an_unknown_transfer_is_not_found(api: Api) -> None:
    response = api.get(f"/transfers/{new_key()}")

    assert (response.status_code, error_code(response)) == (404, "transfer_not_found")


def test_concurrent_transfers_in_both_directions_neither_deadlock_nor_lose_an_update(
    api: Api,
) -> None:
    # GIVEN two accounts holding 100.00 each
    left, right = funded(api, "100.00"), funded(api, "100.00")

    # WHEN many threads transfer between them at once, in both directions
    answers: list[tuple[str, str, Decimal, requests.Response]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        for n in range(TRANSFERS_PER_THREAD):
            source, target = (left, right) if (seed + n) % 2 else (right, left)
            amount = Decimal(rng.randint(1, 2500)) / 100
            response = answered(api, source, target, f"{amount:.2f}")
            with lock:
                answers.append((source, target, amount, response))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLOCK_S)

    # THEN every thread finished, and every transfer was stored or refused for funds
    assert not any(thread.is_alive() for thread in threads), "transfers still waiting"
    assert len(answers) == THREADS * TRANSFERS_PER_THREAD
    outcomes = {(r.status_code, r.json().get("error", {}).get("code")) for *_, r in answers}
    assert outcomes <= {(201, None), (422, "insufficient_funds")}, outcomes
    stored = [(s, t, a, r.json()) for s, t, a, r in answers if r.status_code == 201]
    assert stored

    # AND each account's history holds exactly the stored legs, versions without a gap
    for account in (left, right):
        events = api.events(account)
        assert [e["version"] for e in events] == list(range(1, len(events) + 1))
        legs = {e["transferId"] for e in events if e.get("transferId")}
        assert legs == {t["transferId"] for *_, t in stored}

    # AND no update was lost: each balance is its start plus what it received minus
    # what it sent, and together they still hold the 200.00 they started with
    def expected(account: str) -> Decimal:
        received = sum(a for _, t, a, _ in stored if t == account)
        sent = sum(a for s, _, a, _ in stored if s == account)
        return Decimal("100.00") + received - sent

    final = {account: len(api.events(account)) for account in (left, right)}
    balances = {a: Decimal(api.balance_at(a, v)["totalBalance"]) for a, v in final.items()}
    assert balances == {account: expected(account) for account in (left, right)}
    assert sum(balances.values()) == Decimal("200.00")
    assert all(balance >= 0 for balance in balances.values())

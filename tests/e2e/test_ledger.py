"""The ledger end to end, over HTTP only, on the local runtime."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import BACK_OFFICE, Api, new_key

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_credits_and_debits_are_stored_and_the_balance_converges(api: Api, account: str) -> None:
    # GIVEN a new account (opened: version 1)
    # WHEN it is credited twice and debited once
    first = api.credit(account, "100.00")
    second = api.post(
        f"/accounts/{account}/credits",
        {"amount": 5.5, "description": "refund"},
        headers={"Idempotency-Key": new_key()},
    )
    third = api.debit(account, "30.25")

    # THEN each command answers with the stored event, at consecutive versions
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    created = first.json()
    assert set(created) == {
        "accountId",
        "eventId",
        "type",
        "version",
        "amount",
        "currency",
        "description",
        "recordedAt",
        "recordedBy",
    }
    assert created["accountId"] == account
    assert created["type"] == "CreditEvent"
    assert created["amount"] == "100.00"
    assert created["currency"] == "EUR"
    assert created["recordedBy"] == BACK_OFFICE
    assert second.json()["amount"] == "5.50"
    assert second.json()["description"] == "refund"
    assert third.json()["type"] == "DebitEvent"
    assert [r.json()["version"] for r in (first, second, third)] == [2, 3, 4]

    # AND the read models catch up with all three events
    balance = api.balance_at(account, 4)
    assert balance == {
        "accountId": account,
        "currency": "EUR",
        "totalBalance": "75.25",
        "currentMonthBalance": "75.25",
        "month": datetime.now(UTC).strftime("%Y-%m"),
        "version": 4,
        "heldBalance": "0.00",
        "availableBalance": "75.25",
    }


def test_an_account_never_opened_has_no_balance(api: Api, unopened: str) -> None:
    response = api.get(f"/accounts/{unopened}/balance")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "account_not_found"


@pytest.mark.parametrize("kind", ["credits", "debits"])
def test_a_posting_to_an_account_never_opened_is_refused_and_opens_nothing(
    api: Api, unopened: str, kind: str
) -> None:
    # WHEN money is posted to an id that was never opened (a typo, say)
    response = api.post(
        f"/accounts/{unopened}/{kind}", {"amount": "1.00"}, headers={"Idempotency-Key": new_key()}
    )

    # THEN it is refused, and the id still names no account
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "account_not_found"
    assert api.events(unopened) == []
    assert api.get(f"/accounts/{unopened}").status_code == 404


def test_history_is_paginated_in_version_order(api: Api, account: str) -> None:
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        assert api.credit(account, amount).status_code == 201

    pages = []
    after = None
    while True:
        params = {"limit": 2, **({"after": after} if after is not None else {})}
        response = api.get(f"/accounts/{account}/events", **params)
        assert response.status_code == 200
        page = response.json()
        pages.append([e["version"] for e in page["events"]])
        after = page["nextAfter"]
        if after is None:
            break

    assert pages[:3] == [[1, 2], [3, 4], [5, 6]]
    assert [e["type"] for e in api.events(account)][:1] == ["AccountOpened"]
    assert [e["amount"] for e in api.postings(account)] == ["1.00", "2.00", "3.00", "4.00", "5.00"]


def test_a_retried_command_with_the_same_idempotency_key_stores_nothing_new(
    api: Api, account: str
) -> None:
    # GIVEN a credit made with an idempotency key
    key = {"Idempotency-Key": f"key-{account}"}
    first = api.credit(account, "10.00", headers=key)
    assert first.status_code == 201

    # WHEN the client retries it, then reuses the key for another body
    retry = api.credit(account, "10.00", headers=key)
    reused = api.credit(account, "99.00", headers=key)

    # THEN the retry gets the first answer again, the reuse a 409, and one event is stored
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert len(api.postings(account)) == 1


def test_concurrent_debits_never_overdraw_the_account(api: Api, account: str) -> None:
    # GIVEN an account holding 100.00
    assert api.credit(account, "100.00").status_code == 201

    # WHEN 20 debits of 10.00 arrive at the same time
    responses: list[requests.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def debit() -> None:
        barrier.wait()
        response = api.debit(account, "10.00")
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=debit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN exactly 10 succeed and the others are refused for insufficient funds
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [422] * 10
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 422]
    assert set(refused) == {"insufficient_funds"}
    # AND the stored versions are 1..12 (the opening, the credit, ten debits) without a
    # gap, and the balance ends at 0.00
    assert [e["version"] for e in api.events(account)] == list(range(1, 13))
    balance = api.balance_at(account, 12)
    assert balance["totalBalance"] == "0.00"
    assert balance["version"] == 12


def test_a_debit_beyond_the_balance_is_refused_and_stores_nothing(api: Api, account: str) -> None:
    assert api.credit(account, "5.00").status_code == 201

    response = api.debit(account, "5.01")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert len(api.postings(account)) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"amount": "0"}', 400, "invalid_amount"),
        (b'{"amount": "-1.00"}', 400, "invalid_amount"),
        (b'{"amount": "1.001"}', 400, "invalid_amount"),
        (b'{"amount": "1000000000.01"}', 400, "invalid_amount"),
        (b'{"amount": "abc"}', 400, "invalid_amount"),
        (b'{"amount": "1.00", "colour": "red"}', 400, "invalid_request"),
        (b'{"amount": "1.00", "description": 5}', 400, "invalid_request"),
        (b'{"amount": "1.00", "description": "' + b"x" * 141 + b'"}', 400, "invalid_request"),
        (b'{"amount": "1.00", "description": "' + b"x" * 17000 + b'"}', 413, "payload_too_large"),
    ],
)
def test_a_bad_command_is_rejected_with_its_code_and_stores_nothing(
    api: Api, account: str, body: bytes, status: int, code: str
) -> None:
    response = api.post(
        f"/accounts/{account}/credits", raw=body, headers={"Idempotency-Key": new_key()}
    )

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert api.postings(account) == []
    assert len(api.events(account)) == 1


def test_an_invalid_account_id_is_rejected(api: Api) -> None:
    response = api.credit("not%20valid!", "1.00")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_account_id"


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"after": "-1"}])
def test_bad_history_parameters_are_rejected(
    api: Api, account: str, query: dict[str, object]
) -> None:
    assert api.credit(account, "1.00").status_code == 201

    response = api.get(f"/accounts/{account}/events", **query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_an_unknown_route_is_not_found(api: Api) -> None:
    response = api.request("GET", "/nowhere")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_known_path_with_another_method_is_not_allowed(api: Api) -> None:
    response = api.request("DELETE", "/accounts/a1/credits")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"

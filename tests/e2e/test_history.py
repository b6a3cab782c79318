"""An account's past and its corrections end to end, over HTTP only, on the local
runtime (issue 14): balances as of several instants, events between two instants page
by page, reversals of a credit and of a transfer (once only, and under the funds rule),
and a month's statement as CSV read back with the csv module."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Api, error_code, new_account_id, new_key

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def posted(api: Api, account: str, kind: str, amount: str, description: str) -> dict[str, Any]:
    response = api.post(
        f"/accounts/{account}/{kind}",
        {"amount": amount, "description": description},
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def reverse(api: Api, path: str, key: str | None = None) -> Any:
    return api.post(f"{path}/reversal", headers={"Idempotency-Key": key or new_key()})


def balance_then(api: Api, account: str, at: str) -> Any:
    return api.get(f"/accounts/{account}/balance", at=at)


def earlier(recorded_at: str) -> str:
    moment = datetime.fromisoformat(recorded_at) - timedelta(microseconds=1)
    return moment.isoformat()


def test_the_balance_at_several_instants_is_the_one_stored_then(api: Api) -> None:
    # GIVEN an account credited 10.00 and 5.00, then debited 3.00
    account = api.opened(new_account_id())
    first = posted(api, account, "credits", "10.00", "salary")
    second = posted(api, account, "credits", "5.00", "bonus")
    third = posted(api, account, "debits", "3.00", "coffee")
    opened_at = api.get(f"/accounts/{account}").json()["openedAt"]
    # WHEN its balance is asked for at each event's instant and just before it
    # THEN each is the balance right after the last event at or before that instant,
    # at once (read from the events table, not the read models)
    for at, total, version in [
        (first["recordedAt"], "10.00", 2),
        (earlier(second["recordedAt"]), "10.00", 2),
        (second["recordedAt"], "15.00", 3),
        (third["recordedAt"], "12.00", 4),
    ]:
        response = balance_then(api, account, at)
        assert response.status_code == 200, response.text
        assert (response.json()["totalBalance"], response.json()["version"]) == (total, version)
    # AND before the account was opened it did not exist
    before = balance_then(api, account, earlier(opened_at))
    assert (before.status_code, error_code(before)) == (404, "account_not_found")


def test_events_between_two_instants_are_paged(api: Api) -> None:
    # GIVEN an account with four credits
    account = api.opened(new_account_id())
    answers = [posted(api, account, "credits", f"{n}.00", f"credit {n}") for n in range(1, 5)]
    # WHEN the events from the second credit (inclusive) to the fourth (exclusive) are
    # read one per page
    window = {"from": answers[1]["recordedAt"], "to": answers[3]["recordedAt"], "limit": 1}
    pages, after = [], None
    while True:
        response = api.get(
            f"/accounts/{account}/events", **window, **({"after": after} if after else {})
        )
        assert response.status_code == 200, response.text
        pages.append([event["version"] for event in response.json()["events"]])
        after = response.json()["nextAfter"]
        if after is None:
            break
    # THEN they are the second and third credits, a page each
    assert [version for page in pages for version in page] == [3, 4]
    assert pages[0] == [3]
    # AND a window that ends before it starts is refused
    backwards = api.get(
        f"/accounts/{account}/events", **{"from": window["to"], "to": window["from"]}
    )
    assert (backwards.status_code, error_code(backwards)) == (400, "invalid_request")


def test_a_credit_is_reversed_once_and_the_history_shows_both(api: Api) -> None:
    # GIVEN an account credited 10.00 (version 2)
    account = api.opened(new_account_id())
    posted(api, account, "credits", "10.00", "paid twice")
    # WHEN the credit is reversed, then reversed again with another key
    reversal = reverse(api, f"/accounts/{account}/events/2")
    again = reverse(api, f"/accounts/{account}/events/2")
    # THEN a debit of 10.00 names it; the second is refused; both entries stay
    assert reversal.status_code == 201, reversal.text
    body = reversal.json()
    assert (body["type"], body["amount"], body["version"]) == ("DebitEvent", "10.00", 3)
    assert body["reverses"] == {"accountId": account, "version": 2}
    assert (again.status_code, error_code(again)) == (409, "already_reversed")
    assert [e["type"] for e in api.postings(account)] == ["CreditEvent", "DebitEvent"]
    # AND the read models fold it like any posting
    assert api.balance_at(account, 3)["totalBalance"] == "0.00"


def test_a_credit_already_spent_is_not_reversed(api: Api) -> None:
    # GIVEN 10.00 credited and 8.00 of it debited
    account = api.opened(new_account_id())
    posted(api, account, "credits", "10.00", "refund")
    posted(api, account, "debits", "8.00", "spent")
    # WHEN the credit is reversed
    refused = reverse(api, f"/accounts/{account}/events/2")
    # THEN it is refused as a debit would be, storing nothing
    assert (refused.status_code, error_code(refused)) == (422, "insufficient_funds")
    assert len(api.events(account)) == 3


def test_a_transfer_is_reversed_whole_at_most_once(api: Api) -> None:
    # GIVEN alice paid bob 4.00
    alice, bob = api.opened(new_account_id()), api.opened(new_account_id())
    posted(api, alice, "credits", "10.00", "salary")
    paid = api.transfer(alice, bob, "4.00")
    assert paid.status_code == 201, paid.text
    transfer_id = paid.json()["transferId"]
    # WHEN the transfer is reversed, and then again
    reversal = reverse(api, f"/transfers/{transfer_id}")
    again = reverse(api, f"/transfers/{transfer_id}")
    # THEN the money is back, each new leg naming the leg it reverses; once only
    assert reversal.status_code == 201, reversal.text
    body = reversal.json()
    assert body["reverses"] == transfer_id
    assert (body["postings"][0]["from"], body["postings"][0]["to"]) == (bob, alice)
    assert (again.status_code, error_code(again)) == (409, "already_reversed")
    bob_leg = api.events(bob)[-1]
    assert bob_leg["reverses"] == {"accountId": bob, "version": 2}
    assert api.balance_at(alice, 4)["totalBalance"] == "10.00"
    assert api.balance_at(bob, 3)["totalBalance"] == "0.00"


def test_a_months_statement_as_csv_reads_back_with_its_running_balances(api: Api) -> None:
    # GIVEN an account credited 100.00, debited 30.00 with a description a spreadsheet
    # would run, and that debit reversed
    account = api.opened(new_account_id())
    posted(api, account, "credits", "100.00", 'salary, "November"')
    last = posted(api, account, "debits", "30.00", "=cmd|' /C calc'!A0")
    assert reverse(api, f"/accounts/{account}/events/3").status_code == 201
    month = last["recordedAt"][:7]
    # WHEN this month's statement is asked for as CSV
    response = api.request(
        "GET", f"/accounts/{account}/statements/{month}", headers={"accept": "text/csv"}
    )
    # THEN it is a UTF-8 CSV attachment that parses back: opening, three postings with
    # their running balances, closing; the formula shown as text
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="statement-{account}-{month}.csv"' in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["Description"], r["Amount"], r["Balance"]) for r in rows] == [
        ("Opening balance", "", "0.00"),
        ('salary, "November"', "100.00", "100.00"),
        ("'=cmd|' /C calc'!A0", "-30.00", "70.00"),
        ("Reversal of version 3", "30.00", "100.00"),
        ("Closing balance", "", "100.00"),
    ]
    assert sum(Decimal(r["Amount"]) for r in rows if r["Amount"]) == Decimal("100.00")
    # AND an Accept of neither JSON nor CSV is refused in the API's error format
    refused = api.request(
        "GET", f"/accounts/{account}/statements/{month}", headers={"accept": "text/html"}
    )
    assert (refused.status_code, error_code(refused)) == (406, "not_acceptable")

"""Accounts: opening, reading, listing, and changing their status and overdraft limit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fakes import FakeApi, Sleeps, answer_lost

from ledger_client import (
    Account,
    AccountClosed,
    AccountEvent,
    AccountExists,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotFrozen,
    Event,
    InvalidCurrency,
    Ledger,
    OverdraftLimitTooLow,
)


def open_alice(ledger: Ledger, **options: object) -> Account:
    return ledger.open_account("alice", "EUR", ["alice", "t0ken"], **options)  # type: ignore[arg-type]


def test_open_account_sends_the_documented_body_with_a_key(ledger: Ledger, api: FakeApi) -> None:
    # WHEN an account is opened with every option
    account = ledger.open_account(
        "alice",
        "EUR",
        ["t0ken", "alice"],
        overdraft_limit=Decimal("50.00"),
        metadata={"tier": "gold"},
    )

    # THEN the body is the contract's, amounts as exact strings, with a uuid4 key
    (request,) = api.requests
    assert (request.method, request.url.path) == ("POST", "/accounts")
    assert json.loads(request.content) == {
        "accountId": "alice",
        "currency": "EUR",
        "owners": ["t0ken", "alice"],
        "overdraftLimit": "50.00",
        "metadata": {"tier": "gold"},
    }
    assert uuid.UUID(str(request.headers["idempotency-key"])).version == 4
    # AND the answer is a typed account
    assert account.account_id == "alice"
    assert account.currency == "EUR"
    assert account.status == "open"
    assert account.owners == ("alice", "t0ken")
    assert account.metadata == {"tier": "gold"}
    assert account.overdraft_limit == Decimal("50.00")
    assert account.opened_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert account.version == 1
    assert account.balances.total_balance == Decimal("0")
    assert account.balances.currency == "EUR"


def test_open_account_leaves_out_the_options_not_given(ledger: Ledger, api: FakeApi) -> None:
    ledger.open_account("alice", "EUR", ["alice"])

    assert json.loads(api.requests[0].content) == {
        "accountId": "alice",
        "currency": "EUR",
        "owners": ["alice"],
    }


def test_an_opening_whose_answer_is_lost_is_retried_with_its_key_and_stored_once(
    ledger: Ledger, api: FakeApi
) -> None:
    # GIVEN the server opens the account but the answer is lost
    api.faults.append(answer_lost)

    # WHEN the client opens it
    account = open_alice(ledger)

    # THEN the retry carried the same key and got the first answer, not account_exists
    first, second = api.keys()
    assert first == second
    assert account.version == 1
    assert len(api.events["alice"]) == 1


def test_opening_a_taken_id_raises_account_exists(ledger: Ledger) -> None:
    open_alice(ledger)

    with pytest.raises(AccountExists) as raised:
        open_alice(ledger)

    assert raised.value.status == 409


def test_an_unknown_currency_raises_invalid_currency(ledger: Ledger) -> None:
    with pytest.raises(InvalidCurrency):
        ledger.open_account("alice", "XXX", ["alice"])


def test_a_float_overdraft_limit_is_refused_before_anything_is_sent(
    ledger: Ledger, api: FakeApi
) -> None:
    with pytest.raises(TypeError):
        ledger.open_account("alice", "EUR", ["alice"], overdraft_limit=0.1)  # type: ignore[arg-type]

    assert api.requests == []


def test_account_reads_the_account_with_its_balances(ledger: Ledger) -> None:
    open_alice(ledger)
    ledger.credit("alice", "12.34")

    account = ledger.account("alice")

    assert account.version == 2
    assert account.balances.total_balance == Decimal("12.34")
    assert account.balances.version == 2


def test_an_unknown_account_raises_account_not_found(ledger: Ledger) -> None:
    with pytest.raises(AccountNotFound):
        ledger.account("nobody")


def test_accounts_iterates_over_every_page_of_the_callers_accounts(
    ledger: Ledger, api: FakeApi
) -> None:
    # GIVEN five accounts of the caller and one of someone else
    for name in ("a1", "a2", "a3", "a4", "a5"):
        ledger.open_account(name, "EUR", ["t0ken"])
    ledger.open_account("other", "EUR", ["bob"])
    api.requests.clear()

    # WHEN the caller lists its accounts two at a time
    listed = [summary.account_id for summary in ledger.accounts(page_size=2)]

    # THEN each of its accounts comes once, over three pages that follow the cursor
    assert listed == ["a1", "a2", "a3", "a4", "a5"]
    assert [dict(r.url.params) for r in api.requests] == [
        {"owner": "me", "limit": "2"},
        {"owner": "me", "limit": "2", "after": "a2"},
        {"owner": "me", "limit": "2", "after": "a4"},
    ]


def test_accounts_of_another_owner_are_listed_by_subject(ledger: Ledger) -> None:
    ledger.open_account("b1", "USD", ["bob"], metadata={"k": "v"})

    (summary,) = ledger.accounts("bob")

    assert (summary.account_id, summary.currency, summary.status) == ("b1", "USD", "open")
    assert summary.owners == ("bob",)
    assert summary.metadata == {"k": "v"}


def test_freeze_unfreeze_and_close_change_the_status(ledger: Ledger, api: FakeApi) -> None:
    open_alice(ledger)

    assert ledger.freeze("alice").status == "frozen"
    assert ledger.unfreeze("alice").status == "open"
    closed = ledger.close_account("alice")

    assert closed.status == "closed"
    assert closed.version == 4
    paths = [(r.method, r.url.path) for r in api.requests[1:]]
    assert paths == [
        ("POST", "/accounts/alice/freeze"),
        ("POST", "/accounts/alice/unfreeze"),
        ("POST", "/accounts/alice/close"),
    ]
    # every change sends a key of its own
    assert len(set(api.keys())) == 4


def test_a_freeze_whose_answer_is_lost_answers_the_frozen_account_not_account_frozen(
    ledger: Ledger, api: FakeApi
) -> None:
    open_alice(ledger)
    api.faults.append(answer_lost)

    account = ledger.freeze("alice")

    assert account.status == "frozen"
    assert api.keys()[1] == api.keys()[2]
    assert [e["type"] for e in api.events["alice"]] == ["AccountOpened", "AccountFrozen"]


@pytest.mark.parametrize(
    ("setup", "change", "error"),
    [
        (["freeze"], "freeze", AccountFrozen),
        ([], "unfreeze", AccountNotFrozen),
        (["close"], "freeze", AccountClosed),
    ],
)
def test_a_change_the_status_refuses_raises_its_class(
    ledger: Ledger, setup: list[str], change: str, error: type[Exception]
) -> None:
    open_alice(ledger)
    for action in setup:
        getattr(ledger, "close_account" if action == "close" else action)("alice")

    with pytest.raises(error):
        getattr(ledger, change)("alice")


def test_closing_an_account_with_money_raises_account_not_empty(ledger: Ledger) -> None:
    open_alice(ledger)
    ledger.credit("alice", "1.00")

    with pytest.raises(AccountNotEmpty) as raised:
        ledger.close_account("alice")

    assert raised.value.status == 422


def test_set_overdraft_limit_sends_the_exact_limit(ledger: Ledger, api: FakeApi) -> None:
    open_alice(ledger)

    account = ledger.set_overdraft_limit("alice", Decimal("100.50"))

    assert json.loads(api.requests[-1].content) == {"overdraftLimit": "100.50"}
    assert api.requests[-1].url.path == "/accounts/alice/overdraft-limit"
    assert account.overdraft_limit == Decimal("100.50")


def test_a_limit_below_the_overdrawn_balance_raises_overdraft_limit_too_low(
    ledger: Ledger,
) -> None:
    # GIVEN an account 80.00 overdrawn under a limit of 100
    open_alice(ledger, overdraft_limit="100")
    ledger.debit("alice", "80.00")

    # WHEN the limit is lowered below what is owed
    with pytest.raises(OverdraftLimitTooLow) as raised:
        ledger.set_overdraft_limit("alice", "50")

    # THEN it is refused, and the old limit stands
    assert raised.value.status == 422
    assert ledger.account("alice").overdraft_limit == Decimal("100")


def test_history_lists_account_events_beside_postings(ledger: Ledger) -> None:
    # GIVEN an opened, credited, frozen account
    open_alice(ledger, overdraft_limit="10.00")
    ledger.credit("alice", "5.00")
    ledger.freeze("alice")

    # WHEN its history is read
    opened, credit, frozen = ledger.history("alice")

    # THEN the account's changes are AccountEvents (which move no money), the credit an Event
    assert isinstance(opened, AccountEvent)
    assert (opened.type, opened.currency, opened.amount) == ("AccountOpened", "EUR", None)
    assert isinstance(credit, Event)
    assert credit.amount == Decimal("5.00")
    assert isinstance(frozen, AccountEvent)
    assert frozen.type == "AccountFrozen"


def test_wait_for_an_account_change_waits_for_its_version(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    # GIVEN a read side two reads behind a freeze
    open_alice(ledger)
    api.lag = 2
    frozen = ledger.freeze("alice")

    # WHEN the caller waits for the account the freeze answered
    balance = ledger.wait_for(frozen)

    # THEN it gets the balance that reflects the freeze's version
    assert balance.version == frozen.version == 2
    assert len(sleeps.slept) == 2

"""Transfers: one posting or several, the key reused across retries, reading one back, and
waiting until every account of a transfer reflects it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fakes import FakeApi, Sleeps, answer_lost, status

from ledger_client import (
    AccountFrozen,
    AccountNotFound,
    CurrencyMismatch,
    Event,
    InsufficientFunds,
    Ledger,
    NotCaughtUp,
    Posting,
    TransferNotFound,
)


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    """alice (100.00 EUR), bob and carol (EUR), and dave (USD)."""
    for name, currency in (("alice", "EUR"), ("bob", "EUR"), ("carol", "EUR"), ("dave", "USD")):
        ledger.open_account(name, currency, [name])
    ledger.credit("alice", "100.00")
    return ledger


def test_a_transfer_sends_one_posting_and_answers_a_typed_transfer(
    funded: Ledger, api: FakeApi
) -> None:
    api.requests.clear()

    # WHEN alice pays bob
    transfer = funded.transfer("alice", "bob", Decimal("12.50"), description="rent")

    # THEN the body is the one-posting form, with a uuid4 key
    (request,) = api.requests
    assert (request.method, request.url.path) == ("POST", "/transfers")
    assert json.loads(request.content) == {
        "from": "alice",
        "to": "bob",
        "amount": "12.50",
        "description": "rent",
    }
    assert uuid.UUID(str(request.headers["idempotency-key"])).version == 4
    # AND the answer is typed, with exact amounts and the currency
    assert transfer.amount == Decimal("12.50")
    assert transfer.currency == "EUR"
    assert transfer.description == "rent"
    assert transfer.recorded_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    (posting,) = transfer.postings
    assert (posting.from_, posting.to, posting.amount, posting.currency) == (
        "alice",
        "bob",
        Decimal("12.50"),
        "EUR",
    )
    assert [(leg.account_id, leg.type, leg.version) for leg in transfer.legs] == [
        ("alice", "DebitEvent", 3),
        ("bob", "CreditEvent", 2),
    ]


def test_a_transfer_of_several_postings_sends_the_postings_form(
    funded: Ledger, api: FakeApi
) -> None:
    api.requests.clear()

    transfer = funded.transfer(
        postings=[Posting("alice", "bob", "10.00"), Posting("alice", "carol", Decimal("2.5"))]
    )

    assert json.loads(api.requests[0].content) == {
        "postings": [
            {"from": "alice", "to": "bob", "amount": "10.00"},
            {"from": "alice", "to": "carol", "amount": "2.5"},
        ]
    }
    assert transfer.amount is None
    assert transfer.currency is None
    assert [p.amount for p in transfer.postings] == [Decimal("10.00"), Decimal("2.50")]
    assert len(transfer.legs) == 4
    assert transfer.versions() == {"alice": 4, "bob": 2, "carol": 2}


@pytest.mark.parametrize(
    "arguments",
    [
        {"from_": "alice", "to": "bob"},
        {"from_": "alice", "to": "bob", "amount": "1", "postings": [Posting("a", "b", "1")]},
        {"postings": []},
    ],
    ids=["amount missing", "both forms", "no posting"],
)
def test_a_transfer_needs_exactly_one_form_and_sends_nothing_otherwise(
    funded: Ledger, api: FakeApi, arguments: dict[str, object]
) -> None:
    api.requests.clear()

    with pytest.raises(ValueError, match="posting"):
        funded.transfer(**arguments)  # type: ignore[arg-type]

    assert api.requests == []


def test_a_float_posting_amount_is_refused_when_the_posting_is_built() -> None:
    with pytest.raises(TypeError):
        Posting("alice", "bob", 0.1)  # type: ignore[arg-type]


def test_a_lost_transfer_answer_is_retried_with_the_same_key_and_moves_money_once(
    funded: Ledger, api: FakeApi
) -> None:
    # GIVEN the server stores the transfer, then a lost answer and a 503 on the way back
    api.requests.clear()
    api.faults.extend([answer_lost, status(503)])

    # WHEN alice pays bob
    transfer = funded.transfer("alice", "bob", "30.00")

    # THEN all three attempts carried one key, and one transfer was stored
    assert len(api.requests) == 3
    assert len(set(api.keys())) == 1
    assert list(api.transfers) == [transfer.transfer_id]
    assert funded.balance("alice").total_balance == Decimal("70.00")
    assert funded.balance("bob").total_balance == Decimal("30.00")


def test_a_given_key_is_sent_as_is(funded: Ledger, api: FakeApi) -> None:
    first = funded.transfer("alice", "bob", "1.00", idempotency_key="invoice-7")
    again = funded.transfer("alice", "bob", "1.00", idempotency_key="invoice-7")

    assert api.keys()[-1] == "invoice-7"
    assert again == first
    assert len(api.transfers) == 1


@pytest.mark.parametrize(
    ("to", "amount", "error"),
    [
        ("bob", "100.01", InsufficientFunds),
        ("dave", "1.00", CurrencyMismatch),
        ("nobody", "1.00", AccountNotFound),
    ],
)
def test_a_refused_transfer_raises_its_class_and_stores_nothing(
    funded: Ledger, api: FakeApi, to: str, amount: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        funded.transfer("alice", to, amount)

    assert api.transfers == {}
    assert funded.balance("alice").total_balance == Decimal("100.00")


def test_a_transfer_from_a_frozen_account_raises_account_frozen(funded: Ledger) -> None:
    funded.freeze("alice")

    with pytest.raises(AccountFrozen) as raised:
        funded.transfer("alice", "bob", "1.00")

    assert raised.value.status == 422


def test_get_transfer_reads_a_stored_transfer(funded: Ledger, api: FakeApi) -> None:
    stored = funded.transfer("alice", "bob", "5.00")

    read = funded.get_transfer(stored.transfer_id)

    assert read == stored
    assert api.requests[-1].url.path == f"/transfers/{stored.transfer_id}"


def test_an_unknown_transfer_raises_transfer_not_found(funded: Ledger) -> None:
    with pytest.raises(TransferNotFound) as raised:
        funded.get_transfer("trf-missing")

    assert raised.value.status == 404


def test_wait_for_a_transfer_waits_until_both_balances_reflect_their_legs(
    funded: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    # GIVEN a read side that lags two reads behind every leg
    api.lag = 2
    transfer = funded.transfer("alice", "bob", "40.00")

    # WHEN the caller waits for the transfer
    alice, bob = funded.wait_for(transfer)

    # THEN both balances it gets reflect their leg
    assert (alice.account_id, alice.version, alice.total_balance) == ("alice", 3, Decimal("60.00"))
    assert (bob.account_id, bob.version, bob.total_balance) == ("bob", 2, Decimal("40.00"))
    assert len(sleeps.slept) == 4


def test_wait_for_a_transfer_times_out_with_not_caught_up(
    funded: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    api.lag = 1000
    transfer = funded.transfer("alice", "bob", "40.00")

    with pytest.raises(NotCaughtUp):
        funded.wait_for(transfer, timeout=2.0)

    assert sleeps.now == pytest.approx(2.0)


def test_both_legs_show_in_the_histories_with_transfer_and_counterparty(funded: Ledger) -> None:
    transfer = funded.transfer("alice", "bob", "7.00")

    debit = list(funded.history("alice"))[-1]
    credit = list(funded.history("bob"))[-1]

    assert isinstance(debit, Event)
    assert isinstance(credit, Event)
    assert (debit.type, debit.counterparty, debit.transfer_id) == (
        "DebitEvent",
        "bob",
        transfer.transfer_id,
    )
    assert (credit.type, credit.counterparty, credit.amount) == (
        "CreditEvent",
        "alice",
        Decimal("7.00"),
    )

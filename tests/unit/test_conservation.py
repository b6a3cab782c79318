"""Conservation, as `ledger verify` checks it over every stored event."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.conservation import conservation
from banking.application.ports import StoredEvent
from banking.application.reversals import reverse_entry, reverse_transfer
from banking.application.transfers import transfer
from banking.domain.account import evolve
from banking.domain.commands import RecordCredit
from banking.domain.currency import Currency
from banking.domain.events import Credited, Debited, EventRef
from banking.domain.money import Money
from banking.domain.reversals import ReverseEntry
from banking.domain.transfer import Posting, Transfer
from tests.support import open_accounts

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def ledger():
    """alice and bob in EUR, yen and shop in JPY; a transfer in each currency."""
    store = open_accounts(InMemoryEventStore(), "alice", "bob")
    open_accounts(store, "yen", "shop", currency="JPY")
    deps = CommandDependencies(store=store, clock=lambda: NOW, new_id=lambda: "e")
    record(RecordCredit("alice", Money(1000)), deps, caller="bank")
    record(RecordCredit("yen", Money(500, 0)), deps, caller="bank")
    for transfer_id, source, target, amount in (
        ("t-eur", "alice", "bob", Money(400)),
        ("t-jpy", "yen", "shop", Money(200, 0)),
    ):
        command = Transfer(transfer_id, [Posting(source, target, amount)])
        transfer(command, deps, idempotency_key=transfer_id, caller="payments")
    return store


def test_transfers_conserve_money_per_currency():
    # GIVEN a transfer in euros and one in yen
    store = ledger()
    # WHEN conservation is checked
    checked = conservation(store.scan())
    # THEN each currency's debit legs equal its credit legs, in its own digits
    assert checked.holds
    assert checked.debits == {"EUR": Money(400), "JPY": Money(200, 0)}
    assert checked.credits == checked.debits


def test_a_leg_without_its_counterpart_breaks_conservation():
    # GIVEN a credit leg of a transfer whose debit leg was never stored (a forgery)
    store = ledger()
    state = store.load("bob")
    leg = Credited(
        "bob",
        state.version + 1,
        "forged",
        Money(100),
        NOW,
        currency=Currency("EUR"),
        transfer_id="t-forged",
        counterparty="alice",
    )
    store.append(StoredEvent(leg, evolve(state, leg, ZoneInfo("UTC"))))
    # WHEN conservation is checked
    checked = conservation(store.scan())
    # THEN it is broken, and the transfer is named
    assert not checked.holds
    assert checked.unbalanced == ["t-forged"]
    assert checked.credits["EUR"] == Money(500)


def test_an_account_below_its_overdraft_limit_is_reported():
    # GIVEN bob debited below his limit of 0 by an event no command would decide
    store = ledger()
    state = store.load("bob")
    debit = Debited("bob", state.version + 1, "forged", Money(401), NOW, currency=Currency("EUR"))
    store.append(StoredEvent(debit, evolve(state, debit, ZoneInfo("UTC"))))
    # WHEN conservation is checked THEN bob is reported
    checked = conservation(store.scan())
    assert checked.overdrawn == ["bob"]
    assert not checked.holds


def test_reversals_conserve_money_and_a_second_reversal_is_reported():
    # GIVEN the euro transfer and alice's credit (version 2), each reversed once
    store = ledger()
    deps = CommandDependencies(store=store, clock=lambda: NOW, new_id=lambda: "r")
    reverse_transfer("t-eur", deps, reversal_id="t-back", idempotency_key="r1", caller="ops")
    reverse_entry(ReverseEntry("alice", 2), deps, idempotency_key="r2", caller="ops")
    # WHEN conservation is checked THEN it holds: reversals are ordinary postings
    assert conservation(store.scan()).holds
    # GIVEN then a second reversal of the credit, forged past the store's guard
    state = store.load("alice")
    again = Debited(
        "alice",
        state.version + 1,
        "forged",
        Money(1000),
        NOW,
        currency=Currency("EUR"),
        reverses=EventRef("alice", 2),
    )
    store.append(StoredEvent(again, evolve(state, again, ZoneInfo("UTC"))))
    # WHEN conservation is checked THEN the original is named
    checked = conservation(store.scan())
    assert checked.misreversed == ["alice/2"]
    assert not checked.holds

"""Conservation of holds, as `ledger verify` checks it: a hold moves no money until
captured, is resolved at most once, and a capture takes at most what it held."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.conservation import conservation
from banking.application.holds import capture_hold, place_hold, void_hold
from banking.application.ports import StoredEvent
from banking.domain.commands import RecordCredit
from banking.domain.events import Debited, HoldVoided
from banking.domain.holds import CaptureHold, PlaceHold, VoidHold
from banking.domain.money import Money
from tests.support import open_accounts

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def ledger():
    """alice with 10.00: a hold captured into bob, one voided, one pending."""
    store = open_accounts(InMemoryEventStore(), "alice", "bob")
    ids = itertools.count()
    deps = CommandDependencies(store=store, clock=lambda: NOW, new_id=lambda: f"e{next(ids)}")
    record(RecordCredit("alice", Money(1000)), deps, caller="bank")
    for hold_id in ("h1", "h2", "h3"):
        command = PlaceHold("alice", hold_id, Money(200), timedelta(minutes=5))
        place_hold(command, deps, idempotency_key=hold_id, caller="shop")
    capture_hold(
        CaptureHold("h1", Money(150), "bob"),
        deps,
        idempotency_key="c",
        caller="shop",
        transfer_id="t1",
    )
    void_hold(VoidHold("h2"), deps, idempotency_key="v", caller="shop")
    return store


def forge(store, event_type, hold_id, amount):
    """An event appended straight into the store, as a bug or a forgery would."""
    state = store.load("alice")
    fields = {"currency": state.currency, "hold_id": hold_id}
    event: Debited | HoldVoided
    if event_type is Debited:
        event = Debited("alice", state.version + 1, "forged", Money(amount), NOW, **fields)
    else:
        event = HoldVoided("alice", state.version + 1, "forged", NOW, hold_id, Money(amount))
    store.append(StoredEvent(event, attrs.evolve(state, version=event.version)))


def test_captured_voided_and_pending_holds_conserve_money():
    # GIVEN holds captured into another account, voided and pending
    store = ledger()
    # WHEN the ledger is checked
    checked = conservation(store.scan())
    # THEN it holds: the capture is a transfer whose legs pair off, no hold misresolved
    assert checked.holds
    assert checked.misresolved_holds == []
    assert store.load("alice").balance == Money(850)
    assert store.load("alice").held == Money(200)


def test_a_hold_resolved_twice_is_reported():
    store = ledger()
    forge(store, HoldVoided, "h1", 200)
    checked = conservation(store.scan())
    assert checked.misresolved_holds == ["h1"]
    assert not checked.holds


def test_a_capture_beyond_its_hold_or_of_no_hold_is_reported():
    store = ledger()
    forge(store, Debited, "h3", 201)
    forge(store, Debited, "never-placed", 1)
    checked = conservation(store.scan())
    assert checked.misresolved_holds == ["h3", "never-placed"]

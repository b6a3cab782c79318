"""Each invariant on its own, on a write made by hand: it fails on the broken case and
holds on the right one (the simulation tests show them catching planted bugs)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import attrs
import pytest

import tests.simulation.invariants as invariants
from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore
from banking.application.ports import StoredEvent
from banking.domain.account import Account, PendingHold, evolve
from banking.domain.currency import Currency
from banking.domain.events import AccountOpened, Credited, Debited
from banking.domain.money import Money
from tests.simulation.invariants import (
    ZONE,
    Append,
    HoldFacts,
    InvariantViolated,
    Memory,
    balance_at_is_the_fold,
    captures_within_hold,
    due_holds_expired,
    held_is_pending_holds,
    ledger_verifies,
    money_conserved,
    one_request_per_key,
    remember_append,
    versions_gapless,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _memory() -> Memory:
    return Memory(InMemoryEventStore(), InMemoryProjectionStore())


def _opened(account: str) -> StoredEvent:
    event = AccountOpened(account, 1, f"{account}-1", NOW, Currency("EUR"), Money(0), {"alice"})
    return StoredEvent(event, evolve(Account(account), event, ZONE))


def _credit(
    after: StoredEvent, minor: int, at: datetime = NOW, transfer_id: str | None = None
) -> StoredEvent:
    state = after.state
    event = Credited(
        state.account_id, state.version + 1, f"c{minor}", Money(minor), at, transfer_id=transfer_id
    )
    return StoredEvent(event, evolve(state, event, ZONE))


class _Earliest(random.Random):
    """A sampler that always draws the lowest value: the instant a minute before the
    account opened, moved by `offset` seconds."""

    def __init__(self, offset: int) -> None:
        super().__init__(0)
        self.offset = offset

    def randint(self, a: int, b: int) -> int:
        return a + self.offset


def test_the_same_key_of_one_caller_storing_a_second_request_fails() -> None:
    # GIVEN alice's key k stored request r1
    memory = _memory()
    opened = _opened("a")
    key = ("alice", "a", "k")
    first = Append([opened], {"a": Account("a")}, None, "r1", key)
    remember_append(memory, first)
    # WHEN another request stores under the same key of the same caller
    second = Append([_credit(opened, 5)], {"a": opened.state}, None, "r2", key)
    # THEN the invariant fails; another caller's same key is another key
    with pytest.raises(InvariantViolated, match="one_request_per_key"):
        one_request_per_key(memory, second)
    one_request_per_key(memory, Append(second.events, second.before, None, "r2", ("bob", "a", "k")))


def test_a_gap_in_the_versions_fails() -> None:
    # GIVEN an account at version 1
    memory = _memory()
    opened = _opened("a")
    remember_append(memory, Append([opened], {"a": Account("a")}, None, "r1"))
    # WHEN version 3 is stored next
    skipped = _credit(_credit(opened, 1), 2)
    # THEN the invariant fails
    with pytest.raises(InvariantViolated, match="versions_gapless"):
        versions_gapless(memory, Append([skipped], {"a": opened.state}, None, "r2"))


def test_a_balance_that_moves_without_an_external_posting_fails() -> None:
    # GIVEN an opened account
    memory = _memory()
    opened = _opened("a")
    remember_append(memory, Append([opened], {"a": Account("a")}, None, "r1"))
    credit = _credit(opened, 700)
    # WHEN a credit is stored, and then a state claiming more than the credit gave
    inflated = StoredEvent(credit.event, attrs.evolve(credit.state, balance=Money(900)))
    # THEN the honest one holds and the inflated one fails
    money_conserved(memory, Append([credit], {"a": opened.state}, None, "r2"))
    with pytest.raises(InvariantViolated, match="money_conserved"):
        money_conserved(memory, Append([inflated], {"a": opened.state}, None, "r3"))


def test_a_capture_beyond_its_hold_fails() -> None:
    # GIVEN hold h reserved 5.00 on account a
    memory = _memory()
    opened = _opened("a")
    memory.holds["h"] = HoldFacts("a", Money(500), NOW + timedelta(hours=1))
    state = opened.state

    def capture(minor: int) -> Append:
        event = Debited("a", 2, f"d{minor}", Money(minor), NOW, hold_id="h")
        return Append([StoredEvent(event, state)], {"a": state}, None, "r")

    # WHEN it is captured in full, or for 6.00
    # THEN the first holds and the second fails
    captures_within_hold(memory, capture(500))
    with pytest.raises(InvariantViolated, match="captures_within_hold"):
        captures_within_hold(memory, capture(600))


def test_a_state_carrying_a_hold_that_is_not_pending_fails() -> None:
    # GIVEN account a with hold h of 5.00 pending
    memory = _memory()
    opened = _opened("a")
    memory.pending["a"] = {"h": 500}
    credit = _credit(opened, 100)
    carrying = attrs.evolve(
        credit.state, holds={"h": PendingHold(Money(500), NOW + timedelta(hours=1))}
    )
    # WHEN a credit is stored with a state that carries h, or that forgot it
    # THEN the first holds and the second fails
    held_is_pending_holds(
        memory, Append([StoredEvent(credit.event, carrying)], {"a": opened.state}, None, "r")
    )
    with pytest.raises(InvariantViolated, match="held_is_pending_holds"):
        held_is_pending_holds(memory, Append([credit], {"a": opened.state}, None, "r"))


def test_a_past_balance_that_is_not_the_last_event_by_then_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN account a opened at NOW, credited an hour and two hours later
    store = InMemoryEventStore()
    opened = _opened("a")
    first = _credit(opened, 100, NOW + timedelta(hours=1))
    second = _credit(first, 200, NOW + timedelta(hours=2))
    store.append_many([opened, first, second])
    memory = Memory(store, InMemoryProjectionStore(), sampler=_Earliest(90))
    append = Append([second], {"a": first.state}, None, "r", at=NOW + timedelta(hours=2))
    # WHEN the balance half a minute after opening is asked for
    # THEN the state at version 1 holds; the latest state instead fails
    balance_at_is_the_fold(memory, append)
    monkeypatch.setattr(invariants, "state_at", lambda *args, **kwargs: second.state)
    with pytest.raises(InvariantViolated, match="balance_at_is_the_fold"):
        balance_at_is_the_fold(memory, append)


def test_a_hold_past_its_expiry_still_pending_at_quiescence_fails() -> None:
    # GIVEN hold h expired a second ago, and no event released it
    memory = _memory()
    memory.clock = lambda: NOW + timedelta(seconds=1)
    memory.holds["h"] = HoldFacts("a", Money(500), NOW)
    # WHEN the system is quiescent
    # THEN the invariant fails
    with pytest.raises(InvariantViolated, match="due_holds_expired"):
        due_holds_expired(memory, ["a"])


def test_a_transfer_leg_without_its_other_leg_fails_verification() -> None:
    # GIVEN a store holding the credit leg of transfer t and no debit leg
    memory = _memory()
    opened = _opened("a")
    memory.store.append_many([opened, _credit(opened, 100, transfer_id="t")])
    # WHEN the ledger is verified at quiescence
    # THEN conservation reports it
    with pytest.raises(InvariantViolated, match="ledger_verifies"):
        ledger_verifies(memory, ["a"])

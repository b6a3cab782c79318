"""Each invariant on its own, on a write made by hand: it fails on the broken case and
holds on the right one (the simulation tests show them catching planted bugs)."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore
from banking.application.ports import StoredEvent
from banking.domain.account import Account, evolve
from banking.domain.currency import Currency
from banking.domain.events import AccountOpened, Credited
from banking.domain.money import Money
from tests.simulation.invariants import (
    ZONE,
    Append,
    InvariantViolated,
    Memory,
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


def _credit(after: StoredEvent, minor: int) -> StoredEvent:
    state = after.state
    event = Credited(state.account_id, state.version + 1, f"c{minor}", Money(minor), NOW)
    return StoredEvent(event, evolve(state, event, ZONE))


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

"""Transfers as the use case runs them on the in-memory store: load every account,
decide, append all legs at once, retry on conflicts, answer a retried key once."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.ports import NO_RECORDS, TRANSFER_SCOPE, VersionConflict
from banking.application.transfers import transfer
from banking.domain.commands import RecordCredit
from banking.domain.errors import (
    AccountNotFound,
    ConcurrentModification,
    IdempotencyKeyReused,
    InsufficientFunds,
)
from banking.domain.events import Credited, Debited
from banking.domain.money import Money
from banking.domain.transfer import Posting, Transfer
from tests.support import open_accounts

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def dependencies(store=None, **settings):
    counter = itertools.count(1)
    lock = threading.Lock()

    def new_id():
        with lock:
            return f"event-{next(counter)}"

    store = store or InMemoryEventStore()
    open_accounts(store, "alice", "bob", "fees")
    return CommandDependencies(
        store=store,
        clock=lambda: NOW,
        new_id=new_id,
        settings=CommandSettings(**settings),
        sleep=lambda _: None,
    )


def fund(deps, account, amount):
    record(RecordCredit(account, Money(amount)), deps, caller="bank")


def move(deps, *postings, key="k1", transfer_id="t-1", description=None):
    command = Transfer(
        transfer_id, [Posting(a, b, Money(amount)) for a, b, amount in postings], description
    )
    return transfer(command, deps, idempotency_key=key, caller="payments", correlation_id="req")


def test_a_transfer_stores_both_legs_and_its_record():
    # GIVEN alice with 10.00
    deps = dependencies()
    fund(deps, "alice", 1000)
    # WHEN she pays bob 4.00
    record = move(deps, ("alice", "bob", 400), description="rent")
    # THEN alice has a debit leg and bob a credit leg, both naming the transfer and
    # each other, recorded by the caller; the record says where the legs are
    alice, bob = deps.store.load("alice"), deps.store.load("bob")
    assert (alice.balance, bob.balance) == (Money(600), Money(400))
    debit, credit = deps.store.get("alice", 3).event, deps.store.get("bob", 2).event
    assert (debit.transfer_id, debit.counterparty, debit.recorded_by) == ("t-1", "bob", "payments")
    assert (credit.transfer_id, credit.counterparty) == ("t-1", "alice")
    assert [(leg.account_id, leg.version, leg.type) for leg in record.legs] == [
        ("alice", 3, "DebitEvent"),
        ("bob", 2, "CreditEvent"),
    ]
    assert deps.store.transfer("t-1") == record
    assert deps.store.get("bob", 2).correlation_id == "req"


def test_a_refused_transfer_stores_nothing():
    # GIVEN alice with 1.00
    deps = dependencies()
    fund(deps, "alice", 100)
    # WHEN she would pay 1.01, or pay an account nobody opened
    with pytest.raises(InsufficientFunds):
        move(deps, ("alice", "bob", 101))
    with pytest.raises(AccountNotFound):
        move(deps, ("alice", "nobody", 1), key="k2", transfer_id="t-2")
    # THEN nothing was stored: no leg, no record, no key
    assert (deps.store.load("alice").version, deps.store.load("bob").version) == (2, 1)
    assert deps.store.transfer("t-1") is None
    assert deps.store.idempotency_record(TRANSFER_SCOPE, "payments", "k1") is None


def test_a_payment_with_its_fee_is_judged_on_every_posting():
    # GIVEN alice with 10.00
    deps = dependencies()
    fund(deps, "alice", 1000)
    # WHEN she pays 9.50 and a 0.60 fee in one transfer: refused as a whole
    with pytest.raises(InsufficientFunds):
        move(deps, ("alice", "bob", 950), ("alice", "fees", 60))
    # WHEN she pays 9.50 and a 0.50 fee: both postings stored, alice at zero
    record = move(deps, ("alice", "bob", 950), ("alice", "fees", 50), key="k2", transfer_id="t-2")
    assert deps.store.load("alice").balance == Money(0)
    assert deps.store.load("fees").balance == Money(50)
    assert [leg.version for leg in record.legs if leg.account_id == "alice"] == [3, 4]


def test_a_transfer_out_and_back_stores_the_credit_first_and_answers_in_posting_order():
    # GIVEN alice at 0.00 with no overdraft and bob with 10.00
    deps = dependencies()
    fund(deps, "bob", 1000)
    # WHEN alice pays bob 5.00 and bob pays her 5.50 in one transfer
    record = move(deps, ("alice", "bob", 500), ("bob", "alice", 550))
    # THEN alice's credit is stored before her debit, and no version of hers is negative
    assert isinstance(deps.store.get("alice", 2).event, Credited)
    assert isinstance(deps.store.get("alice", 3).event, Debited)
    assert [deps.store.get("alice", v).state.balance for v in (2, 3)] == [Money(550), Money(50)]
    # AND the answer lists the postings, and each posting's debit then credit leg
    assert [(p.from_account, p.to_account, p.amount) for p in record.postings] == [
        ("alice", "bob", Money(500)),
        ("bob", "alice", Money(550)),
    ]
    assert [(leg.account_id, leg.version, leg.type) for leg in record.legs] == [
        ("alice", 3, "DebitEvent"),
        ("bob", 3, "CreditEvent"),
        ("bob", 4, "DebitEvent"),
        ("alice", 2, "CreditEvent"),
    ]
    assert deps.store.transfer("t-1") == record


def test_a_retried_key_answers_the_first_transfer_and_another_body_is_refused():
    deps = dependencies()
    fund(deps, "alice", 1000)
    first = move(deps, ("alice", "bob", 100))
    # A retry gets a new transfer id from the handler; the key makes it the same one.
    again = move(deps, ("alice", "bob", 100), transfer_id="t-retry")
    assert again == first
    assert deps.store.load("alice").version == 3
    with pytest.raises(IdempotencyKeyReused):
        move(deps, ("alice", "bob", 200), transfer_id="t-other")
    assert deps.store.load("alice").version == 3


def test_a_retried_transfer_that_no_longer_fits_gets_its_first_answer():
    # GIVEN alice's whole 10.00 moved to bob with key k1
    deps = dependencies()
    fund(deps, "alice", 1000)
    first = move(deps, ("alice", "bob", 1000))
    # WHEN the client retries it (deciding again would refuse it: alice has nothing)
    again = move(deps, ("alice", "bob", 1000), transfer_id="t-retry")
    # THEN it gets the stored transfer, and nothing moves again
    assert again == first
    assert deps.store.load("bob").balance == Money(1000)
    # AND another body with the key is refused as a reuse, not for the funds
    with pytest.raises(IdempotencyKeyReused):
        move(deps, ("alice", "bob", 999), transfer_id="t-other")


class LosesTheAnswer(InMemoryEventStore):
    """The transaction lands, but its answer is lost and the retry meets its own items."""

    def append_many(self, stored_events, records=NO_RECORDS):
        super().append_many(stored_events, records)
        if records.transfer is not None:
            raise VersionConflict("the retry found the versions taken (by the first try)")


def test_a_transfer_whose_answer_was_lost_is_stored_once():
    deps = dependencies(LosesTheAnswer())
    fund(deps, "alice", 1000)
    record = move(deps, ("alice", "bob", 100))
    assert deps.store.transfer("t-1") == record
    assert (deps.store.load("alice").version, deps.store.load("bob").version) == (3, 2)


class AlwaysConflicting(InMemoryEventStore):
    def append_many(self, stored_events, records=NO_RECORDS):
        if records.transfer is not None:
            raise VersionConflict("someone else always wins")
        super().append_many(stored_events, records)


def test_conflicts_outlasting_the_retries_are_reported():
    deps = dependencies(AlwaysConflicting(), max_attempts=3)
    fund(deps, "alice", 1000)
    with pytest.raises(ConcurrentModification):
        move(deps, ("alice", "bob", 100))
    assert deps.store.load("bob").version == 1

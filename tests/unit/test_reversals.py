"""Reversals as the use cases run them on the in-memory store: the opposite posting,
linked to its original, at most once, under the usual funds and status rules."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import attrs
import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.ports import (
    NO_RECORDS,
    ReversalTaken,
    StoredEvent,
    TransactionRecords,
    VersionConflict,
)
from banking.application.reversals import reverse_entry, reverse_transfer
from banking.application.transfers import transfer
from banking.domain.commands import FreezeAccount, RecordCredit, RecordDebit
from banking.domain.errors import (
    AccountFrozen,
    AlreadyReversed,
    EntryNotFound,
    IdempotencyKeyReused,
    InsufficientFunds,
    NotReversible,
    TransferNotFound,
)
from banking.domain.events import Credited, Debited, EventRef
from banking.domain.money import Money
from banking.domain.reversals import ReverseEntry
from banking.domain.transfer import Posting, Transfer
from tests.support import open_accounts

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def dependencies(store=None):
    counter = itertools.count(1)
    lock = threading.Lock()

    def new_id():
        with lock:
            return f"event-{next(counter)}"

    store = store or InMemoryEventStore()
    open_accounts(store, "alice", "bob", "carol")
    return CommandDependencies(
        store=store,
        clock=lambda: NOW,
        new_id=new_id,
        settings=CommandSettings(),
        sleep=lambda _: None,
    )


def post(deps, command):
    return record(command, deps, caller="bank")


def reverse(deps, account, version, *, key="r1", description=None):
    return reverse_entry(
        ReverseEntry(account, version, description),
        deps,
        idempotency_key=key,
        caller="ops",
        correlation_id="req",
    )


def pay(deps, *postings, transfer_id="t-1"):
    command = Transfer(transfer_id, [Posting(a, b, Money(amount)) for a, b, amount in postings])
    return transfer(command, deps, idempotency_key=transfer_id, caller="payments")


def undo(deps, transfer_id="t-1", *, key="u1", reversal_id="t-rev"):
    return reverse_transfer(
        transfer_id, deps, reversal_id=reversal_id, idempotency_key=key, caller="ops"
    )


def test_a_credit_is_reversed_by_a_debit_of_the_same_amount_linked_to_it():
    # GIVEN alice credited 10.00 at version 2
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000), "refund"))
    # WHEN version 2 is reversed
    reversal = reverse(deps, "alice", 2)
    # THEN a debit of 10.00 at version 3 reverses it, and the credit is still there
    assert isinstance(reversal, Debited)
    assert (reversal.version, reversal.amount, reversal.reverses) == (
        3,
        Money(1000),
        EventRef("alice", 2),
    )
    assert reversal.description == "Reversal of version 2"
    assert reversal.recorded_by == "ops"
    assert deps.store.load("alice").balance == Money(0)
    assert isinstance(deps.store.get("alice", 2).event, Credited)


def test_a_debit_is_reversed_by_a_credit_with_the_description_given():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordDebit("alice", Money(300)))
    reversal = reverse(deps, "alice", 3, description="card fee refunded")
    assert isinstance(reversal, Credited)
    assert (reversal.amount, reversal.description) == (Money(300), "card fee refunded")
    assert deps.store.load("alice").balance == Money(1000)


def test_a_posting_is_reversed_at_most_once():
    # GIVEN alice's credit at version 2, reversed
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordCredit("alice", Money(1000)))
    reverse(deps, "alice", 2, key="first")
    # WHEN it is reversed again with another key
    with pytest.raises(AlreadyReversed):
        reverse(deps, "alice", 2, key="second")
    # THEN nothing more was stored
    assert deps.store.load("alice").version == 4


def test_a_retried_key_answers_the_first_reversal_and_a_reused_one_is_refused():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordCredit("alice", Money(500)))
    first = reverse(deps, "alice", 2, key="k")
    assert reverse(deps, "alice", 2, key="k") == first
    with pytest.raises(IdempotencyKeyReused):
        reverse(deps, "alice", 3, key="k")
    assert deps.store.load("alice").version == 4


def test_reversing_a_credit_already_spent_is_refused_for_funds():
    # GIVEN alice credited 10.00 and then debited 8.00 (overdraft limit 0)
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordDebit("alice", Money(800)))
    # WHEN the credit is reversed
    with pytest.raises(InsufficientFunds):
        reverse(deps, "alice", 2)
    # THEN nothing was stored, and it may be reversed later
    assert deps.store.load("alice").version == 3
    assert deps.store.reversal(EventRef("alice", 2)) is None


def test_a_frozen_account_takes_no_reversal():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, FreezeAccount("alice"))
    with pytest.raises(AccountFrozen):
        reverse(deps, "alice", 2)


@pytest.mark.parametrize(
    ("version", "error"),
    [(1, NotReversible), (9, EntryNotFound)],
)
def test_only_a_stored_posting_is_reversed(version, error):
    # GIVEN alice opened (version 1, an account event) with no version 9
    deps = dependencies()
    with pytest.raises(error):
        reverse(deps, "alice", version)


def test_a_reversal_is_never_itself_reversed():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    reverse(deps, "alice", 2)
    with pytest.raises(NotReversible, match="itself a reversal"):
        reverse(deps, "alice", 3, key="again")


def test_a_transfer_leg_is_reversed_only_with_its_transfer():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    pay(deps, ("alice", "bob", 400))
    with pytest.raises(NotReversible, match=r"POST /transfers/t-1/reversal"):
        reverse(deps, "bob", 2)


def test_a_transfer_is_reversed_by_the_opposite_legs_of_every_posting_at_once():
    # GIVEN alice paid bob 4.00 and carol 1.00 in one transfer
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    pay(deps, ("alice", "bob", 400), ("alice", "carol", 100))
    # WHEN the transfer is reversed
    reversal = undo(deps)
    # THEN a new transfer moved both back, each leg reversing the original leg on its
    # account, and every balance is as before the transfer
    assert reversal.transfer_id == "t-rev"
    assert reversal.reverses == "t-1"
    assert [(p.from_account, p.to_account, p.amount) for p in reversal.postings] == [
        ("bob", "alice", Money(400)),
        ("carol", "alice", Money(100)),
    ]
    balances = [deps.store.load(a).balance for a in ("alice", "bob", "carol")]
    assert balances == [Money(1000), Money(0), Money(0)]
    bob_leg = deps.store.get("bob", 3).event
    assert isinstance(bob_leg, Debited)
    assert (bob_leg.transfer_id, bob_leg.reverses) == ("t-rev", EventRef("bob", 2))
    alice_legs = [deps.store.get("alice", v).event for v in (5, 6)]
    assert [leg.reverses for leg in alice_legs] == [EventRef("alice", 3), EventRef("alice", 4)]
    assert deps.store.transfer("t-rev") == reversal


def test_a_transfer_is_reversed_at_most_once_and_its_reversal_never():
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    pay(deps, ("alice", "bob", 400))
    undo(deps)
    with pytest.raises(AlreadyReversed, match="transfer t-rev"):
        undo(deps, key="u2", reversal_id="t-rev-2")
    with pytest.raises(NotReversible):
        undo(deps, "t-rev", key="u3", reversal_id="t-rev-3")
    with pytest.raises(TransferNotFound):
        undo(deps, "t-none", key="u4", reversal_id="t-rev-4")
    assert deps.store.transfer("t-rev-2") is None


def test_a_transfer_whose_money_was_spent_is_not_reversed():
    # GIVEN bob received 4.00 and paid 3.00 of it to carol
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    pay(deps, ("alice", "bob", 400))
    pay(deps, ("bob", "carol", 300), transfer_id="t-2")
    # WHEN alice's transfer is reversed
    with pytest.raises(InsufficientFunds):
        undo(deps)
    # THEN nothing moved
    assert deps.store.load("bob").balance == Money(100)
    assert deps.store.transfer("t-rev") is None


class RacedByAnotherReversal(InMemoryEventStore):
    """Another request's reversal of the same original lands between this one's check
    and its append."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: list[tuple[list[StoredEvent], TransactionRecords]] = []

    def append_many(self, stored_events, records=NO_RECORDS):
        if records.reversals and self.rival:
            super().append_many(*self.rival.pop())
        super().append_many(stored_events, records)


def test_the_store_guard_refuses_a_reversal_raced_by_another():
    # GIVEN a store in which a rival reversal of version 2 lands just before ours
    store = RacedByAnotherReversal()
    deps = dependencies(store)
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordCredit("alice", Money(1000)))
    rival_ids = itertools.count(1)
    rival_deps = attrs.evolve(
        dependencies(InMemoryEventStore()), new_id=lambda: f"rival-{next(rival_ids)}"
    )
    post(rival_deps, RecordCredit("alice", Money(1000)))
    post(rival_deps, RecordCredit("alice", Money(1000)))
    rival = reverse(rival_deps, "alice", 2, key="rival")
    store.rival.append(
        (
            [rival_deps.store.get("alice", 4)],
            TransactionRecords(reversals=(rival_deps.store.reversal(EventRef("alice", 2)),)),
        )
    )
    # WHEN ours is stored
    # THEN it is refused as already reversed (by the rival), and only the rival's stands
    with pytest.raises(AlreadyReversed, match=f"version {rival.version}"):
        reverse(deps, "alice", 2)
    assert store.load("alice").version == 4


def test_a_marker_taken_stores_nothing_else():
    # GIVEN alice's version 2 reversed
    deps = dependencies()
    post(deps, RecordCredit("alice", Money(1000)))
    post(deps, RecordCredit("alice", Money(1000)))
    reverse(deps, "alice", 2)
    marker = deps.store.reversal(EventRef("alice", 2))
    # WHEN a transaction with another marker for it is appended
    state = deps.store.load("alice")
    stored = deps.store.get("alice", 4)
    moved = attrs.evolve(stored, event=attrs.evolve(stored.event, version=5), state=state)
    with pytest.raises(ReversalTaken):
        deps.store.append_many([moved], TransactionRecords(reversals=(marker,)))
    # THEN nothing of it was stored
    assert deps.store.load("alice").version == 4


class LosesTheAnswer(InMemoryEventStore):
    def append_many(self, stored_events, records=NO_RECORDS):
        super().append_many(stored_events, records)
        if records.reversals:
            raise VersionConflict("the retry found its own items")


def test_a_reversal_whose_answer_was_lost_is_stored_once():
    deps = dependencies(LosesTheAnswer())
    post(deps, RecordCredit("alice", Money(1000)))
    reversal = reverse(deps, "alice", 2)
    assert deps.store.get("alice", 3).event == reversal
    assert deps.store.load("alice").version == 3

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.ports import NO_RECORDS, VersionConflict
from banking.domain.commands import (
    CloseAccount,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
)
from banking.domain.currency import Currency
from banking.domain.errors import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    ConcurrentModification,
    IdempotencyKeyReused,
    InsufficientFunds,
)
from banking.domain.events import AccountOpened
from banking.domain.money import Money
from tests.support import open_accounts


def dependencies(store=None, *, overdraft_limit="0", **settings):
    """An in-memory ledger whose accounts alice and bob are opened (version 1)."""
    counter = itertools.count(1)
    lock = threading.Lock()

    def new_id():
        with lock:
            return f"event-{next(counter)}"

    return CommandDependencies(
        store=open_accounts(
            store or InMemoryEventStore(), "alice", "bob", overdraft_limit=overdraft_limit
        ),
        clock=lambda: datetime(2026, 11, 26, tzinfo=UTC),
        new_id=new_id,
        settings=CommandSettings(**settings),
        sleep=lambda _: None,
    )


def test_an_accepted_command_is_stored_at_the_next_version():
    deps = dependencies()
    first = record(RecordCredit("alice", Money(1000)), deps)
    second = record(RecordDebit("alice", Money(400)), deps)
    assert (first.version, second.version) == (2, 3)
    assert deps.store.load("alice").balance == Money(600)


def test_a_rejected_command_stores_nothing():
    deps = dependencies()
    record(RecordCredit("alice", Money(1000)), deps)
    with pytest.raises(InsufficientFunds):
        record(RecordDebit("alice", Money(1001)), deps)
    assert deps.store.load("alice").version == 2


def test_a_retried_idempotency_key_returns_the_first_event_and_stores_nothing_new():
    deps = dependencies()
    first = record(
        RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="payments"
    )
    again = record(
        RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="payments"
    )
    assert again == first
    assert deps.store.load("alice").version == 2


def test_a_retried_debit_that_no_longer_fits_gets_its_first_answer():
    # GIVEN a keyed debit of all of alice's 10.00, stored
    deps = dependencies()
    record(RecordCredit("alice", Money(1000)), deps)
    first = record(RecordDebit("alice", Money(1000)), deps, idempotency_key="d", caller="shop")
    # WHEN the client retries it (deciding again would now refuse it: nothing left)
    again = record(RecordDebit("alice", Money(1000)), deps, idempotency_key="d", caller="shop")
    # THEN it gets the stored debit, and nothing new is stored
    assert again == first
    assert deps.store.load("alice").version == 3
    # AND another request with the key is refused as a reuse, not for the funds
    with pytest.raises(IdempotencyKeyReused):
        record(RecordDebit("alice", Money(999)), deps, idempotency_key="d", caller="shop")


@pytest.mark.parametrize(
    ("since", "refusal"),
    [(FreezeAccount("alice"), AccountFrozen), (CloseAccount("alice"), AccountClosed)],
)
def test_a_retried_credit_to_an_account_frozen_or_closed_since_gets_its_first_answer(
    since, refusal
):
    # GIVEN a keyed credit stored, and then alice frozen (or emptied and closed), so
    # that a new credit is refused
    deps = dependencies()
    first = record(RecordCredit("alice", Money(100)), deps, idempotency_key="c", caller="shop")
    if isinstance(since, CloseAccount):
        record(RecordDebit("alice", Money(100)), deps)
    record(since, deps, caller="ops")
    with pytest.raises(refusal):
        record(RecordCredit("alice", Money(100)), deps, idempotency_key="new", caller="shop")
    # WHEN the client retries the credit
    again = record(RecordCredit("alice", Money(100)), deps, idempotency_key="c", caller="shop")
    # THEN it gets the stored credit
    assert again == first


def test_a_retried_opening_gets_its_first_answer_not_account_exists():
    # GIVEN carol opened with a key
    deps = dependencies()
    opening = OpenAccount("carol", Currency("EUR"), {"carol"})
    first = record(opening, deps, idempotency_key="o", caller="ops")
    # WHEN the client retries it, and another caller opens carol
    again = record(opening, deps, idempotency_key="o", caller="ops")
    # THEN the retry gets the opening; the other is refused as an existing account
    assert again == first
    with pytest.raises(AccountExists):
        record(opening, deps, idempotency_key="o", caller="someone-else")
    assert deps.store.load("carol").version == 1


def test_an_idempotency_key_reused_with_another_request_is_refused():
    deps = dependencies()
    record(RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="payments")
    with pytest.raises(IdempotencyKeyReused):
        record(RecordCredit("alice", Money(999)), deps, idempotency_key="k1", caller="payments")
    with pytest.raises(IdempotencyKeyReused):
        record(RecordDebit("alice", Money(1000)), deps, idempotency_key="k1", caller="payments")
    assert deps.store.load("alice").version == 2


def test_idempotency_keys_are_scoped_to_the_account():
    deps = dependencies()
    record(RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="payments")
    record(RecordCredit("bob", Money(1000)), deps, idempotency_key="k1", caller="payments")
    assert deps.store.load("bob").version == 2


def test_idempotency_keys_are_scoped_to_the_caller():
    # GIVEN a credit that one back-office system recorded with its key
    deps = dependencies()
    first = record(RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="payroll")
    # WHEN another system happens to send the same key and body
    second = record(RecordCredit("alice", Money(1000)), deps, idempotency_key="k1", caller="shop")
    # THEN that is its own payment, stored as such
    assert second.event_id != first.event_id
    assert deps.store.load("alice").version == 3


def test_an_idempotency_key_without_its_caller_is_a_programming_error():
    deps = dependencies()
    with pytest.raises(ValueError, match="caller"):
        record(RecordCredit("alice", Money(1000)), deps, idempotency_key="k1")
    assert deps.store.load("alice").version == 1


def test_a_refused_debit_names_no_figures_in_its_message_but_in_its_details():
    # GIVEN an account holding 10.00
    deps = dependencies(overdraft_limit="5.00")
    record(RecordCredit("alice", Money.of("10.00")), deps)
    # WHEN a debit would cross the overdraft limit
    with pytest.raises(InsufficientFunds) as refused:
        record(RecordDebit("alice", Money.of("15.01")), deps)
    # THEN the message is generic and the figures are apart, for who may read them
    assert "10.00" not in refused.value.message
    assert "5.00" not in refused.value.message
    assert dict(refused.value.details) == {
        "accountId": "alice",
        "currency": "EUR",
        "balance": "10.00",
        "availableBalance": "10.00",
        "overdraftLimit": "5.00",
        "debit": "15.01",
    }


def test_twenty_concurrent_debits_never_overdraw():
    # GIVEN an account holding 100.00
    deps = dependencies()
    record(RecordCredit("alice", Money.of("100.00")), deps)
    barrier = threading.Barrier(20)

    def debit(_):
        barrier.wait()
        try:
            return record(RecordDebit("alice", Money.of("10.00")), deps).version
        except InsufficientFunds:
            return "insufficient_funds"

    # WHEN 20 threads debit 10.00 at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(debit, range(20)))

    # THEN exactly 10 succeed, versions have no gap and the balance is zero
    versions = sorted(o for o in outcomes if o != "insufficient_funds")
    assert versions == list(range(3, 13))
    assert outcomes.count("insufficient_funds") == 10
    assert deps.store.load("alice").balance == Money(0)


def test_concurrent_duplicates_with_one_key_store_one_event():
    deps = dependencies()
    barrier = threading.Barrier(8)

    def credit(_):
        barrier.wait()
        return record(
            RecordCredit("alice", Money(500)), deps, idempotency_key="same", caller="payments"
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(credit, range(8)))

    assert len({event.event_id for event in results}) == 1
    assert deps.store.load("alice").version == 2


class AlwaysConflicting(InMemoryEventStore):
    def append_many(self, stored_events, records=NO_RECORDS):
        if isinstance(stored_events[0].event, AccountOpened):
            # The accounts' opening (tests.support) is the setup, not the command.
            super().append_many(stored_events, records)
            return
        raise VersionConflict("someone else always wins")


def test_exhausted_retries_on_version_conflicts_are_reported():
    deps = dependencies(AlwaysConflicting(), max_attempts=3)
    with pytest.raises(ConcurrentModification):
        record(RecordCredit("alice", Money(1)), deps)


class LosesTheAnswer(InMemoryEventStore):
    """The write lands, but its answer is lost and the SDK's retry hits its own item."""

    def append_many(self, stored_events, records=NO_RECORDS):
        if isinstance(stored_events[0].event, AccountOpened):
            # The accounts' opening (tests.support) is the setup, not the command.
            super().append_many(stored_events, records)
            return
        super().append_many(stored_events, records)
        raise VersionConflict("the retry found the version taken (by the first try)")


def test_a_write_whose_answer_was_lost_is_stored_once():
    # GIVEN a store that loses every answer after writing
    deps = dependencies(LosesTheAnswer())
    # WHEN a credit is recorded
    event = record(RecordCredit("alice", Money(100)), deps)
    # THEN it is the one stored event, not decided again at the next version
    assert event.version == 2
    assert deps.store.load("alice").version == 2

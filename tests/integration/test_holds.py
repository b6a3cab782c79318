"""Holds on every store (in memory, and DynamoDB on moto): the hold record is stored
in the transaction of its event, found from its id, listed per account and by
expiry, resolved at most once, with an injectable clock instead of waiting.

The store's guarantees for holds, numbered as the tests below check them:
 1. A placed hold's event and record are stored together, and the record reads back.
 2. A hold id is placed once: a second put of a pending record stores nothing.
 3. A hold is resolved once: a second resolution stores nothing (VersionConflict).
 4. An account's holds list in the order placed, by status, in pages.
 5. The pending holds past a moment are found without a scan; resolved ones are not.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.holds import (
    capture_hold,
    expire_hold,
    expire_holds,
    holds_of,
    place_hold,
    placed,
    void_hold,
)
from banking.application.ports import (
    HoldStatus,
    StoredEvent,
    TransactionRecords,
    VersionConflict,
)
from banking.domain.commands import RecordCredit, RecordDebit
from banking.domain.errors import (
    HoldHasExpired,
    HoldNotFound,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFunds,
)
from banking.domain.events import Debited, HoldExpired, HoldPlaced, HoldVoided
from banking.domain.holds import CaptureHold, PlaceHold, VoidHold
from banking.domain.money import Money
from tests.support import open_accounts

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Clock:
    """A clock the test moves: expiry is tested without waiting for real time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    if request.param == "memory":
        return InMemoryEventStore()
    aws = request.getfixturevalue("aws")
    return DynamoDBEventStore(
        aws["dynamodb"],
        aws["tables"]["events"],
        aws["tables"]["idempotency"],
        transfers_table=aws["tables"]["transfers"],
        holds_table=aws["tables"]["holds"],
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def deps(store, clock):
    counter = iter(range(1, 10**6))
    open_accounts(store, "alice", "bob")
    deps = CommandDependencies(
        store=store,
        clock=clock,
        new_id=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        settings=CommandSettings(max_attempts=50, backoff_base_seconds=0.001),
    )
    record(RecordCredit("alice", Money(10000)), deps, caller="bank")
    return deps


def hold(deps, amount=3000, hold_id="h1", expires_in=MINUTE, key=None):
    return place_hold(
        PlaceHold("alice", hold_id, Money(amount), expires_in),
        deps,
        idempotency_key=key or f"place-{hold_id}",
        caller="shop",
    )


def capture(deps, hold_id="h1", amount=None, to=None, key=None):
    return capture_hold(
        CaptureHold(hold_id, None if amount is None else Money(amount), to),
        deps,
        idempotency_key=key or f"capture-{hold_id}",
        caller="shop",
        transfer_id=f"t-{hold_id}",
    )


def void(deps, hold_id="h1", key=None):
    return void_hold(
        VoidHold(hold_id), deps, idempotency_key=key or f"void-{hold_id}", caller="shop"
    )


def history(store, account_id):
    return list(store.events(account_id, after=0, limit=100))


def test_1_a_placed_hold_is_stored_with_its_record(deps):
    # WHEN a hold is placed
    placed_hold = hold(deps)
    # THEN its event is the account's next version and its record reads back
    event = history(deps.store, "alice")[-1]
    assert isinstance(event, HoldPlaced)
    assert deps.store.hold("h1") == placed_hold == placed(event)
    assert placed_hold.status is HoldStatus.PENDING
    assert placed_hold.expires_at == T0 + MINUTE
    assert deps.store.load("alice").available == Money(7000)


def test_2_a_hold_id_is_placed_once(deps):
    # GIVEN a hold placed
    hold(deps)
    state = deps.store.load("alice")
    event = HoldPlaced(
        "alice", state.version + 1, "e", T0, "h1", Money(1), T0 + MINUTE, state.currency
    )
    again = StoredEvent(event, state)
    # WHEN a pending record of the same id is stored again, on a free version
    # THEN nothing is stored
    with pytest.raises(VersionConflict):
        deps.store.append_many([again], TransactionRecords(hold=placed(event)))
    assert deps.store.load("alice").version == state.version


def test_3_a_hold_is_resolved_once(deps):
    # GIVEN a hold voided
    hold(deps)
    void(deps)
    state = deps.store.load("alice")
    # WHEN another resolution of it is stored, on a free version
    event = HoldVoided("alice", state.version + 1, "e2", T0, "h1", Money(3000))
    record_ = attrs.evolve(deps.store.hold("h1"), status=HoldStatus.EXPIRED)
    # THEN nothing is stored
    with pytest.raises(VersionConflict):
        deps.store.append_many([StoredEvent(event, state)], TransactionRecords(hold=record_))
    assert deps.store.load("alice").version == state.version
    assert deps.store.hold("h1").status is HoldStatus.VOIDED


def test_4_an_accounts_holds_list_in_order_by_status_in_pages(deps):
    # GIVEN three holds, the second voided
    for hold_id in ("h1", "h2", "h3"):
        hold(deps, amount=100, hold_id=hold_id)
    void(deps, "h2")
    # WHEN they are listed
    # THEN all come in the order placed, in pages, and a status filters them
    first = holds_of("alice", deps.store, status=None, after=0, limit=2)
    assert [h.hold_id for h in first.holds] == ["h1", "h2"]
    assert first.next_after is not None
    rest = holds_of("alice", deps.store, status=None, after=first.next_after, limit=2)
    assert ([h.hold_id for h in rest.holds], rest.next_after) == (["h3"], None)
    pending = holds_of("alice", deps.store, status=HoldStatus.PENDING, after=0, limit=1)
    assert [h.hold_id for h in pending.holds] == ["h1"]
    assert pending.next_after is not None
    more = holds_of(
        "alice", deps.store, status=HoldStatus.PENDING, after=pending.next_after, limit=5
    )
    assert [h.hold_id for h in more.holds] == ["h3"]
    voided = holds_of("alice", deps.store, status=HoldStatus.VOIDED, after=0, limit=5)
    assert [h.hold_id for h in voided.holds] == ["h2"]
    assert holds_of("bob", deps.store, status=None, after=0, limit=5).holds == []


def test_5_pending_holds_past_a_moment_are_found_and_resolved_ones_are_not(deps, clock):
    # GIVEN holds expiring in 1, 2 and 3 minutes, the first voided
    for minutes, hold_id in ((1, "h1"), (2, "h2"), (3, "h3")):
        hold(deps, amount=100, hold_id=hold_id, expires_in=minutes * MINUTE)
    void(deps, "h1")
    # WHEN the holds due at 2 minutes are asked for
    # THEN only the pending one past then is found
    assert [h.hold_id for h in deps.store.expiring(T0 + 2 * MINUTE, limit=10)] == ["h2"]
    assert deps.store.expiring(T0, limit=10) == []


def test_a_capture_debits_the_account_and_releases_the_hold(deps):
    # GIVEN 30.00 held of 100.00
    hold(deps)
    # WHEN 10.00 of it is captured
    captured = capture(deps, amount=1000)
    # THEN the debit names the hold, the remainder is released, the record says so
    debit = history(deps.store, "alice")[-1]
    assert isinstance(debit, Debited)
    assert (debit.amount, debit.hold_id) == (Money(1000), "h1")
    state = deps.store.load("alice")
    assert (state.balance, state.held, state.available) == (Money(9000), Money(0), Money(9000))
    assert captured.status is HoldStatus.CAPTURED
    assert (captured.captured_amount, captured.resolved_version) == (Money(1000), debit.version)


def test_a_capture_into_another_account_is_a_transfer(deps):
    # GIVEN 30.00 held on alice
    hold(deps)
    # WHEN all of it is captured into bob
    captured = capture(deps, to="bob")
    # THEN bob is credited as the transfer's other leg, and the transfer is stored
    assert deps.store.load("bob").balance == Money(3000)
    assert deps.store.load("alice").balance == Money(7000)
    transfer = deps.store.transfer("t-h1")
    assert transfer is not None
    assert [leg.account_id for leg in transfer.legs] == ["alice", "bob"]
    assert (captured.captured_to, captured.transfer_id) == ("bob", "t-h1")


def test_a_retried_capture_answers_the_same_and_captures_once(deps):
    # GIVEN a hold captured with a key
    hold(deps)
    first = capture(deps, amount=1000, key="k")
    # WHEN the same request is sent again with the key
    again = capture(deps, amount=1000, key="k")
    # THEN it answers the same, and nothing more is stored
    assert again == first
    assert deps.store.load("alice").balance == Money(9000)
    # AND the key with another request is refused
    with pytest.raises(IdempotencyKeyReused):
        capture(deps, amount=500, key="k")


def test_a_retried_placement_places_once(deps):
    first = hold(deps, key="k")
    again = place_hold(
        PlaceHold("alice", "h-other", Money(3000), MINUTE), deps, idempotency_key="k", caller="shop"
    )
    assert again == first
    assert deps.store.load("alice").held == Money(3000)


def test_a_retried_placement_that_no_longer_fits_answers_the_first(deps):
    # GIVEN a hold of all of alice's 100.00 placed with key k
    first = hold(deps, amount=10000, key="k")
    # WHEN the client retries it (deciding again would refuse it: nothing available)
    again = place_hold(
        PlaceHold("alice", "h-retry", Money(10000), MINUTE),
        deps,
        idempotency_key="k",
        caller="shop",
    )
    # THEN it gets the first hold, and nothing more is held
    assert again == first
    assert deps.store.load("alice").held == Money(10000)
    # AND another request with the key is refused as a reuse, not for the funds
    with pytest.raises(IdempotencyKeyReused):
        place_hold(
            PlaceHold("alice", "h-other", Money(1), MINUTE),
            deps,
            idempotency_key="k",
            caller="shop",
        )


def test_a_hold_captured_twice_is_refused_the_second_time(deps):
    hold(deps)
    capture(deps)
    with pytest.raises(HoldNotPending):
        capture(deps, key="another")
    with pytest.raises(HoldNotPending):
        void(deps)


def test_an_unknown_hold_is_not_found(deps):
    with pytest.raises(HoldNotFound):
        capture(deps, hold_id="nope")


def test_a_capture_after_expiry_is_refused_before_the_expirer_ran(deps, clock):
    # GIVEN a hold of a minute, and a minute passed without the expirer
    hold(deps)
    clock.now = T0 + MINUTE
    # WHEN it is captured
    # THEN it is refused as expired, and nothing was stored
    version = deps.store.load("alice").version
    with pytest.raises(HoldHasExpired):
        capture(deps)
    assert deps.store.load("alice").version == version


def test_the_expirer_releases_every_due_hold_once(deps, clock):
    # GIVEN two holds of a minute and one of an hour
    hold(deps, amount=1000, hold_id="h1")
    hold(deps, amount=1000, hold_id="h2")
    hold(deps, amount=1000, hold_id="h3", expires_in=60 * MINUTE)
    # WHEN the expirer runs a minute later, twice
    clock.now = T0 + MINUTE
    first = expire_holds(deps.store, deps, batch=1)
    second = expire_holds(deps.store, deps)
    # THEN the two due holds were released once each, and the third is still held
    assert (first.expired, second.expired) == (2, 0)
    expired = [e for e in history(deps.store, "alice") if isinstance(e, HoldExpired)]
    assert sorted(e.hold_id for e in expired) == ["h1", "h2"]
    assert deps.store.hold("h1").status is HoldStatus.EXPIRED
    assert deps.store.load("alice").held == Money(1000)


def test_the_available_balance_refuses_a_debit(deps):
    hold(deps, amount=8000)
    with pytest.raises(InsufficientFunds):
        record(RecordDebit("alice", Money(3000)), deps, caller="bank")


@pytest.mark.parametrize("rival", ["void", "expirer"])
def test_a_capture_racing_a_void_or_the_expirer_exactly_one_wins(
    deps, clock, rival, atomic_dynamodb
):
    # GIVEN many holds, each raced by a capture and its rival at once
    holds = [f"r{index}" for index in range(6)]
    for hold_id in holds:
        hold(deps, amount=100, hold_id=hold_id)
    if rival == "expirer":
        # Captures are judged on their own clock; the expirer on one past the expiry.
        deps_late = attrs.evolve(deps, clock=lambda: T0 + 2 * MINUTE)
        clock.now = T0 + MINUTE - timedelta(microseconds=1)
    outcomes: dict[str, list[str]] = {hold_id: [] for hold_id in holds}
    barrier = threading.Barrier(2)

    def capturing() -> None:
        barrier.wait()
        for hold_id in holds:
            try:
                capture(deps, hold_id=hold_id)
                outcomes[hold_id].append("captured")
            except (HoldNotPending, HoldHasExpired):
                pass

    def releasing() -> None:
        barrier.wait()
        if rival == "expirer":
            expire_holds(deps.store, deps_late)
            return
        for hold_id in reversed(holds):
            try:
                void(deps, hold_id=hold_id)
                outcomes[hold_id].append("voided")
            except HoldNotPending:
                pass

    # WHEN both run at once
    threads = [threading.Thread(target=capturing), threading.Thread(target=releasing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each hold was resolved exactly once, and the money adds up
    events = history(deps.store, "alice")
    for hold_id in holds:
        resolutions = [
            e
            for e in events
            if isinstance(e, HoldVoided | HoldExpired | Debited) and e.hold_id == hold_id
        ]
        assert len(resolutions) == 1, hold_id
    state = deps.store.load("alice")
    captured = sum(1 for e in events if isinstance(e, Debited) and e.hold_id)
    assert state.held == Money(0)
    assert state.balance == Money(10000 - 100 * captured)


def test_a_capture_or_void_after_the_expiry_was_recorded_is_refused_as_expired(deps, clock):
    # GIVEN a hold whose expiry the expirer recorded
    hold(deps)
    clock.now = T0 + MINUTE
    expire_holds(deps.store, deps)
    # WHEN it is captured or voided
    # THEN both are refused as expired, as they were before the expiry was recorded
    with pytest.raises(HoldHasExpired):
        capture(deps)
    with pytest.raises(HoldHasExpired):
        void(deps)


def test_a_hold_listed_as_due_by_a_clock_ahead_is_left_for_a_later_run(deps, clock):
    # GIVEN a hold of a minute, listed as due by a clock a minute ahead
    hold(deps)
    due = deps.store.expiring(T0 + MINUTE, limit=10)
    # WHEN the expirer, on a clock not there yet, tries to release it
    released = expire_hold(due[0], deps)
    # THEN it is left pending for a later run, and nothing is stored
    assert released is None
    assert deps.store.hold("h1").status is HoldStatus.PENDING

"""One contract, every event store: the in-memory one and DynamoDB (on moto).

The guarantees, numbered as the tests below check them:
 1. An account with no event loads at version 0.
 2. An appended event reads back exactly, with the state after it.
 3. A version can be appended once: the second append is a VersionConflict.
 4. An event and its idempotency key are stored together or not at all.
 5. History is served in version order, in pages.
 6. A scan yields every stored event once, each account's in version order; parallel
    segments share the accounts out whole; a scan resumes after a cursor.
 7. An account's scan yields its events in version order, resuming after a cursor.
 8. An idempotency key is its caller's: the same key of another caller is another key.
 9. A transfer's legs, its record and its idempotency key are stored all together, and
    the record reads back.
10. A taken version of any leg is a VersionConflict, and nothing of the transfer is
    stored (both legs or neither).
11. A taken idempotency key (IdempotencyKeyTaken) or transfer id (VersionConflict)
    stores nothing either.
12. The event an account stood at at a moment is its last one recorded at or before
    it (strictly before, when not inclusive), with its state; among events recorded
    at the same instant, the last in version order; none before the first event.
13. That answer is the table's, not the index's: an event just appended is seen at once.
14. A reversal marker is stored with its transaction and reads back; a second marker of
    the same original is a ReversalTaken, and nothing of its transaction is stored.
15. A VersionConflict carries the event that holds each refused version, whether the
    event came alone or in a transaction (what tells our own landed write from
    another's without a read).
16. An IdempotencyKeyTaken carries the record stored under the key (what answers a
    retried request without a read), and wins over a version taken at the same time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.adapters.memory import InMemoryEventStore
from banking.application.ports import (
    TRANSFER_SCOPE,
    Cursor,
    EventNotFound,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    Leg,
    ReversalMarker,
    ReversalTaken,
    StoredEvent,
    TransactionRecords,
    TransferPosting,
    TransferRecord,
    VersionConflict,
)
from banking.domain.account import Account, evolve
from banking.domain.currency import Currency
from banking.domain.events import Credited, Debited, EventRef
from banking.domain.money import Money

NOW = datetime(2026, 11, 26, 7, 0, 0, 123456, tzinfo=UTC)


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
    )


def stored(state: Account, amount: int, *, debit: bool = False, description=None) -> StoredEvent:
    event_type = Debited if debit else Credited
    event = event_type(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=f"event-{state.version + 1}",
        amount=Money(amount),
        recorded_at=NOW,
        description=description,
    )
    return StoredEvent(event, evolve(state, event, ZoneInfo("UTC")), correlation_id="req-1")


def test_1_an_account_with_no_event_is_at_version_0(store):
    assert store.load("nobody") == Account("nobody")


def test_2_an_appended_event_reads_back_exactly_with_its_state(store):
    first = stored(Account("alice"), 1234, description="salary ✓")
    store.append(first)
    second = stored(first.state, 234, debit=True)
    store.append(second)
    assert store.load("alice") == second.state
    assert store.get("alice", 1) == first
    assert store.get("alice", 2).event == second.event
    with pytest.raises(EventNotFound):
        store.get("alice", 3)


def test_3_a_version_can_be_appended_once(store):
    first = stored(Account("alice"), 100)
    store.append(first)
    rival = stored(Account("alice"), 999)
    with pytest.raises(VersionConflict):
        store.append(rival)
    assert store.get("alice", 1) == first


def test_4_an_event_and_its_idempotency_key_are_stored_together(store):
    first = stored(Account("alice"), 100)
    store.append(
        first,
        TransactionRecords(idempotency=IdempotencyRecord("alice", "svc", "k", "fp", first.event)),
    )
    assert store.idempotency_record("alice", "svc", "k") == IdempotencyRecord(
        "alice", "svc", "k", "fp", first.event
    )
    # The key is taken: the next event is not stored either.
    second = stored(first.state, 100)
    with pytest.raises(IdempotencyKeyTaken):
        store.append(
            second,
            TransactionRecords(
                idempotency=IdempotencyRecord("alice", "svc", "k", "fp", second.event)
            ),
        )
    assert store.load("alice").version == 1
    # The version is taken: the new key is not stored either.
    with pytest.raises(VersionConflict):
        store.append(
            stored(Account("alice"), 5),
            TransactionRecords(
                idempotency=IdempotencyRecord("alice", "svc", "k2", "fp", first.event)
            ),
        )
    assert store.idempotency_record("alice", "svc", "k2") is None
    assert store.idempotency_record("bob", "svc", "k") is None


def test_5_history_is_served_in_version_order_in_pages(store):
    state = Account("alice")
    for amount in range(1, 8):
        event = stored(state, amount)
        store.append(event)
        state = event.state
    assert [e.version for e in store.events("alice", after=0, limit=3)] == [1, 2, 3]
    assert [e.version for e in store.events("alice", after=3, limit=3)] == [4, 5, 6]
    assert [e.version for e in store.events("alice", after=6, limit=3)] == [7]
    assert list(store.events("alice", after=7, limit=3)) == []
    assert list(store.events("nobody", after=0, limit=3)) == []


def append_history(store, account_id: str, count: int) -> list[StoredEvent]:
    history, state = [], Account(account_id)
    for amount in range(1, count + 1):
        event = stored(state, amount)
        store.append(event)
        history.append(event)
        state = event.state
    return history


def keys(items) -> list[tuple[str, int]]:
    return [(item.event.account_id, item.event.version) for item in items]


def test_6_a_scan_yields_every_event_once_each_account_in_order_and_resumes(store):
    # GIVEN three accounts with a few events each
    history = {name: append_history(store, name, 3) for name in ("alice", "bob", "carol")}
    # WHEN the table is scanned whole, and in 4 parallel segments
    whole = list(store.scan())
    segments = [list(store.scan(segment=s, total_segments=4)) for s in range(4)]
    # THEN every event comes once with its state, each account's in version order
    assert sorted(whole, key=lambda item: keys([item])) == [
        item for name in sorted(history) for item in history[name]
    ]
    for name in history:
        assert [v for a, v in keys(whole) if a == name] == [1, 2, 3]
    # AND the segments share the accounts out whole, together holding every event
    accounts = [{account for account, _ in keys(segment)} for segment in segments]
    assert sum(len(names) for names in accounts) == 3
    assert sorted(key for segment in segments for key in keys(segment)) == sorted(keys(whole))
    # AND a scan resumes right after its cursor
    middle = keys(whole)[4]
    assert keys(store.scan(after=Cursor(*middle))) == keys(whole)[5:]


def test_7_an_accounts_scan_yields_its_events_in_order_and_resumes(store):
    # GIVEN two accounts
    alice = append_history(store, "alice", 4)
    append_history(store, "bob", 2)
    # WHEN one account is scanned, from the start and after its second event
    # THEN only its events come, in version order, with their states
    assert list(store.scan_account("alice")) == alice
    assert list(store.scan_account("alice", after=Cursor("alice", 2))) == alice[2:]
    assert list(store.scan_account("nobody")) == []


def test_8_an_idempotency_key_is_its_callers(store):
    # GIVEN a key stored by one caller
    first = stored(Account("alice"), 100)
    store.append(
        first,
        TransactionRecords(
            idempotency=IdempotencyRecord("alice", "payroll", "k", "fp", first.event)
        ),
    )
    # WHEN another caller stores the same key on the same account
    second = stored(first.state, 100)
    store.append(
        second,
        TransactionRecords(idempotency=IdempotencyRecord("alice", "shop", "k", "fp", second.event)),
    )
    # THEN each finds its own, and a caller whose name runs into the key finds neither
    assert store.idempotency_record("alice", "payroll", "k").event == first.event
    assert store.idempotency_record("alice", "shop", "k").event == second.event
    assert store.idempotency_record("alice", "shop#k", "") is None
    assert store.idempotency_record("alice", "sho", "p#k") is None


def transfer_of(legs: list[StoredEvent], transfer_id: str = "t-1") -> TransferRecord:
    debit = legs[0].event
    assert isinstance(debit, Debited)
    return TransferRecord(
        transfer_id=transfer_id,
        recorded_at=NOW,
        postings=(TransferPosting("alice", "bob", debit.amount, Currency("EUR")),),
        legs=tuple(Leg.of(leg.event) for leg in legs if isinstance(leg.event, Credited | Debited)),
        description="rent",
        recorded_by="payments",
        correlation_id="req-1",
    )


def transfer_legs(alice: Account, bob: Account, amount: int) -> list[StoredEvent]:
    return [stored(alice, amount, debit=True), stored(bob, amount)]


def claim(key: str, transfer_id: str = "t-1") -> IdempotencyRecord:
    return IdempotencyRecord(TRANSFER_SCOPE, "payments", key, "fp", transfer_id=transfer_id)


def test_9_a_transfers_legs_record_and_key_are_stored_together(store):
    # GIVEN alice with 10.00
    funded = stored(Account("alice"), 1000)
    store.append(funded)
    legs = transfer_legs(funded.state, Account("bob"), 400)
    # WHEN a transfer of 4.00 to bob is appended
    store.append_many(legs, TransactionRecords(idempotency=claim("k"), transfer=transfer_of(legs)))
    # THEN both legs, the record and the key are there, and read back exactly
    assert store.get("alice", 2) == legs[0]
    assert store.get("bob", 1) == legs[1]
    assert store.transfer("t-1") == transfer_of(legs)
    assert store.idempotency_record(TRANSFER_SCOPE, "payments", "k") == claim("k")
    assert store.transfer("t-2") is None


def test_10_a_taken_version_of_any_leg_stores_nothing_of_the_transfer(store):
    # GIVEN bob at version 1 already (another writer got there first)
    store.append(stored(Account("bob"), 1))
    legs = transfer_legs(Account("alice"), Account("bob"), 400)
    # WHEN a transfer decided on bob at version 0 is appended
    with pytest.raises(VersionConflict):
        store.append_many(
            legs, TransactionRecords(idempotency=claim("k"), transfer=transfer_of(legs))
        )
    # THEN neither leg, nor the record, nor the key was stored
    assert store.load("alice").version == 0
    assert store.load("bob").version == 1
    assert store.transfer("t-1") is None
    assert store.idempotency_record(TRANSFER_SCOPE, "payments", "k") is None


def test_11_a_taken_key_or_transfer_id_stores_nothing(store):
    # GIVEN a transfer stored with key k
    legs = transfer_legs(Account("alice"), Account("bob"), 100)
    store.append_many(legs, TransactionRecords(idempotency=claim("k"), transfer=transfer_of(legs)))
    after = transfer_legs(legs[0].state, legs[1].state, 100)
    # WHEN another transfer comes with the same key, or with the same transfer id
    with pytest.raises(IdempotencyKeyTaken):
        store.append_many(
            after,
            TransactionRecords(idempotency=claim("k", "t-2"), transfer=transfer_of(after, "t-2")),
        )
    with pytest.raises(VersionConflict):
        store.append_many(
            after, TransactionRecords(idempotency=claim("k2"), transfer=transfer_of(after))
        )
    # THEN nothing of either was stored
    assert (store.load("alice").version, store.load("bob").version) == (1, 1)
    assert store.transfer("t-2") is None
    assert store.idempotency_record(TRANSFER_SCOPE, "payments", "k2") is None


def timed_history(store, account_id: str, seconds: list[int]) -> list[StoredEvent]:
    """Credits of 1, 2, 3... recorded `seconds` after NOW, in that order."""
    history, state = [], Account(account_id)
    for amount, offset in enumerate(seconds, start=1):
        event = attrs.evolve(
            stored(state, amount).event, recorded_at=NOW + timedelta(seconds=offset)
        )
        item = StoredEvent(event, evolve(state, event, ZoneInfo("UTC")))
        store.append(item)
        history.append(item)
        state = item.state
    return history


def test_12_an_account_stands_at_its_last_event_at_or_before_a_moment(store):
    # GIVEN alice's events at +0s, +10s, +10s, +10s (one transfer's legs) and +20s
    history = timed_history(store, "alice", [0, 10, 10, 10, 20])
    at = lambda seconds: NOW + timedelta(seconds=seconds)  # noqa: E731
    # WHEN she is asked for at several moments
    # THEN each answer is the last event at or before it, with the state after it
    assert store.last_at("alice", at(0)) == history[0]
    assert store.last_at("alice", at(9)) == history[0]
    assert store.last_at("alice", at(10)) == history[3]
    assert store.last_at("alice", at(15)).state.balance == Money(1 + 2 + 3 + 4)
    assert store.last_at("alice", at(10_000)) == history[4]
    # AND strictly before a moment is the event before the first one recorded then
    assert store.last_at("alice", at(10), inclusive=False) == history[0]
    assert store.last_at("alice", at(0), inclusive=False) is None
    # AND before the first event, or for an account without events, there is none
    assert store.last_at("alice", at(-1)) is None
    assert store.last_at("nobody", at(0)) is None


def test_13_the_moment_answer_sees_an_event_appended_just_before(store):
    # GIVEN alice's first event, asked for, and then a second one
    first = timed_history(store, "alice", [0])[0]
    assert store.last_at("alice", NOW + timedelta(seconds=5)) == first
    second_event = attrs.evolve(
        stored(first.state, 7).event, recorded_at=NOW + timedelta(seconds=1)
    )
    second = StoredEvent(second_event, evolve(first.state, second_event, ZoneInfo("UTC")))
    store.append(second)
    # WHEN she is asked for a moment after it, at once
    # THEN the answer is the new event
    assert store.last_at("alice", NOW + timedelta(seconds=5)) == second


def test_14_an_original_has_at_most_one_reversal_marker(store):
    # GIVEN alice's credit at version 1, reversed at version 2 (a marker with it)
    credit = stored(Account("alice"), 500)
    store.append(credit)
    reversal = stored(credit.state, 500, debit=True)
    marker = ReversalMarker(EventRef("alice", 1), EventRef("alice", 2), "event-2")
    store.append_many([reversal], TransactionRecords(idempotency=claim("k"), reversals=(marker,)))
    assert store.reversal(EventRef("alice", 1)) == marker
    assert store.reversal(EventRef("alice", 2)) is None
    # WHEN another reversal of version 1 comes, with its own marker and key
    again = stored(reversal.state, 500, debit=True)
    rival = ReversalMarker(EventRef("alice", 1), EventRef("alice", 3), "event-3")
    with pytest.raises(ReversalTaken):
        store.append_many([again], TransactionRecords(idempotency=claim("k2"), reversals=(rival,)))
    # THEN nothing of it was stored, and the first marker stands
    assert store.load("alice").version == 2
    assert store.idempotency_record(TRANSFER_SCOPE, "payments", "k2") is None
    assert store.reversal(EventRef("alice", 1)) == marker


def test_15_a_version_conflict_carries_the_event_that_holds_the_version(store):
    # GIVEN alice's credit at version 1 and bob's at version 1
    first = stored(Account("alice"), 100)
    store.append(first)
    bobs = stored(Account("bob"), 300)
    store.append(bobs)
    # WHEN another event is appended at version 1 alone, and with a key in a transaction
    rival_event = attrs.evolve(stored(Account("alice"), 999).event, event_id="rival-1")
    rival = StoredEvent(rival_event, evolve(Account("alice"), rival_event, ZoneInfo("UTC")))
    with pytest.raises(VersionConflict) as alone:
        store.append(rival)
    keyed = IdempotencyRecord("alice", "svc", "k", "fp", rival.event)
    with pytest.raises(VersionConflict) as in_a_transaction:
        store.append(rival, TransactionRecords(idempotency=keyed))
    # AND a transfer whose legs are decided on alice at 0 and bob at 1 (only alice's taken)
    legs = transfer_legs(Account("alice"), bobs.state, 100)
    with pytest.raises(VersionConflict) as transfer:
        store.append_many(
            legs, TransactionRecords(idempotency=claim("t"), transfer=transfer_of(legs))
        )
    # AND two events of alice at versions 1 and 2 in one transaction (only 1 taken)
    second = stored(rival.state, 5)
    with pytest.raises(VersionConflict) as two:
        store.append_many([rival, second], TransactionRecords(idempotency=keyed))
    # THEN each refusal carries the stored event at the refused version, with its state
    assert alone.value.taken == (first,)
    assert in_a_transaction.value.taken == (first,)
    assert transfer.value.taken == (first,)
    assert two.value.taken == (first,)
    # AND nothing of the refused writes was stored
    assert store.idempotency_record("alice", "svc", "k") is None
    assert store.load("bob").version == 1


def test_16_a_taken_key_carries_the_record_stored_under_it(store):
    # GIVEN a credit stored with key k
    first = stored(Account("alice"), 100)
    record = IdempotencyRecord("alice", "svc", "k", "fp", first.event)
    store.append(first, TransactionRecords(idempotency=record))
    # WHEN another event claims k, at the next version and at the taken version 1
    for version_of in (first.state, Account("alice")):
        again = stored(version_of, 100)
        with pytest.raises(IdempotencyKeyTaken) as taken:
            store.append(
                again,
                TransactionRecords(
                    idempotency=IdempotencyRecord("alice", "svc", "k", "other", again.event)
                ),
            )
        # THEN the refusal carries the stored record, the event it answered included
        assert taken.value.record == record
    assert store.load("alice").version == 1
    # AND a transfer's key carries its transfer id
    legs = transfer_legs(first.state, Account("bob"), 100)
    store.append_many(legs, TransactionRecords(idempotency=claim("t"), transfer=transfer_of(legs)))
    after = transfer_legs(legs[0].state, legs[1].state, 100)
    with pytest.raises(IdempotencyKeyTaken) as taken:
        store.append_many(
            after,
            TransactionRecords(idempotency=claim("t", "t-2"), transfer=transfer_of(after, "t-2")),
        )
    assert taken.value.record == claim("t")

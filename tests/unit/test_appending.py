"""The one decide-append-retry loop every write use case stores through: each of its
rules is tested here once, on a real in-memory store whose appends are scripted."""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import attrs
import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.appending import (
    CommandDependencies,
    CommandSettings,
    Conflict,
    Decision,
    append_decided,
    ours,
)
from banking.application.commands import answered_event
from banking.application.ports import (
    NO_RECORDS,
    IdempotencyRecord,
    ReversalTaken,
    StoredEvent,
    TransactionRecords,
    VersionConflict,
)
from banking.domain.account import evolve
from banking.domain.commands import RecordCredit
from banking.domain.decisions import decide
from banking.domain.errors import AccountFrozen, ConcurrentModification, IdempotencyKeyReused
from banking.domain.events import AccountOpened, Event
from banking.domain.money import Money
from tests.support import open_accounts

NOW = datetime(2026, 11, 26, tzinfo=UTC)
ZONE = ZoneInfo("UTC")


class ScriptedStore(InMemoryEventStore):
    """Each append of a command raises the next scripted error, after storing its
    items if the error says so (an answer lost); once the script is out, appends land.
    A scripted version conflict carries no stored event (as a conflict between two
    transactions in flight); the reads the loop makes are counted."""

    def __init__(self, *script: tuple[type[Exception], bool]) -> None:
        super().__init__()
        self.script = list(script)
        self.appends = 0
        self.key_reads = 0
        self.event_reads = 0

    def idempotency_record(self, account_id, caller, key):
        self.key_reads += 1
        return super().idempotency_record(account_id, caller, key)

    def events(self, account_id, *, after, limit):
        self.event_reads += 1
        return super().events(account_id, after=after, limit=limit)

    def append_many(self, stored_events, records=NO_RECORDS):
        if isinstance(stored_events[0].event, AccountOpened):
            super().append_many(stored_events, records)  # the setup, not the command
            return
        self.appends += 1
        if not self.script:
            super().append_many(stored_events, records)
            return
        error, landed = self.script.pop(0)
        if landed:
            super().append_many(stored_events, records)
        raise error("scripted")


@attrs.define
class Ledger:
    """The loop's dependencies, with what it did to them kept for the assertions."""

    store: ScriptedStore
    deps: CommandDependencies
    sleeps: list[float]
    conflicts: list[None]
    decisions: list[Event]


def ledger(store: ScriptedStore, **settings) -> Ledger:
    ids = iter(f"event-{n}" for n in range(1, 100))
    sleeps: list[float] = []
    conflicts: list[None] = []
    deps = CommandDependencies(
        store=open_accounts(store, "alice", "bob"),
        clock=lambda: NOW,
        new_id=lambda: next(ids),
        settings=CommandSettings(**settings),
        sleep=sleeps.append,
        on_conflict=lambda: conflicts.append(None),
    )
    return Ledger(store, deps, sleeps, conflicts, [])


def credit(
    ledger: Ledger, *, account: str = "alice", claim: IdempotencyRecord | None = None
) -> Callable[[], Decision[Event]]:
    """A use case's decision: a credit of 1 at the account's next version."""

    def decided() -> Decision[Event]:
        state = ledger.deps.store.load(account)
        event = decide(
            state, RecordCredit(account, Money(1)), event_id=ledger.deps.new_id(), now=NOW
        )
        ledger.decisions.append(event)
        key = attrs.evolve(claim, event=event) if claim else None
        return Decision(
            [StoredEvent(event, evolve(state, event, ZONE))],
            TransactionRecords(idempotency=key),
            event,
        )

    return decided


def store_credit(
    ledger: Ledger,
    *,
    claim: IdempotencyRecord | None = None,
    time_left: Callable[[], float] = lambda: float("inf"),
) -> Event:
    return append_decided(
        ledger.deps,
        credit(ledger, claim=claim),
        subject="account alice",
        claim=claim,
        replay=answered_event,
        landed=lambda decision, conflict: (
            decision.answer if landed_ours(ledger, decision, conflict) else None
        ),
        time_left=time_left,
    )


def landed_ours(ledger: Ledger, decision: Decision[Event], conflict: Conflict) -> bool:
    """A use case's `landed`: by the returned events, else by a read."""
    found = ours(conflict, decision.events)
    if found is not None:
        return found
    event = decision.answer
    stored = ledger.deps.store.events(event.account_id, after=event.version - 1, limit=1)
    return bool(stored) and stored[0].event_id == event.event_id


@pytest.mark.parametrize("conflict", [VersionConflict, ReversalTaken])
def test_a_conflict_is_decided_again_from_fresh_state_after_a_jittered_backoff(conflict):
    # GIVEN a store where another writer wins the first two attempts
    books = ledger(ScriptedStore((conflict, False), (conflict, False)))
    # WHEN a credit is stored
    event = store_credit(books)
    # THEN the third decision is stored, each conflict counted and backed off within
    # its exponential ceiling (10 ms, then 20 ms)
    assert [d.event_id for d in books.decisions] == ["event-1", "event-2", "event-3"]
    assert event == books.decisions[-1]
    assert books.deps.store.load("alice").version == 2
    assert len(books.conflicts) == 2
    assert len(books.sleeps) == 2
    assert 0 <= books.sleeps[0] <= 0.01
    assert 0 <= books.sleeps[1] <= 0.02


def test_conflicts_outlasting_the_attempts_give_up_and_store_nothing():
    # GIVEN a store where another writer always wins
    books = ledger(ScriptedStore(*[(VersionConflict, False)] * 5), max_attempts=3)
    # WHEN a credit is stored
    # THEN it gives up after 3 attempts, telling the client to retry
    with pytest.raises(ConcurrentModification, match="account alice changed concurrently 3"):
        store_credit(books)
    assert books.store.appends == 3
    assert books.deps.store.load("alice").version == 1


def test_a_write_whose_answer_was_lost_is_recognised_as_ours_and_not_decided_again():
    # GIVEN a store that stores the first write but loses its answer (the SDK's
    # retry then fails its condition on the item the first try wrote), and says
    # nothing of the item that refused it
    books = ledger(ScriptedStore((VersionConflict, True)))
    # WHEN a credit is stored
    event = store_credit(books)
    # THEN the landed write, read back, is the answer: decided once, stored once, no
    # backoff
    assert books.decisions == [event]
    assert books.deps.store.load("alice").version == 2
    assert books.store.event_reads == 1
    assert books.sleeps == []
    assert books.conflicts == []


class LosesTheAnswer(InMemoryEventStore):
    """The first append of a command lands, but its answer is lost: the SDK's retry is
    refused by the item the first try wrote, which the refusal returns."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0
        self.event_reads = 0

    def append_many(self, stored_events, records=NO_RECORDS):
        super().append_many(stored_events, records)
        if not self.lost and not isinstance(stored_events[0].event, AccountOpened):
            self.lost += 1
            super().append_many(stored_events, records)  # the SDK's retry

    def events(self, account_id, *, after, limit):
        self.event_reads += 1
        return super().events(account_id, after=after, limit=limit)


def test_our_own_landed_write_is_told_by_the_event_the_refusal_returns_without_a_read():
    # GIVEN a store whose first command write lands and whose retry is refused by it
    books = ledger(LosesTheAnswer())  # type: ignore[arg-type]
    # WHEN a credit is stored
    event = store_credit(books)
    # THEN the returned event is ours: the answer, with no read and no backoff
    assert books.decisions == [event]
    assert books.deps.store.load("alice").version == 2
    assert books.store.event_reads == 0
    assert books.sleeps == []


def test_another_writers_event_returned_with_the_refusal_is_a_conflict_without_a_read():
    # GIVEN another writer's credit lands at alice's next version just before ours
    store = KeyTakenFirst()
    books = ledger(store)
    state = store.load("alice")
    theirs = decide(state, RecordCredit("alice", Money(5)), event_id="rival", now=NOW)
    store.rival.append(([StoredEvent(theirs, evolve(state, theirs, ZONE))], NO_RECORDS))
    # WHEN a credit is stored
    event = store_credit(books)
    # THEN the refusal's event (theirs) says it was not ours: decided again after one
    # backoff, stored after theirs, with no read of the refused version
    assert [d.event_id for d in books.decisions] == ["event-1", "event-2"]
    assert event.version == 3
    assert store.event_reads == 0
    assert len(books.sleeps) == 1


def test_no_write_is_started_without_the_time_budget_for_it():
    # GIVEN a write needs 5 s and the caller has 4 s left
    books = ledger(ScriptedStore(), write_budget_seconds=5.0)
    # WHEN a credit is stored
    # THEN it is refused before any write: nothing stored, the client may retry
    with pytest.raises(ConcurrentModification, match="no time left"):
        store_credit(books, time_left=lambda: 4.0)
    assert books.store.appends == 0
    assert books.deps.store.load("alice").version == 1


def test_a_retry_of_a_stored_request_is_answered_even_without_time_left_to_write():
    # GIVEN a request stored under key "k", and a write needs 5 s
    claim = IdempotencyRecord("alice", "svc", "k", "fp")
    books = ledger(ScriptedStore(), write_budget_seconds=5.0)
    first = store_credit(books, claim=claim)
    # WHEN the same request comes again with 4 s left
    again = store_credit(books, claim=claim, time_left=lambda: 4.0)
    # THEN it gets the stored answer (a read, no write started)
    assert again == first
    assert books.store.appends == 1
    assert books.store.key_reads == 1


def test_a_retry_is_not_started_once_the_budget_is_spent():
    # GIVEN a write needs 5 s, 8 s are left, and the first write conflicts taking 4 s
    left = [8.0]
    books = ledger(ScriptedStore((VersionConflict, False)), write_budget_seconds=5.0)
    books.deps = attrs.evolve(books.deps, sleep=lambda _: left.__setitem__(0, left[0] - 4.0))
    # WHEN a credit is stored
    # THEN the second write is never started (4 s left < 5 s)
    with pytest.raises(ConcurrentModification, match="no time left"):
        store_credit(books, time_left=lambda: left[0])
    assert books.store.appends == 1


class KeyTakenFirst(ScriptedStore):
    """A rival's write that takes the same key (not the same version) lands just
    before the first append of a command."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: list[tuple[list[StoredEvent], TransactionRecords]] = []

    def append_many(self, stored_events, records=NO_RECORDS):
        if self.rival and not isinstance(stored_events[0].event, AccountOpened):
            InMemoryEventStore.append_many(self, *self.rival.pop())
        super().append_many(stored_events, records)


def test_a_keyed_command_is_stored_without_reading_its_key():
    # GIVEN a key no request has used
    books = ledger(ScriptedStore())
    # WHEN a credit claiming it is stored
    event = store_credit(books, claim=IdempotencyRecord("alice", "svc", "k", "fp"))
    # THEN it is stored with its key, and the key was never read: the transaction's
    # guard on the key is the check
    assert books.store.key_reads == 0
    assert books.deps.store.load("alice").version == 2
    stored = InMemoryEventStore.idempotency_record(books.store, "alice", "svc", "k")
    assert stored is not None
    assert stored.event == event


def test_a_key_taken_by_the_same_request_meanwhile_is_answered_with_its_answer():
    # GIVEN the same request (key "k", same fingerprint) stored by a rival just before
    # our append
    claim = IdempotencyRecord("alice", "svc", "k", "fp")
    store = KeyTakenFirst()
    books = ledger(store)
    state = store.load("bob")
    theirs = decide(state, RecordCredit("bob", Money(1)), event_id="rival", now=NOW)
    store.rival.append(
        (
            [StoredEvent(theirs, evolve(state, theirs, ZONE))],
            TransactionRecords(idempotency=attrs.evolve(claim, event=theirs)),
        )
    )
    # WHEN our request is stored
    event = store_credit(books, claim=claim)
    # THEN its append is refused (the key is taken) and the rival's answer, which came
    # back with the refusal, is ours: no read, nothing else stored, and no backoff
    assert event == theirs
    assert store.appends == 1
    assert store.key_reads == 0
    assert store.load("alice").version == 1
    assert books.sleeps == []
    assert books.conflicts == []


def test_a_key_reused_for_another_request_is_refused_and_stores_nothing():
    # GIVEN key "k" used by another request (another fingerprint)
    books = ledger(ScriptedStore())
    store_credit(books, claim=IdempotencyRecord("alice", "svc", "k", "another"))
    # WHEN this request claims the same key
    # THEN it is refused once its append is (decided once, no retry), and nothing is
    # stored
    books.decisions.clear()
    with pytest.raises(IdempotencyKeyReused):
        store_credit(books, claim=IdempotencyRecord("alice", "svc", "k", "fp"))
    assert len(books.decisions) == 1
    assert books.store.key_reads == 0
    assert books.deps.store.load("alice").version == 2


class ReadsCounted(InMemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.key_reads = 0

    def idempotency_record(self, account_id, caller, key):
        self.key_reads += 1
        return super().idempotency_record(account_id, caller, key)


def keyed(
    store: InMemoryEventStore, claim: IdempotencyRecord, decide: Callable[[], Decision[Event]]
) -> Event:
    return append_decided(
        CommandDependencies(store=store, clock=lambda: NOW, new_id=lambda: "unused"),
        decide,
        subject="account alice",
        claim=claim,
        replay=answered_event,
        landed=lambda decision, conflict: None,
    )


def credited(store: InMemoryEventStore, claim: IdempotencyRecord) -> Callable[[], Decision[Event]]:
    def decided() -> Decision[Event]:
        state = store.load("alice")
        event = decide(state, RecordCredit("alice", Money(1)), event_id="first", now=NOW)
        return Decision(
            [StoredEvent(event, evolve(state, event, ZONE))],
            TransactionRecords(idempotency=attrs.evolve(claim, event=event)),
            event,
        )

    return decided


def frozen_out() -> Decision[Event]:
    raise AccountFrozen("alice is frozen")


def test_a_retry_that_deciding_again_would_refuse_gets_the_stored_answer():
    # GIVEN a request stored under key "k", after which its decision is refused
    # (the account since frozen, say)
    store = ReadsCounted()
    open_accounts(store, "alice")
    claim = IdempotencyRecord("alice", "svc", "k", "fp")
    original = keyed(store, claim, credited(store, claim))
    # WHEN the same request comes again
    again = keyed(store, claim, frozen_out)
    # THEN it gets the stored answer (the key read once, on the refusal)
    assert again == original
    assert store.key_reads == 1
    # AND another request with the key is refused as a reuse, not as frozen
    with pytest.raises(IdempotencyKeyReused):
        keyed(store, attrs.evolve(claim, fingerprint="other"), frozen_out)
    assert store.load("alice").version == 2


def test_a_refused_request_whose_key_is_free_is_refused_and_stores_no_key():
    # GIVEN key "k" free
    store = ReadsCounted()
    open_accounts(store, "alice")
    # WHEN a request claiming it is refused by its decision
    # THEN the refusal is the answer, and the key stays free
    with pytest.raises(AccountFrozen):
        keyed(store, IdempotencyRecord("alice", "svc", "k", "fp"), frozen_out)
    assert store.idempotency_record("alice", "svc", "k") is None
    assert store.load("alice").version == 1

"""A command starts a write only with the time to see it through (issue 15, item 1):
a function stopped by its timeout mid-write leaves its client unable to tell whether
the command was stored."""

from datetime import UTC, datetime

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.ports import NO_RECORDS, VersionConflict
from banking.domain.commands import RecordCredit
from banking.domain.errors import ConcurrentModification
from banking.domain.events import AccountOpened
from banking.domain.money import Money
from tests.support import open_accounts

BUDGET_S = 18.0


class ConflictsOnce(InMemoryEventStore):
    """Another writer takes the first version tried; the clock runs while we wait."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock
        self.appends = 0

    def append_many(self, stored_events, records=NO_RECORDS):
        if isinstance(stored_events[0].event, AccountOpened):
            # The accounts' opening (tests.support) is the setup, not the command.
            super().append_many(stored_events, records)
            return
        self.appends += 1
        self.clock[0] -= 5.0  # the write took 5 s
        if self.appends == 1:
            raise VersionConflict(str(stored_events[0].event.version))
        super().append_many(stored_events, records)


def dependencies(store: InMemoryEventStore) -> CommandDependencies:
    return CommandDependencies(
        store=store,
        clock=lambda: datetime(2026, 11, 26, tzinfo=UTC),
        new_id=lambda: "event-1",
        settings=CommandSettings(write_budget_seconds=BUDGET_S),
        sleep=lambda _: None,
    )


def test_a_command_with_less_time_left_than_a_write_needs_stores_nothing():
    # GIVEN alice's account and a function with 17 s left, when a write needs 18 s
    store = open_accounts(InMemoryEventStore(), "alice")

    # WHEN a credit is recorded
    with pytest.raises(ConcurrentModification, match="no time left"):
        record(RecordCredit("alice", Money(1)), dependencies(store), time_left=lambda: 17.0)

    # THEN it is refused before writing: nothing is stored, the client may retry
    assert store.events("alice", after=1, limit=10) == []


def test_a_retry_after_a_conflict_is_not_started_without_the_time_for_its_write():
    # GIVEN 22 s left, and a first write that conflicts after taking 5 s
    clock = [22.0]
    store = open_accounts(ConflictsOnce(clock), "alice")

    # WHEN a credit is recorded
    with pytest.raises(ConcurrentModification, match="no time left"):
        record(RecordCredit("alice", Money(1)), dependencies(store), time_left=lambda: clock[0])

    # THEN the second write is never started (17 s left < 18 s)
    assert store.appends == 1


def test_a_command_with_the_time_for_its_write_is_stored():
    store = open_accounts(InMemoryEventStore(), "alice")

    event = record(RecordCredit("alice", Money(1)), dependencies(store), time_left=lambda: 18.0)

    assert [e.event_id for e in store.events("alice", after=1, limit=10)] == [event.event_id]

from datetime import UTC, datetime, timedelta

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.dispatch import bus_entry, state_carried_event
from banking.application.envelope import EventStored
from banking.domain.account import RecordCredit, RecordDebit
from banking.domain.errors import UnknownEvent
from banking.domain.money import Money
from banking.serialization import event_to_dict, snapshot_of


class SteppingClock:
    def __init__(self, start, step):
        self.now, self.step = start, step

    def __call__(self):
        self.now += self.step
        return self.now


def store_history(count, *, step=timedelta(hours=6)):
    store = InMemoryEventStore()
    deps = CommandDependencies(
        store=store,
        clock=SteppingClock(datetime(2023, 1, 1, tzinfo=UTC), step),
        new_id=lambda: "id",
    )
    for index in range(count):
        command = RecordDebit if index % 3 == 1 else RecordCredit
        record(command("alice", Money(1000 if command is RecordCredit else 300)), deps)
    return store


def envelope_of(store, version):
    stored = store.get("alice", version)
    item = {**event_to_dict(stored.event), "snapshot": snapshot_of(stored.state)}
    return EventStored.from_item(item)


def test_the_aggregate_is_that_as_of_the_events_own_version():
    # GIVEN years of history (6-hourly events over ~2 years, crossing many months)
    store = store_history(3000)
    # WHEN dispatching an old event and the newest one
    for version in (1200, 3000):
        carried = state_carried_event(envelope_of(store, version), store)
        # THEN each carries the fold of the events up to its own version
        expected = store.get("alice", version).state
        events = [s.event for s in store.all_stored()][:version]
        credits = sum(e.amount.cents for e in events if type(e).__name__ == "Credited")
        debits = sum(e.amount.cents for e in events if type(e).__name__ == "Debited")
        assert carried.aggregate.total_balance == Money(credits - debits)
        assert carried.aggregate.version == version
        assert carried.aggregate.month == expected.month
        in_month = [e for e in events if e.recorded_at.strftime("%Y-%m") == expected.month]
        month_total = sum(
            e.amount.cents if type(e).__name__ == "Credited" else -e.amount.cents for e in in_month
        )
        assert carried.aggregate.current_month_balance == Money(month_total)


def test_items_read_per_event_are_bounded_whatever_the_history():
    store = store_history(1001)
    envelope = envelope_of(store, 1001)
    store.items_read = 0
    state_carried_event(envelope, store)
    assert store.items_read == 1


def test_the_month_balance_restarts_when_the_month_changed_between_events():
    store = store_history(2, step=timedelta(days=40))
    carried = state_carried_event(envelope_of(store, 2), store)
    assert carried.aggregate.current_month_balance == Money(-300)
    assert carried.aggregate.total_balance == Money(700)


@pytest.mark.parametrize(
    "change",
    [{"type": "InterestEvent"}, {"schemaVersion": 99}, {"schemaVersion": None}],
)
def test_an_unknown_type_or_schema_version_fails_the_record(change):
    store = store_history(1)
    envelope = envelope_of(store, 1)
    payload = {**envelope.payload, **change}
    tampered = EventStored.from_detail({**envelope.to_detail(), "payload": payload})
    with pytest.raises(UnknownEvent):
        state_carried_event(tampered, store)


def test_the_state_carried_event_keeps_the_correlation_id_and_replay_mark():
    store = store_history(1)
    carried = state_carried_event(envelope_of(store, 1), store)
    entry = bus_entry(carried, correlation_id="req-1", replay=True)
    assert entry.detail_type == "CreditEvent"
    assert entry.source == "ledger.dispatcher"
    assert entry.detail["correlationId"] == "req-1"
    assert entry.detail["replay"] is True
    assert entry.detail["aggregate"] == {
        "totalBalance": "10.00",
        "currentMonthBalance": "10.00",
        "month": "2023-01",
        "version": 1,
        "monthCredits": "10.00",
        "monthDebits": "0.00",
        "monthEventCount": 1,
    }

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.dispatch import bus_entry, state_carried_event
from banking.application.envelope import EventStored
from banking.application.ports import StoredEvent
from banking.domain.account import FreezeAccount, RecordCredit, RecordDebit, evolve
from banking.domain.currency import Currency
from banking.domain.errors import UnknownEvent
from banking.domain.events import Credited
from banking.domain.money import Money
from banking.serialization import event_to_dict, snapshot_of
from tests.support import open_accounts


class SteppingClock:
    def __init__(self, start, step):
        self.now, self.step = start, step

    def __call__(self):
        self.now += self.step
        return self.now


def store_history(count, *, step=timedelta(hours=6)):
    """Account alice opened (version 1), then `count` postings (versions 2...)."""
    store = open_accounts(InMemoryEventStore(), "alice", at=datetime(2022, 12, 31, tzinfo=UTC))
    deps = CommandDependencies(
        store=store,
        clock=SteppingClock(datetime(2023, 1, 1, tzinfo=UTC), step),
        new_id=lambda: "id",
    )
    for index in range(count):
        command = RecordDebit if index % 3 == 1 else RecordCredit
        record(command("alice", Money(1000 if command is RecordCredit else 300)), deps)
    return store


START = datetime(2026, 11, 26, tzinfo=UTC)


def envelope_of(store, version, account="alice"):
    stored = store.get(account, version)
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
        in_month = [e for e in events[1:] if e.recorded_at.strftime("%Y-%m") == expected.month]
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
    carried = state_carried_event(envelope_of(store, 3), store)
    assert carried.aggregate.current_month_balance == Money(-300)
    assert carried.aggregate.total_balance == Money(700)


@pytest.mark.parametrize(
    "change",
    [{"type": "InterestEvent"}, {"schemaVersion": 99}, {"schemaVersion": None}],
)
def test_an_unknown_type_or_schema_version_fails_the_record(change):
    store = store_history(1)
    envelope = envelope_of(store, 2)
    payload = {**envelope.payload, **change}
    tampered = EventStored.from_detail({**envelope.to_detail(), "payload": payload})
    with pytest.raises(UnknownEvent):
        state_carried_event(tampered, store)


def test_the_state_carried_event_keeps_the_correlation_id_and_replay_mark():
    store = store_history(1)
    carried = state_carried_event(envelope_of(store, 2), store)
    entry = bus_entry(carried, correlation_id="req-1", replay=True)
    assert entry.detail_type == "CreditEvent"
    assert entry.source == "ledger.dispatcher"
    assert entry.detail["correlationId"] == "req-1"
    assert entry.detail["replay"] is True
    assert entry.detail["aggregate"] == {
        "totalBalance": "10.00",
        "currentMonthBalance": "10.00",
        "month": "2023-01",
        "version": 2,
        "monthCredits": "10.00",
        "monthDebits": "0.00",
        "monthEventCount": 1,
    }


def test_an_account_event_is_published_with_the_settings_and_the_balances_unchanged():
    # GIVEN an account opened in JPY with two owners, then credited and frozen
    store = open_accounts(
        InMemoryEventStore(), "shop", currency="JPY", owners={"bob", "alice"}, at=START
    )
    deps = CommandDependencies(store=store, clock=lambda: START, new_id=lambda: "e")
    record(RecordCredit("shop", Money(500, 0)), deps, caller="payments")
    record(FreezeAccount("shop"), deps, caller="ops")
    # WHEN the freeze (version 3) is dispatched
    carried = state_carried_event(envelope_of(store, 3, "shop"), store)
    entry = bus_entry(carried, correlation_id=None, replay=False)
    # THEN it goes out under its own type, with no amount, the balance as it was, its
    # version, and the account's settings in the currency's digits
    assert entry.detail_type == "AccountFrozen"
    assert entry.detail["amount"] is None
    assert entry.detail["recordedBy"] == "ops"
    assert entry.detail["aggregate"]["totalBalance"] == "500"
    assert entry.detail["aggregate"]["version"] == 3
    assert entry.detail["account"] == {
        "currency": "JPY",
        "status": "frozen",
        "owners": ["alice", "bob"],
        "overdraftLimit": "0",
        "metadata": {},
        "openedAt": "2026-11-26T00:00:00.000000Z",
    }


def test_a_transfer_leg_is_published_with_its_transfer_and_counterparty():
    # GIVEN a credit that is a transfer's leg
    store = open_accounts(InMemoryEventStore(), "alice", at=START)
    leg = Credited(
        "alice",
        2,
        "e",
        Money(100),
        START,
        currency=Currency("EUR"),
        transfer_id="t-1",
        counterparty="bob",
    )
    store.append(StoredEvent(leg, evolve(store.load("alice"), leg, ZoneInfo("UTC"))))
    # WHEN it is dispatched
    carried = state_carried_event(envelope_of(store, 2), store)
    # THEN the bus says which transfer it belongs to and with whom
    assert (carried.transfer_id, carried.counterparty) == ("t-1", "bob")

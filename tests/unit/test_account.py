from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from banking.domain.account import Account, RecordCredit, RecordDebit, decide, evolve, fold
from banking.domain.errors import InsufficientFunds
from banking.domain.events import Credited, Debited
from banking.domain.money import Money

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NO_OVERDRAFT = Money(0)


def apply(state, command, *, now=NOW, overdraft=NO_OVERDRAFT):
    event = decide(
        state, command, event_id=f"e{state.version + 1}", now=now, overdraft_limit=overdraft
    )
    return event, evolve(state, event, UTC_ZONE)


def test_credit_raises_the_balance_at_the_next_version():
    # GIVEN an empty account WHEN credited
    event, state = apply(Account("alice"), RecordCredit("alice", Money.of("12.34")))
    # THEN
    assert isinstance(event, Credited)
    assert event.version == 1
    assert state.balance == Money.of("12.34")
    assert state.month == "2026-11"
    assert state.month_balance == Money.of("12.34")


def test_debit_beyond_overdraft_is_rejected():
    _, state = apply(Account("alice"), RecordCredit("alice", Money.of("10.00")))
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money.of("10.01")))


def test_debit_within_the_overdraft_limit_is_accepted():
    _, state = apply(Account("alice"), RecordCredit("alice", Money.of("10.00")))
    event, state = apply(state, RecordDebit("alice", Money.of("15.00")), overdraft=Money.of("5.00"))
    assert isinstance(event, Debited)
    assert state.balance == Money.of("-5.00")
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money.of("0.01")), overdraft=Money.of("5.00"))


def test_a_new_month_starts_the_month_balance_from_zero():
    _, state = apply(Account("alice"), RecordCredit("alice", Money.of("100.00")))
    _, state = apply(state, RecordDebit("alice", Money.of("30.00")), now=NOW + timedelta(days=10))
    assert state.month == "2026-12"
    assert state.month_balance == Money.of("-30.00")
    assert state.balance == Money.of("70.00")
    assert state.month_event_count == 1


def test_months_are_taken_in_the_configured_time_zone():
    late_evening_in_new_york = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    event = decide(
        Account("alice"),
        RecordCredit("alice", Money(100)),
        event_id="e1",
        now=late_evening_in_new_york,
        overdraft_limit=Money(0),
    )
    assert evolve(Account("alice"), event, UTC_ZONE).month == "2026-12"
    assert evolve(Account("alice"), event, ZoneInfo("America/New_York")).month == "2026-11"


def test_recorded_times_never_go_backwards_within_an_account():
    _, state = apply(Account("alice"), RecordCredit("alice", Money(100)))
    skewed_clock = NOW - timedelta(seconds=5)
    event, _ = apply(state, RecordCredit("alice", Money(100)), now=skewed_clock)
    assert event.recorded_at == NOW


def test_evolve_refuses_a_gap_in_versions():
    event = Credited("alice", 2, "e2", Money(1), NOW)
    with pytest.raises(ValueError, match="does not follow"):
        evolve(Account("alice"), event, UTC_ZONE)


def test_fold_over_years_of_history():
    events = []
    state = Account("alice")
    for day in range(0, 3 * 365, 3):
        event, state = apply(
            state, RecordCredit("alice", Money(100)), now=NOW + timedelta(days=day)
        )
        events.append(event)
    folded = fold("alice", events, UTC_ZONE)
    assert folded == state
    assert folded.balance == Money(100 * len(events))

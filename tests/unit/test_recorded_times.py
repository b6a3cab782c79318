"""Recorded times never go backwards within an account, whatever the deciding clock
says: what makes "the account at an instant" well defined (docs/events.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from banking.domain.account import Account, evolve
from banking.domain.commands import OpenAccount, RecordCredit
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.events import Credited
from banking.domain.money import Money
from banking.domain.reversals import ReverseEntry, decide_reversal
from banking.domain.transfer import Posting, Transfer, decide_transfer

ZONE = ZoneInfo("UTC")
T = datetime(2026, 11, 26, 12, tzinfo=UTC)


def opened(account_id: str, at: datetime) -> Account:
    state = Account(account_id)
    event = decide(
        state, OpenAccount(account_id, Currency("EUR"), {account_id}), event_id="o", now=at
    )
    return evolve(state, event, ZONE)


def credited(state: Account, at: datetime) -> Account:
    event = decide(state, RecordCredit(state.account_id, Money(1000)), event_id="c", now=at)
    return evolve(state, event, ZONE)


def test_a_transfer_is_recorded_no_earlier_than_any_of_its_accounts_last_event():
    # GIVEN alice's last event at T and bob's at T + 5s (a clock ahead)
    alice, bob = credited(opened("alice", T), T), opened("bob", T + timedelta(seconds=5))
    # WHEN a Lambda whose clock says T + 1s transfers between them
    legs = decide_transfer(
        {"alice": alice, "bob": bob},
        Transfer("t", [Posting("alice", "bob", Money(100))]),
        new_event_id=lambda: "e",
        now=T + timedelta(seconds=1),
    )
    # THEN both legs are recorded at T + 5s: neither account goes back in time
    assert {leg.recorded_at for leg in legs} == {T + timedelta(seconds=5)}


def test_a_reversal_is_recorded_no_earlier_than_the_accounts_last_event():
    alice = credited(opened("alice", T), T + timedelta(seconds=3))
    original = Credited("alice", 2, "c", Money(1000), T + timedelta(seconds=3))
    reversal = decide_reversal(alice, original, ReverseEntry("alice", 2), event_id="r", now=T)
    assert reversal.recorded_at == T + timedelta(seconds=3)

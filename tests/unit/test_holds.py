"""The rules of holds: placing, capturing, voiding and expiring, and what they do to
the account's available balance."""

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from banking.domain.account import Account, PendingHold, evolve
from banking.domain.commands import (
    CloseAccount,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
)
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.errors import (
    AccountFrozen,
    AccountHasPendingHolds,
    AccountNotFound,
    CurrencyMismatch,
    HoldHasExpired,
    HoldNotExpired,
    HoldNotPending,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
)
from banking.domain.events import Credited, Debited, HoldExpired, HoldPlaced, HoldVoided
from banking.domain.holds import (
    CaptureHold,
    ExpireHold,
    PlaceHold,
    VoidHold,
    decide_capture,
    decide_expire,
    decide_place,
    decide_void,
)
from banking.domain.money import Money
from banking.domain.transfer import Posting, Transfer, decide_transfer

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EUR, USD = Currency("EUR"), Currency("USD")
MINUTE = timedelta(minutes=1)


def step(state, command, now=NOW):
    event = decide(state, command, event_id=f"{state.account_id}-{state.version + 1}", now=now)
    return evolve(state, event, UTC_ZONE)


def account(account_id, *, balance=0, overdraft=0, currency=EUR):
    state = step(
        Account(account_id), OpenAccount(account_id, currency, {account_id}, Money(overdraft))
    )
    return step(state, RecordCredit(account_id, Money(balance))) if balance else state


def place(state, amount, hold_id="h1", expires_in=MINUTE, now=NOW):
    event = decide_place(
        state,
        PlaceHold(state.account_id, hold_id, Money(amount), expires_in),
        event_id=f"place-{hold_id}",
        now=now,
        recorded_by="alice",
    )
    return evolve(state, event, UTC_ZONE)


def ids():
    counter = itertools.count(1)
    return lambda: f"event-{next(counter)}"


def capture(states, hold_id="h1", amount=None, to=None, now=NOW, account_id="alice"):
    accounts = {state.account_id: state for state in states}
    return decide_capture(
        accounts,
        CaptureHold(hold_id, None if amount is None else Money(amount), to),
        account_id=account_id,
        new_event_id=ids(),
        now=now,
        recorded_by="alice",
        transfer_id="t1",
    )


def test_a_placed_hold_reduces_the_available_balance_but_not_the_balance():
    # GIVEN an account with 100.00
    state = account("alice", balance=10000)
    # WHEN 30.00 is held
    state = place(state, 3000)
    # THEN the balance is unchanged and 30.00 is held, 70.00 available
    assert state.balance == Money(10000)
    assert state.held == Money(3000)
    assert state.available == Money(7000)
    assert state.holds == {"h1": PendingHold(Money(3000), NOW + MINUTE)}


def test_a_hold_records_its_expiry_from_its_recorded_time():
    # GIVEN an account
    state = account("alice", balance=10000)
    # WHEN a hold of an hour is placed
    event = decide_place(
        state,
        PlaceHold("alice", "h1", Money(100), timedelta(hours=1), "card"),
        event_id="e",
        now=NOW,
        recorded_by="alice",
    )
    # THEN it expires an hour after it was recorded, in the account's currency
    assert event == HoldPlaced(
        "alice", 3, "e", NOW, "h1", Money(100), NOW + timedelta(hours=1), EUR, "card", "alice"
    )


def test_a_hold_beyond_the_available_balance_is_refused():
    # GIVEN 100.00 of which 80.00 is held
    state = place(account("alice", balance=10000), 8000)
    # WHEN another 30.00 is held
    # THEN it is refused: only 20.00 is available
    with pytest.raises(InsufficientFunds):
        place(state, 3000, hold_id="h2")


def test_a_hold_may_use_the_overdraft_limit():
    # GIVEN an empty account with a 50.00 overdraft
    state = account("alice", overdraft=5000)
    # WHEN 50.00 is held
    state = place(state, 5000)
    # THEN it is held, and nothing more is available
    assert state.available == Money(-5000)
    with pytest.raises(InsufficientFunds):
        place(state, 1, hold_id="h2")


def test_a_debit_is_judged_on_the_available_balance():
    # GIVEN 100.00 of which 80.00 is held
    state = place(account("alice", balance=10000), 8000)
    # WHEN 30.00 is debited
    # THEN it is refused
    with pytest.raises(InsufficientFunds) as refused:
        step(state, RecordDebit("alice", Money(3000)))
    assert refused.value.details["availableBalance"] == "20.00"
    # AND 20.00 may be debited
    assert step(state, RecordDebit("alice", Money(2000))).available == Money(0)


def test_a_transfer_is_judged_on_the_available_balance():
    # GIVEN alice with 100.00 of which 80.00 held, and bob
    states = {"alice": place(account("alice", balance=10000), 8000), "bob": account("bob")}
    # WHEN 30.00 is transferred from alice
    # THEN it is refused
    with pytest.raises(InsufficientFunds):
        decide_transfer(
            states,
            Transfer("t", [Posting("alice", "bob", Money(3000))]),
            new_event_id=ids(),
            now=NOW,
        )


@pytest.mark.parametrize("seconds", [0, 2_592_001])
def test_a_hold_expiring_outside_one_second_to_thirty_days_is_refused(seconds):
    # GIVEN an account
    state = account("alice", balance=10000)
    # WHEN a hold expiring in that many seconds is placed
    # THEN it is refused
    with pytest.raises(InvalidRequest):
        place(state, 100, expires_in=timedelta(seconds=seconds))


@pytest.mark.parametrize("seconds", [1, 2_592_000])
def test_a_hold_expiring_within_one_second_to_thirty_days_is_placed(seconds):
    state = place(account("alice", balance=10000), 100, expires_in=timedelta(seconds=seconds))
    assert state.holds["h1"].expires_at == NOW + timedelta(seconds=seconds)


def test_a_hold_finer_than_the_currency_is_refused():
    # GIVEN a yen account
    state = account("alice", currency=Currency("JPY"))
    # WHEN a hold of 1.5 yen is placed
    # THEN it is refused
    with pytest.raises(InvalidAmount):
        decide_place(
            state,
            PlaceHold("alice", "h1", Money(15, 1), MINUTE),
            event_id="e",
            now=NOW,
            recorded_by=None,
        )


def test_a_hold_on_a_frozen_account_is_refused():
    state = step(account("alice", balance=10000), FreezeAccount("alice"))
    with pytest.raises(AccountFrozen):
        place(state, 100)


def test_a_hold_on_an_account_never_opened_is_refused():
    with pytest.raises(AccountNotFound):
        place(Account("nobody"), 100)


def test_capturing_all_of_a_hold_debits_it_and_releases_it():
    # GIVEN 30.00 held of 100.00
    state = place(account("alice", balance=10000), 3000)
    # WHEN it is captured without an amount
    [debit] = capture([state])
    after = evolve(state, debit, UTC_ZONE)
    # THEN the whole hold is debited, linked to it, and nothing is held any more
    assert (debit.amount, debit.hold_id, debit.transfer_id) == (Money(3000), "h1", None)
    assert (after.balance, after.held, after.available) == (Money(7000), Money(0), Money(7000))


def test_capturing_part_of_a_hold_releases_the_remainder():
    # GIVEN 30.00 held of 100.00
    state = place(account("alice", balance=10000), 3000)
    # WHEN 10.00 of it is captured
    [debit] = capture([state], amount=1000)
    after = evolve(state, debit, UTC_ZONE)
    # THEN 10.00 is debited and the other 20.00 is available again
    assert (after.balance, after.held, after.available) == (Money(9000), Money(0), Money(9000))


def test_capturing_more_than_the_hold_is_refused():
    state = place(account("alice", balance=10000), 3000)
    with pytest.raises(InvalidAmount):
        capture([state], amount=3001)


def test_a_capture_in_another_currency_is_refused():
    state = place(account("alice", balance=10000), 3000)
    with pytest.raises(CurrencyMismatch):
        decide_capture(
            {"alice": state},
            CaptureHold("h1", Money(100), currency=USD),
            account_id="alice",
            new_event_id=ids(),
            now=NOW,
            recorded_by=None,
        )


def test_capturing_into_another_account_credits_it_as_a_transfer():
    # GIVEN 30.00 held on alice, and bob
    alice, bob = place(account("alice", balance=10000), 3000), account("bob")
    # WHEN 25.00 is captured into bob
    debit, credit = capture([alice, bob], amount=2500, to="bob")
    # THEN alice is debited and bob credited, legs of one transfer naming each other
    assert isinstance(debit, Debited)
    assert isinstance(credit, Credited)
    assert (debit.account_id, debit.counterparty, debit.transfer_id) == ("alice", "bob", "t1")
    assert (credit.account_id, credit.counterparty, credit.transfer_id) == ("bob", "alice", "t1")
    assert debit.amount == credit.amount == Money(2500)
    assert evolve(bob, credit, UTC_ZONE).balance == Money(2500)


def test_capturing_into_an_account_in_another_currency_is_refused():
    alice = place(account("alice", balance=10000), 3000)
    with pytest.raises(CurrencyMismatch):
        capture([alice, account("bob", currency=USD)], to="bob")


def test_capturing_into_a_frozen_account_is_refused():
    alice = place(account("alice", balance=10000), 3000)
    bob = step(account("bob"), FreezeAccount("bob"))
    with pytest.raises(AccountFrozen):
        capture([alice, bob], to="bob")


def test_capturing_into_an_unknown_account_is_refused():
    alice = place(account("alice", balance=10000), 3000)
    with pytest.raises(AccountNotFound):
        capture([alice, Account("nobody")], to="nobody")


def test_capturing_into_the_held_account_itself_is_refused():
    alice = place(account("alice", balance=10000), 3000)
    with pytest.raises(InvalidRequest):
        capture([alice], to="alice")


def test_a_hold_captured_once_cannot_be_captured_or_voided_again():
    # GIVEN a hold captured
    state = place(account("alice", balance=10000), 3000)
    [debit] = capture([state])
    state = evolve(state, debit, UTC_ZONE)
    # WHEN it is captured or voided again
    # THEN both are refused: it is no longer pending
    with pytest.raises(HoldNotPending):
        capture([state])
    with pytest.raises(HoldNotPending):
        decide_void(state, VoidHold("h1"), event_id="e", now=NOW, recorded_by=None)


def test_a_hold_past_its_expiry_cannot_be_captured_even_before_its_expiry_is_recorded():
    # GIVEN a hold of one minute, its expiry not recorded
    state = place(account("alice", balance=10000), 3000)
    # WHEN it is captured or voided a minute later
    # THEN both are refused as expired
    with pytest.raises(HoldHasExpired):
        capture([state], now=NOW + MINUTE)
    with pytest.raises(HoldHasExpired):
        decide_void(state, VoidHold("h1"), event_id="e", now=NOW + MINUTE, recorded_by=None)


def test_a_hold_is_captured_up_to_just_before_its_expiry():
    state = place(account("alice", balance=10000), 3000)
    [debit] = capture([state], now=NOW + MINUTE - timedelta(microseconds=1))
    assert debit.amount == Money(3000)


def test_a_frozen_account_cannot_capture_but_can_void():
    # GIVEN a hold on an account then frozen
    state = step(place(account("alice", balance=10000), 3000), FreezeAccount("alice"))
    # WHEN it is captured
    # THEN it is refused like a debit
    with pytest.raises(AccountFrozen):
        capture([state])
    # AND it can be voided, releasing it
    voided = decide_void(state, VoidHold("h1"), event_id="e", now=NOW, recorded_by="alice")
    assert voided == HoldVoided("alice", 5, "e", NOW, "h1", Money(3000), EUR, "alice")
    assert evolve(state, voided, UTC_ZONE).held == Money(0)


def test_an_expired_hold_is_released_by_its_expiry_even_on_a_frozen_account():
    # GIVEN a hold on a frozen account
    state = step(place(account("alice", balance=10000), 3000), FreezeAccount("alice"))
    # WHEN its expiry is recorded after it expired
    expired = decide_expire(
        state, ExpireHold("h1"), event_id="e", now=NOW + MINUTE, recorded_by=None
    )
    # THEN it is released
    assert expired == HoldExpired("alice", 5, "e", NOW + MINUTE, "h1", Money(3000), EUR)
    assert evolve(state, expired, UTC_ZONE).available == Money(10000)


def test_a_hold_not_yet_expired_is_not_expired():
    state = place(account("alice", balance=10000), 3000)
    with pytest.raises(HoldNotExpired):
        decide_expire(state, ExpireHold("h1"), event_id="e", now=NOW + MINUTE / 2, recorded_by=None)


def test_a_hold_already_released_is_not_expired_again():
    state = place(account("alice", balance=10000), 3000)
    voided = decide_void(state, VoidHold("h1"), event_id="e", now=NOW, recorded_by=None)
    state = evolve(state, voided, UTC_ZONE)
    with pytest.raises(HoldNotPending):
        decide_expire(state, ExpireHold("h1"), event_id="e", now=NOW + MINUTE, recorded_by=None)


def test_an_account_with_pending_holds_cannot_be_closed():
    # GIVEN an account at zero balance with a hold on its overdraft
    state = place(account("alice", overdraft=5000), 1000)
    # WHEN it is closed
    # THEN it is refused until the hold is resolved
    with pytest.raises(AccountHasPendingHolds):
        step(state, CloseAccount("alice"))
    voided = decide_void(state, VoidHold("h1"), event_id="e", now=NOW, recorded_by=None)
    assert step(evolve(state, voided, UTC_ZONE), CloseAccount("alice")).status.value == "closed"


def test_releasing_a_hold_the_account_does_not_carry_is_an_error_in_the_fold():
    state = account("alice", balance=10000)
    with pytest.raises(ValueError, match="not pending"):
        evolve(state, HoldVoided("alice", 3, "e", NOW, "h9", Money(1)), UTC_ZONE)

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from banking.domain.account import (
    DECIDERS,
    EVOLVERS,
    Account,
    AccountStatus,
    ChangeOverdraftLimit,
    CloseAccount,
    FreezeAccount,
    LegacyTerms,
    OpenAccount,
    RecordCredit,
    RecordDebit,
    UnfreezeAccount,
    decide,
    evolve,
    fold,
)
from banking.domain.currency import Currency
from banking.domain.errors import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotFrozen,
    InsufficientFunds,
    InvalidAccountId,
    InvalidAmount,
    InvalidRequest,
    OverdraftLimitTooLow,
)
from banking.domain.events import (
    TYPE_NAMES,
    AccountOpened,
    Closed,
    Credited,
    Debited,
    Event,
    Frozen,
    OverdraftLimitChanged,
)
from banking.domain.money import Money
from banking.domain.read_models import StateCarriedEvent

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EUR, JPY, KWD = Currency("EUR"), Currency("JPY"), Currency("KWD")


def apply(state, command, *, now=NOW, recorded_by=None):
    event = decide(
        state, command, event_id=f"e{state.version + 1}", now=now, recorded_by=recorded_by
    )
    return event, evolve(state, event, UTC_ZONE)


def opened(account_id="alice", currency=EUR, overdraft=None, **settings):
    limit = overdraft if overdraft is not None else Money.zero(currency.digits)
    command = OpenAccount(account_id, currency, {account_id}, limit, **settings)
    return apply(Account(account_id), command)[1]


def test_opening_stores_the_accounts_settings_at_version_1():
    # GIVEN an id never used
    command = OpenAccount(
        "alice", KWD, {"alice", "auth0|42"}, Money.of("5.5", 3), {"segment": "retail"}
    )
    # WHEN opened
    event, state = apply(Account("alice"), command, recorded_by="back-office")
    # THEN the event and the state carry the settings, with the currency's digits
    assert isinstance(event, AccountOpened)
    assert event.version == 1
    assert event.recorded_by == "back-office"
    assert state.opened
    assert state.currency == KWD
    assert state.overdraft_limit == Money(5500, 3)
    assert state.balance == Money(0, 3)
    assert state.status is AccountStatus.OPEN
    assert state.owners == frozenset({"alice", "auth0|42"})
    assert dict(state.metadata) == {"segment": "retail"}


def test_opening_an_id_that_exists_is_refused():
    # GIVEN an opened account WHEN opened again THEN
    with pytest.raises(AccountExists):
        apply(opened(), OpenAccount("alice", EUR, {"alice"}))


def test_opening_an_id_with_a_history_from_before_accounts_is_refused():
    # GIVEN an account a credit created before accounts existed
    legacy = fold("alice", [Credited("alice", 1, "e1", Money(100), NOW)], UTC_ZONE)
    # WHEN opened THEN
    with pytest.raises(AccountExists):
        apply(legacy, OpenAccount("alice", EUR, {"alice"}))


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (OpenAccount("alice", EUR, set()), InvalidRequest),
        (OpenAccount("alice", EUR, {"alice"}, Money(-1)), InvalidAmount),
        (OpenAccount("alice", JPY, {"alice"}, Money(150)), InvalidAmount),  # 1.50 yen
        (OpenAccount("alice", EUR, {"alice"}, metadata={"k": "a\u202eb"}), InvalidRequest),
    ],
)
def test_opening_with_invalid_settings_is_refused(command, error):
    with pytest.raises(error):
        apply(Account("alice"), command)


def test_owners_given_as_one_string_are_not_split_into_characters():
    with pytest.raises(TypeError):
        OpenAccount("alice", EUR, "alice")


def test_a_domain_errors_details_are_empty_unless_given_and_read_only():
    assert AccountNotFound("account bob does not exist").details == {}
    details = InsufficientFunds("refused", {"balance": "1.00"}).details
    with pytest.raises(TypeError):
        details["balance"] = "2.00"  # type: ignore[index]


def test_opening_an_invalid_account_id_is_refused():
    with pytest.raises(InvalidAccountId):
        apply(Account("al ice"), OpenAccount("al ice", EUR, {"alice"}))


def test_a_posting_to_an_account_never_opened_is_refused():
    # GIVEN no account WHEN credited or debited THEN
    for command in (RecordCredit("bob", Money(100)), RecordDebit("bob", Money(100))):
        with pytest.raises(AccountNotFound):
            apply(Account("bob"), command)


def test_credit_raises_the_balance_at_the_next_version():
    # GIVEN an opened account WHEN credited
    event, state = apply(opened(), RecordCredit("alice", Money.of("12.34")), recorded_by="pay")
    # THEN
    assert isinstance(event, Credited)
    assert event.version == 2
    assert event.currency == EUR
    assert event.recorded_by == "pay"
    assert state.balance == Money.of("12.34")
    assert state.month == "2026-11"
    assert state.month_balance == Money.of("12.34")


def test_amounts_take_the_digits_of_the_accounts_currency():
    # GIVEN a yen account WHEN credited 1200 given with two decimals
    event, state = apply(opened(currency=JPY), RecordCredit("alice", Money(120000)))
    # THEN it is booked in whole yen
    assert event.amount == Money(1200, 0)
    assert str(state.balance) == "1200"


def test_an_amount_finer_than_the_accounts_currency_is_refused():
    # GIVEN a yen account WHEN credited 12.34 THEN
    with pytest.raises(InvalidAmount):
        apply(opened(currency=JPY), RecordCredit("alice", Money(1234)))


def test_a_non_positive_amount_is_refused():
    with pytest.raises(InvalidAmount):
        apply(opened(), RecordCredit("alice", Money(0)))


def test_debit_beyond_overdraft_is_rejected():
    _, state = apply(opened(), RecordCredit("alice", Money.of("10.00")))
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money.of("10.01")))


def test_an_insufficient_funds_message_names_no_figure_and_its_details_do():
    # GIVEN 10.00 and an overdraft limit of 5.00
    _, state = apply(opened(overdraft=Money.of("5.00")), RecordCredit("alice", Money(1000)))
    # WHEN debited 15.01
    with pytest.raises(InsufficientFunds) as refused:
        apply(state, RecordDebit("alice", Money.of("15.01")))
    # THEN the message is generic and the figures are in the details
    assert refused.value.message == "the debit would take account alice below its overdraft limit"
    assert not any(char.isdigit() for char in refused.value.message)
    assert refused.value.details == {
        "accountId": "alice",
        "currency": "EUR",
        "balance": "10.00",
        "availableBalance": "10.00",
        "overdraftLimit": "5.00",
        "debit": "15.01",
    }


def test_debit_within_the_accounts_overdraft_limit_is_accepted():
    _, state = apply(opened(overdraft=Money.of("5.00")), RecordCredit("alice", Money(1000)))
    event, state = apply(state, RecordDebit("alice", Money.of("15.00")))
    assert isinstance(event, Debited)
    assert state.balance == Money.of("-5.00")
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money.of("0.01")))


def test_a_frozen_account_refuses_every_posting_until_unfrozen():
    # GIVEN a funded account, frozen
    _, state = apply(opened(), RecordCredit("alice", Money(1000)))
    event, state = apply(state, FreezeAccount("alice"))
    assert isinstance(event, Frozen)
    assert state.status is AccountStatus.FROZEN
    # WHEN credited or debited THEN refused
    for command in (RecordCredit("alice", Money(1)), RecordDebit("alice", Money(1))):
        with pytest.raises(AccountFrozen):
            apply(state, command)
    # WHEN unfrozen THEN postings are accepted again
    _, state = apply(state, UnfreezeAccount("alice"))
    assert state.status is AccountStatus.OPEN
    apply(state, RecordDebit("alice", Money(1)))


def test_freezing_a_frozen_account_or_unfreezing_an_open_one_is_refused():
    _, frozen_state = apply(opened(), FreezeAccount("alice"))
    with pytest.raises(AccountFrozen):
        apply(frozen_state, FreezeAccount("alice"))
    with pytest.raises(AccountNotFrozen):
        apply(opened(), UnfreezeAccount("alice"))


def test_closing_needs_a_zero_balance():
    # GIVEN an account holding 10.00
    _, state = apply(opened(), RecordCredit("alice", Money(1000)))
    # WHEN closed THEN refused, with the balance only in the details
    with pytest.raises(AccountNotEmpty) as refused:
        apply(state, CloseAccount("alice"))
    assert refused.value.details["balance"] == "10.00"
    assert "10" not in refused.value.message
    # WHEN emptied and closed THEN it is closed
    _, state = apply(state, RecordDebit("alice", Money(1000)))
    event, state = apply(state, CloseAccount("alice"))
    assert isinstance(event, Closed)
    assert state.status is AccountStatus.CLOSED


def test_closing_an_overdrawn_account_is_refused():
    _, state = apply(opened(overdraft=Money(500)), RecordDebit("alice", Money(100)))
    with pytest.raises(AccountNotEmpty):
        apply(state, CloseAccount("alice"))


def test_a_frozen_account_can_be_closed():
    _, state = apply(opened(), FreezeAccount("alice"))
    _, state = apply(state, CloseAccount("alice"))
    assert state.status is AccountStatus.CLOSED


@pytest.mark.parametrize(
    "command",
    [
        RecordCredit("alice", Money(1)),
        RecordDebit("alice", Money(1)),
        FreezeAccount("alice"),
        UnfreezeAccount("alice"),
        CloseAccount("alice"),
        ChangeOverdraftLimit("alice", Money(0)),
    ],
)
def test_a_closed_account_refuses_every_change(command):
    _, state = apply(opened(), CloseAccount("alice"))
    with pytest.raises(AccountClosed):
        apply(state, command)


@pytest.mark.parametrize(
    "command",
    [
        FreezeAccount("bob"),
        UnfreezeAccount("bob"),
        CloseAccount("bob"),
        ChangeOverdraftLimit("bob", Money(0)),
    ],
)
def test_changing_an_account_never_opened_is_refused(command):
    with pytest.raises(AccountNotFound):
        apply(Account("bob"), command)


def test_a_new_overdraft_limit_applies_to_the_next_debit():
    # GIVEN an account without overdraft, whose limit is raised to 20.00
    event, state = apply(opened(), ChangeOverdraftLimit("alice", Money(2000)))
    assert isinstance(event, OverdraftLimitChanged)
    # WHEN debited 20.00 THEN accepted; 0.01 more THEN refused
    _, state = apply(state, RecordDebit("alice", Money(2000)))
    assert state.balance == Money(-2000)
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money(1)))


def test_an_overdraft_limit_the_balance_is_already_below_is_refused():
    # GIVEN an account 20.00 overdrawn
    _, state = apply(opened(overdraft=Money(5000)), RecordDebit("alice", Money(2000)))
    # WHEN the limit is lowered to 19.99 THEN refused; to 20.00 THEN accepted
    with pytest.raises(OverdraftLimitTooLow):
        apply(state, ChangeOverdraftLimit("alice", Money(1999)))
    _, state = apply(state, ChangeOverdraftLimit("alice", Money(2000)))
    assert state.overdraft_limit == Money(2000)


def test_a_new_overdraft_limit_must_fit_the_currency():
    with pytest.raises(InvalidAmount):
        apply(opened(currency=JPY), ChangeOverdraftLimit("alice", Money(1)))


def test_a_command_is_decided_only_on_its_own_account():
    with pytest.raises(ValueError, match="decided on"):
        apply(opened("alice"), RecordCredit("bob", Money(1)))


def test_a_new_month_starts_the_month_balance_from_zero():
    _, state = apply(opened(), RecordCredit("alice", Money.of("100.00")))
    _, state = apply(state, RecordDebit("alice", Money.of("30.00")), now=NOW + timedelta(days=10))
    assert state.month == "2026-12"
    assert state.month_balance == Money.of("-30.00")
    assert state.balance == Money.of("70.00")
    assert state.month_event_count == 1


def test_account_events_leave_the_month_of_the_last_posting():
    _, state = apply(opened(), RecordCredit("alice", Money(100)))
    _, state = apply(state, FreezeAccount("alice"), now=NOW + timedelta(days=10))
    assert state.month == "2026-11"
    assert state.month_event_count == 1
    assert state.last_recorded_at == NOW + timedelta(days=10)


def test_months_are_taken_in_the_configured_time_zone():
    late_evening_in_new_york = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    state = opened()
    event = decide(
        state, RecordCredit("alice", Money(100)), event_id="e2", now=late_evening_in_new_york
    )
    assert evolve(state, event, UTC_ZONE).month == "2026-12"
    assert evolve(state, event, ZoneInfo("America/New_York")).month == "2026-11"


def test_recorded_times_never_go_backwards_within_an_account():
    _, state = apply(opened(), RecordCredit("alice", Money(100)))
    skewed_clock = NOW - timedelta(seconds=5)
    event, _ = apply(state, RecordCredit("alice", Money(100)), now=skewed_clock)
    assert event.recorded_at == NOW


def test_evolve_refuses_a_gap_in_versions():
    event = Credited("alice", 3, "e3", Money(1), NOW)
    with pytest.raises(ValueError, match="does not follow"):
        evolve(opened(), event, UTC_ZONE)


def test_evolve_refuses_an_account_event_before_the_account_opened():
    with pytest.raises(ValueError, match="before it opened"):
        evolve(Account("alice"), Frozen("alice", 1, "e1", NOW), UTC_ZONE)


def test_evolve_refuses_a_second_opening_and_another_accounts_event():
    with pytest.raises(ValueError, match="opened twice"):
        evolve(opened(), AccountOpened("alice", 2, "e2", NOW, EUR, Money(0), {"alice"}), UTC_ZONE)
    with pytest.raises(ValueError, match="folded into"):
        evolve(opened(), Frozen("bob", 2, "e2", NOW), UTC_ZONE)


def test_an_account_event_carries_the_balance_unchanged_and_no_amount():
    # GIVEN an account event WHEN made a state-carried event THEN it carries no amount,
    # the balance as it was and the new status; a posting's carries the balance after it
    event, state = apply(opened(), FreezeAccount("alice"))
    carried = StateCarriedEvent.of(event, state)
    assert (carried.type, carried.amount) == ("AccountFrozen", None)
    assert carried.aggregate.total_balance == opened().balance
    assert carried.account is not None
    assert carried.account.status == "frozen"
    event, state = apply(opened(), RecordCredit("alice", Money(100)))
    assert StateCarriedEvent.of(event, state).aggregate.total_balance == Money(100)


def test_evolve_refuses_a_posting_in_another_currency():
    event = Credited("alice", 2, "e2", Money(1), NOW, currency=Currency("USD"))
    with pytest.raises(ValueError, match="posting on"):
        evolve(opened(), event, UTC_ZONE)


def test_a_history_from_before_accounts_opens_at_its_first_posting_on_the_legacy_terms():
    # GIVEN a history that starts with a credit, as every history did before accounts
    events: list[Event] = [
        Credited("alice", 1, "e1", Money(1000), NOW),
        Debited("alice", 2, "e2", Money(300), NOW),
    ]
    # WHEN folded on a deployment's legacy terms
    terms = LegacyTerms(Currency("USD"), Money(2500))
    state = fold("alice", events, UTC_ZONE, terms)
    # THEN the account is open, in that currency and limit, owned by its own id
    assert state.opened
    assert state.status is AccountStatus.OPEN
    assert state.currency == Currency("USD")
    assert state.overdraft_limit == Money(2500)
    assert state.owners == frozenset({"alice"})
    assert state.balance == Money(700)
    # AND it takes postings as any account does, within the legacy limit
    _, state = apply(state, RecordDebit("alice", Money(3200)))
    with pytest.raises(InsufficientFunds):
        apply(state, RecordDebit("alice", Money(1)))


def test_legacy_terms_must_be_in_cents_as_legacy_amounts_were():
    with pytest.raises(ValueError, match="cents"):
        LegacyTerms(JPY)


def test_every_command_and_event_type_is_routed():
    # GIVEN the routing tables WHEN compared with the types THEN none is missing
    assert set(DECIDERS) == {
        RecordCredit,
        RecordDebit,
        OpenAccount,
        FreezeAccount,
        UnfreezeAccount,
        CloseAccount,
        ChangeOverdraftLimit,
    }
    assert set(EVOLVERS) == set(TYPE_NAMES)


def test_fold_over_years_of_history():
    state = opened()
    events = [AccountOpened("alice", 1, "e1", NOW, EUR, Money(0), {"alice"})]
    for day in range(0, 3 * 365, 3):
        event, state = apply(
            state, RecordCredit("alice", Money(100)), now=NOW + timedelta(days=day)
        )
        events.append(event)
    folded = fold("alice", events, UTC_ZONE)
    assert folded == state
    assert folded.balance == Money(100 * (len(events) - 1))

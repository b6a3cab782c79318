import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from banking.domain.account import Account, evolve
from banking.domain.commands import CloseAccount, FreezeAccount, OpenAccount, RecordCredit
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotFound,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
)
from banking.domain.events import Credited, Debited, signed_amount
from banking.domain.money import Money
from banking.domain.transfer import (
    MAX_POSTINGS,
    Posting,
    Transfer,
    decide_transfer,
    legs_by_account,
)

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EUR, JPY, KWD = Currency("EUR"), Currency("JPY"), Currency("KWD")


def step(state, command, now=NOW):
    event = decide(state, command, event_id=f"{state.account_id}-{state.version + 1}", now=now)
    return evolve(state, event, UTC_ZONE)


def account(account_id, *, currency=EUR, balance=0, overdraft=0):
    state = step(
        Account(account_id),
        OpenAccount(account_id, currency, {account_id}, Money(overdraft, currency.digits)),
    )
    if balance:
        state = step(state, RecordCredit(account_id, Money(balance, currency.digits)))
    return state


def accounts(*states):
    return {state.account_id: state for state in states}


def ids():
    counter = itertools.count(1)
    return lambda: f"event-{next(counter)}"


def transfer(states, *postings, now=NOW, recorded_by=None):
    return decide_transfer(
        states,
        Transfer("t-1", postings, "rent"),
        new_event_id=ids(),
        now=now,
        recorded_by=recorded_by,
    )


def test_a_simple_transfer_debits_one_account_and_credits_the_other():
    # GIVEN alice with 100.00 and bob with nothing
    states = accounts(account("alice", balance=10000), account("bob"))
    # WHEN alice transfers 30.00 to bob
    legs = transfer(states, Posting("alice", "bob", Money(3000)), recorded_by="payments")
    # THEN a credit leg on bob and a debit leg on alice, each at its next version,
    # each naming the transfer and the other account
    credit, debit = legs
    assert isinstance(debit, Debited)
    assert (debit.account_id, debit.version, debit.counterparty) == ("alice", 3, "bob")
    assert isinstance(credit, Credited)
    assert (credit.account_id, credit.version, credit.counterparty) == ("bob", 2, "alice")
    for leg in legs:
        assert leg.amount == Money(3000)
        assert leg.transfer_id == "t-1"
        assert leg.description == "rent"
        assert leg.currency == EUR
        assert leg.recorded_by == "payments"
        assert leg.recorded_at == NOW
    assert len({leg.event_id for leg in legs}) == 2
    # AND folding the legs gives both balances
    assert evolve(states["alice"], debit, UTC_ZONE).balance == Money(7000)
    assert evolve(states["bob"], credit, UTC_ZONE).balance == Money(3000)


def test_an_account_in_several_postings_gets_consecutive_versions():
    # GIVEN a payment with its fee: alice pays bob and the bank's fee account
    states = accounts(account("alice", balance=10000), account("bob"), account("fees"))
    # WHEN transferred
    legs = transfer(
        states, Posting("alice", "bob", Money(5000)), Posting("alice", "fees", Money(100))
    )
    # THEN alice's two debits are versions 3 and 4, in posting order
    by_account = legs_by_account(legs)
    assert [leg.version for leg in by_account["alice"]] == [3, 4]
    assert [leg.version for leg in by_account["bob"]] == [2]
    assert [leg.version for leg in by_account["fees"]] == [2]
    state = states["alice"]
    for leg in by_account["alice"]:
        state = evolve(state, leg, UTC_ZONE)
    assert state.balance == Money(4900)


def test_an_account_paid_out_and_back_in_is_credited_before_it_is_debited():
    # GIVEN alice at 0.00 with no overdraft (version 1), bob and carol with funds
    states = accounts(account("alice"), account("bob"), account("carol", balance=5000))
    # WHEN one transfer pays 14.20 from alice to bob and 14.76 from carol to alice
    legs = transfer(
        states, Posting("alice", "bob", Money(1420)), Posting("carol", "alice", Money(1476))
    )
    # THEN alice's credit is version 2 and her debit version 3, so no version of her
    # account is below her limit (the debit first would have stored -14.20 at version 2)
    own = legs_by_account(legs)["alice"]
    assert [(type(leg), leg.version) for leg in own] == [(Credited, 2), (Debited, 3)]
    state, balances = states["alice"], []
    for leg in own:
        state = evolve(state, leg, UTC_ZONE)
        balances.append(state.balance)
    assert balances == [Money(1476), Money(56)]


def test_the_legs_are_every_credit_then_every_debit_each_in_posting_order():
    # GIVEN three accounts with funds
    states = accounts(*(account(name, balance=10000) for name in ("alice", "bob", "carol")))
    # WHEN a transfer has three postings
    legs = transfer(
        states,
        Posting("alice", "bob", Money(100)),
        Posting("bob", "carol", Money(200)),
        Posting("carol", "alice", Money(300)),
    )
    # THEN the credits come first, then the debits, each kind in posting order, and
    # every account's versions follow one another from its next version
    assert [(type(leg), leg.account_id, leg.amount.minor) for leg in legs] == [
        (Credited, "bob", 100),
        (Credited, "carol", 200),
        (Credited, "alice", 300),
        (Debited, "alice", 100),
        (Debited, "bob", 200),
        (Debited, "carol", 300),
    ]
    for own in legs_by_account(legs).values():
        assert [leg.version for leg in own] == [3, 4]


def test_funds_are_checked_with_every_posting_applied():
    # GIVEN alice with nothing and bob with 50.00
    states = accounts(account("alice"), account("bob", balance=5000))
    # WHEN alice pays bob 50.00 while bob pays her 50.00 in the same transfer
    legs = transfer(
        states, Posting("alice", "bob", Money(5000)), Posting("bob", "alice", Money(5000))
    )
    # THEN it is accepted: neither account ends below its limit
    assert len(legs) == 4
    # WHEN a second posting would take alice below zero in total THEN refused
    with pytest.raises(InsufficientFunds) as refused:
        transfer(states, Posting("bob", "alice", Money(1000)), Posting("alice", "bob", Money(1001)))
    assert refused.value.message == "the debit would take account alice below its overdraft limit"
    assert refused.value.details["balance"] == "0.00"
    assert refused.value.details["debit"] == "0.01"


def test_a_transfer_may_use_the_debited_accounts_overdraft():
    states = accounts(account("alice", overdraft=2000), account("bob"))
    transfer(states, Posting("alice", "bob", Money(2000)))
    with pytest.raises(InsufficientFunds):
        transfer(states, Posting("alice", "bob", Money(2001)))


def test_the_same_account_on_both_sides_is_refused():
    states = accounts(account("alice", balance=100))
    with pytest.raises(InvalidRequest, match="both sides"):
        transfer(states, Posting("alice", "alice", Money(1)))


@pytest.mark.parametrize("count", [0, MAX_POSTINGS + 1])
def test_a_transfer_has_1_to_10_postings(count):
    states = accounts(account("alice", balance=100_000), account("bob"))
    with pytest.raises(InvalidRequest, match="postings"):
        transfer(states, *[Posting("alice", "bob", Money(1))] * count)


def test_ten_postings_are_accepted():
    states = accounts(account("alice", balance=100_000), account("bob"))
    assert len(transfer(states, *[Posting("alice", "bob", Money(1))] * MAX_POSTINGS)) == 20


@pytest.mark.parametrize("bob", [None, Account("bob")], ids=["not loaded", "no event"])
def test_an_account_never_opened_is_refused(bob):
    states = accounts(account("alice", balance=100))
    if bob is not None:
        states["bob"] = bob
    with pytest.raises(AccountNotFound, match="bob"):
        transfer(states, Posting("alice", "bob", Money(1)))


def test_accounts_in_different_currencies_are_refused():
    states = accounts(account("alice", balance=100), account("bob", currency=Currency("USD")))
    with pytest.raises(CurrencyMismatch):
        transfer(states, Posting("alice", "bob", Money(1)))


def test_a_posting_in_another_currency_than_its_accounts_is_refused():
    states = accounts(account("alice", balance=100), account("bob"))
    with pytest.raises(CurrencyMismatch):
        transfer(states, Posting("alice", "bob", Money(1), Currency("USD")))
    assert transfer(states, Posting("alice", "bob", Money(1), EUR))


def test_an_exchange_goes_through_the_banks_accounts_one_currency_per_posting():
    # GIVEN alice in EUR, bob in JPY, and the bank's exchange account in each
    states = accounts(
        account("alice", balance=10000),
        account("bob", currency=JPY),
        account("fx-eur"),
        account("fx-jpy", currency=JPY, overdraft=10**9),
    )
    # WHEN alice's 10.00 EUR become bob's 1600 JPY
    legs = transfer(
        states,
        Posting("alice", "fx-eur", Money(1000), EUR),
        Posting("fx-jpy", "bob", Money(1600, 0), JPY),
    )
    # THEN each leg is in its account's currency and digits
    assert {leg.account_id: (str(leg.amount), leg.currency) for leg in legs} == {
        "alice": ("10.00", EUR),
        "fx-eur": ("10.00", EUR),
        "fx-jpy": ("1600", JPY),
        "bob": ("1600", JPY),
    }


def test_an_amount_finer_than_the_accounts_currency_is_refused():
    states = accounts(account("alice", currency=JPY, balance=100), account("bob", currency=JPY))
    with pytest.raises(InvalidAmount):
        transfer(states, Posting("alice", "bob", Money(150)))  # 1.50 yen


@pytest.mark.parametrize(
    ("change", "error"), [(FreezeAccount, AccountFrozen), (CloseAccount, AccountClosed)]
)
@pytest.mark.parametrize("shut_pays", [True, False])
def test_a_frozen_or_closed_account_on_either_side_is_refused(change, error, shut_pays):
    # GIVEN an account frozen or closed (empty, with an overdraft to pay from) and a
    # funded one
    shut = step(account("shut", overdraft=100), change("shut"))
    states = accounts(shut, account("open", balance=100))
    # WHEN money would move from or to the shut one THEN refused
    posting = Posting("shut", "open", Money(1)) if shut_pays else Posting("open", "shut", Money(1))
    with pytest.raises(error):
        transfer(states, posting)


def test_the_legs_are_recorded_at_one_time_never_before_any_accounts_last_event():
    # GIVEN bob's last event recorded 5 s after this Lambda's clock
    later = NOW + timedelta(seconds=5)
    states = accounts(account("alice", balance=100), account("bob"))
    states["bob"] = step(states["bob"], RecordCredit("bob", Money(1)), now=later)
    # WHEN transferred THEN both legs carry the later time
    legs = transfer(states, Posting("alice", "bob", Money(1)))
    assert {leg.recorded_at for leg in legs} == {later}


def test_the_accounts_to_load_are_each_involved_account_once():
    command = Transfer(
        "t", [Posting("b", "a", Money(1)), Posting("a", "c", Money(1)), Posting("c", "b", Money(1))]
    )
    assert command.account_ids == ["a", "b", "c"]


NAMES = ["a", "b", "c", "d"]
CURRENCIES = {"a": EUR, "b": EUR, "c": KWD, "d": KWD}
SAME_CURRENCY_PAIRS = [
    (source, target)
    for source, target in itertools.permutations(NAMES, 2)
    if CURRENCIES[source] == CURRENCIES[target]
]


@given(
    postings=st.lists(
        st.tuples(st.sampled_from(SAME_CURRENCY_PAIRS), st.integers(1, 10**6)),
        min_size=1,
        max_size=MAX_POSTINGS,
    )
)
def test_money_is_conserved_the_legs_sum_to_zero_per_currency(postings):
    # GIVEN accounts in two currencies, each with funds and an overdraft
    states = accounts(
        *(
            account(name, currency=CURRENCIES[name], balance=10**5, overdraft=10**5)
            for name in NAMES
        )
    )
    # WHEN any transfer is decided
    try:
        legs = transfer(
            states,
            *(
                Posting(source, target, Money(amount * 10, 3))
                for (source, target), amount in postings
            ),
        )
    except InsufficientFunds:
        return  # refused: nothing to store
    # THEN per currency the legs sum to zero, and each posting is one debit and one credit
    totals: defaultdict[Currency | None, int] = defaultdict(int)
    for leg in legs:
        totals[leg.currency] += signed_amount(leg).minor * 10 ** (3 - leg.amount.digits)
    assert set(totals.values()) == {0}
    assert len(legs) == 2 * len(postings)
    # AND no account is below its overdraft limit at any version of the transfer
    for account_id, own in legs_by_account(legs).items():
        state = states[account_id]
        for leg in own:
            state = evolve(state, leg, UTC_ZONE)
            assert state.balance >= -state.overdraft_limit

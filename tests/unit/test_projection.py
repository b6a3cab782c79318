from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from banking.adapters.memory import InMemoryProjectionStore
from banking.application.projection import project, project_balances
from banking.domain.account import (
    Account,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
    decide,
    evolve,
)
from banking.domain.currency import Currency
from banking.domain.money import Money
from banking.domain.read_models import (
    CurrentMonthBalance,
    MonthlyStatement,
    StateCarriedEvent,
    TotalBalance,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")

transactions = st.lists(
    st.tuples(st.booleans(), st.integers(1, 100_000), st.integers(0, 20)),
    min_size=1,
    max_size=40,
)


def state_carried_history(steps):
    """The state-carried events of alice's opening, then of the postings `steps`."""
    state, now = Account("alice"), START
    # A deep overdraft: any sequence of debits is accepted.
    terms = OpenAccount("alice", Currency("EUR"), {"alice"}, overdraft_limit=Money(10**9))
    opened = decide(state, terms, event_id="o", now=now)
    state = evolve(state, opened, ZoneInfo("UTC"))
    events = [StateCarriedEvent.of(opened, state)]
    for is_credit, cents, days in steps:
        now += timedelta(days=days)
        command = (RecordCredit if is_credit else RecordDebit)("alice", Money(cents))
        event = decide(state, command, event_id="e", now=now)
        state = evolve(state, event, ZoneInfo("UTC"))
        events.append(StateCarriedEvent.of(event, state))
    return state, events


@settings(max_examples=200, deadline=None)
@given(steps=transactions, data=st.data())
def test_read_models_equal_the_fold_whatever_the_order_and_duplicates(steps, data):
    # GIVEN the state-carried events of a history
    final, events = state_carried_history(steps)
    # WHEN delivered in random order with random duplicates
    deliveries = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    projections = InMemoryProjectionStore()
    for event in deliveries:
        project_balances(event, projections)
    # THEN the read models are those of the fold of all events
    models = {type(model): model for model in projections.load("alice")}
    assert models[TotalBalance] == TotalBalance(final.balance, final.version)
    assert models[CurrentMonthBalance] == CurrentMonthBalance(
        final.month, final.month_balance, final.version
    )


def test_a_stale_event_does_not_move_a_projection_backwards():
    _, events = state_carried_history([(True, 100, 0), (True, 200, 0)])
    projections = InMemoryProjectionStore()
    assert project_balances(events[2], projections) == {
        "TotalBalanceForProfile": True,
        "CurrentMonthBalanceForProfile": True,
    }
    assert not any(project_balances(events[1], projections).values())
    total = next(m for m in projections.load("alice") if isinstance(m, TotalBalance))
    assert total == TotalBalance(Money(300), 3)


def test_an_account_event_leaves_the_balances_and_advances_their_version():
    # GIVEN alice's opening and a credit of 1.00, projected
    state, events = state_carried_history([(True, 100, 0)])
    projections = InMemoryProjectionStore()
    for event in events:
        project_balances(event, projections)
    # WHEN her account is frozen (version 3) and that is projected
    freeze = decide(state, FreezeAccount("alice"), event_id="f", now=START)
    project_balances(StateCarriedEvent.of(freeze, evolve(state, freeze, UTC_ZONE)), projections)
    # THEN the balances are what the credit made them, at the freeze's version
    models = {type(model): model for model in projections.load("alice")}
    assert models[TotalBalance] == TotalBalance(Money(100), 3)
    assert models[CurrentMonthBalance] == CurrentMonthBalance("2026-01", Money(100), 3)


def test_an_opened_account_without_postings_projects_zero_balances_and_no_statement():
    # GIVEN only alice's opening
    _, events = state_carried_history([])
    projections = InMemoryProjectionStore()
    # WHEN it is projected
    written = project(events[0], projections)
    # THEN her balances read zero at version 1, she has no statement yet, and her
    # owner's list names her account
    models = {type(model): model for model in projections.load("alice")}
    assert models[TotalBalance] == TotalBalance(Money(0), 1)
    assert MonthlyStatement not in models
    assert written["AccountsByOwner"] is True
    listed = projections.accounts_of("alice", after=None, limit=10)
    assert [(summary.account_id, summary.version) for summary in listed] == [("alice", 1)]

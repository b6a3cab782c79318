from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from banking.adapters.memory import InMemoryProjectionStore
from banking.application.projection import project_balances
from banking.domain.account import Account, RecordCredit, RecordDebit, decide, evolve
from banking.domain.money import Money
from banking.domain.read_models import CurrentMonthBalance, StateCarriedEvent, TotalBalance

START = datetime(2026, 1, 1, tzinfo=UTC)

transactions = st.lists(
    st.tuples(st.booleans(), st.integers(1, 100_000), st.integers(0, 20)),
    min_size=1,
    max_size=40,
)


def state_carried_history(steps):
    state, events, now = Account("alice"), [], START
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
    assert project_balances(events[1], projections) == {
        "TotalBalanceForProfile": True,
        "CurrentMonthBalanceForProfile": True,
    }
    assert not any(project_balances(events[0], projections).values())
    total = next(m for m in projections.load("alice") if isinstance(m, TotalBalance))
    assert total == TotalBalance(Money(300), 2)

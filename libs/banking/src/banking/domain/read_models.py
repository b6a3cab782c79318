"""What the dispatcher publishes and the projectors keep.

A state-carried event is a stored event plus the aggregate as of its own version,
so a projector needs nothing but the event to update its read model, in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from attrs import frozen

from banking.domain.account import Account
from banking.domain.events import Credited, Debited, Event, type_name
from banking.domain.money import Money

TOTAL_BALANCE = "TotalBalanceForProfile"
CURRENT_MONTH_BALANCE = "CurrentMonthBalanceForProfile"
MONTHLY_STATEMENT = "MonthlyStatementForProfile"
BALANCE_READ_MODELS = (TOTAL_BALANCE, CURRENT_MONTH_BALANCE)


@frozen
class Aggregate:
    """The account as of `version`; the month is the month of that event."""

    total_balance: Money
    current_month_balance: Money
    month: str
    version: int
    month_credits: Money
    month_debits: Money
    month_event_count: int

    @classmethod
    def of(cls, state: Account) -> Aggregate:
        if state.month is None:
            raise ValueError("an account with no event has no aggregate")
        return cls(
            total_balance=state.balance,
            current_month_balance=state.month_balance,
            month=state.month,
            version=state.version,
            month_credits=state.month_credits,
            month_debits=state.month_debits,
            month_event_count=state.month_event_count,
        )


@frozen
class StateCarriedEvent:
    """`CreditEvent` / `DebitEvent` on the bus: the event and the aggregate after it."""

    type: str
    account_id: str
    event_id: str
    version: int
    amount: Money
    recorded_at: datetime
    aggregate: Aggregate

    @classmethod
    def of(cls, event: Event, state_after: Account) -> StateCarriedEvent:
        # Only postings move balances; what the bus carries for account events (opened,
        # frozen...) is not decided yet, and guessing would publish a wrong contract.
        if not isinstance(event, Credited | Debited):
            raise ValueError(f"{type_name(event)} carries no balance change to publish")
        if state_after.version != event.version:
            raise ValueError(
                f"state version {state_after.version} is not event version {event.version}"
            )
        return cls(
            type=type_name(event),
            account_id=event.account_id,
            event_id=event.event_id,
            version=event.version,
            amount=event.amount,
            recorded_at=event.recorded_at,
            aggregate=Aggregate.of(state_after),
        )


@frozen
class TotalBalance:
    amount: Money
    version: int


@frozen
class CurrentMonthBalance:
    month: str
    amount: Money
    version: int


@frozen
class MonthlyStatement:
    """One calendar month of an account: its movements and the balance it closed on.

    The month's last event carries all of it, so it is kept like the balances:
    one item per (account, month), newest version wins."""

    month: str
    credits: Money
    debits: Money
    closing_balance: Money
    event_count: int
    version: int


ReadModel = TotalBalance | CurrentMonthBalance | MonthlyStatement

READ_MODEL_NAMES: dict[type[ReadModel], str] = {
    TotalBalance: TOTAL_BALANCE,
    CurrentMonthBalance: CURRENT_MONTH_BALANCE,
    MonthlyStatement: MONTHLY_STATEMENT,
}


def qualifier_of(model: ReadModel) -> str | None:
    """What tells apart the read models of one name and account (a statement's month)."""
    return model.month if isinstance(model, MonthlyStatement) else None


def _total_balance(event: StateCarriedEvent) -> ReadModel:
    return TotalBalance(amount=event.aggregate.total_balance, version=event.aggregate.version)


def _current_month_balance(event: StateCarriedEvent) -> ReadModel:
    aggregate = event.aggregate
    return CurrentMonthBalance(
        month=aggregate.month, amount=aggregate.current_month_balance, version=aggregate.version
    )


def _monthly_statement(event: StateCarriedEvent) -> ReadModel:
    aggregate = event.aggregate
    return MonthlyStatement(
        month=aggregate.month,
        credits=aggregate.month_credits,
        debits=aggregate.month_debits,
        closing_balance=aggregate.total_balance,
        event_count=aggregate.month_event_count,
        version=aggregate.version,
    )


# Every read model the projectors keep, by name: what a state-carried event makes of it.
PROJECTIONS: dict[str, Callable[[StateCarriedEvent], ReadModel]] = {
    TOTAL_BALANCE: _total_balance,
    CURRENT_MONTH_BALANCE: _current_month_balance,
    MONTHLY_STATEMENT: _monthly_statement,
}


def balance_read_models(event: StateCarriedEvent) -> list[ReadModel]:
    return [PROJECTIONS[name](event) for name in BALANCE_READ_MODELS]


@frozen
class Balance:
    """What `GET /accounts/{id}/balance` answers."""

    account_id: str
    total_balance: Money
    current_month_balance: Money
    month: str
    version: int

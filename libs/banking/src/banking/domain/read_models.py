"""What the dispatcher publishes and the projectors keep.

A state-carried event is a stored event plus the aggregate as of its own version,
so a projector needs nothing but the event to update its read model, in any order.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from banking.domain.account import Account
from banking.domain.events import Event, type_name
from banking.domain.money import Money

TOTAL_BALANCE = "TotalBalanceForProfile"
CURRENT_MONTH_BALANCE = "CurrentMonthBalanceForProfile"
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


ReadModel = TotalBalance | CurrentMonthBalance

READ_MODEL_NAMES: dict[type[ReadModel], str] = {
    TotalBalance: TOTAL_BALANCE,
    CurrentMonthBalance: CURRENT_MONTH_BALANCE,
}


def balance_read_models(event: StateCarriedEvent) -> list[ReadModel]:
    aggregate = event.aggregate
    return [
        TotalBalance(amount=aggregate.total_balance, version=aggregate.version),
        CurrentMonthBalance(
            month=aggregate.month,
            amount=aggregate.current_month_balance,
            version=aggregate.version,
        ),
    ]


@frozen
class Balance:
    """What `GET /accounts/{id}/balance` answers."""

    account_id: str
    total_balance: Money
    current_month_balance: Money
    month: str
    version: int

"""The account aggregate: a functional decide/evolve pair.

`decide(state, command, ...)` checks the business rules and returns the new event;
`evolve(state, event, zone)` folds one event into the state. The state is also the
aggregate that state-carried events publish: total balance and the balance of the
calendar month of the last event (months taken in a configured time zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from attrs import evolve as replace
from attrs import frozen

from banking.domain.errors import InsufficientFunds
from banking.domain.events import Credited, Debited, Event, signed_amount
from banking.domain.money import Money


@frozen
class RecordCredit:
    account_id: str
    amount: Money
    description: str | None = None


@frozen
class RecordDebit:
    account_id: str
    amount: Money
    description: str | None = None


Command = RecordCredit | RecordDebit


@frozen
class Account:
    """The state of an account after `version` events (0: no event yet)."""

    account_id: str
    version: int = 0
    balance: Money = Money(0)
    month: str | None = None
    month_credits: Money = Money(0)
    month_debits: Money = Money(0)
    month_event_count: int = 0
    last_recorded_at: datetime | None = None

    @property
    def month_balance(self) -> Money:
        return self.month_credits - self.month_debits

    def month_balance_in(self, month: str) -> Money:
        """The balance of `month`: zero when the account had no event in it."""
        return self.month_balance if self.month == month else Money(0)


def month_of(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m")


def decide(
    state: Account,
    command: Command,
    *,
    event_id: str,
    now: datetime,
    overdraft_limit: Money,
) -> Event:
    # Recorded times never go backwards within an account, even when two Lambdas'
    # clocks disagree, so months in version order are months in time order.
    recorded_at = max(now, state.last_recorded_at) if state.last_recorded_at else now
    if isinstance(command, RecordDebit) and state.balance - command.amount < -overdraft_limit:
        # The figures go in details, which only a caller who may read the account sees.
        raise InsufficientFunds(
            "the debit would take the balance below the account's overdraft limit",
            {"balance": str(state.balance), "overdraftLimit": str(overdraft_limit)},
        )
    event_type = Credited if isinstance(command, RecordCredit) else Debited
    return event_type(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=event_id,
        amount=command.amount,
        recorded_at=recorded_at,
        description=command.description,
    )


def evolve(state: Account, event: Event, zone: ZoneInfo) -> Account:
    if event.version != state.version + 1:
        raise ValueError(
            f"event version {event.version} does not follow state version {state.version}"
        )
    month = month_of(event.recorded_at, zone)
    if month != state.month:
        state = replace(
            state,
            month=month,
            month_credits=Money(0),
            month_debits=Money(0),
            month_event_count=0,
        )
    credit, debit = (
        (event.amount, Money(0)) if isinstance(event, Credited) else (Money(0), event.amount)
    )
    return replace(
        state,
        version=event.version,
        balance=state.balance + signed_amount(event),
        month_credits=state.month_credits + credit,
        month_debits=state.month_debits + debit,
        month_event_count=state.month_event_count + 1,
        last_recorded_at=event.recorded_at,
    )


def fold(account_id: str, events: Iterable[Event], zone: ZoneInfo) -> Account:
    state = Account(account_id)
    for event in events:
        state = evolve(state, event, zone)
    return state

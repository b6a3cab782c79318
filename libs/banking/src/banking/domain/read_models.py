"""What the dispatcher publishes and the projectors keep.

A state-carried event is a stored event plus the aggregate as of its own version
and the account's settings, so a projector needs nothing but the event to update its
read model, in any order. Every stored event is published so: the account events
(opened, frozen...) move no money, so they leave the balances as they are and only
advance their version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from attrs import field, frozen

from banking.domain.account import Account, month_of
from banking.domain.currency import Currency
from banking.domain.events import (
    Credited,
    Debited,
    Event,
    EventRef,
    owner_set,
    read_only,
    type_name,
)
from banking.domain.money import Money

TOTAL_BALANCE = "TotalBalanceForProfile"
CURRENT_MONTH_BALANCE = "CurrentMonthBalanceForProfile"
MONTHLY_STATEMENT = "MonthlyStatementForProfile"
ACCOUNTS_BY_OWNER = "AccountsByOwner"
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
    # What pending holds reserve of the total; None when nothing is held (and on events
    # published before holds), so an account without holds carries what it always did.
    held_balance: Money | None = None

    @classmethod
    def of(cls, state: Account) -> Aggregate:
        if state.last_recorded_at is None:
            raise ValueError("an account with no event has no aggregate")
        return cls(
            total_balance=state.balance,
            current_month_balance=state.month_balance,
            # Before its first posting an account's month balance is zero in any
            # month: the month of its last event (in UTC) is as right as any.
            month=state.month or month_of(state.last_recorded_at, _UTC),
            version=state.version,
            month_credits=state.month_credits,
            month_debits=state.month_debits,
            month_event_count=state.month_event_count,
            held_balance=state.held if state.holds else None,
        )


_UTC = ZoneInfo("UTC")


@frozen
class AccountSettings:
    """The account's settings as of an event, as the bus carries them."""

    currency: Currency
    status: str
    owners: frozenset[str] = field(converter=owner_set)
    overdraft_limit: Money
    metadata: Mapping[str, str] = field(factory=dict, converter=read_only)
    opened_at: datetime | None = None

    @classmethod
    def of(cls, state: Account) -> AccountSettings:
        return cls(
            currency=state.currency,
            status=state.status.value,
            owners=state.owners,
            overdraft_limit=state.overdraft_limit,
            metadata=state.metadata,
            opened_at=state.opened_at,
        )


@frozen
class StateCarriedEvent:
    """A stored event on the bus (detail-type: its type name): the event, the
    aggregate after it and the account's settings. `amount` only for postings;
    `account` is absent only from events published before accounts existed."""

    type: str
    account_id: str
    event_id: str
    version: int
    amount: Money | None
    recorded_at: datetime
    aggregate: Aggregate
    account: AccountSettings | None = None
    transfer_id: str | None = None
    counterparty: str | None = None
    recorded_by: str | None = None
    reverses: EventRef | None = None

    @classmethod
    def of(cls, event: Event, state_after: Account) -> StateCarriedEvent:
        if state_after.version != event.version:
            raise ValueError(
                f"state version {state_after.version} is not event version {event.version}"
            )
        posting = event if isinstance(event, Credited | Debited) else None
        return cls(
            type=type_name(event),
            account_id=event.account_id,
            event_id=event.event_id,
            version=event.version,
            amount=posting.amount if posting else None,
            recorded_at=event.recorded_at,
            aggregate=Aggregate.of(state_after),
            account=AccountSettings.of(state_after),
            transfer_id=posting.transfer_id if posting else None,
            counterparty=posting.counterparty if posting else None,
            recorded_by=event.recorded_by,
            reverses=posting.reverses if posting else None,
        )


@frozen
class TotalBalance:
    amount: Money
    version: int
    # The part of `amount` pending holds reserve (None: nothing held).
    held: Money | None = None


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


@frozen
class AccountSummary:
    """One account of one owner (`AccountsByOwner`, kept in the owner's partition
    `owner#<subject>`, one item per account): what "my accounts" lists."""

    account_id: str
    settings: AccountSettings
    version: int


ReadModel = TotalBalance | CurrentMonthBalance | MonthlyStatement | AccountSummary

READ_MODEL_NAMES: dict[type[ReadModel], str] = {
    TotalBalance: TOTAL_BALANCE,
    CurrentMonthBalance: CURRENT_MONTH_BALANCE,
    MonthlyStatement: MONTHLY_STATEMENT,
    AccountSummary: ACCOUNTS_BY_OWNER,
}


def qualifier_of(model: ReadModel) -> str | None:
    """What tells apart the read models of one name and partition (a statement's
    month, an owner's account)."""
    if isinstance(model, MonthlyStatement):
        return model.month
    return model.account_id if isinstance(model, AccountSummary) else None


def owner_partition(subject: str) -> str:
    """The projections table's partition of an owner's accounts: never an account id
    (those hold no "#")."""
    return f"owner#{subject}"


def owned_accounts(event: StateCarriedEvent) -> list[tuple[str, AccountSummary]]:
    """(partition, summary) for each owner of the account, as of the event; nothing for
    an event published before accounts (it names no owners)."""
    if event.account is None:
        return []
    summary = AccountSummary(event.account_id, event.account, event.version)
    return [(owner_partition(owner), summary) for owner in sorted(event.account.owners)]


def _total_balance(event: StateCarriedEvent) -> ReadModel:
    aggregate = event.aggregate
    return TotalBalance(
        amount=aggregate.total_balance, version=aggregate.version, held=aggregate.held_balance
    )


def _current_month_balance(event: StateCarriedEvent) -> ReadModel:
    aggregate = event.aggregate
    return CurrentMonthBalance(
        month=aggregate.month, amount=aggregate.current_month_balance, version=aggregate.version
    )


def _monthly_statement(event: StateCarriedEvent) -> ReadModel | None:
    aggregate = event.aggregate
    if aggregate.month_event_count == 0:
        return None  # no posting yet: no month has a statement
    return MonthlyStatement(
        month=aggregate.month,
        credits=aggregate.month_credits,
        debits=aggregate.month_debits,
        closing_balance=aggregate.total_balance,
        event_count=aggregate.month_event_count,
        version=aggregate.version,
    )


# Every read model of an account the projectors keep, by name: what a state-carried
# event makes of it (None: nothing, for that event).
PROJECTIONS: dict[str, Callable[[StateCarriedEvent], ReadModel | None]] = {
    TOTAL_BALANCE: _total_balance,
    CURRENT_MONTH_BALANCE: _current_month_balance,
    MONTHLY_STATEMENT: _monthly_statement,
}


def balance_read_models(event: StateCarriedEvent) -> list[ReadModel]:
    return [
        model for name in BALANCE_READ_MODELS if (model := PROJECTIONS[name](event)) is not None
    ]


@frozen
class Balance:
    """What `GET /accounts/{id}/balance` answers."""

    account_id: str
    total_balance: Money
    current_month_balance: Money
    month: str
    version: int
    held_balance: Money | None = None

    @property
    def available_balance(self) -> Money:
        """The total less what pending holds reserve."""
        return self.total_balance - self.held_balance if self.held_balance else self.total_balance

"""The read side: balances and "my accounts" from the read models; an account's
settings, its history and transfers from the events and transfers tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import (
    AccountDirectory,
    Clock,
    EventStore,
    ProjectionStore,
    StatementReader,
    TransferRecord,
)
from banking.domain.account import Account, month_of
from banking.domain.errors import (
    AccountNotFound,
    InvalidRequest,
    StatementNotFound,
    TransferNotFound,
)
from banking.domain.events import Event
from banking.domain.money import Money
from banking.domain.read_models import (
    AccountSummary,
    Balance,
    CurrentMonthBalance,
    MonthlyStatement,
    TotalBalance,
)


def balance(
    account: Account, projections: ProjectionStore, *, clock: Clock, zone: ZoneInfo
) -> Balance:
    """The balances of an opened account as its read models have them; zero at version
    0 until they have caught up with its first event (never "not found": it exists)."""
    models = projections.load(account.account_id)
    total = next((m for m in models if isinstance(m, TotalBalance)), None)
    month = next((m for m in models if isinstance(m, CurrentMonthBalance)), None)
    this_month = month_of(clock(), zone)
    zero = Money.zero(account.currency.digits)
    if total is None or month is None:
        return Balance(account.account_id, zero, zero, this_month, 0, zero)
    # The read model holds the month of the account's last event; a month with no
    # event yet has a balance of zero.
    month_amount = month.amount if month.month == this_month else zero
    return Balance(
        account_id=account.account_id,
        total_balance=total.amount,
        current_month_balance=month_amount,
        month=this_month,
        # The version both read models reflect, so a client never over-estimates.
        version=min(total.version, month.version),
        held_balance=total.held if total.held is not None else zero,
    )


@frozen
class AccountPage:
    accounts: Sequence[AccountSummary]
    next_after: str | None


def accounts_of(
    owner: str, directory: AccountDirectory, *, after: str | None, limit: int
) -> AccountPage:
    # One more than the page tells whether another page follows.
    found = list(directory.accounts_of(owner, after=after, limit=limit + 1))
    page, more = found[:limit], len(found) > limit
    return AccountPage(page, page[-1].account_id if more else None)


def transfer(transfer_id: str, store: EventStore) -> TransferRecord:
    found = store.transfer(transfer_id)
    if found is None:
        raise TransferNotFound(f"transfer {transfer_id[:64]!r} does not exist")
    return found


@frozen
class EventPage:
    account_id: str
    events: Sequence[Event]
    next_after: int | None


def history(account_id: str, store: EventStore, *, after: int, limit: int) -> EventPage:
    # Ask for one more than the page to know whether another page follows.
    events = list(store.events(account_id, after=after, limit=limit + 1))
    page, more = events[:limit], len(events) > limit
    return EventPage(account_id, page, page[-1].version if more else None)


_MONTH = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)


def valid_month(month: str) -> str:
    if not _MONTH.match(month):
        raise InvalidRequest(f"month {month[:16]!r} is not a calendar month such as 2026-11")
    return month


def statement(
    account_id: str, month: str, statements: StatementReader, store: EventStore
) -> MonthlyStatement:
    found = statements.statement(account_id, valid_month(month))
    if found is not None:
        return found
    # Only on a miss: tell an unknown account from a month without a statement.
    if store.load(account_id).version == 0:
        raise AccountNotFound(f"account {account_id} has no events")
    raise StatementNotFound(f"account {account_id} has no statement for {month}")

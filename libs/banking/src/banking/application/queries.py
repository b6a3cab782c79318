"""The read side: balances from the read models, history from the events table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import Clock, EventStore, ProjectionStore, StatementReader
from banking.domain.account import month_of
from banking.domain.errors import AccountNotFound, InvalidRequest, StatementNotFound
from banking.domain.events import Event
from banking.domain.money import Money
from banking.domain.read_models import (
    Balance,
    CurrentMonthBalance,
    MonthlyStatement,
    TotalBalance,
)


def balance(
    account_id: str, projections: ProjectionStore, *, clock: Clock, zone: ZoneInfo
) -> Balance:
    models = projections.load(account_id)
    total = next((m for m in models if isinstance(m, TotalBalance)), None)
    month = next((m for m in models if isinstance(m, CurrentMonthBalance)), None)
    if total is None or month is None:
        raise AccountNotFound(f"account {account_id} has no events")
    this_month = month_of(clock(), zone)
    # The read model holds the month of the account's last event; a month with no
    # event yet has a balance of zero.
    month_amount = month.amount if month.month == this_month else Money(0)
    return Balance(
        account_id=account_id,
        total_balance=total.amount,
        current_month_balance=month_amount,
        month=this_month,
        # The version both read models reflect, so a client never over-estimates.
        version=min(total.version, month.version),
    )


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


def statement(
    account_id: str, month: str, statements: StatementReader, store: EventStore
) -> MonthlyStatement:
    if not _MONTH.match(month):
        raise InvalidRequest(f"month {month[:16]!r} is not a calendar month such as 2026-11")
    found = statements.statement(account_id, month)
    if found is not None:
        return found
    # Only on a miss: tell an unknown account from a month without a statement.
    if store.load(account_id).version == 0:
        raise AccountNotFound(f"account {account_id} has no events")
    raise StatementNotFound(f"account {account_id} has no statement for {month}")

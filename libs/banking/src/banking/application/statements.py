"""A month's statement line by line: every posting recorded in the calendar month (in
the deployment's time zone, like every month of the ledger), each with the running
balance stored with it, between the opening balance (the state stored with the last
event before the month) and the closing balance (that of its last event)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import takewhile
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import Clock, Cursor, EventScanner, EventStore, StoredEvent
from banking.application.queries import valid_month
from banking.domain.currency import Currency
from banking.domain.errors import StatementNotFound, UnknownEvent
from banking.domain.events import Credited, Debited, EventRef, PostingEvent, signed_amount
from banking.domain.money import Money


@frozen
class StatementLine:
    recorded_at: datetime
    version: int
    description: str | None
    counterparty: str | None
    # Signed: a debit is negative.
    amount: Money
    # The account's balance right after this posting.
    balance: Money
    transfer_id: str | None = None
    reverses: EventRef | None = None


@frozen
class StatementEntries:
    account_id: str
    month: str
    currency: Currency
    start: datetime
    end: datetime
    opening_balance: Money
    closing_balance: Money
    lines: Sequence[StatementLine]


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next one, in `zone`."""
    year, number = map(int, valid_month(month).split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def statement_entries(
    account_id: str,
    month: str,
    store: EventStore,
    scanner: EventScanner,
    *,
    clock: Clock,
    zone: ZoneInfo,
) -> StatementEntries:
    """The month's postings with their running balances. A month that has not begun,
    or that ended before the account's first event, has no statement."""
    start, end = month_bounds(month, zone)
    if start > clock():
        raise StatementNotFound(f"{month} has not begun")
    before = store.last_at(account_id, start, inclusive=False)
    floor = before.event.version if before is not None else 0
    in_month = list(
        takewhile(
            lambda stored: stored.event.recorded_at < end,
            map(_readable, scanner.scan_account(account_id, after=Cursor(account_id, floor))),
        )
    )
    last = in_month[-1] if in_month else before
    if last is None:
        raise StatementNotFound(f"account {account_id} did not exist in {month}")
    currency = last.state.currency
    zero = Money.zero(currency.digits)
    return StatementEntries(
        account_id=account_id,
        month=month,
        currency=currency,
        start=start,
        end=end,
        opening_balance=before.state.balance if before is not None else zero,
        closing_balance=last.state.balance,
        lines=[
            _line(stored.event, stored)
            for stored in in_month
            if isinstance(stored.event, Credited | Debited)
        ],
    )


def _readable(item: object) -> StoredEvent:
    if not isinstance(item, StoredEvent):
        raise UnknownEvent(f"a stored event of the month could not be read: {item!r}")
    return item


def _line(event: PostingEvent, stored: StoredEvent) -> StatementLine:
    return StatementLine(
        recorded_at=event.recorded_at,
        version=event.version,
        description=event.description,
        counterparty=event.counterparty,
        amount=signed_amount(event),
        balance=stored.state.balance,
        transfer_id=event.transfer_id,
        reverses=event.reverses,
    )

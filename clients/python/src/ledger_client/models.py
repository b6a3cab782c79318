"""What the API answers, as typed values. Amounts are `Decimal`, never `float`: the API
sends them as decimal strings, and a JSON number is parsed straight to `Decimal`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

# What a caller may pass as an amount: never a float, which cannot hold 0.10 exactly.
Amount = Decimal | str | int


class Write(Protocol):
    """A write's result that can be awaited on the read side (`Ledger.wait_for`)."""

    @property
    def account_id(self) -> str: ...

    @property
    def version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event: what a write answers and what the history lists. A credit or a
    debit has an amount; an account's own events (``AccountOpened``, ``AccountFrozen``...)
    have none."""

    account_id: str
    event_id: str
    type: str
    version: int
    amount: Decimal | None
    description: str | None
    recorded_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        description = data.get("description")
        amount = data.get("amount")
        return cls(
            account_id=_string(data["accountId"]),
            event_id=_string(data["eventId"]),
            type=_string(data["type"]),
            version=_integer(data["version"]),
            amount=None if amount is None else decimal(amount),
            description=None if description is None else _string(description),
            recorded_at=datetime.fromisoformat(_string(data["recordedAt"])),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """The read models of an account as of ``version`` (the last event they reflect)."""

    account_id: str
    total_balance: Decimal
    current_month_balance: Decimal
    month: str
    version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Balance:
        return cls(
            account_id=_string(data["accountId"]),
            total_balance=decimal(data["totalBalance"]),
            current_month_balance=decimal(data["currentMonthBalance"]),
            month=_string(data["month"]),
            version=_integer(data["version"]),
        )


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: str
    month: str
    total_credits: Decimal
    total_debits: Decimal
    closing_balance: Decimal
    event_count: int
    version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Statement:
        return cls(
            account_id=_string(data["accountId"]),
            month=_string(data["month"]),
            total_credits=decimal(data["totalCredits"]),
            total_debits=decimal(data["totalDebits"]),
            closing_balance=decimal(data["closingBalance"]),
            event_count=_integer(data["eventCount"]),
            version=_integer(data["version"]),
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of an account's events; ``next_after`` is None on the last page."""

    account_id: str
    events: tuple[Event, ...]
    next_after: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryPage:
        next_after = data["nextAfter"]
        return cls(
            account_id=_string(data["accountId"]),
            events=tuple(Event.from_json(event) for event in data["events"]),
            next_after=None if next_after is None else _integer(next_after),
        )


def decimal(value: object) -> Decimal:
    """An exact amount from a decimal string, an int or a Decimal; a float (or anything
    else) is refused, since it may already have lost the exact value."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(f"an amount must be a Decimal, str or int, not {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"{value!r} is not a decimal amount") from error
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return result


def amount_text(value: Amount) -> str:
    """An amount as the API wants it: a decimal string, never in exponent notation."""
    return format(decimal(value), "f")


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _integer(value: object) -> int:
    # JSON numbers are parsed to Decimal (never float); a version is a whole one.
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)

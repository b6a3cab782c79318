"""What the API answers, as typed values. Amounts are `Decimal`, never `float`: the API
sends them as decimal strings, and a JSON number is parsed straight to `Decimal`."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypedDict

# What a caller may pass as an amount: never a float, which cannot hold 0.10 exactly.
Amount = Decimal | str | int


class Write(Protocol):
    """A write's result that can be awaited on the read side (`Ledger.wait_for`)."""

    @property
    def account_id(self) -> str: ...

    @property
    def version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class EventRef:
    """Where a posting is stored: its account and version (what a reversal ``reverses``)."""

    account_id: str
    version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventRef:
        return cls(account_id=_string(data["accountId"]), version=_integer(data["version"]))


@dataclass(frozen=True, slots=True)
class Event:
    """A stored credit or debit: what a write answers and what the history lists. A leg
    of a transfer carries its ``transfer_id`` and ``counterparty`` (the other account); a
    debit that captured a hold its ``hold_id``; a reversal the posting it ``reverses``."""

    account_id: str
    event_id: str
    type: str
    version: int
    amount: Decimal
    description: str | None
    recorded_at: datetime
    currency: str | None = None
    recorded_by: str | None = None
    transfer_id: str | None = None
    counterparty: str | None = None
    hold_id: str | None = None
    reverses: EventRef | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        reverses = data.get("reverses")
        return cls(
            **_recorded(data),
            amount=decimal(data["amount"]),
            description=_optional_string(data.get("description")),
            currency=_optional_string(data.get("currency")),
            transfer_id=_optional_string(data.get("transferId")),
            counterparty=_optional_string(data.get("counterparty")),
            hold_id=_optional_string(data.get("holdId")),
            reverses=None if reverses is None else EventRef.from_json(reverses),
        )


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """A change of the account itself in its history (``AccountOpened``, ``AccountFrozen``,
    ``AccountUnfrozen``, ``AccountClosed``, ``OverdraftLimitChanged``). ``amount`` is always
    None: these move no money, and a history can be summed over ``amount`` without
    telling the two kinds apart first."""

    account_id: str
    event_id: str
    type: str
    version: int
    recorded_at: datetime
    recorded_by: str | None = None
    currency: str | None = None
    overdraft_limit: Decimal | None = None
    owners: tuple[str, ...] | None = None
    metadata: Mapping[str, str] | None = None
    amount: None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountEvent:
        owners = data.get("owners")
        metadata = data.get("metadata")
        return cls(
            **_recorded(data),
            currency=_optional_string(data.get("currency")),
            overdraft_limit=_optional_decimal(data.get("overdraftLimit")),
            owners=None if owners is None else _strings(owners),
            metadata=None if metadata is None else _string_map(metadata),
        )


@dataclass(frozen=True, slots=True)
class HoldEvent:
    """A hold in an account's history: ``HoldPlaced`` (with its ``expires_at``),
    ``HoldVoided`` or ``HoldExpired``. None of them moves booked money (a capture is a
    `Event` debit carrying the ``hold_id``): ``amount`` is the amount held or released."""

    account_id: str
    event_id: str
    type: str
    version: int
    recorded_at: datetime
    hold_id: str
    amount: Decimal
    currency: str
    description: str | None
    recorded_by: str | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldEvent:
        return cls(
            **_recorded(data),
            hold_id=_string(data["holdId"]),
            amount=decimal(data["amount"]),
            currency=_string(data["currency"]),
            description=_optional_string(data.get("description")),
            expires_at=_optional_instant(data.get("expiresAt")),
        )


POSTING_TYPES = frozenset({"CreditEvent", "DebitEvent"})
HOLD_TYPES = frozenset({"HoldPlaced", "HoldVoided", "HoldExpired"})
HistoryEvent = Event | AccountEvent | HoldEvent


def history_event(data: Mapping[str, Any]) -> HistoryEvent:
    """An entry of an account's history: a posting, a hold, or a change of the account."""
    kind = _string(data["type"])
    if kind in POSTING_TYPES:
        return Event.from_json(data)
    if kind in HOLD_TYPES:
        return HoldEvent.from_json(data)
    return AccountEvent.from_json(data)


@dataclass(frozen=True, slots=True)
class Balance:
    """The read models of an account as of ``version`` (the last event they reflect); read
    with ``at``, the balances as they stood at that instant. ``held_balance`` is what
    pending holds reserve, ``available_balance`` what debits, transfers and holds may draw
    on (both None from a server that predates holds)."""

    account_id: str
    total_balance: Decimal
    current_month_balance: Decimal
    month: str
    version: int
    currency: str | None = None
    held_balance: Decimal | None = None
    available_balance: Decimal | None = None
    at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Balance:
        return cls(
            account_id=_string(data["accountId"]),
            total_balance=decimal(data["totalBalance"]),
            current_month_balance=decimal(data["currentMonthBalance"]),
            month=_string(data["month"]),
            version=_integer(data["version"]),
            currency=_optional_string(data.get("currency")),
            held_balance=_optional_decimal(data.get("heldBalance")),
            available_balance=_optional_decimal(data.get("availableBalance")),
            at=_optional_instant(data.get("at")),
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
    currency: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Statement:
        return cls(
            currency=_optional_string(data.get("currency")),
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
    events: tuple[HistoryEvent, ...]
    next_after: int | None
    currency: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryPage:
        return cls(
            account_id=_string(data["accountId"]),
            events=tuple(history_event(event) for event in data["events"]),
            next_after=_optional_integer(data["nextAfter"]),
            currency=_optional_string(data.get("currency")),
        )


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as a list of accounts shows it (no balances, no version)."""

    account_id: str
    currency: str
    status: str
    owners: tuple[str, ...]
    metadata: Mapping[str, str]
    # None for an account whose history predates accounts.
    opened_at: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountSummary:
        return cls(**_summary_fields(data))


@dataclass(frozen=True, slots=True)
class Account:
    """An account as of ``version`` (its last stored event), with the balances of the
    read models as of ``balances.version``. It is a `Write`: ``wait_for(account)`` waits
    until the read side reflects the change that answered it."""

    account_id: str
    currency: str
    status: str
    owners: tuple[str, ...]
    metadata: Mapping[str, str]
    opened_at: datetime | None
    overdraft_limit: Decimal
    version: int
    balances: Balance

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Account:
        fields = _summary_fields(data)
        balances = data["balances"]
        return cls(
            **fields,
            overdraft_limit=decimal(data["overdraftLimit"]),
            version=_integer(data["version"]),
            balances=Balance.from_json(
                {**balances, "accountId": fields["account_id"], "currency": fields["currency"]}
            ),
        )


@dataclass(frozen=True, slots=True)
class AccountPage:
    """One page of a list of accounts; ``next_after`` (opaque) is None on the last page."""

    accounts: tuple[AccountSummary, ...]
    next_after: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountPage:
        return cls(
            accounts=tuple(AccountSummary.from_json(item) for item in data["accounts"]),
            next_after=_optional_string(data["nextAfter"]),
        )


@dataclass(frozen=True, slots=True, init=False)
class Posting:
    """Money moving from one account to another: what a transfer is made of. ``currency``
    is the server's (both accounts'); it is not sent."""

    from_: str
    to: str
    amount: Decimal
    currency: str | None = None

    def __init__(self, from_: str, to: str, amount: Amount, currency: str | None = None) -> None:
        # A frozen dataclass with its own __init__: the amount is made exact (a float is
        # refused) the moment a posting is built, before anything is sent.
        object.__setattr__(self, "from_", from_)
        object.__setattr__(self, "to", to)
        object.__setattr__(self, "amount", decimal(amount))
        object.__setattr__(self, "currency", currency)

    def to_json(self) -> dict[str, str]:
        return {"from": self.from_, "to": self.to, "amount": amount_text(self.amount)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Posting:
        return cls(
            _string(data["from"]),
            _string(data["to"]),
            decimal(data["amount"]),
            _optional_string(data.get("currency")),
        )


@dataclass(frozen=True, slots=True)
class Leg:
    """Where one side of a posting was stored: a `Write` that ``wait_for`` accepts."""

    account_id: str
    version: int
    event_id: str
    type: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Leg:
        return cls(
            account_id=_string(data["accountId"]),
            version=_integer(data["version"]),
            event_id=_string(data["eventId"]),
            type=_string(data["type"]),
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """A stored transfer: its postings (all applied, or none) and the legs they stored, a
    debit and a credit per posting. ``amount`` and ``currency`` only with one posting."""

    transfer_id: str
    description: str | None
    recorded_at: datetime
    postings: tuple[Posting, ...]
    legs: tuple[Leg, ...]
    amount: Decimal | None = None
    currency: str | None = None
    # The transfer this one reverses (only on a reversal).
    reverses: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transfer:
        return cls(
            transfer_id=_string(data["transferId"]),
            description=_optional_string(data.get("description")),
            recorded_at=_instant(data["recordedAt"]),
            postings=tuple(Posting.from_json(posting) for posting in data["postings"]),
            legs=tuple(Leg.from_json(leg) for leg in data["legs"]),
            amount=_optional_decimal(data.get("amount")),
            currency=_optional_string(data.get("currency")),
            reverses=_optional_string(data.get("reverses")),
        )

    def versions(self) -> dict[str, int]:
        """Each account of the transfer and the last version its legs stored: what the
        read side must reach for the transfer to show in every balance."""
        wanted: dict[str, int] = {}
        for leg in self.legs:
            wanted[leg.account_id] = max(leg.version, wanted.get(leg.account_id, 0))
        return wanted


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold and what became of it: ``status`` is pending, captured, voided or expired.
    ``version`` is the account's version of its ``HoldPlaced``; once resolved,
    ``resolved_version`` is that of the event that resolved it (a `Write`:
    ``wait_for(hold.resolution())`` waits until the balances reflect it)."""

    hold_id: str
    account_id: str
    amount: Decimal
    currency: str
    description: str | None
    placed_at: datetime
    expires_at: datetime
    version: int
    status: str
    recorded_by: str | None = None
    resolved_at: datetime | None = None
    resolved_version: int | None = None
    resolved_event_id: str | None = None
    captured_amount: Decimal | None = None
    captured_to: str | None = None
    transfer_id: str | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def resolution(self) -> EventRef:
        """Where the event that resolved the hold is stored (`ValueError` while pending)."""
        if self.resolved_version is None:
            raise ValueError(f"hold {self.hold_id} is {self.status}, not resolved")
        return EventRef(self.account_id, self.resolved_version)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hold:
        return cls(
            hold_id=_string(data["holdId"]),
            account_id=_string(data["accountId"]),
            amount=decimal(data["amount"]),
            currency=_string(data["currency"]),
            description=_optional_string(data.get("description")),
            placed_at=_instant(data["placedAt"]),
            expires_at=_instant(data["expiresAt"]),
            version=_integer(data["version"]),
            status=_string(data["status"]),
            recorded_by=_optional_string(data.get("recordedBy")),
            resolved_at=_optional_instant(data.get("resolvedAt")),
            resolved_version=_optional_integer(data.get("resolvedVersion")),
            resolved_event_id=_optional_string(data.get("resolvedEventId")),
            captured_amount=_optional_decimal(data.get("capturedAmount")),
            captured_to=_optional_string(data.get("capturedTo")),
            transfer_id=_optional_string(data.get("transferId")),
        )


@dataclass(frozen=True, slots=True)
class HoldPage:
    """One page of an account's holds in the order placed; ``next_after`` is None on the
    last page."""

    account_id: str
    holds: tuple[Hold, ...]
    next_after: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldPage:
        return cls(
            account_id=_string(data["accountId"]),
            holds=tuple(Hold.from_json(hold) for hold in data["holds"]),
            next_after=_optional_integer(data["nextAfter"]),
        )


CSV_HEADER = ("Date", "Description", "Counterparty", "Amount", "Balance")


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One credit or debit of a CSV statement: ``amount`` is signed (a debit is negative),
    ``balance`` the running balance after it. ``date`` is as the file writes it, in the
    deployment's time zone (``YYYY-MM-DD HH:MM:SS``, no offset). A text cell the server
    made formula-safe keeps its leading apostrophe: it cannot tell it from a real one."""

    date: str
    description: str
    counterparty: str
    amount: Decimal
    balance: Decimal


@dataclass(frozen=True, slots=True)
class CsvStatement:
    """A month's statement as the CSV file the API serves (``content``, UTF-8 with a byte
    order mark, as a spreadsheet wants it) and as parsed values."""

    account_id: str
    month: str
    content: bytes
    opening_balance: Decimal
    closing_balance: Decimal
    lines: tuple[StatementLine, ...]

    @property
    def text(self) -> str:
        """The file as text, without its byte order mark."""
        return self.content.decode("utf-8-sig")

    @classmethod
    def parse(cls, account_id: str, month: str, content: bytes) -> CsvStatement:
        """``ValueError`` unless it is a header, an opening balance row, the lines and a
        closing balance row."""
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        if len(rows) < 3 or tuple(rows[0]) != CSV_HEADER:
            raise ValueError(f"not a statement: header {rows[0] if rows else None!r}")
        opening, *middle, closing = rows[1:]
        if opening[1:2] != ["Opening balance"] or closing[1:2] != ["Closing balance"]:
            raise ValueError(
                "a statement starts with its opening and ends with its closing balance"
            )
        lines = []
        for row in middle:
            if len(row) != len(CSV_HEADER):
                raise ValueError(f"a statement line has {len(CSV_HEADER)} cells: {row!r}")
            date, description, counterparty, amount, balance = row
            lines.append(
                StatementLine(date, description, counterparty, decimal(amount), decimal(balance))
            )
        return cls(
            account_id=account_id,
            month=month,
            content=content,
            opening_balance=decimal(opening[-1]),
            closing_balance=decimal(closing[-1]),
            lines=tuple(lines),
        )


class _Recorded(TypedDict):
    """What every entry of a history has, whatever its kind."""

    account_id: str
    event_id: str
    type: str
    version: int
    recorded_at: datetime
    recorded_by: str | None


def _recorded(data: Mapping[str, Any]) -> _Recorded:
    return _Recorded(
        account_id=_string(data["accountId"]),
        event_id=_string(data["eventId"]),
        type=_string(data["type"]),
        version=_integer(data["version"]),
        recorded_at=_instant(data["recordedAt"]),
        recorded_by=_optional_string(data.get("recordedBy")),
    )


class _Summary(TypedDict):
    """What an `Account` has in common with its `AccountSummary`."""

    account_id: str
    currency: str
    status: str
    owners: tuple[str, ...]
    metadata: Mapping[str, str]
    opened_at: datetime | None


def _summary_fields(data: Mapping[str, Any]) -> _Summary:
    return _Summary(
        account_id=_string(data["accountId"]),
        currency=_string(data["currency"]),
        status=_string(data["status"]),
        owners=_strings(data["owners"]),
        metadata=_string_map(data["metadata"]),
        opened_at=_optional_instant(data["openedAt"]),
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


def _optional_string(value: object) -> str | None:
    return None if value is None else _string(value)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return tuple(_string(item) for item in value)


def _string_map(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return {_string(key): _string(item) for key, item in value.items()}


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None else decimal(value)


def _instant(value: object) -> datetime:
    return datetime.fromisoformat(_string(value))


def _optional_instant(value: object) -> datetime | None:
    return None if value is None else _instant(value)


def _optional_integer(value: object) -> int | None:
    return None if value is None else _integer(value)


def _integer(value: object) -> int:
    # JSON numbers are parsed to Decimal (never float); a version is a whole one.
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)

"""The facts the ledger stores. Frozen; never updated or deleted once appended.

Each event type has a stable type name (what is stored and published), independent
of the Python class name, and the stored items a schema version: `upcasting` turns
every older shape into the current one on read.

Postings (`Credited`, `Debited`) move money; the account events open, freeze,
unfreeze, close an account or change its overdraft limit and move none; the hold
events reserve money (`HoldPlaced`) and release it (`HoldVoided`, `HoldExpired`, or
the capturing `Debited`) and move none themselves. A posting that `reverses` another
is its opposite (domain.reversals): a correction is a new fact, never an edit. Every event
may name who recorded it (`recorded_by`: the token's subject).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

from attrs import field, frozen

from banking.domain.currency import Currency
from banking.domain.money import Money

# 2: postings name their currency and may belong to a transfer; account events; the
# snapshot carries the account's settings (docs/events.md, "Histories from before
# accounts").
SCHEMA_VERSION = 2


def read_only(metadata: Mapping[str, str]) -> Mapping[str, str]:
    """A frozen event or state holds its metadata in a mapping nobody can change."""
    return MappingProxyType(dict(metadata))


def owner_set(owners: Iterable[str]) -> frozenset[str]:
    # A lone string is iterable too: "alice" must not become {"a", "l", "i", "c", "e"}.
    if isinstance(owners, str):
        raise TypeError("owners are a collection of subjects, not one string")
    return frozenset(owners)


@frozen
class EventRef:
    """Where a stored event is: its account and version (what a reversal `reverses`)."""

    account_id: str
    version: int


@frozen
class Credited:
    account_id: str
    version: int
    event_id: str
    amount: Money
    recorded_at: datetime
    description: str | None = None
    # None only for events built in code without one: the account's currency.
    currency: Currency | None = None
    transfer_id: str | None = None
    # The other account of a transfer's posting (the one debited, for a credit).
    counterparty: str | None = None
    recorded_by: str | None = None
    # The posting this one reverses (issue 14): its opposite, never edited away.
    reverses: EventRef | None = None


@frozen
class Debited:
    account_id: str
    version: int
    event_id: str
    amount: Money
    recorded_at: datetime
    description: str | None = None
    currency: Currency | None = None
    transfer_id: str | None = None
    counterparty: str | None = None
    recorded_by: str | None = None
    # The hold this debit captures: it releases the whole hold, any remainder included.
    hold_id: str | None = None
    reverses: EventRef | None = None


@frozen
class AccountOpened:
    """Always an account's version 1 (histories from before accounts have none)."""

    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    currency: Currency
    overdraft_limit: Money
    owners: frozenset[str] = field(converter=owner_set)
    metadata: Mapping[str, str] = field(factory=dict, converter=read_only)
    recorded_by: str | None = None


@frozen
class Frozen:
    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    recorded_by: str | None = None


@frozen
class Unfrozen:
    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    recorded_by: str | None = None


@frozen
class Closed:
    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    recorded_by: str | None = None


@frozen
class OverdraftLimitChanged:
    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    overdraft_limit: Money
    recorded_by: str | None = None


@frozen
class HoldPlaced:
    """Reserves `amount` of the account until `expires_at`: no booked money moves, the
    available balance shrinks. Resolved by exactly one of a capture (a `Debited`
    carrying the hold id), `HoldVoided` or `HoldExpired`."""

    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    hold_id: str
    amount: Money
    expires_at: datetime
    currency: Currency | None = None
    description: str | None = None
    recorded_by: str | None = None


@frozen
class HoldVoided:
    """Releases the whole hold at a client's request."""

    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    hold_id: str
    amount: Money
    currency: Currency | None = None
    recorded_by: str | None = None


@frozen
class HoldExpired:
    """Releases the whole hold once its time ran out (recorded by the expirer)."""

    account_id: str
    version: int
    event_id: str
    recorded_at: datetime
    hold_id: str
    amount: Money
    currency: Currency | None = None
    recorded_by: str | None = None


PostingEvent = Credited | Debited
AccountEvent = AccountOpened | Frozen | Unfrozen | Closed | OverdraftLimitChanged
HoldEvent = HoldPlaced | HoldVoided | HoldExpired
Event = PostingEvent | AccountEvent | HoldEvent

TYPE_NAMES: dict[type[Event], str] = {
    Credited: "CreditEvent",
    Debited: "DebitEvent",
    AccountOpened: "AccountOpened",
    Frozen: "AccountFrozen",
    Unfrozen: "AccountUnfrozen",
    Closed: "AccountClosed",
    OverdraftLimitChanged: "OverdraftLimitChanged",
    HoldPlaced: "HoldPlaced",
    HoldVoided: "HoldVoided",
    HoldExpired: "HoldExpired",
}
TYPES_BY_NAME: dict[str, type[Event]] = {name: cls for cls, name in TYPE_NAMES.items()}
POSTING_TYPES: tuple[type[PostingEvent], ...] = (Credited, Debited)
HOLD_TYPES: tuple[type[HoldEvent], ...] = (HoldPlaced, HoldVoided, HoldExpired)


def type_name(event: Event) -> str:
    return TYPE_NAMES[type(event)]


def signed_amount(event: PostingEvent) -> Money:
    return event.amount if isinstance(event, Credited) else -event.amount

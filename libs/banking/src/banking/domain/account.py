"""The account aggregate: its state, and `evolve(state, event, zone)` that folds one
event into it, routed by event type through `EVOLVERS` (a new event is one entry).
Its other half, `decide(state, command)`, is in `banking.domain.decisions`, and the
commands it takes in `banking.domain.commands`.
The state is also the aggregate that state-carried events publish: total balance and
the balance of the calendar month of the last posting (months taken in a configured
time zone), and the account's settings, so a command loads an account in one read.

An account exists once opened (`AccountOpened` at version 1). Histories stored
before accounts existed start with a posting instead: such an account reads as
opened, at that first posting, on the deployment's `LegacyTerms` (docs/events.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from attrs import evolve as replace
from attrs import field, frozen

from banking.domain.currency import Currency
from banking.domain.events import (
    AccountOpened,
    Closed,
    Credited,
    Debited,
    Event,
    Frozen,
    HoldExpired,
    HoldPlaced,
    HoldVoided,
    OverdraftLimitChanged,
    PostingEvent,
    Unfrozen,
    read_only,
    signed_amount,
)
from banking.domain.money import DEFAULT_DIGITS, Money


class AccountStatus(enum.Enum):
    OPEN = "open"
    FROZEN = "frozen"
    CLOSED = "closed"


def _two_digits(_: object, __: object, currency: Currency) -> None:
    if currency.digits != DEFAULT_DIGITS:
        raise ValueError(f"legacy amounts are in cents; {currency} has {currency.digits} digits")


@frozen
class LegacyTerms:
    """What an account whose history predates accounts is opened with: the
    deployment's currency and overdraft limit of that time. Its amounts were always
    stored with two decimals, so the currency must have two."""

    currency: Currency = field(default=Currency("EUR"), validator=_two_digits)
    overdraft_limit: Money = Money(0)


LEGACY_TERMS = LegacyTerms()


@frozen
class PendingHold:
    """A hold the account still carries: what it reserves, and until when."""

    amount: Money
    expires_at: datetime


def pending_holds(holds: Mapping[str, PendingHold]) -> Mapping[str, PendingHold]:
    return MappingProxyType(dict(holds))


@frozen
class Account:
    """The state of an account after `version` events (0: no event, never opened).

    Until it is opened, `currency` and `overdraft_limit` are the legacy terms a
    posting from before accounts opens it with. Amounts are in `currency`.
    """

    account_id: str
    version: int = 0
    balance: Money = Money(0)
    month: str | None = None
    month_credits: Money = Money(0)
    month_debits: Money = Money(0)
    month_event_count: int = 0
    last_recorded_at: datetime | None = None
    currency: Currency = LEGACY_TERMS.currency
    overdraft_limit: Money = LEGACY_TERMS.overdraft_limit
    status: AccountStatus = AccountStatus.OPEN
    owners: frozenset[str] = frozenset()
    metadata: Mapping[str, str] = field(factory=dict, converter=read_only)
    # When it was opened (for a history from before accounts: its first posting);
    # None in snapshots stored before this was kept.
    opened_at: datetime | None = None
    # Its pending holds by hold id; snapshots stored before holds have none.
    holds: Mapping[str, PendingHold] = field(factory=dict, converter=pending_holds)

    @classmethod
    def unopened(cls, account_id: str, legacy: LegacyTerms = LEGACY_TERMS) -> Account:
        return cls(account_id, currency=legacy.currency, overdraft_limit=legacy.overdraft_limit)

    @property
    def opened(self) -> bool:
        """Every stored event belongs to an opened account: the first one opens it."""
        return self.version > 0

    @property
    def held(self) -> Money:
        """The sum of the pending holds: booked money reserved, not yet moved."""
        return sum((hold.amount for hold in self.holds.values()), Money.zero(self.currency.digits))

    @property
    def available(self) -> Money:
        """What debits, transfers and new holds may draw on, down to minus the
        overdraft limit: the balance less what pending holds reserve."""
        return self.balance - self.held

    @property
    def month_balance(self) -> Money:
        return self.month_credits - self.month_debits

    def month_balance_in(self, month: str) -> Money:
        """The balance of `month`: zero when the account had no posting in it."""
        return self.month_balance if self.month == month else Money.zero(self.currency.digits)


def month_of(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m")


def evolve(state: Account, event: Event, zone: ZoneInfo) -> Account:
    if event.version != state.version + 1:
        raise ValueError(
            f"event version {event.version} does not follow state version {state.version}"
        )
    if event.account_id != state.account_id:
        raise ValueError(f"event of {event.account_id} folded into {state.account_id}")
    if not state.opened and not isinstance(event, AccountOpened | Credited | Debited):
        raise ValueError(f"{type(event).__name__} of account {state.account_id} before it opened")
    state = EVOLVERS[type(event)](state, event, zone)
    return replace(state, version=event.version, last_recorded_at=event.recorded_at)


def _posted(state: Account, event: PostingEvent, zone: ZoneInfo) -> Account:
    if not state.opened:
        # A history from before accounts: its first posting opens it on the legacy
        # terms the state was created with, owned by the account id itself (which
        # is who could read it then).
        state = replace(
            state,
            status=AccountStatus.OPEN,
            owners=frozenset({state.account_id}),
            opened_at=event.recorded_at,
        )
    if event.currency is not None and event.currency != state.currency:
        raise ValueError(f"{event.currency} posting on {state.currency} account {state.account_id}")
    zero = Money.zero(state.currency.digits)
    month = month_of(event.recorded_at, zone)
    if month != state.month:
        state = replace(
            state, month=month, month_credits=zero, month_debits=zero, month_event_count=0
        )
    credit, debit = (event.amount, zero) if isinstance(event, Credited) else (zero, event.amount)
    if isinstance(event, Debited) and event.hold_id is not None:
        # A capture releases its whole hold, whatever part of it the debit took.
        state = _released(state, event.hold_id)
    return replace(
        state,
        balance=state.balance + signed_amount(event),
        month_credits=state.month_credits + credit,
        month_debits=state.month_debits + debit,
        month_event_count=state.month_event_count + 1,
    )


def _opened(state: Account, event: AccountOpened, _: ZoneInfo) -> Account:
    if state.opened:
        raise ValueError(f"account {state.account_id} opened twice")
    zero = Money.zero(event.currency.digits)
    return replace(
        state,
        balance=zero,
        month_credits=zero,
        month_debits=zero,
        currency=event.currency,
        overdraft_limit=event.overdraft_limit,
        status=AccountStatus.OPEN,
        owners=event.owners,
        metadata=event.metadata,
        opened_at=event.recorded_at,
    )


def _status(status: AccountStatus) -> Callable[[Account, Event, ZoneInfo], Account]:
    return lambda state, _, __: replace(state, status=status)


def _hold_placed(state: Account, event: HoldPlaced, _: ZoneInfo) -> Account:
    if event.hold_id in state.holds:
        raise ValueError(f"hold {event.hold_id} placed twice on {state.account_id}")
    hold = PendingHold(event.amount, event.expires_at)
    return replace(state, holds={**state.holds, event.hold_id: hold})


def _hold_released(state: Account, event: HoldVoided | HoldExpired, _: ZoneInfo) -> Account:
    return _released(state, event.hold_id)


def _released(state: Account, hold_id: str) -> Account:
    if hold_id not in state.holds:
        raise ValueError(f"hold {hold_id} is not pending on {state.account_id}")
    return replace(state, holds={k: v for k, v in state.holds.items() if k != hold_id})


def _limit_changed(state: Account, event: OverdraftLimitChanged, _: ZoneInfo) -> Account:
    return replace(state, overdraft_limit=event.overdraft_limit)


# What each event does to the state (every event also advances version and time).
EVOLVERS: dict[type[Event], Callable[[Account, Any, ZoneInfo], Account]] = {
    Credited: _posted,
    Debited: _posted,
    AccountOpened: _opened,
    Frozen: _status(AccountStatus.FROZEN),
    Unfrozen: _status(AccountStatus.OPEN),
    Closed: _status(AccountStatus.CLOSED),
    OverdraftLimitChanged: _limit_changed,
    HoldPlaced: _hold_placed,
    HoldVoided: _hold_released,
    HoldExpired: _hold_released,
}


def fold(
    account_id: str, events: Iterable[Event], zone: ZoneInfo, legacy: LegacyTerms = LEGACY_TERMS
) -> Account:
    state = Account.unopened(account_id, legacy)
    for event in events:
        state = evolve(state, event, zone)
    return state

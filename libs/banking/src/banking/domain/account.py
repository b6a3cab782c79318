"""The account aggregate: a functional decide/evolve pair.

`decide(state, command, ...)` checks the business rules and returns the new event;
`evolve(state, event, zone)` folds one event into the state. Both route by type
through a table (`DECIDERS`, `EVOLVERS`), so a new command or event is one entry.
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
from typing import Any
from zoneinfo import ZoneInfo

from attrs import evolve as replace
from attrs import field, frozen

from banking.domain.currency import Currency
from banking.domain.errors import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotFrozen,
    InsufficientFunds,
    InvalidAmount,
    OverdraftLimitTooLow,
)
from banking.domain.events import (
    AccountOpened,
    Closed,
    Credited,
    Debited,
    Event,
    Frozen,
    OverdraftLimitChanged,
    PostingEvent,
    Unfrozen,
    owner_set,
    read_only,
    signed_amount,
)
from banking.domain.identifiers import validate_account_id
from banking.domain.money import DEFAULT_DIGITS, Money
from banking.domain.text import validate_metadata, validate_owners


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

    @classmethod
    def unopened(cls, account_id: str, legacy: LegacyTerms = LEGACY_TERMS) -> Account:
        return cls(account_id, currency=legacy.currency, overdraft_limit=legacy.overdraft_limit)

    @property
    def opened(self) -> bool:
        """Every stored event belongs to an opened account: the first one opens it."""
        return self.version > 0

    @property
    def available(self) -> Money:
        """What debits may draw on, down to minus the overdraft limit. Holds (issue 14)
        will be subtracted here; today every booked cent is available."""
        return self.balance

    @property
    def month_balance(self) -> Money:
        return self.month_credits - self.month_debits

    def month_balance_in(self, month: str) -> Money:
        """The balance of `month`: zero when the account had no posting in it."""
        return self.month_balance if self.month == month else Money.zero(self.currency.digits)


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


@frozen
class OpenAccount:
    account_id: str
    currency: Currency
    owners: frozenset[str] = field(converter=owner_set)
    overdraft_limit: Money = Money(0)
    metadata: Mapping[str, str] = field(factory=dict, converter=read_only)


@frozen
class FreezeAccount:
    account_id: str


@frozen
class UnfreezeAccount:
    account_id: str


@frozen
class CloseAccount:
    account_id: str


@frozen
class ChangeOverdraftLimit:
    account_id: str
    overdraft_limit: Money


# A credit or a debit of one account from outside the ledger.
Command = RecordCredit | RecordDebit
AccountCommand = OpenAccount | FreezeAccount | UnfreezeAccount | CloseAccount | ChangeOverdraftLimit


@frozen
class Stamp:
    """What every event decided now gets besides the command's content."""

    event_id: str
    recorded_at: datetime
    recorded_by: str | None


def month_of(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m")


def recorded_at(now: datetime, states: Iterable[Account]) -> datetime:
    """`now`, unless an account's last event is later. Recorded times never go
    backwards within an account, even when two Lambdas' clocks disagree, so months
    in version order are months in time order."""
    return max([now, *(s.last_recorded_at for s in states if s.last_recorded_at is not None)])


def decide(
    state: Account,
    command: Command | AccountCommand,
    *,
    event_id: str,
    now: datetime,
    recorded_by: str | None = None,
) -> Event:
    if command.account_id != state.account_id:
        raise ValueError(f"command for {command.account_id} decided on {state.account_id}")
    stamp = Stamp(event_id, recorded_at(now, [state]), recorded_by)
    return DECIDERS[type(command)](state, command, stamp)


def require_postable(state: Account) -> None:
    """An account that may be credited or debited: opened, neither frozen nor closed."""
    require_open_for_change(state)
    if state.status is AccountStatus.FROZEN:
        raise AccountFrozen(f"account {state.account_id} is frozen")


def require_open_for_change(state: Account) -> None:
    if not state.opened:
        raise AccountNotFound(f"account {state.account_id} does not exist")
    if state.status is AccountStatus.CLOSED:
        raise AccountClosed(f"account {state.account_id} is closed")


def amount_in(amount: Money, currency: Currency) -> Money:
    """A posting's amount in the currency's minor units, exactly, or InvalidAmount."""
    if not amount.is_positive():
        raise InvalidAmount("amount must be greater than 0")
    exact = amount.in_digits(currency.digits)
    if exact is None:
        raise InvalidAmount(
            f"amount has more decimal places than {currency} has ({currency.digits})"
        )
    return exact


def ensure_funds(state: Account, debit: Money) -> None:
    """Refuse taking `debit` from the account below its overdraft limit. The message
    names no figure; `details` does, for callers who may read the account."""
    if state.available - debit < -state.overdraft_limit:
        raise InsufficientFunds(
            f"the debit would take account {state.account_id} below its overdraft limit",
            details={**_figures(state), "debit": str(debit)},
        )


def _figures(state: Account) -> dict[str, str]:
    return {
        "accountId": state.account_id,
        "currency": state.currency.code,
        "balance": str(state.balance),
        "availableBalance": str(state.available),
        "overdraftLimit": str(state.overdraft_limit),
    }


def _limit_in(limit: Money, currency: Currency) -> Money:
    exact = limit.in_digits(currency.digits)
    if limit.minor < 0 or exact is None:
        raise InvalidAmount(
            f"overdraft limit must be 0 or more with at most {currency.digits} decimal places"
        )
    return exact


def _record_credit(state: Account, command: RecordCredit, stamp: Stamp) -> Event:
    require_postable(state)
    return Credited(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=stamp.event_id,
        amount=amount_in(command.amount, state.currency),
        recorded_at=stamp.recorded_at,
        description=command.description,
        currency=state.currency,
        recorded_by=stamp.recorded_by,
    )


def _record_debit(state: Account, command: RecordDebit, stamp: Stamp) -> Event:
    require_postable(state)
    amount = amount_in(command.amount, state.currency)
    ensure_funds(state, amount)
    return Debited(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=stamp.event_id,
        amount=amount,
        recorded_at=stamp.recorded_at,
        description=command.description,
        currency=state.currency,
        recorded_by=stamp.recorded_by,
    )


def _open(state: Account, command: OpenAccount, stamp: Stamp) -> Event:
    if state.opened:
        raise AccountExists(f"account {state.account_id} already exists")
    validate_account_id(state.account_id)
    return AccountOpened(
        account_id=state.account_id,
        version=1,
        event_id=stamp.event_id,
        recorded_at=stamp.recorded_at,
        currency=command.currency,
        overdraft_limit=_limit_in(command.overdraft_limit, command.currency),
        owners=validate_owners(command.owners),
        metadata=validate_metadata(command.metadata),
        recorded_by=stamp.recorded_by,
    )


def _freeze(state: Account, _: FreezeAccount, stamp: Stamp) -> Event:
    require_open_for_change(state)
    if state.status is AccountStatus.FROZEN:
        raise AccountFrozen(f"account {state.account_id} is already frozen")
    return Frozen(
        state.account_id, state.version + 1, stamp.event_id, stamp.recorded_at, stamp.recorded_by
    )


def _unfreeze(state: Account, _: UnfreezeAccount, stamp: Stamp) -> Event:
    require_open_for_change(state)
    if state.status is not AccountStatus.FROZEN:
        raise AccountNotFrozen(f"account {state.account_id} is not frozen")
    return Unfrozen(
        state.account_id, state.version + 1, stamp.event_id, stamp.recorded_at, stamp.recorded_by
    )


def _close(state: Account, _: CloseAccount, stamp: Stamp) -> Event:
    # A frozen account may be closed: closing only restricts it further.
    require_open_for_change(state)
    if state.balance != Money.zero(state.currency.digits):
        raise AccountNotEmpty(
            f"account {state.account_id} can only be closed at a zero balance",
            details=_figures(state),
        )
    return Closed(
        state.account_id, state.version + 1, stamp.event_id, stamp.recorded_at, stamp.recorded_by
    )


def _change_overdraft_limit(state: Account, command: ChangeOverdraftLimit, stamp: Stamp) -> Event:
    require_open_for_change(state)
    limit = _limit_in(command.overdraft_limit, state.currency)
    if state.available < -limit:
        raise OverdraftLimitTooLow(
            f"account {state.account_id} is already further below zero than that limit",
            details={**_figures(state), "newOverdraftLimit": str(limit)},
        )
    return OverdraftLimitChanged(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=stamp.event_id,
        recorded_at=stamp.recorded_at,
        overdraft_limit=limit,
        recorded_by=stamp.recorded_by,
    )


# What each command decides. Any: each decider takes its own command type.
DECIDERS: dict[type[Command | AccountCommand], Callable[[Account, Any, Stamp], Event]] = {
    RecordCredit: _record_credit,
    RecordDebit: _record_debit,
    OpenAccount: _open,
    FreezeAccount: _freeze,
    UnfreezeAccount: _unfreeze,
    CloseAccount: _close,
    ChangeOverdraftLimit: _change_overdraft_limit,
}


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
}


def fold(
    account_id: str, events: Iterable[Event], zone: ZoneInfo, legacy: LegacyTerms = LEGACY_TERMS
) -> Account:
    state = Account.unopened(account_id, legacy)
    for event in events:
        state = evolve(state, event, zone)
    return state

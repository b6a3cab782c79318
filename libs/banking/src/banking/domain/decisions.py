"""`decide(state, command)`: the business rules of one account, routed by command
type through `DECIDERS`; the rules a posting must pass are shared with transfers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from attrs import frozen

from banking.domain.account import Account, AccountStatus
from banking.domain.commands import (
    AccountCommand,
    ChangeOverdraftLimit,
    CloseAccount,
    Command,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
    UnfreezeAccount,
)
from banking.domain.currency import Currency
from banking.domain.errors import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    AccountHasPendingHolds,
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
    Unfrozen,
)
from banking.domain.identifiers import validate_account_id
from banking.domain.money import Money
from banking.domain.text import validate_metadata, validate_owners


@frozen
class Stamp:
    """What every event decided now gets besides the command's content."""

    event_id: str
    recorded_at: datetime
    recorded_by: str | None


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
    if state.holds:
        # Its holds would have nothing to be captured from, nor a place to be released to.
        raise AccountHasPendingHolds(
            f"account {state.account_id} has pending holds: capture or void them first"
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

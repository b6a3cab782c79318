"""Holds: money reserved on an account before it moves (a card authorisation, a pending
payout), then captured, voided or left to expire: exactly one of the three.

`decide_place` reserves: it is refused like a debit when the available balance (the
balance less the pending holds) would go below the overdraft limit. A capture is a
`Debited` carrying the hold id (and, captured `to` another account, the `Credited`
leg there, like a transfer's), which releases the whole hold; `HoldVoided` and
`HoldExpired` release it without moving money. A hold is judged expired against the
clock, whether or not its `HoldExpired` has been recorded yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from attrs import frozen

from banking.domain.account import Account, PendingHold
from banking.domain.currency import Currency
from banking.domain.decisions import (
    Stamp,
    amount_in,
    ensure_funds,
    recorded_at,
    require_open_for_change,
    require_postable,
)
from banking.domain.errors import (
    AccountNotFound,
    CurrencyMismatch,
    HoldHasExpired,
    HoldNotExpired,
    HoldNotPending,
    InvalidAmount,
    InvalidRequest,
)
from banking.domain.events import (
    Credited,
    Debited,
    HoldExpired,
    HoldPlaced,
    HoldVoided,
    PostingEvent,
)
from banking.domain.money import Money

# At most 30 days, as card networks keep an authorisation.
MAX_EXPIRES_IN = timedelta(days=30)


@frozen
class PlaceHold:
    account_id: str
    hold_id: str
    amount: Money
    expires_in: timedelta
    description: str | None = None


@frozen
class CaptureHold:
    """Capture `amount` of the hold (None: all of it), into account `to` if given. A
    hold's id names it globally: its account is found from it."""

    hold_id: str
    amount: Money | None = None
    to: str | None = None
    currency: Currency | None = None


@frozen
class VoidHold:
    hold_id: str


@frozen
class ExpireHold:
    hold_id: str


def decide_place(
    state: Account, command: PlaceHold, *, event_id: str, now: datetime, recorded_by: str | None
) -> HoldPlaced:
    require_postable(state)
    if not timedelta(seconds=1) <= command.expires_in <= MAX_EXPIRES_IN:
        raise InvalidRequest(
            f"expiresIn must be 1 to {int(MAX_EXPIRES_IN.total_seconds())} seconds"
        )
    amount = amount_in(command.amount, state.currency)
    ensure_funds(state, amount)
    stamp = Stamp(event_id, recorded_at(now, [state]), recorded_by)
    return HoldPlaced(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=stamp.event_id,
        recorded_at=stamp.recorded_at,
        hold_id=command.hold_id,
        amount=amount,
        expires_at=stamp.recorded_at + command.expires_in,
        currency=state.currency,
        description=command.description,
        recorded_by=recorded_by,
    )


def decide_capture(
    accounts: Mapping[str, Account],
    command: CaptureHold,
    *,
    account_id: str,
    new_event_id: Callable[[], str],
    now: datetime,
    recorded_by: str | None,
    transfer_id: str | None = None,
) -> list[PostingEvent]:
    """The capture's debit (and with `to`, the credit on that account, as a transfer
    `transfer_id`), or the first refusal. The held money is already set aside, so the
    capture needs no funds check: what it debits is never more than it releases."""
    state = _opened(accounts, account_id)
    require_postable(state)
    moment = recorded_at(now, accounts.values())
    hold = pending(state, command.hold_id, moment)
    amount = hold.amount if command.amount is None else _captured(command.amount, state, hold)
    if command.currency is not None and command.currency != state.currency:
        raise CurrencyMismatch(f"a capture in {command.currency} of a hold in {state.currency}")
    debit = Debited(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=new_event_id(),
        amount=amount,
        recorded_at=moment,
        currency=state.currency,
        transfer_id=transfer_id if command.to else None,
        counterparty=command.to,
        recorded_by=recorded_by,
        hold_id=command.hold_id,
    )
    if command.to is None:
        return [debit]
    if command.to == state.account_id:
        raise InvalidRequest(f"a hold of account {state.account_id} captured into itself")
    target = _opened(accounts, command.to)
    require_postable(target)
    if target.currency != state.currency:
        raise CurrencyMismatch(
            f"accounts {state.account_id} ({state.currency}) and "
            f"{target.account_id} ({target.currency}) are in different currencies"
        )
    credit = Credited(
        account_id=target.account_id,
        version=target.version + 1,
        event_id=new_event_id(),
        amount=amount,
        recorded_at=moment,
        currency=target.currency,
        transfer_id=transfer_id,
        counterparty=state.account_id,
        recorded_by=recorded_by,
    )
    return [debit, credit]


def decide_void(
    state: Account, command: VoidHold, *, event_id: str, now: datetime, recorded_by: str | None
) -> HoldVoided:
    # A frozen account's holds may still be voided: releasing restricts nothing.
    require_open_for_change(state)
    moment = recorded_at(now, [state])
    hold = pending(state, command.hold_id, moment)
    return HoldVoided(
        state.account_id,
        state.version + 1,
        event_id,
        moment,
        command.hold_id,
        hold.amount,
        state.currency,
        recorded_by,
    )


def decide_expire(
    state: Account, command: ExpireHold, *, event_id: str, now: datetime, recorded_by: str | None
) -> HoldExpired:
    """Frozen or not, a hold past its time is released."""
    hold = state.holds.get(command.hold_id)
    if hold is None:
        raise HoldNotPending(f"hold {command.hold_id} is not pending")
    if now < hold.expires_at:
        raise HoldNotExpired(f"hold {command.hold_id} expires at {hold.expires_at.isoformat()}")
    return HoldExpired(
        state.account_id,
        state.version + 1,
        event_id,
        recorded_at(now, [state]),
        command.hold_id,
        hold.amount,
        state.currency,
        recorded_by,
    )


def pending(state: Account, hold_id: str, moment: datetime) -> PendingHold:
    """The hold, still pending and not past its expiry at `moment`."""
    hold = state.holds.get(hold_id)
    if hold is None:
        raise HoldNotPending(f"hold {hold_id} was already captured, voided or expired")
    if moment >= hold.expires_at:
        raise HoldHasExpired(f"hold {hold_id} expired at {hold.expires_at.isoformat()}")
    return hold


def _captured(amount: Money, state: Account, hold: PendingHold) -> Money:
    exact = amount_in(amount, state.currency)
    if exact > hold.amount:
        raise InvalidAmount("a capture may take at most the held amount")
    return exact


def _opened(accounts: Mapping[str, Account], account_id: str) -> Account:
    state = accounts.get(account_id)
    if state is None or not state.opened:
        raise AccountNotFound(f"account {account_id} does not exist")
    return state

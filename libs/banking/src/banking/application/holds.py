"""Holds: place, capture, void and expire, each one transaction of the account's
event(s), the hold record (conditional on its status) and the idempotency record,
retried on a version conflict; a retried idempotency key never stores twice.

The hold record is what finds a hold's account from its id in one read, and what
makes a hold resolved at most once: a capture racing a void or the expirer writes
both the account's next version and the record's status, so exactly one wins and
the other decides again from fresh state (and is refused: `hold_not_pending`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import attrs
from attrs import frozen

from banking.application.appending import (
    CommandDependencies,
    Conflict,
    Decision,
    append_decided,
    ours,
)
from banking.application.commands import canonical, fingerprint
from banking.application.ports import (
    HOLD_SCOPE,
    EventStore,
    HoldIndex,
    HoldRecord,
    HoldStatus,
    IdempotencyRecord,
    Leg,
    StoredEvent,
    TransactionRecords,
    TransferPosting,
    TransferRecord,
)
from banking.application.transfers import stored_legs
from banking.domain.account import evolve
from banking.domain.errors import (
    HoldHasExpired,
    HoldNotExpired,
    HoldNotFound,
    HoldNotPending,
    IdempotencyKeyReused,
)
from banking.domain.events import Debited, Event, HoldPlaced, HoldVoided, PostingEvent
from banking.domain.holds import (
    CaptureHold,
    ExpireHold,
    PlaceHold,
    VoidHold,
    decide_capture,
    decide_expire,
    decide_place,
    decide_void,
)

# A write that may be stored: the events with their states, the hold record after them.
_Write = tuple[list[StoredEvent], HoldRecord, TransferRecord | None]


def place_hold(
    command: PlaceHold,
    deps: CommandDependencies,
    *,
    idempotency_key: str,
    caller: str,
    correlation_id: str | None = None,
) -> HoldRecord:
    """Place the hold, recorded by `caller`, at most once per account, caller and key."""
    request = fingerprint(
        {
            "type": "hold",
            "accountId": command.account_id,
            "amount": canonical(command.amount),
            "expiresIn": int(command.expires_in.total_seconds()),
            "description": command.description,
        }
    )

    def write() -> _Write:
        state = deps.store.load(command.account_id)
        event = decide_place(
            state, command, event_id=deps.new_id(), now=deps.clock(), recorded_by=caller
        )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        return [stored], placed(event), None

    return _store(
        deps,
        IdempotencyRecord(command.account_id, caller, idempotency_key, request),
        write,
        hold_id=command.hold_id,
    )


def capture_hold(
    command: CaptureHold,
    deps: CommandDependencies,
    *,
    idempotency_key: str,
    caller: str,
    transfer_id: str,
    correlation_id: str | None = None,
) -> HoldRecord:
    """Capture the hold (into `command.to` as transfer `transfer_id`, if given)."""
    request = fingerprint(
        {
            "type": "capture",
            "holdId": command.hold_id,
            "amount": canonical(command.amount),
            "to": command.to,
            "currency": canonical(command.currency),
        }
    )

    def write() -> _Write:
        hold = _found(deps, command.hold_id)
        ids = sorted({hold.account_id, *([command.to] if command.to else [])})
        accounts = {account_id: deps.store.load(account_id) for account_id in ids}
        with _expired_said_so(deps, command.hold_id):
            legs = decide_capture(
                accounts,
                command,
                account_id=hold.account_id,
                new_event_id=deps.new_id,
                now=deps.clock(),
                recorded_by=caller,
                transfer_id=transfer_id,
            )
        debit = legs[0]
        resolved = attrs.evolve(
            _resolved(hold, HoldStatus.CAPTURED, debit),
            captured_amount=debit.amount,
            captured_to=command.to,
            transfer_id=transfer_id if command.to else None,
        )
        record = _transfer(transfer_id, legs, caller, correlation_id) if command.to else None
        return stored_legs(accounts, list(legs), deps, correlation_id), resolved, record

    return _store(
        deps,
        IdempotencyRecord(HOLD_SCOPE, caller, idempotency_key, request),
        write,
        hold_id=command.hold_id,
    )


def void_hold(
    command: VoidHold,
    deps: CommandDependencies,
    *,
    idempotency_key: str,
    caller: str,
    correlation_id: str | None = None,
) -> HoldRecord:
    request = fingerprint({"type": "void", "holdId": command.hold_id})

    def write() -> _Write:
        hold = _found(deps, command.hold_id)
        state = deps.store.load(hold.account_id)
        with _expired_said_so(deps, command.hold_id):
            event = decide_void(
                state,
                command,
                event_id=deps.new_id(),
                now=deps.clock(),
                recorded_by=caller,
            )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        return [stored], _resolved(hold, HoldStatus.VOIDED, event), None

    return _store(
        deps,
        IdempotencyRecord(HOLD_SCOPE, caller, idempotency_key, request),
        write,
        hold_id=command.hold_id,
    )


def expire_hold(hold: HoldRecord, deps: CommandDependencies) -> HoldRecord | None:
    """Record the hold's expiry; None when it is resolved already (a capture or void
    won, or an overlapping run of the expirer did) or, by this clock, not yet due (a
    clock behind the one that listed it: a later run records it)."""

    def write() -> _Write:
        current = _found(deps, hold.hold_id)
        state = deps.store.load(current.account_id)
        event = decide_expire(
            state,
            ExpireHold(current.hold_id),
            event_id=deps.new_id(),
            now=deps.clock(),
            recorded_by=None,
        )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), None)
        return [stored], _resolved(current, HoldStatus.EXPIRED, event), None

    try:
        return _store(deps, None, write, hold_id=hold.hold_id)
    except (HoldNotPending, HoldNotExpired):
        return None


@frozen
class ExpiryRun:
    expired: int
    already_resolved: int


def expire_holds(index: HoldIndex, deps: CommandDependencies, *, batch: int = 100) -> ExpiryRun:
    """Release every pending hold past its expiry, a batch at a time, until none is
    left. Safe when two runs overlap: each hold is released by one of them."""
    expired = resolved = 0
    while True:
        due = index.expiring(deps.clock(), limit=batch)
        released = [expire_hold(hold, deps) for hold in due]
        expired += sum(1 for hold in released if hold is not None)
        resolved += sum(1 for hold in released if hold is None)
        if len(due) < batch or not any(released):
            return ExpiryRun(expired, resolved)


def placed(event: HoldPlaced) -> HoldRecord:
    if event.currency is None:
        raise ValueError("a hold always names its currency")
    return HoldRecord(
        hold_id=event.hold_id,
        account_id=event.account_id,
        amount=event.amount,
        currency=event.currency,
        placed_at=event.recorded_at,
        expires_at=event.expires_at,
        version=event.version,
        description=event.description,
        recorded_by=event.recorded_by,
    )


def _resolved(hold: HoldRecord, status: HoldStatus, event: Event) -> HoldRecord:
    return attrs.evolve(
        hold,
        status=status,
        resolved_at=event.recorded_at,
        resolved_version=event.version,
        resolved_event_id=event.event_id,
    )


@contextmanager
def _expired_said_so(deps: CommandDependencies, hold_id: str) -> Iterator[None]:
    """A hold no longer pending because it expired is refused as expired, whether its
    expiry was recorded already or not: the client hears the same either way."""
    try:
        yield
    except HoldNotPending as refused:
        current = deps.store.hold(hold_id)
        if current is not None and current.status is HoldStatus.EXPIRED:
            raise HoldHasExpired(
                f"hold {hold_id} expired at {current.expires_at.isoformat()}"
            ) from refused
        raise


def _found(deps: CommandDependencies, hold_id: str) -> HoldRecord:
    return find_hold(hold_id, deps.store)


def _store(
    deps: CommandDependencies,
    claim: IdempotencyRecord | None,
    write: Callable[[], _Write],
    *,
    hold_id: str,
) -> HoldRecord:
    def decided() -> Decision[HoldRecord]:
        stored, hold, transfer = write()
        idempotency = attrs.evolve(claim, event=stored[0].event) if claim else None
        return Decision(
            stored,
            TransactionRecords(idempotency=idempotency, transfer=transfer, hold=hold),
            hold,
        )

    def landed(decision: Decision[HoldRecord], conflict: Conflict) -> HoldRecord | None:
        # An attempt whose answer was lost may have landed: its events came back with
        # the refusal, or else the hold record names the event that placed or
        # resolved it, which only this request made.
        mine = ours(conflict, decision.events)
        if mine is not None:
            return decision.answer if mine else None
        found = deps.store.hold(hold_id)
        return found if found is not None and _own(found, decision.events[0].event) else None

    return append_decided(
        deps,
        decided,
        subject=f"hold {hold_id}",
        claim=claim,
        replay=lambda previous: _replay(deps, previous),
        landed=landed,
    )


def _own(landed: HoldRecord, event: Event) -> bool:
    if isinstance(event, HoldPlaced):
        return True  # a hold id is new with each request, as a transfer id is
    return landed.resolved_event_id == event.event_id


def _replay(deps: CommandDependencies, previous: IdempotencyRecord) -> HoldRecord:
    event = previous.event
    hold_id = event.hold_id if isinstance(event, HoldPlaced | HoldVoided | Debited) else None
    found = deps.store.hold(hold_id) if hold_id else None
    if found is None:
        raise IdempotencyKeyReused(
            f"idempotency key {previous.key!r} was already used with a different request"
        )
    return found


def _transfer(
    transfer_id: str, legs: Sequence[PostingEvent], caller: str, correlation_id: str | None
) -> TransferRecord:
    """The capture into another account, kept as the transfer it is (GET /transfers)."""
    debit, credit = legs
    if not isinstance(debit, Debited) or debit.currency is None:
        raise ValueError("a capture's first leg is its debit, in the account's currency")
    return TransferRecord(
        transfer_id=transfer_id,
        recorded_at=debit.recorded_at,
        postings=(
            TransferPosting(debit.account_id, credit.account_id, debit.amount, debit.currency),
        ),
        legs=(Leg.of(debit), Leg.of(credit)),
        description=None,
        recorded_by=caller,
        correlation_id=correlation_id,
    )


def find_hold(hold_id: str, store: EventStore) -> HoldRecord:
    """GET /holds/{id}: the hold record, or HoldNotFound."""
    hold = store.hold(hold_id)
    if hold is None:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    return hold


@frozen
class HoldPage:
    account_id: str
    holds: list[HoldRecord]
    next_after: int | None


def holds_of(
    account_id: str, index: HoldIndex, *, status: HoldStatus | None, after: int, limit: int
) -> HoldPage:
    """A page of the account's holds in the order they were placed; `next_after` (the
    version the last one was placed at) resumes after it."""
    found = list(index.holds_of(account_id, status=status, after=after, limit=limit + 1))
    page, more = found[:limit], len(found) > limit
    return HoldPage(account_id, page, page[-1].version if more else None)

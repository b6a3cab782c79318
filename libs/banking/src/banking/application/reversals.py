"""Reversing a posting, or a whole transfer: decide the compensating posting(s), and
append them with a marker per original in one transaction, so that an original is
reversed at most once whatever the races; retried like any command, and a retried
idempotency key never reverses twice (domain.reversals has the rules)."""

from __future__ import annotations

from banking.application.commands import (
    CommandDependencies,
    backoff,
    fingerprint,
    replay_answer,
)
from banking.application.commands import _replay as replayed_event
from banking.application.ports import (
    TRANSFER_SCOPE,
    EventNotFound,
    EventStore,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    Leg,
    ReversalMarker,
    ReversalTaken,
    StoredEvent,
    TransferPosting,
    TransferRecord,
    VersionConflict,
)
from banking.application.transfers import _replay as replayed_transfer
from banking.application.transfers import stored_legs
from banking.domain.account import evolve
from banking.domain.errors import (
    AlreadyReversed,
    ConcurrentModification,
    EntryNotFound,
    TransferNotFound,
)
from banking.domain.events import Event, EventRef, PostingEvent
from banking.domain.reversals import (
    ReverseEntry,
    decide_reversal,
    decide_transfer_reversal,
    reference,
)


def reverse_entry(
    command: ReverseEntry,
    deps: CommandDependencies,
    *,
    idempotency_key: str,
    caller: str,
    correlation_id: str | None = None,
) -> Event:
    """Store the opposite of the posting at `command.version`, recorded by `caller`, at
    most once per caller and key, and at most once per original whoever asks."""
    request = fingerprint(
        {
            "type": "reversal",
            "accountId": command.account_id,
            "version": command.version,
            "description": command.description,
        }
    )
    original_ref = EventRef(command.account_id, command.version)
    for attempt in range(deps.settings.max_attempts):
        previous = deps.store.idempotency_record(command.account_id, caller, idempotency_key)
        if previous is not None:
            return replayed_event(previous, request)
        original = _original(deps.store, original_ref)
        _refuse_if_reversed(deps.store, original)
        state = deps.store.load(command.account_id)
        event = decide_reversal(
            state, original, command, event_id=deps.new_id(), now=deps.clock(), recorded_by=caller
        )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        marker = ReversalMarker(original_ref, reference(event), event.event_id)
        claim = IdempotencyRecord(command.account_id, caller, idempotency_key, request, event)
        try:
            deps.store.append_many([stored], idempotency=claim, reversals=[marker])
        except IdempotencyKeyTaken:
            continue  # the next pass finds the winner's record and answers with it
        except (ReversalTaken, VersionConflict):
            # Ours, if an attempt whose answer was lost landed; else another reversal's.
            if _landed(deps.store, marker):
                return event
            _refuse_if_reversed(deps.store, original)
            deps.on_conflict()
            deps.sleep(backoff(attempt, deps.settings))
            continue
        return event
    raise ConcurrentModification(
        f"account {command.account_id} changed concurrently "
        f"{deps.settings.max_attempts} times; retry the request"
    )


def reverse_transfer(
    transfer_id: str,
    deps: CommandDependencies,
    *,
    reversal_id: str,
    description: str | None = None,
    idempotency_key: str,
    caller: str,
    correlation_id: str | None = None,
) -> TransferRecord:
    """Store transfer `reversal_id`, the opposite of every posting of `transfer_id`, at
    most once per caller and key, and at most once per transfer whoever asks."""
    request = fingerprint(
        {"type": "transfer-reversal", "transferId": transfer_id, "description": description}
    )
    for attempt in range(deps.settings.max_attempts):
        previous = deps.store.idempotency_record(TRANSFER_SCOPE, caller, idempotency_key)
        if previous is not None:
            return replayed_transfer(deps.store, replay_answer(previous, request))
        original = deps.store.transfer(transfer_id)
        if original is None:
            raise TransferNotFound(f"transfer {transfer_id[:64]!r} does not exist")
        legs = [
            _original(deps.store, EventRef(leg.account_id, leg.version)) for leg in original.legs
        ]
        _refuse_if_reversed(deps.store, legs[0])
        accounts = {leg.account_id: deps.store.load(leg.account_id) for leg in legs}
        new_legs = decide_transfer_reversal(
            accounts,
            legs,
            transfer_id=reversal_id,
            description=description,
            new_event_id=deps.new_id,
            now=deps.clock(),
            recorded_by=caller,
        )
        record = _reversal_record(original, reversal_id, new_legs, caller, correlation_id)
        markers = [_marker_of(leg, reversal_id) for leg in new_legs]
        claim = IdempotencyRecord(
            TRANSFER_SCOPE, caller, idempotency_key, request, transfer_id=reversal_id
        )
        try:
            deps.store.append_many(
                stored_legs(accounts, new_legs, deps, correlation_id),
                transfer=record,
                idempotency=claim,
                reversals=markers,
            )
        except IdempotencyKeyTaken:
            continue
        except (ReversalTaken, VersionConflict):
            landed = deps.store.transfer(reversal_id)
            if landed is not None:
                return landed
            _refuse_if_reversed(deps.store, legs[0])
            deps.on_conflict()
            deps.sleep(backoff(attempt, deps.settings))
            continue
        return record
    raise ConcurrentModification(
        f"the accounts of transfer {transfer_id} changed concurrently "
        f"{deps.settings.max_attempts} times; retry the request"
    )


def _original(store: EventStore, ref: EventRef) -> Event:
    try:
        return store.get(ref.account_id, ref.version).event
    except EventNotFound as error:
        raise EntryNotFound(f"account {ref.account_id} has no event {ref.version}") from error


def _refuse_if_reversed(store: EventStore, original: Event) -> None:
    marker = store.reversal(reference(original))
    if marker is None:
        return
    by = (
        f"transfer {marker.transfer_id}"
        if marker.transfer_id
        else f"version {marker.reversed_by.version}"
    )
    raise AlreadyReversed(
        f"version {original.version} of account {original.account_id} was reversed by {by}"
    )


def _landed(store: EventStore, marker: ReversalMarker) -> bool:
    """Whether the marker stored for the original is this attempt's own (the event id
    is fresh each attempt): then its event, written in the same transaction, is too."""
    stored = store.reversal(marker.original)
    return stored is not None and stored.event_id == marker.event_id


def _marker_of(leg: PostingEvent, transfer_id: str) -> ReversalMarker:
    if leg.reverses is None:
        raise ValueError("every leg of a transfer's reversal reverses an original leg")
    return ReversalMarker(leg.reverses, reference(leg), leg.event_id, transfer_id)


def _reversal_record(
    original: TransferRecord,
    reversal_id: str,
    legs: list[PostingEvent],
    caller: str,
    correlation_id: str | None,
) -> TransferRecord:
    # The original's postings the other way; the new legs carry their versions.
    return TransferRecord(
        transfer_id=reversal_id,
        recorded_at=legs[0].recorded_at,
        postings=tuple(
            TransferPosting(p.to_account, p.from_account, p.amount, p.currency)
            for p in original.postings
        ),
        legs=tuple(Leg.of(leg) for leg in legs),
        description=legs[0].description,
        recorded_by=caller,
        correlation_id=correlation_id,
        reverses=original.transfer_id,
    )

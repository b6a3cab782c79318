"""Reversing a posting, or a whole transfer: decide the compensating posting(s), and
append them with a marker per original in one transaction, so that an original is
reversed at most once whatever the races; retried like any command, and a retried
idempotency key never reverses twice (domain.reversals has the rules)."""

from __future__ import annotations

import attrs

from banking.application.appending import (
    CommandDependencies,
    Conflict,
    Decision,
    append_decided,
    ours,
)
from banking.application.commands import answered_event, fingerprint
from banking.application.ports import (
    TRANSFER_SCOPE,
    EventNotFound,
    EventStore,
    IdempotencyRecord,
    Leg,
    ReversalMarker,
    StoredEvent,
    TransactionRecords,
    TransferPosting,
    TransferRecord,
)
from banking.application.transfers import replayed_transfer, stored_legs
from banking.domain.account import evolve
from banking.domain.errors import (
    AlreadyReversed,
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
    claim = IdempotencyRecord(
        command.account_id,
        caller,
        idempotency_key,
        fingerprint(
            {
                "type": "reversal",
                "accountId": command.account_id,
                "version": command.version,
                "description": command.description,
            }
        ),
    )
    original_ref = EventRef(command.account_id, command.version)

    def decided() -> Decision[Event]:
        original = _original(deps.store, original_ref)
        _refuse_if_reversed(deps.store, original_ref)
        state = deps.store.load(command.account_id)
        event = decide_reversal(
            state, original, command, event_id=deps.new_id(), now=deps.clock(), recorded_by=caller
        )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        marker = ReversalMarker(original_ref, reference(event), event.event_id)
        records = TransactionRecords(
            idempotency=attrs.evolve(claim, event=event), reversals=(marker,)
        )
        return Decision([stored], records, event)

    def landed(decision: Decision[Event], conflict: Conflict) -> Event | None:
        # Ours, if an attempt whose answer was lost landed; else another reversal's.
        mine = ours(conflict, decision.events)
        if mine is None:
            mine = _landed(deps.store, decision.records.reversals[0])
        if mine:
            return decision.answer
        _refuse_if_reversed(deps.store, original_ref)
        return None

    return append_decided(
        deps,
        decided,
        subject=f"account {command.account_id}",
        claim=claim,
        replay=answered_event,
        landed=landed,
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
    claim = IdempotencyRecord(
        TRANSFER_SCOPE,
        caller,
        idempotency_key,
        fingerprint(
            {"type": "transfer-reversal", "transferId": transfer_id, "description": description}
        ),
        transfer_id=reversal_id,
    )

    def decided() -> Decision[TransferRecord]:
        original = deps.store.transfer(transfer_id)
        if original is None:
            raise TransferNotFound(f"transfer {transfer_id[:64]!r} does not exist")
        legs = [
            _original(deps.store, EventRef(leg.account_id, leg.version)) for leg in original.legs
        ]
        _refuse_if_reversed(deps.store, reference(legs[0]))
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
        markers = {m.original: m for m in (_marker_of(leg, reversal_id) for leg in new_legs)}
        records = TransactionRecords(
            idempotency=claim,
            transfer=record,
            # In the original's leg order: a conflict checks the first original's.
            reversals=tuple(markers[reference(leg)] for leg in legs),
        )
        return Decision(stored_legs(accounts, new_legs, deps, correlation_id), records, record)

    def landed(decision: Decision[TransferRecord], conflict: Conflict) -> TransferRecord | None:
        if ours(conflict, decision.events):
            return decision.answer
        found = deps.store.transfer(reversal_id)
        if found is None:
            _refuse_if_reversed(deps.store, decision.records.reversals[0].original)
        return found

    return append_decided(
        deps,
        decided,
        subject=f"the accounts of transfer {transfer_id}",
        claim=claim,
        replay=lambda previous: replayed_transfer(deps.store, previous),
        landed=landed,
    )


def _original(store: EventStore, ref: EventRef) -> Event:
    try:
        return store.get(ref.account_id, ref.version).event
    except EventNotFound as error:
        raise EntryNotFound(f"account {ref.account_id} has no event {ref.version}") from error


def _refuse_if_reversed(store: EventStore, original: EventRef) -> None:
    marker = store.reversal(original)
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

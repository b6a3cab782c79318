"""The one loop every write use case stores through: decide from fresh state, append
the events with the transaction's records, and on a conflict tell our own landed write
from another writer's (by the item the store returned with its refusal, else by a
read) before deciding again after a jittered backoff.

A use case gives what differs: how to decide (its reads, its domain decision, what
it writes), how to recognise its own write behind a conflict, and how to answer a
retried idempotency key from the record it finds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import (
    Clock,
    EventStore,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    IdGenerator,
    ReversalTaken,
    StoredEvent,
    StoreThrottled,
    TransactionRecords,
    VersionConflict,
)
from banking.domain.errors import ConcurrentModification, DomainError, IdempotencyKeyReused

T = TypeVar("T")


@frozen
class CommandSettings:
    zone: ZoneInfo = ZoneInfo("UTC")
    # Each failed attempt means another writer succeeded, so N concurrent writers on
    # one account all finish within N attempts; 20 covers any realistic contention.
    max_attempts: int = 20
    backoff_base_seconds: float = 0.01
    backoff_cap_seconds: float = 0.2
    # The time an append needs to be seen through, every SDK retry included: the write,
    # and on a conflict whose refusal returned no item the read telling whether it was
    # ours. A write is only started
    # with that much time left, so the function is never stopped by its timeout with a
    # write in flight, which its client could not tell from a failure.
    write_budget_seconds: float = 0.0


@frozen
class CommandDependencies:
    store: EventStore
    clock: Clock
    new_id: IdGenerator
    settings: CommandSettings = CommandSettings()
    sleep: Callable[[float], None] = time.sleep
    on_conflict: Callable[[], None] = lambda: None


@frozen
class Decision(Generic[T]):
    """One attempt's decision: the events with the states after them, what the
    transaction writes besides them, and the answer the caller gets if it lands."""

    events: Sequence[StoredEvent]
    records: TransactionRecords
    answer: T


# A refused append that may be our own write landed before: a version (or a transfer
# or hold id) taken, or a reversal's original marked.
Conflict = VersionConflict | ReversalTaken


def append_decided(
    deps: CommandDependencies,
    decide: Callable[[], Decision[T]],
    *,
    subject: str,
    claim: IdempotencyRecord | None,
    replay: Callable[[IdempotencyRecord], T],
    landed: Callable[[Decision[T], Conflict], T | None],
    time_left: Callable[[], float] = lambda: float("inf"),
) -> T:
    """Store what `decide` decides, retried from fresh state on a conflict, and answer.

    `claim` is the idempotency key this request claims (its answer is left out: the
    decision's records carry it). The key is not read first: the transaction claims
    it, and a record already stored under it comes back with the refusal and is
    answered with `replay` when it is the same request. Only when `decide` refuses is
    the key read, so that a retry of a request that was stored gets its answer even
    where deciding again now refuses (the debit no longer fits, the account is closed
    since); refusals are never stored. `landed` tells, after a conflict, whether the
    refused write was our own (an attempt whose answer was lost) and answers it, or
    None; it may refuse instead (a reversal raced by another). `time_left` is the
    seconds the caller has left; `subject` names what changed in the errors.
    """
    for attempt in range(deps.settings.max_attempts):
        try:
            decision = decide()
        except DomainError as refused:
            previous = None if isinstance(refused, StoreThrottled) else _stored(deps, claim)
            if previous is None or claim is None:
                raise
            return replay(replay_answer(previous, claim.fingerprint))
        if time_left() < deps.settings.write_budget_seconds:
            # No write is started now, but a read may be: a retry of a request that
            # was stored still gets its answer.
            previous = _stored(deps, claim)
            if previous is None or claim is None:
                raise ConcurrentModification(
                    f"no time left to store a command on {subject} safely (nothing was "
                    "stored); retry the request"
                )
            return replay(replay_answer(previous, claim.fingerprint))
        try:
            deps.store.append_many(decision.events, decision.records)
        except IdempotencyKeyTaken as taken:
            previous = taken.record or _stored(deps, claim)
            if previous is None or claim is None:
                continue  # expired meanwhile: the next attempt claims it afresh
            return replay(replay_answer(previous, claim.fingerprint))
        except (VersionConflict, ReversalTaken) as conflict:
            answer = landed(decision, conflict)
            if answer is not None:
                return answer
            deps.on_conflict()
            deps.sleep(backoff(attempt, deps.settings))
            continue
        return decision.answer
    raise ConcurrentModification(
        f"{subject} changed concurrently {deps.settings.max_attempts} times; retry the request"
    )


def _stored(deps: CommandDependencies, claim: IdempotencyRecord | None) -> IdempotencyRecord | None:
    """The record stored under the claimed key (None: no key, or none stored)."""
    if claim is None:
        return None
    return deps.store.idempotency_record(claim.account_id, claim.caller, claim.key)


def ours(conflict: Conflict, events: Sequence[StoredEvent]) -> bool | None:
    """Whether the refused write is our own, landed by an attempt whose answer was
    lost, told by the events the store returned with the refusal (event ids are new
    with each attempt, and a transaction lands whole): None when none came back (a
    conflict between two transactions in flight), and only a read can tell."""
    taken = conflict.taken if isinstance(conflict, VersionConflict) else ()
    if not taken:
        return None
    mine = {
        (stored.event.account_id, stored.event.version): stored.event.event_id for stored in events
    }
    return any(
        mine.get((found.event.account_id, found.event.version)) == found.event.event_id
        for found in taken
    )


def replay_answer(previous: IdempotencyRecord, fingerprint: str) -> IdempotencyRecord:
    """The earlier request's record, if this request is the same; else refused."""
    if previous.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {previous.key!r} was already used with a different request"
        )
    return previous


def backoff(attempt: int, settings: CommandSettings) -> float:
    # Full jitter: contenders spread out instead of colliding again in lockstep.
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2**attempt)
    return random.uniform(0, ceiling)

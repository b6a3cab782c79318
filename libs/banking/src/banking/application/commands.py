"""Recording credits and debits: validate, decide, append at the next version, and
retry on a version conflict; a retried idempotency key never stores twice."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from attrs import frozen

from banking.application.ports import (
    Clock,
    EventNotFound,
    EventStore,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    IdGenerator,
    StoredEvent,
    VersionConflict,
)
from banking.domain.account import Command, RecordCredit, decide, evolve
from banking.domain.errors import ConcurrentModification, IdempotencyKeyReused
from banking.domain.events import Event
from banking.domain.money import Money


@frozen
class CommandSettings:
    overdraft_limit: Money = Money(0)
    zone: ZoneInfo = ZoneInfo("UTC")
    # Each failed attempt means another writer succeeded, so N concurrent writers on
    # one account all finish within N attempts; 20 covers any realistic contention.
    max_attempts: int = 20
    backoff_base_seconds: float = 0.01
    backoff_cap_seconds: float = 0.2


@frozen
class CommandDependencies:
    store: EventStore
    clock: Clock
    new_id: IdGenerator
    settings: CommandSettings = CommandSettings()
    sleep: Callable[[float], None] = time.sleep
    on_conflict: Callable[[], None] = lambda: None


def record(
    command: Command,
    deps: CommandDependencies,
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
    correlation_id: str | None = None,
) -> Event:
    """Record the command; with an idempotency key, at most once per account, caller
    (the token's subject) and key."""
    if idempotency_key is not None and not caller:
        raise ValueError("an idempotency key is scoped to its caller: give the caller")
    fingerprint = fingerprint_of(command)
    for attempt in range(deps.settings.max_attempts):
        if idempotency_key is not None and caller:
            previous = deps.store.idempotency_record(command.account_id, caller, idempotency_key)
            if previous is not None:
                return _replay(previous, fingerprint)
        state = deps.store.load(command.account_id)
        event = decide(
            state,
            command,
            event_id=deps.new_id(),
            now=deps.clock(),
        )
        claim = (
            IdempotencyRecord(command.account_id, caller, idempotency_key, fingerprint, event)
            if idempotency_key is not None and caller
            else None
        )
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        try:
            deps.store.append(stored, claim)
        except IdempotencyKeyTaken:
            continue  # the next pass finds the winner's record and answers with it
        except VersionConflict:
            if _landed(deps.store, event):
                return event
            deps.on_conflict()
            deps.sleep(_backoff(attempt, deps.settings))
            continue
        return event
    raise ConcurrentModification(
        f"account {command.account_id} changed concurrently "
        f"{deps.settings.max_attempts} times; retry the request"
    )


def _landed(store: EventStore, event: Event) -> bool:
    """Whether the version we were refused holds our own event.

    A put whose answer was lost (a timeout, a 500 after the write) is retried by the
    SDK, and the retry then fails its condition on the item the first try wrote:
    that "conflict" is our success, and deciding again would store the command twice.
    """
    try:
        stored = store.get(event.account_id, event.version)
    except EventNotFound:
        return False
    return stored.event.event_id == event.event_id


def fingerprint_of(command: Command) -> str:
    """What makes two requests the same request, for idempotency."""
    canonical = json.dumps(
        {
            "type": "credit" if isinstance(command, RecordCredit) else "debit",
            "accountId": command.account_id,
            "amount": str(command.amount),
            "description": command.description,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(previous: IdempotencyRecord, fingerprint: str) -> Event:
    if previous.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {previous.key!r} was already used with a different request"
        )
    return previous.event


def _backoff(attempt: int, settings: CommandSettings) -> float:
    # Full jitter: contenders spread out instead of colliding again in lockstep.
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2**attempt)
    return random.uniform(0, ceiling)

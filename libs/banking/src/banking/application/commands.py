"""Recording one account's commands (credits, debits, opening, freezing, unfreezing,
closing, a new overdraft limit): decide, append at the next version, and retry on a
version conflict; a retried idempotency key never stores twice."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

import attrs
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
from banking.domain.account import (
    AccountCommand,
    ChangeOverdraftLimit,
    CloseAccount,
    Command,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
    UnfreezeAccount,
    decide,
    evolve,
)
from banking.domain.errors import ConcurrentModification, IdempotencyKeyReused
from banking.domain.events import Event
from banking.domain.money import DEFAULT_DIGITS, Money


@frozen
class CommandSettings:
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
    command: Command | AccountCommand,
    deps: CommandDependencies,
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
    correlation_id: str | None = None,
) -> Event:
    """Record the command, as recorded by `caller` (the token's subject); with an
    idempotency key, at most once per account, caller and key."""
    if idempotency_key is not None and not caller:
        raise ValueError("an idempotency key is scoped to its caller: give the caller")
    request = fingerprint_of(command)
    for attempt in range(deps.settings.max_attempts):
        if idempotency_key is not None and caller:
            previous = deps.store.idempotency_record(command.account_id, caller, idempotency_key)
            if previous is not None:
                return _replay(previous, request)
        state = deps.store.load(command.account_id)
        event = decide(
            state,
            command,
            event_id=deps.new_id(),
            now=deps.clock(),
            recorded_by=caller,
        )
        claim = (
            IdempotencyRecord(command.account_id, caller, idempotency_key, request, event)
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
            deps.sleep(backoff(attempt, deps.settings))
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


# What each command is called in its fingerprint ("credit"/"debit" as since the start:
# fingerprints stored before accounts must still match their retries).
_KINDS: dict[type[Command | AccountCommand], str] = {
    RecordCredit: "credit",
    RecordDebit: "debit",
    OpenAccount: "open",
    FreezeAccount: "freeze",
    UnfreezeAccount: "unfreeze",
    CloseAccount: "close",
    ChangeOverdraftLimit: "overdraft-limit",
}


def fingerprint_of(command: Command | AccountCommand) -> str:
    """What makes two requests the same request, for idempotency."""
    fields = {
        name: canonical(value)
        for name, value in attrs.asdict(command, recurse=False).items()
        if name not in ("account_id", "amount", "description")
    }
    return fingerprint(
        {
            "type": _KINDS[type(command)],
            "accountId": command.account_id,
            **(
                {"amount": canonical(command.amount), "description": command.description}
                if isinstance(command, RecordCredit | RecordDebit)
                else fields
            ),
        }
    )


def fingerprint(request: dict[str, object]) -> str:
    canonical_json = json.dumps(request, sort_keys=True)
    return hashlib.sha256(canonical_json.encode()).hexdigest()


def canonical(value: object) -> object:
    """A command's field as its fingerprint holds it: an amount with its trailing zeros
    beyond the cents dropped, so "12.34" is "12.34" whatever digits it was parsed with."""
    if isinstance(value, Money):
        while value.digits > DEFAULT_DIGITS and (shorter := value.in_digits(value.digits - 1)):
            value = shorter
        return str(value)
    if isinstance(value, frozenset):
        return sorted(map(str, value))
    if isinstance(value, Mapping):
        return dict(sorted(value.items()))
    return value if value is None or isinstance(value, int | str) else str(value)


def replay_answer(previous: IdempotencyRecord, fingerprint: str) -> IdempotencyRecord:
    """The earlier request's record, if this request is the same; else refused."""
    if previous.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {previous.key!r} was already used with a different request"
        )
    return previous


def _replay(previous: IdempotencyRecord, fingerprint: str) -> Event:
    event = replay_answer(previous, fingerprint).event
    if event is None:
        raise IdempotencyKeyReused(f"idempotency key {previous.key!r} was used for a transfer")
    return event


def backoff(attempt: int, settings: CommandSettings) -> float:
    # Full jitter: contenders spread out instead of colliding again in lockstep.
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2**attempt)
    return random.uniform(0, ceiling)

"""Recording one account's commands (credits, debits, opening, freezing, unfreezing,
closing, a new overdraft limit): decide, append at the next version, and retry on a
version conflict; a retried idempotency key never stores twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

import attrs

# Where the lambdas and tests have always found the write use cases' dependencies.
from banking.application.appending import CommandDependencies as CommandDependencies
from banking.application.appending import CommandSettings as CommandSettings
from banking.application.appending import Conflict, Decision, append_decided, ours
from banking.application.ports import (
    EventNotFound,
    EventStore,
    IdempotencyRecord,
    StoredEvent,
    TransactionRecords,
)
from banking.domain.account import evolve
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
from banking.domain.decisions import decide
from banking.domain.errors import IdempotencyKeyReused
from banking.domain.events import Event
from banking.domain.money import DEFAULT_DIGITS, Money


def record(
    command: Command | AccountCommand,
    deps: CommandDependencies,
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
    correlation_id: str | None = None,
    time_left: Callable[[], float] = lambda: float("inf"),
) -> Event:
    """Record the command, as recorded by `caller` (the token's subject); with an
    idempotency key, at most once per account, caller and key. ``time_left`` is the
    seconds the caller has left (a Lambda's remaining time)."""
    if idempotency_key is not None and not caller:
        raise ValueError("an idempotency key is scoped to its caller: give the caller")
    claim = (
        IdempotencyRecord(command.account_id, caller, idempotency_key, fingerprint_of(command))
        if idempotency_key is not None and caller
        else None
    )

    def decided() -> Decision[Event]:
        state = deps.store.load(command.account_id)
        event = decide(state, command, event_id=deps.new_id(), now=deps.clock(), recorded_by=caller)
        stored = StoredEvent(event, evolve(state, event, deps.settings.zone), correlation_id)
        return Decision(
            [stored],
            TransactionRecords(idempotency=attrs.evolve(claim, event=event) if claim else None),
            event,
        )

    return append_decided(
        deps,
        decided,
        subject=f"account {command.account_id}",
        claim=claim,
        replay=answered_event,
        landed=lambda decision, conflict: (
            decision.answer if _landed(deps.store, decision, conflict) else None
        ),
        time_left=time_left,
    )


def _landed(store: EventStore, decision: Decision[Event], conflict: Conflict) -> bool:
    """Whether the version we were refused holds our own event.

    A put whose answer was lost (a timeout, a 500 after the write) is retried by the
    SDK, and the retry then fails its condition on the item the first try wrote:
    that "conflict" is our success, and deciding again would store the command twice.
    The refusal returns the item that holds the version; only without it is it read.
    """
    found = ours(conflict, decision.events)
    if found is not None:
        return found
    event = decision.answer
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


def answered_event(previous: IdempotencyRecord) -> Event:
    """The event a previous request with this key stored (the same request's)."""
    if previous.event is None:
        raise IdempotencyKeyReused(f"idempotency key {previous.key!r} was used for a transfer")
    return previous.event

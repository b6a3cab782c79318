"""The ports the use cases depend on. Adapters implement them for DynamoDB and
EventBridge; `banking.adapters.memory` implements them in memory, for real."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from attrs import frozen

from banking.domain.account import Account
from banking.domain.events import Event
from banking.domain.read_models import ReadModel

Clock = Callable[[], datetime]
IdGenerator = Callable[[], str]


class VersionConflict(Exception):
    """Another writer appended this version first: reload and decide again."""


class IdempotencyKeyTaken(Exception):
    """Another request with the same idempotency key was stored first."""


class EventNotFound(Exception):
    pass


@frozen
class IdempotencyRecord:
    """What a stored idempotency key remembers: the request it answered and the answer.
    A key is the caller's own (the token's subject): two callers that happen to pick
    the same key on the same account are two requests."""

    account_id: str
    caller: str
    key: str
    fingerprint: str
    event: Event


@frozen
class StoredEvent:
    """An event as the store keeps it: the fact, the account state after it, and the
    correlation id of the request that caused it."""

    event: Event
    state: Account
    correlation_id: str | None = None


class EventStore(Protocol):
    def load(self, account_id: str) -> Account:
        """The account's current state (version 0 when it has no event)."""

    def get(self, account_id: str, version: int) -> StoredEvent:
        """The stored event at `version`, with the state after it; raises EventNotFound."""

    def append(
        self,
        stored: StoredEvent,
        idempotency: IdempotencyRecord | None = None,
    ) -> None:
        """Store the event iff its version is free (else VersionConflict), together
        with the idempotency record iff its key is free (else IdempotencyKeyTaken);
        both or neither."""

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        """Up to `limit` events with a version greater than `after`, in version order."""

    def idempotency_record(
        self, account_id: str, caller: str, key: str
    ) -> IdempotencyRecord | None: ...


class ProjectionStore(Protocol):
    def save(self, account_id: str, model: ReadModel) -> bool:
        """Write the read model iff its version is newer than the stored one; returns
        whether it was written."""

    def load(self, account_id: str) -> Sequence[ReadModel]: ...

    def repair(self, account_id: str, model: ReadModel, *, replacing: int | None) -> bool:
        """Write the read model into the active generation whatever its version, iff the
        stored one is still at version `replacing` (None: absent); returns whether it
        was written. Only for `verify --repair`: the one write that may go backwards,
        to undo a read model ahead of the events table (a forged event's)."""


class Publisher(Protocol):
    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        """Publish the entries; returns the indexes of those that failed."""


@frozen
class BusEntry:
    source: str
    detail_type: str
    detail: dict[str, Any]

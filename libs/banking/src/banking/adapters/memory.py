"""In-memory implementations of the ports: real, thread-safe stores with the same
contract as the DynamoDB ones (the contract test suite runs against both)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

from banking.application.ports import (
    BusEntry,
    EventNotFound,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredEvent,
    VersionConflict,
)
from banking.domain.account import Account
from banking.domain.events import Event
from banking.domain.read_models import READ_MODEL_NAMES, ReadModel


class InMemoryEventStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[StoredEvent]] = defaultdict(list)
        self._keys: dict[tuple[str, str], IdempotencyRecord] = {}
        self.items_read = 0

    def load(self, account_id: str) -> Account:
        with self._lock:
            stream = self._streams.get(account_id)
            if not stream:
                return Account(account_id)
            self.items_read += 1
            return stream[-1].state

    def get(self, account_id: str, version: int) -> StoredEvent:
        with self._lock:
            stream = self._streams.get(account_id, [])
            if not 1 <= version <= len(stream):
                raise EventNotFound(f"{account_id} has no version {version}")
            self.items_read += 1
            return stream[version - 1]

    def append(self, stored: StoredEvent, idempotency: IdempotencyRecord | None = None) -> None:
        event = stored.event
        with self._lock:
            stream = self._streams[event.account_id]
            if event.version != len(stream) + 1:
                raise VersionConflict(f"{event.account_id} is at version {len(stream)}")
            if idempotency is not None:
                key = (idempotency.account_id, idempotency.key)
                if key in self._keys:
                    raise IdempotencyKeyTaken(idempotency.key)
                self._keys[key] = idempotency
            stream.append(stored)

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        with self._lock:
            stream = self._streams.get(account_id, [])
            page = [stored.event for stored in stream[max(after, 0) : max(after, 0) + limit]]
            self.items_read += len(page)
            return page

    def idempotency_record(self, account_id: str, key: str) -> IdempotencyRecord | None:
        with self._lock:
            return self._keys.get((account_id, key))

    def all_stored(self) -> list[StoredEvent]:
        with self._lock:
            return [stored for stream in self._streams.values() for stored in stream]


class InMemoryProjectionStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], ReadModel] = {}

    def save(self, account_id: str, model: ReadModel) -> bool:
        key = (account_id, READ_MODEL_NAMES[type(model)])
        with self._lock:
            current = self._models.get(key)
            if current is not None and current.version >= model.version:
                return False
            self._models[key] = model
            return True

    def load(self, account_id: str) -> Sequence[ReadModel]:
        with self._lock:
            return [model for (owner, _), model in self._models.items() if owner == account_id]


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[BusEntry] = []
        self.fail_indexes: set[int] = set()

    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        failed = [index for index in range(len(entries)) if index in self.fail_indexes]
        self.published.extend(entry for i, entry in enumerate(entries) if i not in failed)
        return failed

"""In-memory implementations of the ports: real, thread-safe stores with the same
contract as the DynamoDB ones (the contract test suite runs against both)."""

from __future__ import annotations

import threading
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from attrs import evolve

from banking.application.generations import lag_between, parse_sort_key, sort_key
from banking.application.ports import (
    NO_RECORDS,
    BusEntry,
    Clock,
    Cursor,
    EventNotFound,
    GenerationConflict,
    Generations,
    HoldRecord,
    HoldStatus,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    Lag,
    ReversalMarker,
    ReversalTaken,
    Scanned,
    StoredEvent,
    TransactionRecords,
    TransferRecord,
    VersionConflict,
)
from banking.domain.account import LEGACY_TERMS, Account, LegacyTerms
from banking.domain.events import Event, EventRef
from banking.domain.read_models import (
    ACCOUNTS_BY_OWNER,
    MONTHLY_STATEMENT,
    READ_MODEL_NAMES,
    AccountSummary,
    MonthlyStatement,
    ReadModel,
    owner_partition,
    qualifier_of,
)


class InMemoryEventStore:
    def __init__(self, legacy: LegacyTerms = LEGACY_TERMS) -> None:
        self._lock = threading.Lock()
        self._legacy = legacy
        self._streams: dict[str, list[StoredEvent]] = defaultdict(list)
        self._keys: dict[tuple[str, str, str], IdempotencyRecord] = {}
        self._transfers: dict[str, TransferRecord] = {}
        self._holds: dict[str, HoldRecord] = {}
        self._reversals: dict[EventRef, ReversalMarker] = {}
        self.items_read = 0

    def load(self, account_id: str) -> Account:
        with self._lock:
            stream = self._streams.get(account_id)
            if not stream:
                return Account.unopened(account_id, self._legacy)
            self.items_read += 1
            return stream[-1].state

    def get(self, account_id: str, version: int) -> StoredEvent:
        with self._lock:
            stream = self._streams.get(account_id, [])
            if not 1 <= version <= len(stream):
                raise EventNotFound(f"{account_id} has no version {version}")
            self.items_read += 1
            return stream[version - 1]

    def append(self, stored: StoredEvent, records: TransactionRecords = NO_RECORDS) -> None:
        self.append_many([stored], records)

    def append_many(
        self, stored_events: Sequence[StoredEvent], records: TransactionRecords = NO_RECORDS
    ) -> None:
        with self._lock:
            next_versions: dict[str, int] = {}
            conflicts: list[str] = []
            taken: list[StoredEvent] = []
            for stored in stored_events:
                event = stored.event
                expected = next_versions.get(event.account_id)
                if expected is None:
                    expected = len(self._streams.get(event.account_id, [])) + 1
                stream = self._streams.get(event.account_id, [])
                if event.version != expected:
                    conflicts.append(f"{event.account_id} is at version {expected - 1}")
                if 1 <= event.version <= len(stream):
                    # The event holding the version, as DynamoDB returns it.
                    taken.append(stream[event.version - 1])
                next_versions[event.account_id] = expected + 1
            self._check(records)
            if conflicts:
                raise VersionConflict("; ".join(conflicts), taken)
            self._check_ids(records)
            self._keep(records)
            for stored in stored_events:
                self._streams[stored.event.account_id].append(stored)

    def _check(self, records: TransactionRecords) -> None:
        """Raise what the DynamoDB store raises when the key's or a marker's guard
        fails, before any version conflict, as it does: the key's record with it."""
        idempotency = records.idempotency
        if idempotency is not None and _key(idempotency) in self._keys:
            raise IdempotencyKeyTaken(idempotency.key, self._keys[_key(idempotency)])
        for marker in records.reversals:
            if marker.original in self._reversals:
                raise ReversalTaken(f"{marker.original} is reversed already")

    def _check_ids(self, records: TransactionRecords) -> None:
        """A transfer's or a hold's guard failing is a version conflict (the caller
        checks whether the record is its own): no event came back with it."""
        transfer, hold = records.transfer, records.hold
        if transfer is not None and transfer.transfer_id in self._transfers:
            raise VersionConflict(f"transfer {transfer.transfer_id} is stored already")
        if hold is not None:
            self._check_hold(hold)

    def _keep(self, records: TransactionRecords) -> None:
        if records.idempotency is not None:
            self._keys[_key(records.idempotency)] = records.idempotency
        for marker in records.reversals:
            self._reversals[marker.original] = marker
        if records.transfer is not None:
            self._transfers[records.transfer.transfer_id] = records.transfer
        if records.hold is not None:
            self._holds[records.hold.hold_id] = records.hold

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        with self._lock:
            return self._transfers.get(transfer_id)

    def _check_hold(self, hold: HoldRecord) -> None:
        """A new hold's id must be free; a resolved one must still be pending."""
        current = self._holds.get(hold.hold_id)
        if hold.status is HoldStatus.PENDING and current is not None:
            raise VersionConflict(f"hold {hold.hold_id} is stored already")
        if hold.status is not HoldStatus.PENDING and (
            current is None or current.status is not HoldStatus.PENDING
        ):
            raise VersionConflict(f"hold {hold.hold_id} is not pending")

    def hold(self, hold_id: str) -> HoldRecord | None:
        with self._lock:
            return self._holds.get(hold_id)

    def holds_of(
        self, account_id: str, *, status: HoldStatus | None, after: int, limit: int
    ) -> Sequence[HoldRecord]:
        with self._lock:
            found = sorted(
                (hold.version, hold)
                for hold in self._holds.values()
                if hold.account_id == account_id
                and hold.version > after
                and (status is None or hold.status is status)
            )
        return [hold for _, hold in found[:limit]]

    def expiring(self, moment: datetime, *, limit: int) -> Sequence[HoldRecord]:
        with self._lock:
            due = sorted(
                (hold.expires_at, hold.hold_id, hold)
                for hold in self._holds.values()
                if hold.status is HoldStatus.PENDING and hold.expires_at <= moment
            )
        return [hold for _, _, hold in due[:limit]]

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        with self._lock:
            stream = self._streams.get(account_id, [])
            page = [stored.event for stored in stream[max(after, 0) : max(after, 0) + limit]]
            self.items_read += len(page)
            return page

    def idempotency_record(
        self, account_id: str, caller: str, key: str
    ) -> IdempotencyRecord | None:
        with self._lock:
            return self._keys.get((account_id, caller, key))

    def reversal(self, original: EventRef) -> ReversalMarker | None:
        with self._lock:
            return self._reversals.get(original)

    def last_at(
        self, account_id: str, moment: datetime, *, inclusive: bool = True
    ) -> StoredEvent | None:
        # Recorded times are in version order, so the stream is sorted by them too.
        search = bisect_right if inclusive else bisect_left
        with self._lock:
            stream = self._streams.get(account_id, [])
            index = search(stream, moment, key=lambda stored: stored.event.recorded_at)
            if index == 0:
                return None
            self.items_read += 1
            return stream[index - 1]

    def scan(
        self, *, segment: int = 0, total_segments: int = 1, after: Cursor | None = None
    ) -> Iterator[Scanned]:
        with self._lock:
            accounts = sorted(
                account
                for account in self._streams
                if zlib.crc32(account.encode()) % total_segments == segment
            )
            stored = [item for account in accounts for item in self._streams[account]]
        keys = [(item.event.account_id, item.event.version) for item in stored]
        start = keys.index((after.account_id, after.version)) + 1 if after else 0
        yield from stored[start:]

    def scan_account(self, account_id: str, *, after: Cursor | None = None) -> Iterator[Scanned]:
        with self._lock:
            stream = list(self._streams.get(account_id, []))
        yield from stream[after.version if after else 0 :]

    def all_stored(self) -> list[StoredEvent]:
        with self._lock:
            return [stored for stream in self._streams.values() for stored in stream]


def _key(record: IdempotencyRecord) -> tuple[str, str, str]:
    return (record.account_id, record.caller, record.key)


class InMemoryProjectionStore:
    def __init__(self, clock: Clock = lambda: datetime.now(UTC)) -> None:
        # What tells whether a replaced generation's grace period is over: the wall
        # clock, or the simulation's (tests/simulation), so a seed replays its run.
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], ReadModel] = {}
        self._pointers: dict[str, Generations] = {}

    def save(self, account_id: str, model: ReadModel) -> bool:
        name = READ_MODEL_NAMES[type(model)]
        with self._lock:
            generations = self._pointers.get(name, Generations()).written(self._clock())
            written = [self._save(account_id, model, name, g) for g in generations]
        return written[0]

    def _save(self, account_id: str, model: ReadModel, name: str, generation: int) -> bool:
        key = (account_id, sort_key(name, generation, qualifier_of(model)))
        current = self._models.get(key)
        if current is not None and current.version >= model.version:
            return False
        self._models[key] = model
        return True

    def repair(self, account_id: str, model: ReadModel, *, replacing: int | None) -> bool:
        name = READ_MODEL_NAMES[type(model)]
        with self._lock:
            active = self._pointers.get(name, Generations()).active
            key = (account_id, sort_key(name, active, qualifier_of(model)))
            current = self._models.get(key)
            if (current.version if current is not None else None) != replacing:
                return False
            self._models[key] = model
            return True

    def load(
        self, account_id: str, *, generations: dict[str, int] | None = None
    ) -> Sequence[ReadModel]:
        chosen = generations or {}
        with self._lock:
            models = []
            for (owner, key), model in sorted(self._models.items()):
                name, generation, _ = parse_sort_key(key)
                wanted = chosen.get(name, self._pointers.get(name, Generations()).active)
                if owner == account_id and generation == wanted:
                    models.append(model)
            return models

    def accounts_of(self, owner: str, *, after: str | None, limit: int) -> Sequence[AccountSummary]:
        active = self.generations(ACCOUNTS_BY_OWNER).active
        partition = owner_partition(owner)
        with self._lock:
            found = sorted(
                (model.account_id, model)
                for (key_partition, key), model in self._models.items()
                if key_partition == partition
                and isinstance(model, AccountSummary)
                and parse_sort_key(key)[1] == active
                and (after is None or model.account_id > after)
            )
        return [summary for _, summary in found[:limit]]

    def statement(self, account_id: str, month: str) -> MonthlyStatement | None:
        active = self.generations(MONTHLY_STATEMENT).active
        with self._lock:
            model = self._models.get((account_id, sort_key(MONTHLY_STATEMENT, active, month)))
        return model if isinstance(model, MonthlyStatement) else None

    def generations(self, read_model: str) -> Generations:
        with self._lock:
            return self._pointers.get(read_model, Generations())

    def start_building(self, read_model: str) -> int:
        with self._lock:
            current = self._pointers.get(read_model, Generations())
            if current.building is not None:
                raise GenerationConflict(f"generation {current.building} is being built")
            generation = current.latest + 1
            self._pointers[read_model] = evolve(current, building=generation, latest=generation)
            return generation

    def switch(self, read_model: str, generation: int, *, grace_until: datetime) -> None:
        with self._lock:
            current = self._pointers.get(read_model, Generations())
            if current.building != generation:
                raise GenerationConflict(f"generation {generation} is not being built")
            self._pointers[read_model] = evolve(
                current,
                active=generation,
                building=None,
                previous=current.active,
                previous_until=grace_until,
            )

    def abandon(self, read_model: str, generation: int) -> None:
        with self._lock:
            current = self._pointers.get(read_model, Generations())
            if current.building != generation:
                raise GenerationConflict(f"generation {generation} is not being built")
            self._pointers[read_model] = evolve(current, building=None)

    def lagging(self, read_model: str, generation: int) -> Sequence[Lag]:
        active = self.generations(read_model).active
        versions: dict[int, dict[tuple[str, str | None], int]] = {active: {}, generation: {}}
        with self._lock:
            for (account_id, key), model in self._models.items():
                name, item_generation, qualifier = parse_sort_key(key)
                if name == read_model and item_generation in versions:
                    versions[item_generation][(account_id, qualifier)] = model.version
        return lag_between(versions[active], versions[generation])

    def prune(self, read_model: str, *, now: datetime, dry_run: bool = False) -> dict[int, int]:
        counts: Counter[int] = Counter()
        with self._lock:
            pointer = self._pointers.get(read_model, Generations())
            for key in list(self._models):
                name, generation, _ = parse_sort_key(key[1])
                if name == read_model and pointer.prunable(generation, now):
                    counts[generation] += 1
                    if not dry_run:
                        del self._models[key]
        return dict(counts)


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[BusEntry] = []
        self.fail_indexes: set[int] = set()

    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        failed = [index for index in range(len(entries)) if index in self.fail_indexes]
        self.published.extend(entry for i, entry in enumerate(entries) if i not in failed)
        return failed

"""The ports the use cases depend on, and the types they exchange. Adapters implement
them for DynamoDB and EventBridge; `banking.adapters.memory` implements them in memory,
for real (docs/architecture.md has the table of which module implements which)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from attrs import frozen

from banking.domain.account import Account
from banking.domain.currency import Currency
from banking.domain.errors import DomainError
from banking.domain.events import Event, EventRef, PostingEvent, type_name
from banking.domain.money import Money
from banking.domain.read_models import AccountSummary, MonthlyStatement, ReadModel

Clock = Callable[[], datetime]
IdGenerator = Callable[[], str]


class VersionConflict(Exception):
    """Another writer appended this version first: reload and decide again.

    `taken` holds the events the store found at the refused versions, when it could
    say (DynamoDB returns each refused item with its cancellation reason; not with a
    conflict between two transactions in flight): what tells, with no further read,
    whether the refused write was our own whose answer was lost."""

    def __init__(self, message: str, taken: Sequence[StoredEvent] = ()) -> None:
        super().__init__(message)
        self.taken = tuple(taken)


class IdempotencyKeyTaken(Exception):
    """Another request with the same idempotency key was stored first: `record` is
    what it stored (None when the store could not say), so the request is answered
    without reading the key again."""

    def __init__(self, key: str, record: IdempotencyRecord | None = None) -> None:
        super().__init__(key)
        self.record = record


class EventNotFound(Exception):
    pass


class ReversalTaken(Exception):
    """A reversal of this original was stored first (its marker is there)."""


class StoreThrottled(DomainError):
    """The store refused a write for capacity, even after the SDK's own retries:
    nothing was stored, and the same request may be sent again a little later."""

    code = "service_unavailable"


class WriteCanceled(Exception):
    """The store canceled a write for a reason that is neither a conflict nor a
    throttle (a validation error, an item collection too large): a bug or a
    misconfiguration, never retried."""

    def __init__(self, reasons: Sequence[str | None]) -> None:
        super().__init__(f"the store canceled the write: {', '.join(map(str, reasons))}")
        self.reasons = list(reasons)


# The scope of a transfer's idempotency keys: never an account id (those have no "#").
TRANSFER_SCOPE = "#transfer"
# The scope of the idempotency keys of captures and voids (a hold id names the account).
HOLD_SCOPE = "#hold"


@frozen
class IdempotencyRecord:
    """What a stored idempotency key remembers: the request it answered and the answer
    (the event stored, or the transfer). A key is the caller's own (the token's
    subject) within its scope (an account id, or TRANSFER_SCOPE): two callers that
    happen to pick the same key are two requests."""

    account_id: str
    caller: str
    key: str
    fingerprint: str
    event: Event | None = None
    transfer_id: str | None = None


@frozen
class TransferPosting:
    """One posting of a stored transfer, in its accounts' currency."""

    from_account: str
    to_account: str
    amount: Money
    currency: Currency


@frozen
class Leg:
    """Where one leg of a transfer is stored: its account's version."""

    account_id: str
    version: int
    event_id: str
    type: str

    @classmethod
    def of(cls, event: PostingEvent) -> Leg:
        return cls(event.account_id, event.version, event.event_id, type_name(event))


@frozen
class TransferRecord:
    """The transfers table's item: what a transfer moved and where its legs are."""

    transfer_id: str
    recorded_at: datetime
    postings: tuple[TransferPosting, ...]
    legs: tuple[Leg, ...]
    description: str | None = None
    recorded_by: str | None = None
    correlation_id: str | None = None
    # The transfer this one reverses (issue 14).
    reverses: str | None = None


@frozen
class ReversalMarker:
    """That the posting `original` was reversed, by the posting `reversed_by` (event
    `event_id`, of transfer `transfer_id` when a transfer was reversed): the store's
    guard that an original is reversed at most once, written in the same transaction
    as the reversal itself."""

    original: EventRef
    reversed_by: EventRef
    event_id: str
    transfer_id: str | None = None


class HoldStatus(enum.Enum):
    PENDING = "pending"
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


@frozen
class HoldRecord:
    """The holds table's item: where a hold is (its account) and what became of it.
    Written in the transaction of the event that places or resolves it, conditional on
    its status, so a hold is resolved at most once."""

    hold_id: str
    account_id: str
    amount: Money
    currency: Currency
    placed_at: datetime
    expires_at: datetime
    version: int
    status: HoldStatus = HoldStatus.PENDING
    description: str | None = None
    recorded_by: str | None = None
    # Once resolved: the event that did it, and for a capture what it took and where.
    resolved_at: datetime | None = None
    resolved_version: int | None = None
    resolved_event_id: str | None = None
    captured_amount: Money | None = None
    captured_to: str | None = None
    transfer_id: str | None = None


@frozen
class StoredEvent:
    """An event as the store keeps it: the fact, the account state after it, and the
    correlation id of the request that caused it."""

    event: Event
    state: Account
    correlation_id: str | None = None


@frozen
class TransactionRecords:
    """Everything a transaction writes besides its events, each conditional on its own
    guard (see `EventStore.append_many`): a use case builds it, and each store turns it
    into its writes in one place."""

    idempotency: IdempotencyRecord | None = None
    transfer: TransferRecord | None = None
    hold: HoldRecord | None = None
    reversals: tuple[ReversalMarker, ...] = ()

    @property
    def empty(self) -> bool:
        return (
            self.idempotency is None
            and self.transfer is None
            and self.hold is None
            and not self.reversals
        )


NO_RECORDS = TransactionRecords()


class EventStore(Protocol):
    def load(self, account_id: str) -> Account:
        """The account's current state (version 0 when it has no event)."""

    def get(self, account_id: str, version: int) -> StoredEvent:
        """The stored event at `version`, with the state after it; raises EventNotFound."""

    def append(self, stored: StoredEvent, records: TransactionRecords = NO_RECORDS) -> None:
        """`append_many` of one event."""

    def append_many(
        self, stored_events: Sequence[StoredEvent], records: TransactionRecords = NO_RECORDS
    ) -> None:
        """Store every event iff each one's version is free (else VersionConflict),
        with the transfer record iff its id is free (else VersionConflict: the caller
        checks whether it is its own), the hold record iff its id is free (a pending
        one) or it is still pending (a resolved one; else VersionConflict), the
        idempotency record iff its key is free (else IdempotencyKeyTaken) and each
        reversal marker iff its original has none (else ReversalTaken): all or
        nothing. Events of one account are given in version order."""

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """The stored transfer, or None."""

    def hold(self, hold_id: str) -> HoldRecord | None:
        """The stored hold, or None."""

    def events(self, account_id: str, *, after: int, limit: int) -> Sequence[Event]:
        """Up to `limit` events with a version greater than `after`, in version order."""

    def idempotency_record(
        self, account_id: str, caller: str, key: str
    ) -> IdempotencyRecord | None: ...

    def reversal(self, original: EventRef) -> ReversalMarker | None:
        """The marker of the original's reversal, or None (read consistently)."""

    def last_at(
        self, account_id: str, moment: datetime, *, inclusive: bool = True
    ) -> StoredEvent | None:
        """The account's last event recorded at or before `moment` (strictly before it
        unless `inclusive`), with the state after it; None when there is none. A bounded
        number of reads however long the history, and never older than the table:
        recorded times never go backwards within an account (decisions.recorded_at), so
        the last such event is the one with the highest such version."""


@frozen
class Cursor:
    """The key of the last item a scan handled: the next one resumes after it."""

    account_id: str
    version: int


@frozen
class Unreadable:
    """A stored item this code cannot read (unknown type or schema version): reported,
    never silently skipped, and it does not stop the others."""

    account_id: str
    version: int
    error: str


Scanned = StoredEvent | Unreadable


class EventScanner(Protocol):
    def scan(
        self, *, segment: int = 0, total_segments: int = 1, after: Cursor | None = None
    ) -> Iterable[Scanned]:
        """One parallel-scan segment; each account's events in version order."""

    def scan_account(self, account_id: str, *, after: Cursor | None = None) -> Iterable[Scanned]:
        """One account's events in version order."""


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


class HoldIndex(Protocol):
    def holds_of(
        self, account_id: str, *, status: HoldStatus | None, after: int, limit: int
    ) -> Sequence[HoldRecord]:
        """Up to `limit` of the account's holds (of `status`, if given) placed at a
        version greater than `after`, in version order."""

    def expiring(self, moment: datetime, *, limit: int) -> Sequence[HoldRecord]:
        """Up to `limit` pending holds whose expiry is at or before `moment`, without a
        scan: what the expirer releases."""


class AccountDirectory(Protocol):
    def accounts_of(self, owner: str, *, after: str | None, limit: int) -> Sequence[AccountSummary]:
        """Up to `limit` of the accounts `owner` owns with an id after `after`, by id."""


class StatementReader(Protocol):
    def statement(self, account_id: str, month: str) -> MonthlyStatement | None: ...


@frozen
class Generations:
    """The generation pointer of one read model (see application.generations)."""

    active: int = 0
    building: int | None = None
    previous: int | None = None
    previous_until: datetime | None = None
    # The highest generation ever started: a new one never reuses an abandoned one's items.
    latest: int = 0

    def written(self, now: datetime) -> list[int]:
        """The generations a projector keeps up to date at `now`, the active one first."""
        generations = [self.active]
        if self.building is not None:
            generations.append(self.building)
        if (
            self.previous is not None
            and self.previous_until is not None
            and now < self.previous_until
            and self.previous not in generations
        ):
            generations.append(self.previous)
        return generations

    def prunable(self, generation: int, now: datetime) -> bool:
        """Whether nobody writes or reads `generation` any more: an abandoned one, or one
        replaced and past its grace period. One above `latest` may be starting: never."""
        return generation <= self.latest and generation not in self.written(now)


@frozen
class Lag:
    """An item of the active generation that the building one has not caught up with."""

    account_id: str
    qualifier: str | None
    active_version: int
    building_version: int | None


class GenerationConflict(Exception):
    """Another rebuild of this read model started, switched or was abandoned meanwhile."""


class GenerationStore(Protocol):
    def generations(self, read_model: str) -> Generations: ...

    def start_building(self, read_model: str) -> int:
        """Open a fresh generation for writes; raises GenerationConflict if one is open."""

    def switch(self, read_model: str, generation: int, *, grace_until: datetime) -> None:
        """Make `generation` the active one; the old one stays written until `grace_until`."""

    def abandon(self, read_model: str, generation: int) -> None: ...

    def lagging(self, read_model: str, generation: int) -> Sequence[Lag]:
        """Every item of the active generation that `generation` is behind of."""

    def prune(self, read_model: str, *, now: datetime, dry_run: bool = False) -> dict[int, int]:
        """Delete the items of every prunable generation (`dry_run`: count them only);
        answers how many items each such generation held."""


class Publisher(Protocol):
    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        """Publish the entries; returns the indexes of those that failed."""


@frozen
class BusEntry:
    source: str
    detail_type: str
    detail: dict[str, Any]

"""The simulated system: the in-memory stores, the events table's stream, the bus,
the dead-letter queues and the clients, with the functions (commands, fanout,
dispatcher, projectors, redrive, replay) run on them through the real application
layer. Every fault is decided here, by the scheduler's one random generator.

What each piece stands for, and how it fails:

- the events store appends through `SimEventStore`, which may let another command on
  the same account run between a command's load and its append (a real version
  conflict), may crash the function before or after its write, or may lose the
  write's answer so that the SDK's retry meets its own item;
- the stream keeps each account's records in order (as DynamoDB Streams does per
  partition key); the fanout reads a batch from the front of one account's records,
  and a batch that fails too often is parked (its keys, as the on-failure destination
  records them) until a redrive reads the events back from the events table;
- the bus holds every published entry until it is delivered, in any order, maybe
  twice; a target that fails is retried, then parked in its dead-letter queue;
- the projection store may crash the projector between any two of its writes;
- the expirer (`expire`) runs on the simulated clock, may crash like any function,
  and may run between another write's load and its append on the same hold.

Clients place, capture and void holds and reverse postings and transfers through the
same use cases the HTTP handlers call (`_EXECUTORS`), with the same keys and retries.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from attrs import define, field, frozen

from banking.adapters.dynamodb.codec import event_item, from_item
from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore
from banking.application.commands import CommandDependencies, record
from banking.application.dispatch import bus_entry, state_carried_event
from banking.application.envelope import (
    EVENT_STORED_DETAIL_TYPE,
    EVENT_STORED_SOURCE,
    STATE_CARRIED_SOURCE,
    EventStored,
)
from banking.application.fanout import StreamChange, fan_out
from banking.application.holds import capture_hold, expire_holds, place_hold, void_hold
from banking.application.ports import (
    HOLD_SCOPE,
    NO_RECORDS,
    TRANSFER_SCOPE,
    BusEntry,
    EventNotFound,
    HoldRecord,
    Lag,
    StoredEvent,
    TransactionRecords,
    TransferRecord,
    VersionConflict,
)
from banking.application.projection import KEPT_READ_MODELS, project
from banking.application.rebuild import SWITCHED, Rebuild
from banking.application.redrive import envelopes, redriven
from banking.application.replay import REPLAY_SOURCE, ReplayOptions, replay
from banking.application.reversals import reverse_entry, reverse_transfer
from banking.application.transfers import transfer
from banking.domain.commands import AccountCommand, Command
from banking.domain.errors import DomainError
from banking.domain.events import (
    Credited,
    Debited,
    Event,
    EventRef,
    HoldPlaced,
)
from banking.domain.holds import CaptureHold, PlaceHold, VoidHold
from banking.domain.read_models import (
    PROJECTIONS,
    READ_MODEL_NAMES,
    ReadModel,
    StateCarriedEvent,
    TotalBalance,
    qualifier_of,
)
from banking.domain.reversals import ReverseEntry
from banking.domain.transfer import Transfer
from banking.serialization import (
    event_to_dict,
    read_model_to_item,
    snapshot_of,
    state_carried_from_dict,
)
from tests.simulation.invariants import (
    ACKNOWLEDGED,
    ANSWER_CHECKS,
    APPEND_CHECKS,
    QUIESCENCE_CHECKS,
    READ_MODEL_CHECKS,
    REJECTED,
    SWITCH_CHECKS,
    Answer,
    Append,
    Memory,
    ReadModelWrite,
    Switch,
    check,
    hold_of,
    remember_append,
    remember_read_model,
    remember_switch,
)
from tests.simulation.scheduler import Ids, Scheduler, SimClock

# How often EventBridge and the stream's event source mapping try before they park a
# record (their retry policies in terraform, scaled down so parking happens often).
DELIVERY_ATTEMPTS = 3
STREAM_BATCH_ATTEMPTS = 3
MAX_STREAM_BATCH = 4
TRACE_LENGTH = 25
# How many rebuild steps a generation may stay behind before it is abandoned, and how
# long the replaced one stays written for readers with a cached pointer.
REBUILD_PATIENCE = 30
GRACE = timedelta(seconds=30)
# How many holds one page of the expirer releases (small, so a run takes several).
EXPIRY_BATCH = 5
# How many recent postings, transfers and holds the clients pick from to reverse,
# capture or void (older ones are as good, and a bounded list is O(1) to pick from).
RECENT = 300


@frozen
class Chances:
    """How likely each fault is, where it can happen (0 turns it off)."""

    concurrent_command: float = 0.15
    crash_before_append: float = 0.03
    crash_after_append: float = 0.03
    answer_lost_then_sdk_retry: float = 0.03
    answer_lost_to_client: float = 0.05
    fanout_crash_after_publish: float = 0.05
    bus_rejects_entry: float = 0.03
    stream_batch_parked: float = 0.02
    delivered_twice: float = 0.05
    bus_event_parked: float = 0.02
    dispatcher_crash: float = 0.04
    projector_crash: float = 0.06
    # Not a fault: a transfer out of an account past its limit and back in (it found
    # the legs stored debit first, below the limit; see operations.transfer).
    round_trip_transfer: float = 0.1

    @classmethod
    def none(cls) -> Chances:
        return cls(**{f.name: 0.0 for f in attrs.fields(cls)})


class Crash(Exception):
    """The function stopped here (killed, timed out): nothing after this point ran."""


@frozen
class ReverseTransfer:
    """POST /transfers/{transferId}/reversal (its reversal's own id is new per attempt)."""

    transfer_id: str


# What a client may ask for.
Asked = (
    Command
    | AccountCommand
    | Transfer
    | PlaceHold
    | CaptureHold
    | VoidHold
    | ReverseEntry
    | ReverseTransfer
)
Answered = Event | TransferRecord | HoldRecord


@define
class Request:
    """One client request, sent again with the same idempotency key until answered."""

    id: str
    caller: str
    key: str
    command: Asked
    attempts: int = 0


@define
class RunningRebuild:
    """A `ledger rebuild` in progress: the rebuild, its remaining stages, and how many
    times it found the generation still behind."""

    rebuild: Rebuild
    stages: Iterator[Sequence[Lag]]
    waited: int = 0


@define
class Delivery:
    """A bus entry on its way to its target."""

    entry: BusEntry
    attempts: int = 0


class SimEventStore(InMemoryEventStore):
    """The in-memory events table, with the faults of a write and the stream."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self._world = world

    def append_many(
        self, stored_events: Sequence[StoredEvent], records: TransactionRecords = NO_RECORDS
    ) -> None:
        world = self._world
        world.interleave(stored_events)
        world.maybe_crash("crash_before_append")
        before = {s.event.account_id: self.load(s.event.account_id) for s in stored_events}
        kept = (
            attrs.evolve(records, reversals=())
            if "reversal_marker_skipped" in world.bugs
            else records
        )
        super().append_many(stored_events, kept)
        world.appended(
            Append(
                stored_events,
                before,
                records.transfer,
                world.current_request(),
                world.current_key(),
                hold=records.hold,
                reversals=records.reversals,
                at=world.clock(),
            )
        )
        world.maybe_crash("crash_after_append")
        if world.fault("answer_lost_then_sdk_retry"):
            # The SDK's retry of a write whose answer was lost fails its condition on
            # the item the first try wrote: the command must see its own success.
            raise VersionConflict("the retry met the item its first try wrote")


class SimProjectionStore(InMemoryProjectionStore):
    """The in-memory projections table; a projector may crash between two writes."""

    def __init__(self, world: World) -> None:
        super().__init__(clock=world.clock)
        self._world = world
        # Writes left before the running projector crashes (None: it does not).
        self.writes_left: int | None = None

    def save(self, account_id: str, model: ReadModel) -> bool:
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise Crash("projector stopped between two writes")
            self.writes_left -= 1
        written = super().save(account_id, model)
        # An owner's list lives in the owner's partition but belongs to its account.
        owner = getattr(model, "account_id", account_id)
        self._world.read_model_written(ReadModelWrite(account_id, owner, model, written))
        return written

    def switch(self, read_model: str, generation: int, *, grace_until: datetime) -> None:
        # Where `ledger rebuild` turns the readers to the new generation: what they see
        # just before and just after is checked.
        before = self._world.read_model_versions(read_model, None)
        super().switch(read_model, generation, grace_until=grace_until)
        after = self._world.read_model_versions(read_model, generation)
        self._world.switched(Switch(read_model, generation, before, after))


class SimBus:
    """A `Publisher`: what it accepts waits in `World.bus` until delivered."""

    def __init__(self, world: World, *, may_reject: bool) -> None:
        self._world = world
        self._may_reject = may_reject

    def publish(self, entries: Sequence[BusEntry]) -> list[int]:
        failed = []
        for index, entry in enumerate(entries):
            if self._may_reject and self._world.fault("bus_rejects_entry"):
                failed.append(index)
            else:
                self._world.bus.append(Delivery(_as_json(entry)))
        return failed


def _as_json(entry: BusEntry) -> BusEntry:
    # EventBridge carries JSON: what a target gets is what survives the trip.
    return BusEntry(entry.source, entry.detail_type, json.loads(json.dumps(entry.detail)))


@define
class Targets:
    """What clients pick from for a capture, a void or a reversal: the pending holds,
    and the recent resolved holds, postings, reversals, transfers and transfer legs."""

    pending_holds: dict[str, None] = field(factory=dict)
    resolved_holds: list[str] = field(factory=list)
    postings: list[EventRef] = field(factory=list)
    reversals: list[EventRef] = field(factory=list)
    reversed: list[EventRef] = field(factory=list)
    transfers: list[str] = field(factory=list)
    legs: list[EventRef] = field(factory=list)

    def saw(self, append: Append) -> None:
        for stored in append.events:
            event = stored.event
            ref = EventRef(event.account_id, event.version)
            hold_id = hold_of(event)
            if isinstance(event, HoldPlaced):
                self.pending_holds[event.hold_id] = None
            elif hold_id is not None:
                self.pending_holds.pop(hold_id, None)
                _recent(self.resolved_holds, hold_id)
            if not isinstance(event, Credited | Debited):
                continue
            if event.reverses is not None:
                _recent(self.reversals, ref)
                _recent(self.reversed, event.reverses)
            elif event.transfer_id is not None:
                _recent(self.legs, ref)
            else:
                _recent(self.postings, ref)
        if append.transfer is not None:
            _recent(self.transfers, append.transfer.transfer_id)


def _recent(items: list[Any], item: Any) -> None:
    items.append(item)
    if len(items) > 2 * RECENT:
        del items[:RECENT]


@define(slots=False)
class World:
    scheduler: Scheduler
    chances: Chances = Chances()
    clock: SimClock = field(factory=SimClock)
    faults: Counter[str] = field(factory=Counter)
    counts: Counter[str] = field(factory=Counter)
    trace: deque[str] = field(factory=lambda: deque(maxlen=TRACE_LENGTH))
    stream: dict[str, deque[StoredEvent]] = field(factory=dict)
    stream_attempts: Counter[str] = field(factory=Counter)
    stream_parked: list[tuple[str, int]] = field(factory=list)
    bus: list[Delivery] = field(factory=list)
    bus_parked: list[BusEntry] = field(factory=list)
    unanswered: list[Request] = field(factory=list)
    accounts: list[str] = field(factory=list)
    keys_used: list[str] = field(factory=list)
    key_callers: dict[str, list[str]] = field(factory=dict)
    rebuild: RunningRebuild | None = None
    targets: Targets = field(factory=Targets)
    # What is running, innermost last: a client's request, or None for the expirer.
    _requests: list[Request | None] = field(factory=list)
    _ids: dict[str, Ids] = field(factory=dict)
    # Bugs the tests plant to prove the invariants catch them.
    bugs: frozenset[str] = frozenset()
    # Runs what comes between a write's load and its append: another request on one
    # of its accounts, or a capture, void or expirer run racing it on its hold.
    rival: Callable[[World, Sequence[StoredEvent]], None] | None = None

    def __attrs_post_init__(self) -> None:
        self.store = SimEventStore(self)
        self.projections = SimProjectionStore(self)
        self.publisher = SimBus(self, may_reject=True)
        # Redrive and replay retry what the bus rejects themselves (replay with a real
        # sleep, which a simulation must not take): the bus they use rejects nothing.
        self.reliable_publisher = SimBus(self, may_reject=False)
        self.memory = Memory(
            self.store,
            self.projections,
            sampler=random.Random(self.scheduler.seed),
            clock=self.clock,
        )
        self.deps = CommandDependencies(
            store=self.store,
            clock=self.clock,
            new_id=self.new_id("evt"),
            # A backoff's length is drawn from the global random: it must not move the clock.
            sleep=lambda _: None,
            on_conflict=lambda: self.counts.update(["version conflicts"]),
        )

    # --- chance ---------------------------------------------------------------------

    def new_id(self, prefix: str) -> Callable[[], str]:
        return self._ids.setdefault(prefix, Ids(prefix))

    def fault(self, kind: str) -> bool:
        if self.scheduler.chance(getattr(self.chances, kind)):
            self.faults[kind] += 1
            return True
        return False

    def maybe_crash(self, kind: str) -> None:
        if self.fault(kind):
            raise Crash(kind)

    def note(self, line: str) -> None:
        self.trace.append(line)

    # --- clients and the commands function -------------------------------------------

    def current_request(self) -> str | None:
        request = self._requests[-1] if self._requests else None
        return request.id if request else None

    def current_key(self) -> tuple[str, str, str] | None:
        request = self._requests[-1] if self._requests else None
        if request is None:
            return None
        command = request.command
        if isinstance(command, Transfer | ReverseTransfer):
            scope = TRANSFER_SCOPE
        elif isinstance(command, CaptureHold | VoidHold):
            scope = HOLD_SCOPE
        else:
            scope = command.account_id
        return (request.caller, scope, request.key)

    def running(self) -> str:
        request = self._requests[-1] if self._requests else None
        return request.id if request else "the expirer"

    def send(self, request: Request) -> None:
        """The commands function handles one attempt of the request, and the client
        gets its answer (or not)."""
        request.attempts += 1
        self._requests.append(request)
        try:
            answer = self._execute(request)
        except DomainError as error:
            self.note(f"  {request.id} refused: {error.code}")
            self.answered(Answer(request.id, REJECTED, code=error.code))
            return
        except Crash as crash:
            self.note(f"  {request.id} crashed ({crash}): the client will retry")
            self.unanswered.append(request)
            return
        finally:
            self._requests.pop()
        if self.fault("answer_lost_to_client"):
            self.note(f"  {request.id} stored, answer lost: the client will retry")
            self.unanswered.append(request)
            return
        self.note(f"  {request.id} acknowledged")
        self.counts[f"acknowledged {type(request.command).__name__}"] += 1
        self.answered(Answer(request.id, ACKNOWLEDGED, answered=answer))

    def _execute(self, request: Request) -> Answered:
        run = _EXECUTORS.get(type(request.command), _record)
        return run(self, request)

    def interleave(self, stored_events: Sequence[StoredEvent]) -> None:
        """Between a write's load and its append, maybe let another one on one of its
        accounts (or its hold) run to its end (one level deep)."""
        if len(self._requests) != 1 or not self.fault("concurrent_command"):
            return
        if self.rival is not None:
            self.rival(self, stored_events)

    def expire(self) -> None:
        """One run of the expirer (`banking.application.holds.expire_holds`, what the
        scheduled function runs) on the simulated clock; it may crash like any function."""
        self._requests.append(None)
        try:
            run = expire_holds(self.store, self.deps, batch=EXPIRY_BATCH)
        except Crash as crash:
            self.note(f"  the expirer crashed ({crash}): a later run releases the rest")
            return
        finally:
            self._requests.pop()
        self.counts["expirer runs"] += 1
        self.counts["holds expired"] += run.expired
        self.note(f"  the expirer released {run.expired} ({run.already_resolved} resolved already)")

    # --- the invariants' hooks --------------------------------------------------------

    def appended(self, append: Append) -> None:
        check(self.memory, APPEND_CHECKS, append)
        remember_append(self.memory, append)
        self.targets.saw(append)
        for stored in append.events:
            account = stored.event.account_id
            if account not in self.stream:
                self.stream[account] = deque()
                self.accounts.append(account)
            self.stream[account].append(stored)
        self.counts["events stored"] += len(append.events)

    def answered(self, answer: Answer) -> None:
        check(self.memory, ANSWER_CHECKS, answer)
        self.counts[f"requests {answer.outcome}"] += 1
        if answer.code is not None:
            self.counts[f"refused {answer.code}"] += 1

    def read_model_written(self, write: ReadModelWrite) -> None:
        check(self.memory, READ_MODEL_CHECKS, write)
        remember_read_model(self.memory, write)

    def check_quiescent(self) -> None:
        check(self.memory, QUIESCENCE_CHECKS, self.accounts)

    # --- the fanout ---------------------------------------------------------------------

    def fan_out_batch(self, account: str) -> None:
        """One invocation of the fanout on a batch from the front of `account`'s records."""
        records = self.stream[account]
        batch = [
            records[i]
            for i in range(min(len(records), self.scheduler.between(1, MAX_STREAM_BATCH)))
        ]
        if self.fault("stream_batch_parked"):
            self._park_stream(account, len(batch), "retries exhausted")
            return
        changes = [
            StreamChange(
                f"{s.event.account_id}:{s.event.version}", "INSERT", from_item(event_item(s))
            )
            for s in batch
        ]
        if "fanout_drops" in self.bugs:
            changes = changes[1:]
        failures = fan_out(changes, self.publisher)
        if self.fault("fanout_crash_after_publish"):
            self.note(f"  fanout crashed after publishing {len(batch)} of {account}: all again")
            self._failed_stream_batch(account, len(batch))
            return
        # Partial batch response: the event source mapping checkpoints before the first
        # failure, and sends that record and those after it again.
        done = next(
            (i for i, change in enumerate(changes) if change.record_id in failures), len(batch)
        )
        for _ in range(done if "fanout_drops" not in self.bugs else len(batch)):
            records.popleft()
        self.stream_attempts[account] = 0
        self.note(f"  fanout published {done} of {len(batch)} records of {account}")
        if done < len(batch):
            self._failed_stream_batch(account, len(batch) - done)

    def _failed_stream_batch(self, account: str, size: int) -> None:
        self.stream_attempts[account] += 1
        if self.stream_attempts[account] >= STREAM_BATCH_ATTEMPTS:
            self._park_stream(account, size, "retries exhausted")

    def _park_stream(self, account: str, size: int, why: str) -> None:
        records = self.stream[account]
        for _ in range(size):
            parked = records.popleft()
            self.stream_parked.append((account, parked.event.version))
        self.stream_attempts[account] = 0
        self.note(f"  {size} stream records of {account} parked ({why})")

    # --- the bus and its targets -----------------------------------------------------

    def deliver(self, index: int) -> None:
        """Deliver the pending entry at `index` to its target (once, twice or never)."""
        delivery = self.bus[index]
        if self.fault("bus_event_parked"):
            self._remove(index)
            self.bus_parked.append(delivery.entry)
            self.note(f"  {_describe(delivery.entry)} parked in its dead-letter queue")
            return
        twice = self.fault("delivered_twice")
        if not twice:
            self._remove(index)
        try:
            self._invoke(delivery.entry)
        except Crash as crash:
            self.note(f"  {_describe(delivery.entry)}: target crashed ({crash})")
            if twice:
                return  # the other copy is still pending
            delivery.attempts += 1
            if delivery.attempts >= DELIVERY_ATTEMPTS:
                self.bus_parked.append(delivery.entry)
                self.note("  parked after its last attempt")
            else:
                self.bus.append(delivery)
            return
        self.note(
            f"  {_describe(delivery.entry)} delivered{' (a copy stays pending)' if twice else ''}"
        )

    def _remove(self, index: int) -> None:
        # Order does not matter (deliveries are picked at random): O(1) removal.
        self.bus[index] = self.bus[-1]
        self.bus.pop()

    def _invoke(self, entry: BusEntry) -> None:
        if (entry.source, entry.detail_type) == (EVENT_STORED_SOURCE, EVENT_STORED_DETAIL_TYPE):
            self._dispatch(entry)
        elif entry.source in (STATE_CARRIED_SOURCE, REPLAY_SOURCE):
            self._project(entry)
        else:
            raise AssertionError(f"no rule matches {entry.source} {entry.detail_type}")

    def _dispatch(self, entry: BusEntry) -> None:
        envelope = EventStored.from_detail(entry.detail)
        carried = state_carried_event(envelope, self.store)
        typed = bus_entry(carried, correlation_id=envelope.correlation_id, replay=envelope.replay)
        self.maybe_crash("dispatcher_crash")
        if self.publisher.publish([typed]):
            raise Crash("the bus rejected the dispatcher's entry")
        self.counts["dispatched"] += 1

    def _project(self, entry: BusEntry) -> None:
        carried = state_carried_from_dict(entry.detail)
        names = entry.detail.get("readModels") or KEPT_READ_MODELS
        if self.fault("projector_crash"):
            self.projections.writes_left = self.scheduler.between(0, 3)
        try:
            project(carried, self.projections, names)
            if "projector_applies_twice" in self.bugs:
                _apply_again(carried, self.projections)
        finally:
            self.projections.writes_left = None
        self.counts["projected"] += 1

    # --- redrive and replay -------------------------------------------------------------

    def redrive(self) -> int:
        """`ledger redrive`: each parked record or event names a stored event, which is
        read back from the events table and sent again, by the code scripts/ops/redrive.py
        runs (`banking.application.redrive`)."""
        keys, self.stream_parked = self.stream_parked, []
        entries, self.bus_parked = self.bus_parked, []
        fresh = envelopes(keys, self._item)
        for entry in entries:
            fresh += redriven(entry, self.store, self._item)
        self.reliable_publisher.publish(fresh)
        return len(fresh)

    def _item(self, account: str, version: int) -> dict[str, Any] | None:
        try:
            return from_item(event_item(self.store.get(account, version)))
        except EventNotFound:
            return None

    def rebuild_step(self) -> None:
        """One stage of `ledger rebuild`, by the code scripts/ops/rebuild.py runs
        (`banking.application.rebuild`): open a generation and replay every account into
        it; on later steps, switch readers to it once it has caught up, or abandon it if
        it stays behind."""
        if self.rebuild is None:
            # `ledger prune` first: the generations replaced before, past their grace.
            for read_model in sorted(PROJECTIONS):
                self.projections.prune(read_model, now=self.clock())
            opened = Rebuild.open(self.projections, self.scheduler.choice(sorted(PROJECTIONS)))
            stages = opened.run(
                replay=self._replay_every_account,
                # The quiescence checks compare every read model with the fold.
                fold_agrees=lambda generation: True,
                grace_until=lambda: self.clock() + GRACE,
            )
            self.rebuild = RunningRebuild(opened, stages)
            self.note(f"  rebuild of {opened.read_model}: generation {opened.generation} opened")
        running = self.rebuild
        rebuild = running.rebuild
        lagging = next(running.stages, None)
        if lagging is not None:
            running.waited += 1
            if running.waited < REBUILD_PATIENCE:
                return
            rebuild.abandon(f"{len(lagging)} item(s) behind")
        self.rebuild = None
        name, generation = rebuild.read_model, rebuild.generation
        if rebuild.outcome == SWITCHED:
            self.counts["rebuilds switched"] += 1
            self.note(f"  rebuild of {name}: readers switched to generation {generation}")
        else:
            self.counts["rebuilds abandoned"] += 1
            self.note(f"  rebuild of {name}: generation {generation} abandoned")

    def _replay_every_account(self, options: ReplayOptions) -> bool:
        failures = []
        for account in self.accounts:
            failures += replay(
                self.store.scan_account(account), self.reliable_publisher, options
            ).failures
        return not failures

    def switched(self, switch: Switch) -> None:
        check(self.memory, SWITCH_CHECKS, switch)
        remember_switch(self.memory, switch)

    def read_model_versions(
        self, name: str, generation: int | None
    ) -> dict[tuple[str, str | None], int]:
        chosen = {name: generation} if generation is not None else None
        return {
            (account, qualifier_of(model)): model.version
            for account in self.accounts
            for model in self.projections.load(account, generations=chosen)
            if READ_MODEL_NAMES[type(model)] == name
        }

    # --- quiescence ---------------------------------------------------------------------

    def settle(self) -> None:
        """Let everything in flight land, with no fault, then redrive what was parked,
        until nothing is left anywhere; the client retries what it never got an answer to."""
        chances, self.chances = self.chances, Chances.none()
        try:
            while (
                self.unanswered
                or self.bus
                or self.stream_parked
                or self.bus_parked
                or any(self.stream.values())
                or self.store.expiring(self.clock(), limit=1)
            ):
                while self.unanswered:
                    self.send(self.unanswered.pop())
                self.expire()
                for account in self.accounts:
                    while self.stream[account]:
                        self.fan_out_batch(account)
                while self.bus:
                    self.deliver(len(self.bus) - 1)
                self.redrive()
                if self.rebuild is not None and not self.bus:
                    self.rebuild_step()
        finally:
            self.chances = chances
        self.check_quiescent()

    def digest(self) -> str:
        """A fingerprint of every stored event and read model: same seed, same digest."""
        hashed = hashlib.sha256()
        for stored in self.store.all_stored():
            item = {**event_to_dict(stored.event), "snapshot": snapshot_of(stored.state)}
            hashed.update(_canonical(item))
        for account in self.accounts:
            for model in self.projections.load(account):
                hashed.update(_canonical(read_model_to_item(model)))
        return hashed.hexdigest()[:16]


def _canonical(data: object) -> bytes:
    # Sets (an account's owners) in sorted order: their own order follows string
    # hashing, which differs between processes.
    def plain(value: object) -> object:
        return sorted(map(str, value)) if isinstance(value, set | frozenset) else str(value)

    return json.dumps(data, sort_keys=True, default=plain).encode()


def _describe(entry: BusEntry) -> str:
    return f"{entry.detail_type} {entry.detail.get('accountId')} v{entry.detail.get('version')}"


def _apply_again(carried: StateCarriedEvent, projections: SimProjectionStore) -> None:
    """A planted bug: a projector that treats its event as a delta and adds it to what
    the balance already holds (so a duplicate counts twice)."""
    if carried.amount is None:
        return
    held = [m for m in projections.load(carried.account_id) if isinstance(m, TotalBalance)]
    if held:
        doubled = TotalBalance(held[0].amount + carried.amount, held[0].version + 1)
        projections.save(carried.account_id, doubled)


# --- what the commands function runs for each request ------------------------------


def _record(world: World, request: Request) -> Answered:
    command = request.command
    if not isinstance(command, Command | AccountCommand):
        raise TypeError(f"no executor for {type(command).__name__}")
    return record(
        command,
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


def _transfer(world: World, request: Request) -> Answered:
    # Each HTTP request gets a new transfer id; the key makes a retry the same.
    command = attrs.evolve(_as(request, Transfer), transfer_id=world.new_id("tr")())
    return transfer(
        command,
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


def _place_hold(world: World, request: Request) -> Answered:
    # Each HTTP request gets a new hold id, as a transfer gets its id.
    command = attrs.evolve(_as(request, PlaceHold), hold_id=world.new_id("hold")())
    return place_hold(
        command,
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


def _capture_hold(world: World, request: Request) -> Answered:
    return capture_hold(
        _as(request, CaptureHold),
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        transfer_id=world.new_id("tr")(),
        correlation_id=request.id,
    )


def _void_hold(world: World, request: Request) -> Answered:
    return void_hold(
        _as(request, VoidHold),
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


def _reverse_entry(world: World, request: Request) -> Answered:
    return reverse_entry(
        _as(request, ReverseEntry),
        world.deps,
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


def _reverse_transfer(world: World, request: Request) -> Answered:
    return reverse_transfer(
        _as(request, ReverseTransfer).transfer_id,
        world.deps,
        reversal_id=world.new_id("tr")(),
        idempotency_key=request.key,
        caller=request.caller,
        correlation_id=request.id,
    )


C = TypeVar("C")


def _as(request: Request, kind: type[C]) -> C:
    if not isinstance(request.command, kind):
        raise TypeError(f"{request.id} is a {type(request.command).__name__}")
    return request.command


_EXECUTORS: dict[type[Asked], Callable[[World, Request], Answered]] = {
    Transfer: _transfer,
    PlaceHold: _place_hold,
    CaptureHold: _capture_hold,
    VoidHold: _void_hold,
    ReverseEntry: _reverse_entry,
    ReverseTransfer: _reverse_transfer,
}

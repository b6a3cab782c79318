"""The ledger's invariants, checked at the moment each write lands (so within every
step, on the accounts that step touched), and over everything at quiescence.

Each check is one function in the table of the moment it runs at: `APPEND_CHECKS`
(an append landed in the events table), `ANSWER_CHECKS` (a client was answered),
`READ_MODEL_CHECKS` (a projector wrote or was refused a read model),
`SWITCH_CHECKS` (a rebuild switched readers to a new generation) and
`QUIESCENCE_CHECKS` (nothing is in flight any more). A check raises
`InvariantViolated`; what it needs to remember between steps lives in `Memory`,
updated by `remember_*` after the checks, so each check costs O(1) or O(accounts
touched). A new invariant (holds, reversals) is one function in one table.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from attrs import define, field, frozen

from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore
from banking.application.conservation import conservation
from banking.application.history import state_at
from banking.application.ports import (
    EventNotFound,
    HoldRecord,
    HoldStatus,
    Leg,
    ReversalMarker,
    StoredEvent,
    TransferRecord,
)
from banking.application.verification import all_events, differences, expected_read_models
from banking.domain.account import Account, evolve, fold
from banking.domain.errors import AccountNotFound
from banking.domain.events import (
    AccountOpened,
    Credited,
    Debited,
    Event,
    EventRef,
    HoldExpired,
    HoldPlaced,
    HoldVoided,
    OverdraftLimitChanged,
    signed_amount,
)
from banking.domain.money import Money
from banking.domain.read_models import (
    PROJECTIONS,
    READ_MODEL_NAMES,
    ReadModel,
    StateCarriedEvent,
    owned_accounts,
    owner_partition,
    qualifier_of,
)

T = TypeVar("T")
ZONE = ZoneInfo("UTC")
ACKNOWLEDGED, REJECTED = "acknowledged", "rejected"


class InvariantViolated(Exception):
    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@frozen
class Append:
    """One write that landed: its events (with the states after them), the states of
    their accounts before it, and the request (correlation id) that made it."""

    events: Sequence[StoredEvent]
    before: Mapping[str, Account]
    transfer: TransferRecord | None
    request: str | None
    # The request's idempotency key as the store scopes it: (caller, scope, key).
    key: tuple[str, str, str] | None = None
    # The hold record and the reversal markers written in the same transaction, and
    # the simulated clock when it landed.
    hold: HoldRecord | None = None
    reversals: Sequence[ReversalMarker] = ()
    at: datetime | None = None


@frozen
class Answer:
    """What a client was answered for a request: the event or transfer acknowledged,
    or a refusal (a 4xx) with its code."""

    request: str
    outcome: str
    answered: Event | TransferRecord | HoldRecord | None = None
    code: str | None = None


@frozen
class ReadModelWrite:
    """A projector's conditional write of `model` (of `account_id`) into `partition`:
    whether it landed."""

    partition: str
    account_id: str
    model: ReadModel
    written: bool


@define
class Memory:
    """What the checks remember between steps."""

    store: InMemoryEventStore
    projections: InMemoryProjectionStore
    versions: dict[str, int] = field(factory=dict)
    # Per currency, in minor units: the sum of every balance, and the external
    # credits minus the external debits.
    balances: Counter[str] = field(factory=Counter)
    external: Counter[str] = field(factory=Counter)
    # How many writes each request (correlation id) landed.
    writes: Counter[str] = field(factory=Counter)
    # The request that stored each idempotency key (caller, scope, key).
    keys: dict[tuple[str, str, str], str] = field(factory=dict)
    # The newest version each read model item holds: (partition, name, qualifier).
    read_models: dict[tuple[str, str, str | None], int] = field(factory=dict)
    checks: Counter[str] = field(factory=Counter)
    last_carried: tuple[tuple[str, int], StateCarriedEvent] | None = None
    # Every hold placed, as the events tell it (never the store's hold records, which
    # the code under test writes), and each account's pending ones: id -> minor units.
    holds: dict[str, HoldFacts] = field(factory=dict)
    pending: dict[str, dict[str, int]] = field(factory=dict)
    # Every posting reversed so far.
    reversed: set[EventRef] = field(factory=set)
    # Picks the past instants the balance-at check asks for: its own generator, so the
    # checks never move the scheduler's (a seed runs the same with or without them).
    sampler: random.Random = field(factory=lambda: random.Random(0))
    # The simulated clock (quiescence judges which holds are due by it).
    clock: Callable[[], datetime] | None = None
    appends: int = 0


@define
class HoldFacts:
    """A hold as its events tell it: where, how much, until when, and the event that
    resolved it (None: pending)."""

    account_id: str
    amount: Money
    expires_at: datetime
    resolved_by: str | None = None


def check(memory: Memory, table: Mapping[str, Callable[[Memory, T], None]], what: T) -> None:
    for name, invariant in table.items():
        memory.checks[name] += 1
        invariant(memory, what)


# --- when an append lands -----------------------------------------------------------


def versions_gapless(memory: Memory, append: Append) -> None:
    expected = dict(memory.versions)
    for stored in append.events:
        account = stored.event.account_id
        expected[account] = expected.get(account, 0) + 1
        if stored.event.version != expected[account]:
            raise InvariantViolated(
                "versions_gapless",
                f"{account} stored version {stored.event.version} after {expected[account] - 1}",
            )


def snapshot_is_the_fold(memory: Memory, append: Append) -> None:
    """The state stored with each event is the previous state with the event folded in
    (what the dispatcher and replay publish as the aggregate)."""
    states = dict(append.before)
    for stored in append.events:
        account = stored.event.account_id
        states[account] = evolve(states[account], stored.event, ZONE)
        if stored.state != states[account]:
            raise InvariantViolated(
                "snapshot_is_the_fold",
                f"{account} v{stored.event.version} stored {stored.state}, "
                f"the fold gives {states[account]}",
            )


def holds_resolved_once(memory: Memory, append: Append) -> None:
    """A hold is placed once, then resolved at most once (captured, voided or
    expired), on its own account: captured or voided only before its expiry, expired
    only at or after it, judged on the simulated clock that each event was recorded
    by; the hold record written with it says the same."""
    for stored in append.events:
        event = stored.event
        hold_id = hold_of(event)
        if hold_id is None:
            continue
        facts = memory.holds.get(hold_id)
        where = f"hold {hold_id}: {event.account_id} v{event.version} {type(event).__name__}"
        if isinstance(event, HoldPlaced):
            if facts is not None:
                raise InvariantViolated("holds_resolved_once", f"{where} placed a second time")
        elif facts is None:
            raise InvariantViolated("holds_resolved_once", f"{where} resolves a hold never placed")
        elif facts.resolved_by is not None:
            raise InvariantViolated(
                "holds_resolved_once", f"{where} resolves it again, after {facts.resolved_by}"
            )
        elif facts.account_id != event.account_id:
            raise InvariantViolated("holds_resolved_once", f"{where}, placed on {facts.account_id}")
        elif isinstance(event, HoldExpired) and event.recorded_at < facts.expires_at:
            raise InvariantViolated(
                "holds_resolved_once", f"{where} before its expiry {facts.expires_at}"
            )
        elif not isinstance(event, HoldExpired) and event.recorded_at >= facts.expires_at:
            raise InvariantViolated(
                "holds_resolved_once",
                f"{where} at {event.recorded_at}, after its expiry {facts.expires_at}",
            )
        if append.at is not None and event.recorded_at > append.at:
            raise InvariantViolated("holds_resolved_once", f"{where} recorded in the future")
        record = append.hold
        if record is None or record.hold_id != hold_id or record.status != _STATUS[type(event)]:
            raise InvariantViolated(
                "holds_resolved_once", f"{where} written with hold record {record}"
            )


def captures_within_hold(memory: Memory, append: Append) -> None:
    """A capture takes at most what its hold reserved, in the hold's currency."""
    for stored in append.events:
        event = stored.event
        if not isinstance(event, Debited) or event.hold_id is None:
            continue
        facts = memory.holds.get(event.hold_id)
        if facts is not None and (
            event.amount.digits != facts.amount.digits or event.amount > facts.amount
        ):
            raise InvariantViolated(
                "captures_within_hold",
                f"{event.account_id} v{event.version} captured {event.amount} "
                f"of hold {event.hold_id}, which held {facts.amount}",
            )


def held_is_pending_holds(memory: Memory, append: Append) -> None:
    """The holds carried in each stored state are the pending ones, as the events
    placed and resolved them: the held amount is their sum."""
    for stored, pending in zip(append.events, _pending_after(memory, append), strict=True):
        state = stored.state
        carried = {hold_id: hold.amount.minor for hold_id, hold in state.holds.items()}
        if carried != pending or state.held.minor != sum(pending.values()):
            raise InvariantViolated(
                "held_is_pending_holds",
                f"{state.account_id} v{state.version} carries holds {carried} "
                f"(held {state.held}), the pending ones are {pending}",
            )


def within_overdraft_limit(memory: Memory, append: Append) -> None:
    """The available balance (the balance less the pending holds, as the events tell
    them) is never below minus the overdraft limit after an event that may lower it (a
    debit other than a capture, a hold placed, a limit set or lowered); any other event must
    not lower it at all (a capture lowers the balance and the held amount together,
    by at most what it releases), so no version is below the limit."""
    states = dict(append.before)
    held = {account: sum(memory.pending.get(account, {}).values()) for account in states}
    for stored, pending in zip(append.events, _pending_after(memory, append), strict=True):
        account, before, after = (
            stored.event.account_id,
            states[stored.event.account_id],
            stored.state,
        )
        available_before = before.balance.minor - held[account]
        held[account] = sum(pending.values())
        available = after.balance.minor - held[account]
        states[account] = after
        if _may_lower_available(stored.event):
            if available < -after.overdraft_limit.minor:
                raise InvariantViolated(
                    "within_overdraft_limit",
                    f"{account} v{after.version}: balance {after.balance} less "
                    f"{held[account]} held is below the overdraft limit {after.overdraft_limit}",
                )
        elif available < available_before or after.overdraft_limit != before.overdraft_limit:
            raise InvariantViolated(
                "within_overdraft_limit",
                f"{account} v{after.version} {type(stored.event).__name__} lowered the "
                f"available balance from {available_before} to {available} minor units",
            )


def _may_lower_available(event: Event) -> bool:
    return (isinstance(event, Debited) and event.hold_id is None) or isinstance(
        event, HoldPlaced | OverdraftLimitChanged | AccountOpened
    )


def _pending_after(memory: Memory, append: Append) -> list[dict[str, int]]:
    """Each stored event's account's pending holds (id -> minor units) after it."""
    pending: dict[str, dict[str, int]] = {}
    after = []
    for stored in append.events:
        event = stored.event
        account = event.account_id
        if account not in pending:
            pending[account] = dict(memory.pending.get(account, {}))
        hold_id = hold_of(event)
        if isinstance(event, HoldPlaced):
            pending[account][event.hold_id] = event.amount.minor
        elif hold_id is not None:
            pending[account].pop(hold_id, None)
        after.append(dict(pending[account]))
    return after


def hold_of(event: Event) -> str | None:
    """The hold an event places or resolves (a capture is a debit naming it)."""
    if isinstance(event, HoldPlaced | HoldVoided | HoldExpired):
        return event.hold_id
    return event.hold_id if isinstance(event, Debited) else None


_STATUS: dict[type[Event], HoldStatus] = {
    HoldPlaced: HoldStatus.PENDING,
    Debited: HoldStatus.CAPTURED,
    HoldVoided: HoldStatus.VOIDED,
    HoldExpired: HoldStatus.EXPIRED,
}


def reversed_at_most_once(memory: Memory, append: Append) -> None:
    """Each posting is reversed at most once, and a transfer whole: a reversal is the
    exact opposite of its original (same account, amount and currency, the other
    side), never of a reversal, a transfer's leg only with its whole transfer, and the
    store's markers written with it name exactly what it reverses."""
    originals: list[EventRef] = []
    for stored in append.events:
        event = stored.event
        if not isinstance(event, Credited | Debited) or event.reverses is None:
            continue
        ref = event.reverses
        where = f"{event.account_id} v{event.version} reverses {ref.account_id} v{ref.version}"
        if ref in memory.reversed or ref in originals:
            raise InvariantViolated("reversed_at_most_once", f"{where}, reversed already")
        originals.append(ref)
        try:
            original = memory.store.get(ref.account_id, ref.version).event
        except EventNotFound:
            raise InvariantViolated("reversed_at_most_once", f"{where}, never stored") from None
        opposite = Debited if isinstance(original, Credited) else Credited
        if (
            not isinstance(original, Credited | Debited)
            or not isinstance(event, opposite)
            or original.account_id != event.account_id
            or original.version >= event.version
            or original.amount != event.amount
            or original.currency != event.currency
            or original.reverses is not None
        ):
            raise InvariantViolated(
                "reversed_at_most_once", f"{where}: not its opposite, {original}"
            )
        in_transfer = append.transfer is not None and append.transfer.reverses is not None
        if (original.transfer_id is not None) != in_transfer or (
            in_transfer and append.transfer and append.transfer.reverses != original.transfer_id
        ):
            raise InvariantViolated(
                "reversed_at_most_once",
                f"{where}: a leg of transfer {original.transfer_id} reversed by "
                f"{append.transfer.transfer_id if append.transfer else 'a lone posting'}",
            )
    record = append.transfer
    if record is not None and record.reverses is not None:
        reversed_transfer = memory.store.transfer(record.reverses)
        legs = (
            {EventRef(leg.account_id, leg.version) for leg in reversed_transfer.legs}
            if reversed_transfer
            else None
        )
        if legs != set(originals):
            raise InvariantViolated(
                "reversed_at_most_once",
                f"transfer {record.transfer_id} reverses {sorted(originals, key=str)}, "
                f"not every leg of {record.reverses}",
            )
    marked = Counter((m.original, m.reversed_by) for m in append.reversals)
    reversing = Counter(
        (s.event.reverses, EventRef(s.event.account_id, s.event.version))
        for s in append.events
        if isinstance(s.event, Credited | Debited) and s.event.reverses is not None
    )
    if marked != reversing:
        raise InvariantViolated(
            "reversed_at_most_once", f"markers {dict(marked)} for reversals {dict(reversing)}"
        )


# One append in this many also folds the account's history up to the sampled instant
# (the others check the answer against the stored snapshot, which the fold checks).
FULL_FOLD_EVERY = 400


def balance_at_is_the_fold(memory: Memory, append: Append) -> None:
    """`state_at` (GET /balance?at=) answers, for a past instant drawn at random, the
    state after the account's last event recorded at or before it: the next event is
    later, and before the first one the account did not exist."""
    if append.at is None:
        return
    memory.appends += 1
    account = append.events[0].event.account_id
    last = memory.store.load(account)
    opened_at = memory.store.get(account, 1).event.recorded_at
    span = int((append.at - opened_at).total_seconds())
    moment = opened_at + timedelta(seconds=memory.sampler.randint(-60, max(span, 0)))
    try:
        answered = state_at(account, moment, memory.store, clock=lambda: append.at or moment)
    except AccountNotFound:
        if moment >= opened_at:
            raise InvariantViolated(
                "balance_at_is_the_fold", f"{account} at {moment}: not found, opened {opened_at}"
            ) from None
        return
    version = answered.version
    stored = memory.store.get(account, version)
    later = memory.store.get(account, version + 1).event if version < last.version else None
    if (
        stored.event.recorded_at > moment
        or (later is not None and later.recorded_at <= moment)
        or answered != stored.state
    ):
        raise InvariantViolated(
            "balance_at_is_the_fold",
            f"{account} at {moment}: answered v{version}, not its last event by then",
        )
    if memory.appends % FULL_FOLD_EVERY == 0:
        events = memory.store.events(account, after=0, limit=version)
        if fold(account, events, ZONE) != answered:
            raise InvariantViolated(
                "balance_at_is_the_fold", f"{account} at {moment}: v{version} is not the fold"
            )


def transfers_whole(memory: Memory, append: Append) -> None:
    """A transfer's legs are stored in the write of its record, and only there, and
    they net to zero per currency."""
    legs = [s for s in append.events if _transfer_of(s.event) is not None]
    record = append.transfer
    if record is None:
        if legs:
            raise InvariantViolated(
                "transfers_whole", f"{len(legs)} transfer legs stored without their record"
            )
        return
    if Counter(record.legs) != Counter(
        Leg.of(s.event) for s in legs if isinstance(s.event, Credited | Debited)
    ):
        raise InvariantViolated(
            "transfers_whole",
            f"transfer {record.transfer_id}: its record's legs are not the legs stored",
        )
    net: Counter[str] = Counter()
    for stored in legs:
        if _transfer_of(stored.event) != record.transfer_id:
            raise InvariantViolated(
                "transfers_whole", f"a leg of {_transfer_of(stored.event)} in {record.transfer_id}"
            )
        net[stored.state.currency.code] += _signed_minor(stored.event)
    if any(net.values()):
        raise InvariantViolated(
            "transfers_whole", f"transfer {record.transfer_id} nets {dict(net)}"
        )


def money_conserved(memory: Memory, append: Append) -> None:
    """Per currency, the balances sum to the external credits minus external debits."""
    balances, external = _money_moved(append)
    balances.update(memory.balances)
    external.update(memory.external)
    for code in sorted(set(balances) | set(external)):
        if balances[code] != external[code]:
            raise InvariantViolated(
                "money_conserved",
                f"{code}: balances sum to {balances[code]} minor units, external postings "
                f"to {external[code]}",
            )


def stored_at_most_once(memory: Memory, append: Append) -> None:
    if append.request is not None and memory.writes[append.request] > 0:
        raise InvariantViolated(
            "stored_at_most_once", f"request {append.request} stored a second time"
        )


def one_request_per_key(memory: Memory, append: Append) -> None:
    """An idempotency key stores one request of its caller in its scope, ever; another
    caller's same key is another key."""
    if append.key is None:
        return
    owner = memory.keys.get(append.key)
    if owner is not None and owner != append.request:
        caller, scope, key = append.key
        raise InvariantViolated(
            "one_request_per_key",
            f"{caller}'s key {key!r} in {scope} stored {owner} and then {append.request}",
        )


def remember_append(memory: Memory, append: Append) -> None:
    balances, external = _money_moved(append)
    memory.balances.update(balances)
    memory.external.update(external)
    for stored in append.events:
        event = stored.event
        memory.versions[event.account_id] = event.version
        hold_id = hold_of(event)
        if isinstance(event, HoldPlaced):
            memory.holds[hold_id or ""] = HoldFacts(
                event.account_id, event.amount, event.expires_at
            )
            memory.pending.setdefault(event.account_id, {})[event.hold_id] = event.amount.minor
        elif hold_id is not None:
            facts = memory.holds.get(hold_id)
            if facts is not None:
                facts.resolved_by = f"{event.account_id} v{event.version} {type(event).__name__}"
            memory.pending.get(event.account_id, {}).pop(hold_id, None)
        if isinstance(event, Credited | Debited) and event.reverses is not None:
            memory.reversed.add(event.reverses)
    if append.request is not None:
        memory.writes[append.request] += 1
        if append.key is not None:
            memory.keys[append.key] = append.request


def _money_moved(append: Append) -> tuple[Counter[str], Counter[str]]:
    """Per currency, in minor units: how much this write changed the balances' sum, and
    the external postings it stored."""
    balances: Counter[str] = Counter()
    external: Counter[str] = Counter()
    after = {stored.event.account_id: stored.state for stored in append.events}
    for account, state in after.items():
        balances[state.currency.code] += state.balance.minor - append.before[account].balance.minor
    for stored in append.events:
        if _is_posting(stored.event) and _transfer_of(stored.event) is None:
            external[stored.state.currency.code] += _signed_minor(stored.event)
    return balances, external


def _is_posting(event: Event) -> bool:
    return isinstance(event, Credited | Debited)


def _transfer_of(event: Event) -> str | None:
    return event.transfer_id if isinstance(event, Credited | Debited) else None


def _signed_minor(event: Event) -> int:
    return signed_amount(event).minor if isinstance(event, Credited | Debited) else 0


# --- when a client is answered ------------------------------------------------------


def acknowledged_exactly_once(memory: Memory, answer: Answer) -> None:
    """An acknowledged request is stored once, as answered, as this request's own (an
    idempotency key of another caller, or another request, never answers it)."""
    if answer.outcome != ACKNOWLEDGED:
        return
    if memory.writes[answer.request] != 1:
        raise InvariantViolated(
            "acknowledged_exactly_once",
            f"request {answer.request} acknowledged, stored {memory.writes[answer.request]} times",
        )
    answered = answer.answered
    if isinstance(answered, TransferRecord):
        stored = memory.store.transfer(answered.transfer_id)
        if stored != answered or answered.correlation_id != answer.request:
            raise InvariantViolated(
                "acknowledged_exactly_once",
                f"request {answer.request} answered transfer {answered.transfer_id}, "
                f"which is not its own stored one",
            )
        return
    if isinstance(answered, HoldRecord):
        _hold_answered(memory, answer.request, answered)
        return
    if answered is None:
        raise InvariantViolated("acknowledged_exactly_once", f"{answer.request}: no answer")
    try:
        found = memory.store.get(answered.account_id, answered.version)
    except EventNotFound:
        found = None
    if found is None or found.event != answered or found.correlation_id != answer.request:
        raise InvariantViolated(
            "acknowledged_exactly_once",
            f"request {answer.request} answered {answered.account_id} v{answered.version}, "
            f"which holds another request's event",
        )


def _hold_answered(memory: Memory, request: str, answered: HoldRecord) -> None:
    """A hold request's answer is the hold record; the event it names (the one that
    placed the hold, or resolved it) is this request's own, and a resolution answered
    is the one stored."""
    version = answered.version if answered.resolved_version is None else answered.resolved_version
    stored = memory.store.get(answered.account_id, version)
    current = memory.store.hold(answered.hold_id)
    own = stored.correlation_id == request and hold_of(stored.event) == answered.hold_id
    placed_here = isinstance(stored.event, HoldPlaced)
    if not own and answered.resolved_version is not None:
        # A place whose retry answered after the hold was resolved: its own event is
        # the one that placed it.
        placed = memory.store.get(answered.account_id, answered.version)
        own = placed.correlation_id == request and isinstance(placed.event, HoldPlaced)
        placed_here = own
    if not own or (
        not placed_here
        and (current is None or current.resolved_event_id != answered.resolved_event_id)
    ):
        raise InvariantViolated(
            "acknowledged_exactly_once",
            f"request {request} answered hold {answered.hold_id} "
            f"({answered.status.value}), which another request stored",
        )


def refused_stores_nothing(memory: Memory, answer: Answer) -> None:
    if answer.outcome == REJECTED and memory.writes[answer.request]:
        raise InvariantViolated(
            "refused_stores_nothing",
            f"request {answer.request} was refused ({answer.code}) but stored",
        )


# --- when a projector writes a read model -------------------------------------------


def read_model_not_ahead(memory: Memory, write: ReadModelWrite) -> None:
    stored = memory.versions.get(write.account_id, 0)
    if write.model.version > stored:
        raise InvariantViolated(
            "read_model_not_ahead",
            f"{write.partition} {_name(write.model)} at v{write.model.version}, "
            f"the events table at v{stored}",
        )


def read_model_never_regresses(memory: Memory, write: ReadModelWrite) -> None:
    """A write lands iff it is newer than what the item holds."""
    held = memory.read_models.get(_item(write))
    newer = held is None or write.model.version > held
    if write.written != newer:
        raise InvariantViolated(
            "read_model_never_regresses",
            f"{write.partition} {_name(write.model)} held v{held}, "
            f"v{write.model.version} {'landed' if write.written else 'was refused'}",
        )


def read_model_is_its_event(memory: Memory, write: ReadModelWrite) -> None:
    """A read model at version v is what the projection makes of the stored event v."""
    if not write.written or _name(write.model) not in PROJECTIONS:
        return
    expected = PROJECTIONS[_name(write.model)](
        _carried(memory, write.account_id, write.model.version)
    )
    if expected != write.model:
        raise InvariantViolated(
            "read_model_is_its_event",
            f"{write.account_id} wrote {write.model}, expected {expected}",
        )


def _carried(memory: Memory, account_id: str, version: int) -> StateCarriedEvent:
    # A projector writes several read models of one event in a row: built once.
    if memory.last_carried is None or memory.last_carried[0] != (account_id, version):
        stored = memory.store.get(account_id, version)
        memory.last_carried = (
            (account_id, version),
            StateCarriedEvent.of(stored.event, stored.state),
        )
    return memory.last_carried[1]


def remember_read_model(memory: Memory, write: ReadModelWrite) -> None:
    if write.written:
        memory.read_models[_item(write)] = write.model.version


def _name(model: ReadModel) -> str:
    return READ_MODEL_NAMES[type(model)]


def _item(write: ReadModelWrite) -> tuple[str, str, str | None]:
    return (write.partition, _name(write.model), qualifier_of(write.model))


# --- when readers are switched to a rebuilt generation ------------------------------


@frozen
class Switch:
    """`ledger rebuild` switched the readers of `read_model` to `generation`: each item's
    version as readers saw it just before, and as they see it now."""

    read_model: str
    generation: int
    before: Mapping[tuple[str, str | None], int]
    after: Mapping[tuple[str, str | None], int]


def switch_never_regresses(memory: Memory, switch: Switch) -> None:
    """Readers never see a read model go back (or vanish) when a rebuild switches."""
    for (account, qualifier), version in sorted(switch.before.items(), key=str):
        now = switch.after.get((account, qualifier))
        if now is None or now < version:
            raise InvariantViolated(
                "switch_never_regresses",
                f"{account} {switch.read_model} {qualifier or ''} went from v{version} to "
                f"v{now} when readers switched to generation {switch.generation}",
            )


def remember_switch(memory: Memory, switch: Switch) -> None:
    # Readers now read the new generation's items: their versions are what the
    # projectors' writes are measured against from here on.
    for (account, qualifier), version in switch.after.items():
        memory.read_models[(account, switch.read_model, qualifier)] = version


# --- at quiescence -------------------------------------------------------------------


def read_models_equal_the_fold(memory: Memory, accounts: list[str]) -> None:
    """Once everything is delivered and redriven, every read model is what the fold of
    its account's events gives (`ledger verify`'s own comparison)."""
    for account_id in accounts:
        expected = expected_read_models(account_id, all_events(memory.store, account_id), ZONE)
        found = differences(account_id, expected, memory.projections.load(account_id))
        if found:
            raise InvariantViolated("read_models_equal_the_fold", "; ".join(map(str, found[:3])))


APPEND_CHECKS: dict[str, Callable[[Memory, Append], None]] = {
    "versions_gapless": versions_gapless,
    "snapshot_is_the_fold": snapshot_is_the_fold,
    "holds_resolved_once": holds_resolved_once,
    "captures_within_hold": captures_within_hold,
    "held_is_pending_holds": held_is_pending_holds,
    "within_overdraft_limit": within_overdraft_limit,
    "reversed_at_most_once": reversed_at_most_once,
    "transfers_whole": transfers_whole,
    "money_conserved": money_conserved,
    "stored_at_most_once": stored_at_most_once,
    "one_request_per_key": one_request_per_key,
    "balance_at_is_the_fold": balance_at_is_the_fold,
}
ANSWER_CHECKS: dict[str, Callable[[Memory, Answer], None]] = {
    "acknowledged_exactly_once": acknowledged_exactly_once,
    "refused_stores_nothing": refused_stores_nothing,
}
READ_MODEL_CHECKS: dict[str, Callable[[Memory, ReadModelWrite], None]] = {
    "read_model_not_ahead": read_model_not_ahead,
    "read_model_never_regresses": read_model_never_regresses,
    "read_model_is_its_event": read_model_is_its_event,
}


def owners_lists_equal_the_fold(memory: Memory, accounts: list[str]) -> None:
    """Each owner's list holds each of their accounts as its last event leaves it."""
    for account_id in accounts:
        last = memory.store.load(account_id)
        carried = StateCarriedEvent.of(memory.store.get(account_id, last.version).event, last)
        summaries = dict(owned_accounts(carried))
        for owner in sorted(last.owners):
            summary = summaries[owner_partition(owner)]
            listed = memory.projections.accounts_of(owner, after=None, limit=len(accounts))
            if summary not in listed:
                raise InvariantViolated(
                    "owners_lists_equal_the_fold",
                    f"{owner}'s accounts list {[(s.account_id, s.version) for s in listed]}, "
                    f"not {account_id} at v{summary.version}",
                )


SWITCH_CHECKS: dict[str, Callable[[Memory, Switch], None]] = {
    "switch_never_regresses": switch_never_regresses,
}


def due_holds_expired(memory: Memory, accounts: list[str]) -> None:
    """Once the expirer has run, no hold past its expiry is still pending; and each
    hold record says what the events did to its hold."""
    now = memory.clock() if memory.clock else None
    for hold_id, facts in memory.holds.items():
        if facts.resolved_by is None and now is not None and facts.expires_at <= now:
            raise InvariantViolated(
                "due_holds_expired", f"hold {hold_id} expired at {facts.expires_at}, still pending"
            )
        record = memory.store.hold(hold_id)
        resolved = record is not None and record.status is not HoldStatus.PENDING
        if record is None or resolved != (facts.resolved_by is not None):
            raise InvariantViolated(
                "due_holds_expired",
                f"hold {hold_id} record {record and record.status.value}, "
                f"its events: {facts.resolved_by or 'pending'}",
            )


def ledger_verifies(memory: Memory, accounts: list[str]) -> None:
    """`ledger verify`'s conservation over every stored event reports nothing: legs
    pair off, no account below its limit, no hold misresolved, no posting misreversed."""
    found = conservation(memory.store.scan())
    if not found.holds:
        raise InvariantViolated("ledger_verifies", str(found))


QUIESCENCE_CHECKS: dict[str, Callable[[Memory, list[str]], None]] = {
    "read_models_equal_the_fold": read_models_equal_the_fold,
    "owners_lists_equal_the_fold": owners_lists_equal_the_fold,
    "due_holds_expired": due_holds_expired,
    "ledger_verifies": ledger_verifies,
}

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

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

from attrs import define, field, frozen

from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore
from banking.application.ports import EventNotFound, Leg, StoredEvent, TransferRecord
from banking.application.verification import all_events, differences, expected_read_models
from banking.domain.account import Account, evolve
from banking.domain.events import Credited, Debited, Event, signed_amount
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


@frozen
class Answer:
    """What a client was answered for a request: the event or transfer acknowledged,
    or a refusal (a 4xx) with its code."""

    request: str
    outcome: str
    answered: Event | TransferRecord | None = None
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


def within_overdraft_limit(memory: Memory, append: Append) -> None:
    for stored in append.events:
        state = stored.state
        if state.available < -state.overdraft_limit:
            raise InvariantViolated(
                "within_overdraft_limit",
                f"{state.account_id} v{state.version}: balance {state.balance} below the "
                f"overdraft limit {state.overdraft_limit}",
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
        memory.versions[stored.event.account_id] = stored.event.version
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
    "within_overdraft_limit": within_overdraft_limit,
    "transfers_whole": transfers_whole,
    "money_conserved": money_conserved,
    "stored_at_most_once": stored_at_most_once,
    "one_request_per_key": one_request_per_key,
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
QUIESCENCE_CHECKS: dict[str, Callable[[Memory, list[str]], None]] = {
    "read_models_equal_the_fold": read_models_equal_the_fold,
    "owners_lists_equal_the_fold": owners_lists_equal_the_fold,
}

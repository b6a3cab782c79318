"""What one step of the simulation may do, each one function in a table with its
weight: `STEPS` (the scheduler picks one per step) and `COMMANDS` (what a client asks
for, when a step sends a new request). An operation for a new command is one
function here and one row in `COMMANDS`; its invariant goes in `invariants.py`.
`rival` is what runs between a write's load and its append.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import timedelta

from banking.application.ports import Cursor, StoredEvent
from banking.application.replay import ReplayOptions
from banking.application.replay import replay as run_replay
from banking.domain.commands import (
    ChangeOverdraftLimit,
    CloseAccount,
    FreezeAccount,
    OpenAccount,
    RecordCredit,
    RecordDebit,
    UnfreezeAccount,
)
from banking.domain.currency import Currency
from banking.domain.events import EventRef
from banking.domain.holds import MAX_EXPIRES_IN, CaptureHold, PlaceHold, VoidHold
from banking.domain.money import Money
from banking.domain.reversals import ReverseEntry
from banking.domain.transfer import Posting, Transfer
from tests.simulation.invariants import hold_of
from tests.simulation.world import Asked, Request, ReverseTransfer, World

CALLERS = ("alice", "bob", "carol", "dave")
ACCOUNTS = tuple(f"acc-{n:02d}" for n in range(12))
# Two currencies, so conservation is checked per currency (and 0-digit yen too).
# How many of an account's last events a replay of every event re-sends.
REPLAYED_EVENTS = 50
CURRENCIES = (Currency("EUR"), Currency("EUR"), Currency("JPY"))

# --- what a client asks for -----------------------------------------------------------


def credit(world: World, account: str) -> Asked:
    return RecordCredit(account, _amount(world, account), world.new_id("credit")())


def debit(world: World, account: str) -> Asked:
    return RecordDebit(account, _amount(world, account), world.new_id("debit")())


def transfer(world: World, account: str) -> Asked:
    # Now and then across currencies, which must be refused.
    same = world.scheduler.chance(0.95)
    others = [
        a for a in ACCOUNTS if a != account and (_currency(a) == _currency(account) or not same)
    ]
    postings = [Posting(account, world.scheduler.choice(others), _amount(world, account))]
    if world.fault("round_trip_transfer"):
        # Money out of the account, past its limit, and back in one transfer: the net is
        # what the rule checks, so only the credit leg stored first keeps every version
        # within the limit (seed 42 found it stored debit first, docs/reliability.md).
        state = world.store.load(account)
        beyond = state.balance.minor + state.overdraft_limit.minor + world.scheduler.between(1, 500)
        amount = Money(max(beyond, 1), _digits(account))
        postings = [
            Posting(account, world.scheduler.choice(others), amount),
            Posting(world.scheduler.choice(others), account, amount),
        ]
        return Transfer("chosen-per-attempt", tuple(postings), world.new_id("transfer")())
    if world.scheduler.chance(0.2):  # a multi-posting transfer (a payment with a fee)
        postings.append(Posting(account, world.scheduler.choice(others), _amount(world, account)))
    if world.scheduler.chance(0.5):
        postings = [Posting(p.to_account, p.from_account, p.amount) for p in postings]
    return Transfer("chosen-per-attempt", tuple(postings), world.new_id("transfer")())


def open_account(world: World, account: str) -> Asked:
    owners = {world.scheduler.choice(CALLERS) for _ in range(world.scheduler.between(1, 2))}
    limit = Money(world.scheduler.choice((0, 0, 5_000, 50_000)), _digits(account))
    return OpenAccount(account, _currency(account), frozenset(owners), limit)


def freeze(world: World, account: str) -> Asked:
    return FreezeAccount(account)


def unfreeze(world: World, account: str) -> Asked:
    return UnfreezeAccount(account)


def close(world: World, account: str) -> Asked:
    return CloseAccount(account)


def change_overdraft_limit(world: World, account: str) -> Asked:
    limit = Money(world.scheduler.choice((0, 1_000, 20_000)), _digits(account))
    return ChangeOverdraftLimit(account, limit)


# How far ahead a racing write may find the clock moved past a hold's expiry (a day:
# a slow function, or one the scheduler paused).
DAY_S = 86_400
# How long a hold is placed for (seconds): from a few steps to a month, so some are
# captured or voided in time, some too late, and some left to the expirer.
EXPIRIES = (60, 600, 1_800, 3_600, 4 * 3_600, 86_400, int(MAX_EXPIRES_IN.total_seconds()))


def place_hold(world: World, account: str) -> Asked:
    seconds = world.scheduler.choice(EXPIRIES)
    if world.scheduler.chance(0.02):  # refused: expiresIn out of its range
        seconds = world.scheduler.choice((0, seconds + int(MAX_EXPIRES_IN.total_seconds())))
    return PlaceHold(
        account, "chosen-per-attempt", _amount(world, account), timedelta(seconds=seconds)
    )


def capture(world: World, account: str) -> Asked:
    """All of a hold, part of it, or (refused) more; now and then into another
    account, as a transfer (in another currency: refused)."""
    hold_id = _hold(world)
    if hold_id is None:
        return place_hold(world, account)
    record = world.store.hold(hold_id)
    held = record.amount if record else _amount(world, account)
    amount: Money | None = None
    roll = world.scheduler.between(1, 20)
    if roll <= 9:
        amount = Money(world.scheduler.between(1, held.minor), held.digits)
    elif roll == 10:
        amount = Money(held.minor + world.scheduler.between(1, 100), held.digits)
    to = None
    if record is not None and world.scheduler.chance(0.4):
        same = world.scheduler.chance(0.95)
        others = [
            a
            for a in ACCOUNTS
            if a != record.account_id and (_currency(a) == record.currency) == same
        ]
        to = world.scheduler.choice(others)
    return CaptureHold(hold_id, amount, to)


def void(world: World, account: str) -> Asked:
    hold_id = _hold(world)
    return VoidHold(hold_id) if hold_id is not None else place_hold(world, account)


def _hold(world: World) -> str | None:
    """Mostly a pending hold; sometimes one resolved already, or none that exists."""
    targets = world.targets
    roll = world.scheduler.between(1, 20)
    if roll <= 16 and targets.pending_holds:
        return world.scheduler.choice(list(targets.pending_holds))
    if roll <= 19 and targets.resolved_holds:
        return world.scheduler.choice(targets.resolved_holds)
    return "hold-none" if roll == 20 else None


def reverse(world: World, account: str) -> Asked:
    """Mostly a posting; sometimes one reversed already, a reversal, a transfer's leg
    on its own, or a version that is no posting (all refused)."""
    targets = world.targets
    roll = world.scheduler.between(1, 20)
    chosen: Sequence[EventRef] = targets.postings
    if roll == 17:
        chosen = targets.reversed
    elif roll == 18:
        chosen = targets.reversals
    elif roll == 19:
        chosen = targets.legs
    if roll == 20 or not chosen:
        version = world.scheduler.between(1, world.store.load(account).version + 2)
        return ReverseEntry(account, version)
    ref = world.scheduler.choice(chosen)
    return ReverseEntry(ref.account_id, ref.version)


def reverse_transfer(world: World, account: str) -> Asked:
    """A recent transfer (maybe reversed already, or itself a reversal or a capture)."""
    transfers = world.targets.transfers
    if not transfers or world.scheduler.chance(0.02):
        return ReverseTransfer("tr-none")
    return ReverseTransfer(world.scheduler.choice(transfers))


def _currency(account: str) -> Currency:
    return CURRENCIES[ACCOUNTS.index(account) % len(CURRENCIES)]


def _digits(account: str) -> int:
    return _currency(account).digits


def _amount(world: World, account: str) -> Money:
    # Mostly small, sometimes large enough to meet the overdraft limit.
    high = 2_000 if world.scheduler.chance(0.9) else 60_000
    return Money(world.scheduler.between(1, high), _digits(account))


CommandMaker = Callable[[World, str], Asked]
COMMANDS: dict[str, tuple[CommandMaker, float]] = {
    "credit": (credit, 30),
    "debit": (debit, 25),
    "transfer": (transfer, 25),
    "open": (open_account, 6),
    "freeze": (freeze, 0.5),
    "unfreeze": (unfreeze, 5),
    "close": (close, 0.3),
    "change_overdraft_limit": (change_overdraft_limit, 2),
    "place_hold": (place_hold, 10),
    "capture": (capture, 5),
    "void": (void, 2.5),
    "reverse": (reverse, 4),
    "reverse_transfer": (reverse_transfer, 2),
}
_COMMAND_NAMES = list(COMMANDS)
_COMMAND_WEIGHTS = list(itertools.accumulate(weight for _, weight in COMMANDS.values()))


def new_request(world: World, account: str | None = None) -> Request:
    """A new request of a random caller for a random command. Its idempotency key is
    its own, or sometimes one another caller already used: keys are per caller, so the
    two must not meet."""
    scheduler = world.scheduler
    name = scheduler.weighted(_COMMAND_NAMES, _COMMAND_WEIGHTS)
    if account is None:
        # Mostly accounts that exist (the others are refused: some of that is enough).
        opened = world.accounts if name != "open" and not scheduler.chance(0.05) else ()
        account = scheduler.choice(opened or ACCOUNTS)
    return _request(world, COMMANDS[name][0](world, account))


def _request(world: World, command: Asked) -> Request:
    scheduler = world.scheduler
    number = world.new_id("req")()
    caller = scheduler.choice(CALLERS)
    key = f"key-{number}"
    if world.keys_used and scheduler.chance(0.1):
        # Only a key this caller never used (its own again is the case below).
        taken = scheduler.choice(world.keys_used)
        if caller not in world.key_callers[taken]:
            key = taken
            world.faults["idempotency_key_of_another_caller"] += 1
    elif isinstance(command, RecordCredit | RecordDebit) and scheduler.chance(0.03):
        # A caller's own key again, for another request (its description is its own):
        # refused if the key stored, stored if it never did.
        own = [k for k in world.keys_used[-200:] if caller in world.key_callers[k]]
        if own:
            key = scheduler.choice(own)
            world.faults["idempotency_key_reused_by_its_caller"] += 1
    if key not in world.key_callers:
        world.keys_used.append(key)
    world.key_callers.setdefault(key, []).append(caller)
    return Request(number, caller, key, command)


# --- the steps --------------------------------------------------------------------------


def send_new_request(world: World) -> None:
    request = new_request(world)
    world.note(f"{request.id} {request.caller} sends {_show(request)} key {request.key}")
    world.send(request)


def retry_unanswered(world: World) -> None:
    """A client sends again, with the same key, a request it got no answer to."""
    if not world.unanswered:
        return send_new_request(world)
    index = world.scheduler.between(0, len(world.unanswered) - 1)
    request = world.unanswered.pop(index)
    world.note(f"{request.id} retried (attempt {request.attempts + 1})")
    world.send(request)
    return None


def fan_out(world: World) -> None:
    """The fanout is invoked on a batch of one account's stream records."""
    pending = [account for account in world.accounts if world.stream[account]]
    if not pending:
        return send_new_request(world)
    account = world.scheduler.choice(pending)
    world.note(f"fanout on {account}")
    world.fan_out_batch(account)
    return None


def deliver(world: World) -> None:
    """The bus delivers one pending entry, picked at random: late and out of order."""
    if not world.bus:
        return fan_out(world)
    world.note("deliver")
    world.deliver(world.scheduler.between(0, len(world.bus) - 1))
    return None


def redrive(world: World) -> None:
    """An operator runs `ledger redrive`."""
    sent = world.redrive()
    world.note(f"redrive: {sent} sent again")


def replay(world: World) -> None:
    """An operator replays one account (`ledger replay --account`): its last event per
    month from the start, or every event from a cursor (its last few events: the whole
    history each time would make a long run quadratic)."""
    if not world.accounts:
        return send_new_request(world)
    account = world.scheduler.choice(world.accounts)
    every = world.scheduler.chance(0.2)
    version = world.store.load(account).version
    start = Cursor(account, max(0, version - REPLAYED_EVENTS)) if every else None
    result = run_replay(
        world.store.scan_account(account, after=start),
        world.reliable_publisher,
        ReplayOptions(every_event=every),
        start=start,
    )
    world.note(f"replay of {account}: {result.published} published")
    return None


def rebuild(world: World) -> None:
    """An operator runs `ledger rebuild --projection NAME`, one stage per step."""
    world.note("rebuild")
    world.rebuild_step()


def settle(world: World) -> None:
    """Traffic stops until everything lands: then every read model must equal the fold."""
    world.note("settle")
    world.settle()


def expire(world: World) -> None:
    """The scheduled expirer runs (every minute in AWS; here when the scheduler says)."""
    world.note("expirer")
    world.expire()


def rival(world: World, stored_events: Sequence[StoredEvent]) -> None:
    """What runs between a write's load and its append: on a hold, half the time a
    capture, void or expirer run racing it (the clock maybe moved past the hold's
    expiry first, as a slow function meets it); else a new request on one of its
    accounts."""
    running = world.running()
    hold_id = next((h for s in stored_events if (h := hold_of(s.event)) is not None), None)
    if hold_id is not None and world.scheduler.chance(0.5):
        record = world.store.hold(hold_id)
        if record is not None and world.scheduler.chance(0.5):
            due = (record.expires_at - world.clock()).total_seconds()
            if 0 <= due <= DAY_S:
                world.clock.advance(int(due) + world.scheduler.between(0, 5))
                world.faults["hold_expires_in_between"] += 1
        racer = world.scheduler.choice(("capture", "void", "expirer"))
        world.faults[f"{racer}_races_a_hold"] += 1
        if racer == "expirer":
            world.note(f"  the expirer runs between {running}'s load and append")
            return world.expire()
        command = CaptureHold(hold_id) if racer == "capture" else VoidHold(hold_id)
        request = _request(world, command)
    else:
        account = world.scheduler.choice([s.event.account_id for s in stored_events])
        request = new_request(world, account)
    world.note(f"  {request.id} runs between {running}'s load and append")
    world.send(request)
    return None


def _show(request: Request) -> str:
    return type(request.command).__name__


Step = Callable[[World], None]
STEPS: dict[str, tuple[Step, float]] = {
    "send_new_request": (send_new_request, 30),
    "retry_unanswered": (retry_unanswered, 4),
    "fan_out": (fan_out, 25),
    "deliver": (deliver, 60),
    "redrive": (redrive, 0.5),
    "replay": (replay, 0.5),
    "rebuild": (rebuild, 0.5),
    "settle": (settle, 0.01),
    "expire": (expire, 1.5),
}

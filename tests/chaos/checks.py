"""The offline checks of a recorded chaos run: what the clients sent and were answered,
against what the events and transfers tables hold once the system is quiet.

Each check takes the recorded run (`Run`) and returns the violations it found (empty:
the invariant held), so a run reports all of them at once, and `test_checks.py` shows
each one catching a broken history. `INVARIANTS` is the table of them, by name, in
this order (docs/reliability.md); a new invariant is one function and one row:

1. each account's versions run 1..n without a gap, the first its opening;
2. no account's available balance (its balance less what its pending holds reserve) is
   ever below its overdraft limit, at any version;
3. a transfer is stored whole or not at all: its record lists exactly the legs stored
   with its id, a debit on each posting's `from` and a credit on its `to`, equal;
4. per currency, the sum of all balances equals the external credits minus the
   external debits (transfers move money, they never make or lose it);
5. nothing acknowledged is lost: it is stored, exactly as answered;
6. nothing is doubled: each request (one idempotency key of the one caller) stores at
   most once;
7. a refused request stores nothing;
8. what is stored is what was sent (accounts, amounts), and nothing no client sent;
9. callers are kept apart: two callers sending the same key each store their own
   request, recorded as theirs;
10. every hold is resolved (captured, voided or expired) exactly once: none resolved
    twice, none resolved without being placed, none still pending a grace period after
    its expiry;
11. a hold is captured or voided only before its expiry, and expired only at or after it;
12. a capture takes at most the held amount, and a void or an expiry releases all of it;
13. the held amount of every stored snapshot is the sum of the holds pending at that
    version (the fold of the hold events);
14. each posting is reversed at most once, and its reversal is its exact opposite (same
    account, amount and currency, the other direction; a transfer's legs reversed by a
    transfer that reverses it, whose postings are its own the other way).

Conservation (4) counts a capture as the posting it is (an external debit, or a
transfer's legs with `to`) and a reversal likewise, so it covers both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from banking.application.ports import Leg, StoredEvent, TransferRecord
from banking.domain.events import (
    AccountOpened,
    Credited,
    Debited,
    EventRef,
    HoldExpired,
    HoldPlaced,
    HoldVoided,
    PostingEvent,
    type_name,
)
from banking.domain.money import Money

ACKNOWLEDGED, REJECTED, UNKNOWN = "acknowledged", "rejected", "unknown"
CREDITS, DEBITS, TRANSFERS = "credits", "debits", "transfers"
HOLDS, CAPTURES, VOIDS, REVERSALS = "holds", "captures", "voids", "reversals"
# The system releases an expired hold within a minute of its expiry (DESIGN.md): a hold
# still pending that long after is one it forgot.
EXPIRY_GRACE = timedelta(minutes=1)

History = Mapping[str, Sequence[StoredEvent]]


@dataclass
class Request:
    """One request of a client: a credit or debit of `account`, a transfer of
    `postings` (from, to, amount), a hold of `amount` on `account`, the capture (of
    `amount`, or all of it: `held`; into `to`) or void of `hold`, or the reversal of
    `target` (an account's event or a transfer; its `postings` the opposite of the
    original's), sent by `caller` (its token's subject). Its description is unique in the
    run: it is how what was stored is told apart (and it is stored on every event and
    transfer); its key need not be (callers are apart). A capture or void stores no
    description: it is told apart by its hold."""

    number: int
    kind: str
    key: str
    description: str
    account: str = ""
    amount: str = ""
    postings: list[tuple[str, str, str]] = field(default_factory=list)
    caller: str = ""
    expires_in: int = 0
    hold: str = ""
    held: str = ""
    to: str = ""
    target: str = ""
    outcome: str = UNKNOWN
    code: str | int | None = None
    # What the acknowledgement answered: the event id (for a capture or void its
    # resolving event's), the transfer id, or the hold id; and a posting's version.
    answered: str | None = None
    version: int | None = None
    attempts: int = 0
    resent: int = 0
    # A resolved hold or a reversal asked for again under a new key (to be refused).
    asked_again: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        if self.kind in (CAPTURES, VOIDS):
            return f"/holds/{self.hold}/{'capture' if self.kind == CAPTURES else 'void'}"
        if self.kind == REVERSALS:
            return f"/{self.target}/reversal"
        return "/transfers" if self.kind == TRANSFERS else f"/accounts/{self.account}/{self.kind}"

    def body(self) -> dict[str, object]:
        if self.kind == HOLDS:
            return {
                "amount": self.amount,
                "expiresIn": self.expires_in,
                "description": self.description,
            }
        if self.kind == CAPTURES:
            whole: dict[str, object] = {"amount": self.amount} if self.amount else {}
            return whole | ({"to": self.to} if self.to else {})
        if self.kind == VOIDS:
            return {}
        if self.kind == REVERSALS:
            return {"description": self.description}
        if self.kind != TRANSFERS:
            return {"amount": self.amount, "description": self.description}
        if len(self.postings) == 1:
            ((source, target, amount),) = self.postings
            return {"from": source, "to": target, "amount": amount, "description": self.description}
        return {
            "postings": [{"from": s, "to": t, "amount": a} for s, t, a in self.postings],
            "description": self.description,
        }


@dataclass(frozen=True)
class Copy:
    """One thing stored for a request: the event or transfer id, who recorded it, and
    what it moved in the shape of `sent` (from, to, amount per posting)."""

    stored_id: str
    recorded_by: str | None
    content: list[tuple[str, str, str]]


class Run:
    """A recorded run: the requests sent, and what the tables hold once quiet; with what
    was stored for each request's description, worked out once for every check."""

    def __init__(
        self,
        requests: Iterable[Request],
        stored: History,
        transfers: Mapping[str, TransferRecord],
        *,
        as_of: datetime | None = None,
    ) -> None:
        """`as_of`: when the history was read (a hold may still be pending until its
        expiry and the grace after it); None: once everything is over, so every hold
        must have been resolved."""
        self.requests = list(requests)
        self.stored = stored
        self.transfers = transfers
        self.as_of = as_of
        self.copies: dict[str | None, list[Copy]] = defaultdict(list)
        # By hold id: its placement, and every event that resolved it.
        self.placed: dict[str, HoldPlaced] = {}
        self.resolutions: dict[str, list[Resolution]] = defaultdict(list)
        captured_into: set[str] = set()
        for events in stored.values():
            for s in events:
                event = s.event
                if isinstance(event, HoldPlaced):
                    self.placed[event.hold_id] = event
                    self.copies[event.description].append(
                        Copy(
                            event.hold_id,
                            event.recorded_by,
                            [(event.account_id, "", str(event.amount))],
                        )
                    )
                elif isinstance(event, HoldVoided | HoldExpired) or (
                    isinstance(event, Debited) and event.hold_id
                ):
                    assert event.hold_id is not None
                    self.resolutions[event.hold_id].append(event)
                    if isinstance(event, Debited) and event.transfer_id is not None:
                        captured_into.add(event.transfer_id)
                elif isinstance(event, Credited | Debited) and event.transfer_id is None:
                    self.copies[event.description].append(_posting_copy(event))
        for record in transfers.values():
            if record.transfer_id in captured_into:
                continue  # a capture's: told apart by its hold, as the capture is
            moved = [(p.from_account, p.to_account, str(p.amount)) for p in record.postings]
            self.copies[record.description].append(
                Copy(record.transfer_id, record.recorded_by, moved)
            )

    def of(self, request: Request) -> list[Copy]:
        if request.kind in (CAPTURES, VOIDS):
            kind = Debited if request.kind == CAPTURES else HoldVoided
            return [
                _resolution_copy(event)
                for event in self.resolutions.get(request.hold, [])
                if isinstance(event, kind)
            ]
        return self.copies.get(request.description, [])


Resolution = Debited | HoldVoided | HoldExpired


def _resolution_copy(event: Resolution) -> Copy:
    to = event.counterparty if isinstance(event, Debited) else None
    return Copy(
        event.event_id, event.recorded_by, [(event.account_id, to or "", str(event.amount))]
    )


def _posting_copy(event: PostingEvent) -> Copy:
    if isinstance(event, Credited):
        return Copy(event.event_id, event.recorded_by, [("", event.account_id, str(event.amount))])
    return Copy(event.event_id, event.recorded_by, [(event.account_id, "", str(event.amount))])


def sent(request: Request) -> list[tuple[str, str, str]]:
    """What a request asked for: (from, to, amount) per posting; a credit comes from
    outside ("") and a debit goes there."""
    if request.kind in (TRANSFERS, REVERSALS):
        return request.postings
    if request.kind == CREDITS:
        return [("", request.account, request.amount)]
    if request.kind == CAPTURES:
        return [(request.account, request.to, request.amount or request.held)]
    if request.kind == VOIDS:
        return [(request.account, "", request.held)]
    return [(request.account, "", request.amount)]


def versions_without_gaps(run: Run) -> list[str]:
    found = []
    for account, events in run.stored.items():
        versions = [s.event.version for s in events]
        if versions != list(range(1, len(events) + 1)):
            found.append(f"{account}: versions {versions}")
        elif events and not isinstance(events[0].event, AccountOpened):
            found.append(f"{account}: version 1 is a {type_name(events[0].event)}, not its opening")
    return found


def within_overdraft_limits(run: Run) -> list[str]:
    return [
        f"{account} v{s.event.version}: available balance {s.state.available} (balance "
        f"{s.state.balance} less {s.state.held} held) below the overdraft limit "
        f"{s.state.overdraft_limit}"
        for account, events in run.stored.items()
        for s in events
        if s.state.available < -s.state.overdraft_limit
    ]


def _legs(stored: History) -> dict[str, list[PostingEvent]]:
    by_transfer: dict[str, list[PostingEvent]] = defaultdict(list)
    for events in stored.values():
        for s in events:
            if isinstance(s.event, Credited | Debited) and s.event.transfer_id is not None:
                by_transfer[s.event.transfer_id].append(s.event)
    return by_transfer


def transfers_whole(run: Run) -> list[str]:
    found = []
    legs = _legs(run.stored)
    for transfer_id in sorted(set(legs) | set(run.transfers)):
        record = run.transfers.get(transfer_id)
        own = legs.get(transfer_id, [])
        if record is None:
            found.append(f"transfer {transfer_id}: {len(own)} legs stored without its record")
            continue
        if sorted(map(_leg_key, record.legs)) != sorted(_leg_key(Leg.of(leg)) for leg in own):
            found.append(f"transfer {transfer_id}: its record's legs are not the legs stored")
            continue
        expected = Counter(
            (kind, account, counterparty, str(p.amount))
            for p in record.postings
            for kind, account, counterparty in (
                (Debited, p.from_account, p.to_account),
                (Credited, p.to_account, p.from_account),
            )
        )
        actual = Counter(
            (type(leg), leg.account_id, leg.counterparty, str(leg.amount)) for leg in own
        )
        if expected != actual:
            found.append(f"transfer {transfer_id}: legs {actual} do not pair its postings")
    return found


def _leg_key(leg: Leg) -> tuple[str, int, str, str]:
    return (leg.account_id, leg.version, leg.event_id, leg.type)


def money_conserved(run: Run) -> list[str]:
    """Per currency: the balances' sum against external credits minus external debits,
    and each transfer's debits against its credits."""
    balances: dict[str, Decimal] = defaultdict(Decimal)
    external: dict[str, Decimal] = defaultdict(Decimal)
    moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for events in run.stored.values():
        if not events:
            continue
        last = events[-1].state
        balances[last.currency.code] += Decimal(str(last.balance))
        for s in events:
            if not isinstance(s.event, Credited | Debited):
                continue
            signed = Decimal(str(s.event.amount)) * (1 if isinstance(s.event, Credited) else -1)
            if s.event.transfer_id is None:
                external[s.state.currency.code] += signed
            else:
                moved[(s.event.transfer_id, s.state.currency.code)] += signed
    found = [
        f"{currency}: balances sum to {balances[currency]}, external postings to "
        f"{external[currency]}"
        for currency in sorted(set(balances) | set(external))
        if balances[currency] != external[currency]
    ]
    found += [
        f"transfer {transfer_id} created {net} {currency}"
        for (transfer_id, currency), net in sorted(moved.items())
        if net != 0
    ]
    return found


def nothing_acknowledged_lost(run: Run) -> list[str]:
    """An acknowledged request is stored, under the id its answer gave."""
    found = []
    for request in run.requests:
        ids = [copy.stored_id for copy in run.of(request)]
        if request.outcome == ACKNOWLEDGED and request.answered not in ids:
            found.append(f"request {request.number} answered {request.answered}, stored {ids}")
    return found


def nothing_doubled(run: Run) -> list[str]:
    """No request stored twice; nor answered otherwise when its key was sent again."""
    found = []
    for request in run.requests:
        found += [f"request {request.number}: {v}" for v in request.violations]
        copies = run.of(request)
        if len(copies) > 1:
            found.append(f"request {request.number} ({request.key}) stored {len(copies)} times")
    return found


def refused_stores_nothing(run: Run) -> list[str]:
    return [
        f"request {request.number} was refused ({request.code}) but stored"
        for request in run.requests
        if request.outcome == REJECTED and run.of(request)
    ]


def stored_as_sent(run: Run) -> list[str]:
    """What is stored for a request is what it asked for; nothing stored was not sent."""
    found = [
        f"request {request.number} is not stored as it was sent"
        for request in run.requests
        if any(copy.content != sent(request) for copy in run.of(request))
    ]
    strangers = set(run.copies) - {request.description for request in run.requests}
    found += [
        f"stored, but never sent: {description!r}" for description in sorted(map(str, strangers))
    ]
    asked = {(request.kind, request.hold) for request in run.requests}
    found += [
        f"hold {hold_id} {kind[:-1]}d by {event.event_id}, which no client asked for"
        for hold_id, events in sorted(run.resolutions.items())
        for event in events
        for kind in (CAPTURES if isinstance(event, Debited) else VOIDS,)
        if not isinstance(event, HoldExpired) and (kind, hold_id) not in asked
    ]
    return found


def callers_kept_apart(run: Run) -> list[str]:
    """Each stored request is recorded as its own caller's, whoever else sent its key."""
    return [
        f"request {request.number} of {request.caller} ({request.key}) is recorded as "
        f"{copy.recorded_by}'s"
        for request in run.requests
        for copy in run.of(request)
        if request.caller and copy.recorded_by != request.caller
    ]


def holds_resolved_once(run: Run) -> list[str]:
    found = []
    for hold_id in sorted(set(run.placed) | set(run.resolutions)):
        placed, resolved = run.placed.get(hold_id), run.resolutions.get(hold_id, [])
        if placed is None:
            found.append(f"hold {hold_id}: resolved by {_names(resolved)} but never placed")
        elif len(resolved) > 1:
            found.append(f"hold {hold_id}: resolved {len(resolved)} times ({_names(resolved)})")
        elif not resolved and (run.as_of is None or run.as_of >= placed.expires_at + EXPIRY_GRACE):
            found.append(f"hold {hold_id}: still pending, its expiry was {placed.expires_at}")
    return found


def _names(events: Iterable[Resolution]) -> str:
    return ", ".join(f"{type_name(e)} v{e.version}" for e in events)


def resolved_in_time(run: Run) -> list[str]:
    """Captured or voided before the hold's expiry (whether or not the expiry had been
    recorded yet), expired at or after it."""
    found = []
    for hold_id, events in sorted(run.resolutions.items()):
        placed = run.placed.get(hold_id)
        if placed is None:
            continue  # holds_resolved_once reports it
        for event in events:
            if isinstance(event, HoldExpired) and event.recorded_at < placed.expires_at:
                found.append(f"hold {hold_id}: expired at {event.recorded_at}, before its expiry")
            elif not isinstance(event, HoldExpired) and event.recorded_at >= placed.expires_at:
                found.append(
                    f"hold {hold_id}: {type_name(event)} at {event.recorded_at}, at or after "
                    f"its expiry {placed.expires_at}"
                )
    return found


def captures_within_holds(run: Run) -> list[str]:
    found = []
    for hold_id, events in sorted(run.resolutions.items()):
        placed = run.placed.get(hold_id)
        if placed is None:
            continue  # holds_resolved_once reports it
        for event in events:
            if isinstance(event, Debited) and event.amount > placed.amount:
                found.append(f"hold {hold_id} of {placed.amount} captured {event.amount}")
            elif not isinstance(event, Debited) and event.amount != placed.amount:
                found.append(
                    f"hold {hold_id} of {placed.amount}: {type_name(event)} of {event.amount}"
                )
    return found


def held_is_pending_holds(run: Run) -> list[str]:
    """Each snapshot's pending holds (and so its held and available balances) are the
    fold of the hold events up to its version."""
    found = []
    for account, events in run.stored.items():
        pending: dict[str, Money] = {}
        for s in events:
            event = s.event
            if isinstance(event, HoldPlaced):
                pending[event.hold_id] = event.amount
            elif isinstance(event, HoldVoided | HoldExpired | Debited) and event.hold_id:
                pending.pop(event.hold_id, None)
            carried = {hold_id: hold.amount for hold_id, hold in s.state.holds.items()}
            held = sum(pending.values(), Money.zero(s.state.currency.digits))
            if carried != pending or s.state.held != held:
                found.append(
                    f"{account} v{event.version}: holds {carried} held {s.state.held}, "
                    f"the events pend {pending} ({held})"
                )
    return found


def reversed_once_exactly(run: Run) -> list[str]:
    found = []
    events = {(a, s.event.version): s.event for a, stored in run.stored.items() for s in stored}
    reversals: dict[EventRef, list[PostingEvent]] = defaultdict(list)
    for event in events.values():
        if isinstance(event, Credited | Debited) and event.reverses is not None:
            reversals[event.reverses].append(event)
    for ref, by in sorted(
        reversals.items(), key=lambda item: (item[0].account_id, item[0].version)
    ):
        where = f"{ref.account_id} v{ref.version}"
        if len(by) > 1:
            found.append(f"{where} reversed {len(by)} times")
        original = events.get((ref.account_id, ref.version))
        if not isinstance(original, Credited | Debited) or original.reverses is not None:
            found.append(f"{where} is no posting a reversal may reverse")
            continue
        for reversal in by:
            if not _opposite(original, reversal, run.transfers):
                found.append(
                    f"{where} reversed by {reversal.account_id} v{reversal.version}, not its opposite"
                )
    for record in run.transfers.values():
        if record.reverses is None:
            continue
        original_record = run.transfers.get(record.reverses)
        back = [(p.to_account, p.from_account, p.amount, p.currency) for p in record.postings]
        if original_record is None or back != [
            (p.from_account, p.to_account, p.amount, p.currency) for p in original_record.postings
        ]:
            found.append(
                f"transfer {record.transfer_id} does not move back what {record.reverses} moved"
            )
    return found


def _opposite(
    original: PostingEvent, reversal: PostingEvent, transfers: Mapping[str, TransferRecord]
) -> bool:
    same = (
        type(original) is not type(reversal)
        and reversal.account_id == original.account_id
        and reversal.amount == original.amount
        and reversal.currency == original.currency
        and reversal.version > original.version
        and reversal.counterparty == original.counterparty
    )
    if original.transfer_id is None or reversal.transfer_id is None:
        return same and original.transfer_id is None and reversal.transfer_id is None
    record = transfers.get(reversal.transfer_id)
    return same and record is not None and record.reverses == original.transfer_id


Invariant = Callable[[Run], list[str]]

# The invariants a run is held to, by name, in the module's order: the lost, doubled
# and wrong figures of a chaos report are these rows' counts.
INVARIANTS: tuple[tuple[str, Invariant], ...] = (
    ("versions_without_gaps", versions_without_gaps),
    ("within_overdraft_limits", within_overdraft_limits),
    ("transfers_whole", transfers_whole),
    ("money_conserved", money_conserved),
    ("lost", nothing_acknowledged_lost),
    ("doubled", nothing_doubled),
    ("refused_stores_nothing", refused_stores_nothing),
    ("stored_as_sent", stored_as_sent),
    ("callers_kept_apart", callers_kept_apart),
    ("holds_resolved_once", holds_resolved_once),
    ("resolved_in_time", resolved_in_time),
    ("captures_within_holds", captures_within_holds),
    ("held_is_pending_holds", held_is_pending_holds),
    ("reversed_once_exactly", reversed_once_exactly),
)


def violations_by_invariant(run: Run) -> dict[str, list[str]]:
    """Every invariant's violations, by its name (an empty list: it held)."""
    return {name: check(run) for name, check in INVARIANTS}


def violations(
    requests: Iterable[Request],
    stored: History,
    transfers: Mapping[str, TransferRecord],
    *,
    as_of: datetime | None = None,
) -> list[str]:
    """Every invariant's violations, in the order of the module's list."""
    found = violations_by_invariant(Run(requests, stored, transfers, as_of=as_of))
    return [violation for name, _ in INVARIANTS for violation in found[name]]

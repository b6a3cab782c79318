"""The offline checks of a recorded chaos run: what the clients sent and were answered,
against what the events and transfers tables hold once the system is quiet.

Each check takes the recorded run (`Run`) and returns the violations it found (empty:
the invariant held), so a run reports all of them at once, and `test_checks.py` shows
each one catching a broken history. `INVARIANTS` is the table of them, by name, in
this order (docs/reliability.md); a new invariant is one function and one row:

1. each account's versions run 1..n without a gap, the first its opening;
2. no account is ever below its overdraft limit, at any version;
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
   request, recorded as theirs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from banking.application.ports import Leg, StoredEvent, TransferRecord
from banking.domain.events import AccountOpened, Credited, Debited, PostingEvent, type_name

ACKNOWLEDGED, REJECTED, UNKNOWN = "acknowledged", "rejected", "unknown"
CREDITS, DEBITS, TRANSFERS = "credits", "debits", "transfers"

History = Mapping[str, Sequence[StoredEvent]]


@dataclass
class Request:
    """One request of a client: a credit or debit of `account`, or a transfer of
    `postings` (from, to, amount), sent by `caller` (its token's subject). Its
    description is unique in the run: it is how what was stored is told apart (and it
    is stored on every event and transfer); its key need not be (callers are apart)."""

    number: int
    kind: str
    key: str
    description: str
    account: str = ""
    amount: str = ""
    postings: list[tuple[str, str, str]] = field(default_factory=list)
    caller: str = ""
    outcome: str = UNKNOWN
    code: str | int | None = None
    # What the acknowledgement answered: the event id, or the transfer id.
    answered: str | None = None
    attempts: int = 0
    resent: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return "/transfers" if self.kind == TRANSFERS else f"/accounts/{self.account}/{self.kind}"

    def body(self) -> dict[str, object]:
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
    ) -> None:
        self.requests = list(requests)
        self.stored = stored
        self.transfers = transfers
        self.copies: dict[str | None, list[Copy]] = defaultdict(list)
        for events in stored.values():
            for s in events:
                if isinstance(s.event, Credited | Debited) and s.event.transfer_id is None:
                    self.copies[s.event.description].append(_posting_copy(s.event))
        for record in transfers.values():
            moved = [(p.from_account, p.to_account, str(p.amount)) for p in record.postings]
            self.copies[record.description].append(
                Copy(record.transfer_id, record.recorded_by, moved)
            )

    def of(self, request: Request) -> list[Copy]:
        return self.copies.get(request.description, [])


def _posting_copy(event: PostingEvent) -> Copy:
    if isinstance(event, Credited):
        return Copy(event.event_id, event.recorded_by, [("", event.account_id, str(event.amount))])
    return Copy(event.event_id, event.recorded_by, [(event.account_id, "", str(event.amount))])


def sent(request: Request) -> list[tuple[str, str, str]]:
    """What a request asked for: (from, to, amount) per posting; a credit comes from
    outside ("") and a debit goes there."""
    if request.kind == TRANSFERS:
        return request.postings
    if request.kind == CREDITS:
        return [("", request.account, request.amount)]
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
        f"{account} v{s.event.version}: balance {s.state.balance} below the overdraft "
        f"limit {s.state.overdraft_limit}"
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
)


def violations_by_invariant(run: Run) -> dict[str, list[str]]:
    """Every invariant's violations, by its name (an empty list: it held)."""
    return {name: check(run) for name, check in INVARIANTS}


def violations(
    requests: Iterable[Request], stored: History, transfers: Mapping[str, TransferRecord]
) -> list[str]:
    """Every invariant's violations, in the order of the module's list."""
    found = violations_by_invariant(Run(requests, stored, transfers))
    return [violation for name, _ in INVARIANTS for violation in found[name]]

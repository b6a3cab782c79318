"""The offline checks of a recorded chaos run: what the clients sent and were answered,
against what the events and transfers tables hold once the system is quiet.

Each check returns the violations it found (empty: the invariant held), so a run
reports all of them at once, and `test_checks.py` shows each one catching a broken
history. The invariants are the ledger's (docs/reliability.md):

1. each account's versions run 1..n without a gap, the first its opening;
2. no account is ever below its overdraft limit, at any version;
3. a transfer is stored whole or not at all: its record lists exactly the legs stored
   with its id, a debit on each posting's `from` and a credit on its `to`, equal;
4. per currency, the sum of all balances equals the external credits minus the
   external debits (transfers move money, they never make or lose it);
5. each request (one idempotency key of the one caller) stores at most once: exactly
   what was answered when acknowledged, nothing when refused.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
    `postings` (from, to, amount). Its description is unique in the run: it is how
    what was stored is told apart (and it is stored on every event and transfer)."""

    number: int
    kind: str
    key: str
    description: str
    account: str = ""
    amount: str = ""
    postings: list[tuple[str, str, str]] = field(default_factory=list)
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


def versions_without_gaps(stored: History) -> list[str]:
    found = []
    for account, events in stored.items():
        versions = [s.event.version for s in events]
        if versions != list(range(1, len(events) + 1)):
            found.append(f"{account}: versions {versions}")
        elif events and not isinstance(events[0].event, AccountOpened):
            found.append(f"{account}: version 1 is a {type_name(events[0].event)}, not its opening")
    return found


def within_overdraft_limits(stored: History) -> list[str]:
    return [
        f"{account} v{s.event.version}: balance {s.state.balance} below the overdraft "
        f"limit {s.state.overdraft_limit}"
        for account, events in stored.items()
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


def transfers_whole(stored: History, transfers: Mapping[str, TransferRecord]) -> list[str]:
    found = []
    legs = _legs(stored)
    for transfer_id in sorted(set(legs) | set(transfers)):
        record = transfers.get(transfer_id)
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


def money_conserved(stored: History) -> list[str]:
    """Per currency: the balances' sum against external credits minus external debits,
    and each transfer's debits against its credits."""
    balances: dict[str, Decimal] = defaultdict(Decimal)
    external: dict[str, Decimal] = defaultdict(Decimal)
    moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for events in stored.values():
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


def stored_at_most_once(
    requests: Iterable[Request], stored: History, transfers: Mapping[str, TransferRecord]
) -> list[str]:
    """Every stored posting and transfer is one a client sent, at most once; acknowledged
    ones exactly as answered; refused ones not at all."""
    events_by_description: dict[str | None, list[PostingEvent]] = defaultdict(list)
    for events in stored.values():
        for s in events:
            if isinstance(s.event, Credited | Debited) and s.event.transfer_id is None:
                events_by_description[s.event.description].append(s.event)
    transfers_by_description: dict[str | None, list[str]] = defaultdict(list)
    for record in transfers.values():
        transfers_by_description[record.description].append(record.transfer_id)

    found = []
    sent = set()
    for request in requests:
        sent.add(request.description)
        found += [f"request {request.number}: {v}" for v in request.violations]
        if request.kind == TRANSFERS:
            copies = transfers_by_description.get(request.description, [])
        else:
            copies = [e.event_id for e in events_by_description.get(request.description, [])]
        if len(copies) > 1:
            found.append(f"request {request.number} ({request.key}) stored {len(copies)} times")
        elif request.outcome == ACKNOWLEDGED and copies != [request.answered]:
            found.append(f"request {request.number} answered {request.answered}, stored {copies}")
        elif copies and _content(request, events_by_description, transfers) != _sent(request):
            found.append(f"request {request.number} is not stored as it was sent")
        elif request.outcome == REJECTED and copies:
            found.append(f"request {request.number} was refused ({request.code}) but stored")
    strangers = (set(events_by_description) | set(transfers_by_description)) - sent
    found += [
        f"stored, but never sent: {description!r}" for description in sorted(map(str, strangers))
    ]
    return found


def _sent(request: Request) -> list[tuple[str, str, str]]:
    """What a request asked for: (from, to, amount) per posting; a credit comes from
    outside ("") and a debit goes there."""
    if request.kind == TRANSFERS:
        return request.postings
    if request.kind == CREDITS:
        return [("", request.account, request.amount)]
    return [(request.account, "", request.amount)]


def _content(
    request: Request,
    events_by_description: Mapping[str | None, list[PostingEvent]],
    transfers: Mapping[str, TransferRecord],
) -> list[tuple[str, str, str]]:
    """What was stored for a request, in the shape of `_sent`."""
    if request.kind == TRANSFERS:
        (transfer_id,) = [
            t for t, record in transfers.items() if record.description == request.description
        ]
        postings = transfers[transfer_id].postings
        return [(p.from_account, p.to_account, str(p.amount)) for p in postings]
    (event,) = events_by_description[request.description]
    if isinstance(event, Credited):
        return [("", event.account_id, str(event.amount))]
    return [(event.account_id, "", str(event.amount))]


def violations(
    requests: Iterable[Request], stored: History, transfers: Mapping[str, TransferRecord]
) -> list[str]:
    """Every invariant's violations, in the order of the module's list."""
    return [
        *versions_without_gaps(stored),
        *within_overdraft_limits(stored),
        *transfers_whole(stored, transfers),
        *money_conserved(stored),
        *stored_at_most_once(requests, stored, transfers),
    ]

"""The chaos run's offline checks catch each broken history they exist for: a history
the application stored (on the in-memory store) passes them all, and each tampering
with it is found by the check that guards that invariant."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.holds import capture_hold, expire_hold, place_hold, void_hold
from banking.application.ports import HoldRecord, StoredEvent, TransferRecord
from banking.application.reversals import reverse_entry, reverse_transfer
from banking.application.transfers import transfer
from banking.domain.account import PendingHold
from banking.domain.commands import OpenAccount, RecordCredit, RecordDebit
from banking.domain.currency import Currency
from banking.domain.errors import DomainError
from banking.domain.events import Credited, Debited, HoldExpired, HoldPlaced, HoldVoided
from banking.domain.holds import CaptureHold, PlaceHold, VoidHold
from banking.domain.money import Money
from banking.domain.reversals import ReverseEntry
from banking.domain.transfer import Posting, Transfer
from tests.chaos.checks import (
    ACKNOWLEDGED,
    CAPTURES,
    CREDITS,
    DEBITS,
    EXPIRY_GRACE,
    HOLDS,
    INVARIANTS,
    REJECTED,
    REVERSALS,
    TRANSFERS,
    VOIDS,
    Request,
    Run,
    callers_kept_apart,
    captures_within_holds,
    held_is_pending_holds,
    holds_resolved_once,
    money_conserved,
    nothing_acknowledged_lost,
    nothing_doubled,
    refused_stores_nothing,
    resolved_in_time,
    reversed_once_exactly,
    sent,
    stored_as_sent,
    transfers_whole,
    versions_without_gaps,
    violations,
    within_overdraft_limits,
)

CALLER = "chaos-client"
OTHER_CALLER = "chaos-other-client"


class Recorded:
    """A small history made by the application itself, as the chaos clients make one."""

    def __init__(self) -> None:
        ids = (f"id-{n}" for n in itertools.count())
        self.store = InMemoryEventStore()
        self.now = datetime(2026, 11, 30, 12, tzinfo=UTC)
        self.deps = CommandDependencies(
            store=self.store,
            clock=lambda: self.now,
            new_id=lambda: next(ids),
            sleep=lambda _: None,
        )
        self.requests: list[Request] = []
        self.transfers: dict[str, TransferRecord] = {}
        self.holds: dict[str, HoldRecord] = {}
        for account, currency, limit in (("a", "EUR", "20"), ("b", "EUR", "0"), ("c", "USD", "0")):
            opening = OpenAccount(account, Currency(currency), {account}, Money.of(limit))
            record(opening, self.deps, caller=CALLER)
        self.post(CREDITS, "a", "50.00")
        self.post(DEBITS, "a", "55.00")  # within a's overdraft limit of 20.00
        self.post(CREDITS, "c", "7.00")
        self.move([("b", "a", "0")])  # refused below: 0 is no amount
        self.move([("a", "b", "5.00")])
        self.move([("b", "a", "1.00"), ("a", "b", "2.00")])
        self.move([("a", "c", "1.00")])  # refused: currency mismatch
        # Another caller sends the key of the first transfer: a request of its own.
        self.move([("b", "a", "3.00")], caller=OTHER_CALLER, key=self.requests[4].key)
        # Holds on b, each resolved once: captured in part, captured whole into a,
        # voided, left to expire, and one refused a capture after its expiry.
        self.post(CREDITS, "b", "100.00")
        self.capture(self.hold("b", "10.00"), "4.00")
        self.capture(self.hold("b", "5.00"), to="a")
        self.void(self.hold("b", "6.00"))
        left = [self.hold("b", "7.00"), self.hold("b", "2.00")]
        self.now += timedelta(seconds=61)
        self.capture(left[1])  # refused: expired, whether or not that is recorded yet
        self.expired = [expire_hold(self.holds[r.answered or ""], self.deps) for r in left]
        # Reversals: c's credit and the first transfer, each once; a second attempt is
        # refused.
        self.reverse(self.requests[2])
        self.reverse(self.requests[4])
        self.reverse(self.requests[4])

    def _request(self, kind: str, caller: str, key: str | None, **fields: object) -> Request:
        number = len(self.requests)
        key = key or f"key-{number}"
        request = Request(number, kind, key, f"request {number}", caller=caller, **fields)  # type: ignore[arg-type]
        self.requests.append(request)
        return request

    def post(
        self, kind: str, account: str, amount: str, caller: str = CALLER, key: str | None = None
    ) -> None:
        request = self._request(kind, caller, key, account=account, amount=amount)
        command = (RecordCredit if kind == CREDITS else RecordDebit)(
            account, Money.of(amount), request.description
        )
        event = record(command, self.deps, idempotency_key=request.key, caller=caller)
        request.outcome, request.answered = ACKNOWLEDGED, event.event_id
        request.version = event.version

    def move(
        self, postings: list[tuple[str, str, str]], caller: str = CALLER, key: str | None = None
    ) -> None:
        request = self._request(TRANSFERS, caller, key, postings=postings)
        command = Transfer(
            f"transfer-{request.number}",
            [Posting(s, t, Money.of(a)) for s, t, a in postings],
            request.description,
        )
        try:
            stored = transfer(
                command, self.deps, idempotency_key=request.key, caller=request.caller
            )
        except DomainError as refused:
            request.outcome, request.code = REJECTED, refused.code
            return
        request.outcome, request.answered = ACKNOWLEDGED, stored.transfer_id
        self.transfers[stored.transfer_id] = stored

    def hold(self, account: str, amount: str, expires_in: int = 60) -> Request:
        request = self._request(HOLDS, CALLER, None, account=account, amount=amount)
        request.expires_in = expires_in
        command = PlaceHold(
            account,
            f"hold-{request.number}",
            Money.of(amount),
            timedelta(seconds=expires_in),
            request.description,
        )
        hold = place_hold(command, self.deps, idempotency_key=request.key, caller=CALLER)
        request.outcome, request.answered = ACKNOWLEDGED, hold.hold_id
        self.holds[hold.hold_id] = hold
        return request

    def capture(self, placed: Request, amount: str = "", to: str = "") -> None:
        request = self._resolving(CAPTURES, placed)
        request.amount, request.to = amount, to
        command = CaptureHold(request.hold, Money.of(amount) if amount else None, to or None)
        self._resolve(
            request,
            lambda: capture_hold(
                command,
                self.deps,
                idempotency_key=request.key,
                caller=CALLER,
                transfer_id=f"capture-{request.number}",
            ),
        )

    def void(self, placed: Request) -> None:
        request = self._resolving(VOIDS, placed)
        self._resolve(
            request,
            lambda: void_hold(
                VoidHold(request.hold), self.deps, idempotency_key=request.key, caller=CALLER
            ),
        )

    def _resolving(self, kind: str, placed: Request) -> Request:
        request = self._request(kind, CALLER, None, account=placed.account)
        request.hold, request.held = placed.answered or "", placed.amount
        return request

    def _resolve(self, request: Request, resolve: Callable[[], HoldRecord]) -> None:
        try:
            hold = resolve()
        except DomainError as refused:
            request.outcome, request.code = REJECTED, refused.code
            return
        request.outcome, request.answered = ACKNOWLEDGED, hold.resolved_event_id
        if hold.transfer_id is not None:
            stored = self.store.transfer(hold.transfer_id)
            assert stored is not None
            self.transfers[hold.transfer_id] = stored

    def reverse(self, original: Request) -> None:
        request = self._request(REVERSALS, CALLER, None)
        request.postings = [(to, source, amount) for source, to, amount in sent(original)]
        try:
            if original.kind == TRANSFERS:
                request.target = f"transfers/{original.answered}"
                stored = reverse_transfer(
                    original.answered or "",
                    self.deps,
                    reversal_id=f"reversal-{request.number}",
                    description=request.description,
                    idempotency_key=request.key,
                    caller=CALLER,
                )
                request.answered = stored.transfer_id
                self.transfers[stored.transfer_id] = stored
            else:
                request.target = f"accounts/{original.account}/events/{original.version}"
                command = ReverseEntry(original.account, original.version or 0, request.description)
                event = reverse_entry(
                    command, self.deps, idempotency_key=request.key, caller=CALLER
                )
                request.answered = event.event_id
        except DomainError as refused:
            request.outcome, request.code = REJECTED, refused.code
            return
        request.outcome = ACKNOWLEDGED

    def history(self) -> dict[str, list[StoredEvent]]:
        by_account: dict[str, list[StoredEvent]] = defaultdict(list)
        for stored in sorted(
            self.store.all_stored(), key=lambda s: (s.event.account_id, s.event.version)
        ):
            by_account[stored.event.account_id].append(stored)
        return dict(by_account)


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


def _tampered(stored: StoredEvent, **event_changes: Any) -> StoredEvent:
    return attrs.evolve(stored, event=attrs.evolve(stored.event, **event_changes))


def _run(recorded: Recorded, history: dict[str, list[StoredEvent]] | None = None) -> Run:
    return Run(recorded.requests, history or recorded.history(), recorded.transfers)


def test_a_history_the_application_stored_passes_every_check(recorded: Recorded) -> None:
    # GIVEN what the application stored for the recorded requests
    history = recorded.history()

    # THEN five transfers were stored (one by another caller under a key the first
    # caller used too, a capture into another account, a reversal), four requests were
    # refused (two transfers, a capture after its hold's expiry, a second reversal), and
    # every invariant holds
    assert len(recorded.transfers) == 5
    assert [r.code for r in recorded.requests if r.outcome == REJECTED] == [
        "invalid_amount",
        "currency_mismatch",
        "hold_expired",
        "already_reversed",
    ]
    assert all(hold is not None for hold in recorded.expired)
    assert violations(recorded.requests, history, recorded.transfers) == []


def test_every_invariant_is_a_row_of_the_table_under_its_own_name() -> None:
    names = [name for name, _ in INVARIANTS]

    assert len(set(names)) == len(names) == 14
    assert {"lost", "doubled", "money_conserved", "callers_kept_apart"} <= set(names)


def test_a_gap_in_an_accounts_versions_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    history["a"] = history["a"][:1] + history["a"][2:]

    assert versions_without_gaps(Run(recorded.requests, history, recorded.transfers))


def test_a_balance_below_its_overdraft_limit_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    last = history["a"][-1]
    history["a"][-1] = attrs.evolve(
        last, state=attrs.evolve(last.state, balance=Money.of("-20.01"))
    )

    assert within_overdraft_limits(Run(recorded.requests, history, recorded.transfers))


def test_a_hold_that_takes_the_available_balance_below_the_limit_is_found(
    recorded: Recorded,
) -> None:
    # GIVEN b's snapshot after its first hold, as if it held 1,000.00 of its balance
    history = recorded.history()
    account, index, placed = _where(history, HoldPlaced)
    assert isinstance(placed.event, HoldPlaced)
    hold = PendingHold(Money.of("1000.00"), placed.event.expires_at)
    state = attrs.evolve(placed.state, holds={placed.event.hold_id: hold})
    history[account][index] = attrs.evolve(placed, state=state)

    # THEN its available balance is below its overdraft limit of 0
    assert within_overdraft_limits(_run(recorded, history))


def test_a_transfer_with_a_leg_lost_is_found_and_breaks_conservation(recorded: Recorded) -> None:
    # GIVEN the history without b's credit leg (version 2) of the transfer of 5.00 to it
    history = recorded.history()
    assert isinstance(history["b"][1].event, Credited)
    history["b"] = [s for s in history["b"] if s.event.version != 2]

    # THEN the transfer is not whole, and money went missing
    assert transfers_whole(Run(recorded.requests, history, recorded.transfers))
    assert money_conserved(Run(recorded.requests, history, recorded.transfers))


def test_a_transfer_record_without_its_legs_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    record_ = next(iter(recorded.transfers.values()))
    phantom = attrs.evolve(record_, transfer_id="phantom")

    assert transfers_whole(
        Run(recorded.requests, history, {**recorded.transfers, "phantom": phantom})
    )


def test_a_transfer_whose_credit_exceeds_its_debit_is_found(recorded: Recorded) -> None:
    # GIVEN a credit leg of a transfer that says more than the debit it pairs with
    history = recorded.history()
    index, leg = next(
        (i, s)
        for i, s in enumerate(history["b"])
        if isinstance(s.event, Credited) and s.event.transfer_id
    )
    assert isinstance(leg.event, Credited)
    history["b"][index] = _tampered(leg, amount=leg.event.amount + Money.of("1.00"))

    # THEN it does not pair its postings, and the transfer created money
    assert transfers_whole(Run(recorded.requests, history, recorded.transfers))
    assert any(
        "created" in found
        for found in money_conserved(Run(recorded.requests, history, recorded.transfers))
    )


def test_balances_that_do_not_add_up_to_the_external_postings_are_found(
    recorded: Recorded,
) -> None:
    history = recorded.history()
    last = history["c"][-1]
    history["c"][-1] = attrs.evolve(last, state=attrs.evolve(last.state, balance=Money.of("8.00")))

    assert money_conserved(Run(recorded.requests, history, recorded.transfers))


def test_a_request_stored_twice_is_found(recorded: Recorded) -> None:
    # GIVEN the first credit of a stored once more, under another id, at a's next version
    history = recorded.history()
    credit = next(s for s in history["a"] if isinstance(s.event, Credited))
    again = _tampered(credit, event_id="copy", version=len(history["a"]) + 1)
    history["a"].append(again)

    assert nothing_doubled(_run(recorded, history))


def test_a_resent_key_answered_otherwise_is_counted_as_doubled(recorded: Recorded) -> None:
    recorded.requests[0].violations.append("a resent key answered another-id")

    assert nothing_doubled(_run(recorded))


def test_an_acknowledged_request_that_was_not_stored_is_found_lost(recorded: Recorded) -> None:
    # GIVEN the history without a's first credit (version 2), which was acknowledged
    history = recorded.history()
    history["a"] = [s for s in history["a"] if s.event.version != 2]

    assert nothing_acknowledged_lost(_run(recorded, history))


def test_a_refused_request_that_was_stored_is_found(recorded: Recorded) -> None:
    acknowledged = recorded.requests[0]
    acknowledged.outcome, acknowledged.code = REJECTED, "insufficient_funds"

    assert refused_stores_nothing(_run(recorded))


def test_an_acknowledged_transfer_stored_under_another_id_is_found(recorded: Recorded) -> None:
    moved = next(r for r in recorded.requests if r.kind == TRANSFERS and r.answered)
    moved.answered = "another-transfer"

    assert nothing_acknowledged_lost(_run(recorded))


def test_a_stored_posting_no_client_sent_is_found(recorded: Recorded) -> None:
    sent = [r for r in recorded.requests if r.kind != CREDITS]

    assert stored_as_sent(Run(sent, recorded.history(), recorded.transfers))


def test_a_request_stored_with_another_amount_is_found(recorded: Recorded) -> None:
    # GIVEN the first credit of a stored with a cent more than was sent
    history = recorded.history()
    index, credit = next((i, s) for i, s in enumerate(history["a"]) if s.event.version == 2)
    assert isinstance(credit.event, Credited)
    history["a"][index] = _tampered(credit, amount=credit.event.amount + Money.of("0.01"))

    assert stored_as_sent(_run(recorded, history))


def test_a_transfer_stored_between_other_accounts_is_found(recorded: Recorded) -> None:
    moved = next(r for r in recorded.requests if r.kind == TRANSFERS and r.answered)
    moved.postings = [(target, source, amount) for source, target, amount in moved.postings]

    assert stored_as_sent(_run(recorded))


def test_a_request_recorded_as_another_callers_is_found(recorded: Recorded) -> None:
    # GIVEN the other caller's transfer, which shares its key with the first caller's,
    # stored as if the first caller had sent it
    other = next(r for r in recorded.requests if r.caller == OTHER_CALLER)
    assert other.answered is not None
    transfers = dict(recorded.transfers)
    transfers[other.answered] = attrs.evolve(transfers[other.answered], recorded_by=CALLER)

    assert callers_kept_apart(Run(recorded.requests, recorded.history(), transfers))


def test_a_posting_recorded_as_another_callers_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    index, credit = next((i, s) for i, s in enumerate(history["a"]) if s.event.version == 2)
    history["a"][index] = _tampered(credit, recorded_by=OTHER_CALLER)

    assert callers_kept_apart(_run(recorded, history))


def _where(
    history: dict[str, list[StoredEvent]], kind: type[Any], hold_id: str | None = None
) -> tuple[str, int, StoredEvent]:
    """The first stored event of `kind` (of hold `hold_id` when given): its account,
    index in that account's history, and the stored event."""
    return next(
        (account, index, s)
        for account, events in history.items()
        for index, s in enumerate(events)
        if isinstance(s.event, kind)
        and (hold_id is None or getattr(s.event, "hold_id", None) == hold_id)
    )


def _appended(history: dict[str, list[StoredEvent]], stored: StoredEvent) -> None:
    """`stored` once more, at its account's next version."""
    events = history[stored.event.account_id]
    events.append(_tampered(stored, event_id="copy", version=len(events) + 1))


def test_a_hold_resolved_twice_is_found(recorded: Recorded) -> None:
    # GIVEN the voided hold voided once more
    history = recorded.history()
    _, _, voided = _where(history, HoldVoided)
    _appended(history, voided)

    assert holds_resolved_once(_run(recorded, history))


def test_a_hold_resolved_without_being_placed_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    account, index, placed = _where(history, HoldPlaced)
    history[account][index] = _tampered(placed, hold_id="another-hold")

    assert holds_resolved_once(_run(recorded, history))


def test_a_hold_left_pending_is_found_only_once_its_grace_after_expiry_is_over(
    recorded: Recorded,
) -> None:
    # GIVEN the history without the expiry of the hold of 7.00 (b's last but one event)
    history = recorded.history()
    account, index, expired = _where(history, HoldExpired)
    del history[account][index]
    assert isinstance(expired.event, HoldExpired)
    due = recorded.holds[expired.event.hold_id].expires_at + EXPIRY_GRACE

    # WHEN it is checked before its grace is over, then at its end, then once all is over
    early = Run(recorded.requests, history, recorded.transfers, as_of=due - timedelta(seconds=1))
    late = Run(recorded.requests, history, recorded.transfers, as_of=due)

    # THEN it is found pending at the end of its grace, and at the end of the run
    assert holds_resolved_once(early) == []
    assert holds_resolved_once(late)
    assert holds_resolved_once(_run(recorded, history))


def test_a_capture_recorded_at_its_holds_expiry_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    capture = next(r for r in recorded.requests if r.kind == CAPTURES and r.answered)
    account, index, captured = _where(history, Debited, capture.hold)
    expires_at = recorded.holds[capture.hold].expires_at
    history[account][index] = _tampered(captured, recorded_at=expires_at)

    assert resolved_in_time(_run(recorded, history))


def test_a_hold_expired_before_its_expiry_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    account, index, expired = _where(history, HoldExpired)
    history[account][index] = _tampered(
        expired, recorded_at=expired.event.recorded_at.replace(year=2025)
    )

    assert resolved_in_time(_run(recorded, history))


def test_a_capture_beyond_the_held_amount_is_found(recorded: Recorded) -> None:
    # GIVEN the capture of 4.00 of a hold of 10.00 recorded as 10.01
    history = recorded.history()
    capture = next(r for r in recorded.requests if r.kind == CAPTURES and r.amount == "4.00")
    account, index, captured = _where(history, Debited, capture.hold)
    history[account][index] = _tampered(captured, amount=Money.of("10.01"))

    assert captures_within_holds(_run(recorded, history))


def test_a_void_that_releases_less_than_was_held_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    account, index, voided = _where(history, HoldVoided)
    history[account][index] = _tampered(voided, amount=Money.of("0.01"))

    assert captures_within_holds(_run(recorded, history))


def test_a_snapshot_whose_held_amount_is_not_its_pending_holds_is_found(
    recorded: Recorded,
) -> None:
    # GIVEN the snapshot after a hold's placement that forgot it
    history = recorded.history()
    account, index, placed = _where(history, HoldPlaced)
    history[account][index] = attrs.evolve(placed, state=attrs.evolve(placed.state, holds={}))

    # THEN its held amount is not the pending holds', and its available balance too high
    assert held_is_pending_holds(_run(recorded, history))


def test_a_posting_reversed_twice_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    reversal = next(s for s in history["c"] if isinstance(s.event, Debited) and s.event.reverses)
    _appended(history, reversal)

    assert reversed_once_exactly(_run(recorded, history))


def test_a_reversal_that_is_not_its_originals_opposite_is_found(recorded: Recorded) -> None:
    history = recorded.history()
    index, reversal = next(
        (i, s)
        for i, s in enumerate(history["c"])
        if isinstance(s.event, Debited) and s.event.reverses
    )
    history["c"][index] = _tampered(reversal, amount=Money.of("6.99"))

    assert reversed_once_exactly(_run(recorded, history))


def test_a_transfers_reversal_that_does_not_move_its_postings_back_is_found(
    recorded: Recorded,
) -> None:
    # GIVEN the reversal of a transfer recorded as moving its money the same way again
    reversal = next(r for r in recorded.transfers.values() if r.reverses)
    original = recorded.transfers[reversal.reverses or ""]
    transfers = {
        **recorded.transfers,
        reversal.transfer_id: attrs.evolve(reversal, postings=original.postings),
    }

    assert reversed_once_exactly(Run(recorded.requests, recorded.history(), transfers))


def test_an_acknowledged_capture_that_was_not_stored_is_found_lost(recorded: Recorded) -> None:
    history = recorded.history()
    capture = next(r for r in recorded.requests if r.kind == CAPTURES and r.answered)
    account, index, _ = _where(history, Debited, capture.hold)
    del history[account][index]

    assert nothing_acknowledged_lost(_run(recorded, history))


def test_a_void_no_client_asked_for_is_found(recorded: Recorded) -> None:
    sent_ = [r for r in recorded.requests if r.kind != VOIDS]

    assert stored_as_sent(Run(sent_, recorded.history(), recorded.transfers))


def test_a_hold_placed_with_another_amount_is_found(recorded: Recorded) -> None:
    placed = next(r for r in recorded.requests if r.kind == HOLDS)
    placed.amount = "10.01"

    assert stored_as_sent(_run(recorded))


def test_a_reversal_stored_for_a_refused_request_is_found(recorded: Recorded) -> None:
    reversal = next(r for r in recorded.requests if r.kind == REVERSALS and r.answered)
    reversal.outcome, reversal.code = REJECTED, "already_reversed"

    assert refused_stores_nothing(_run(recorded))

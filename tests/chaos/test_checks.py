"""The chaos run's offline checks catch each broken history they exist for: a history
the application stored (on the in-memory store) passes them all, and each tampering
with it is found by the check that guards that invariant."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.ports import StoredEvent, TransferRecord
from banking.application.transfers import transfer
from banking.domain.commands import OpenAccount, RecordCredit, RecordDebit
from banking.domain.currency import Currency
from banking.domain.errors import DomainError
from banking.domain.events import Credited
from banking.domain.money import Money
from banking.domain.transfer import Posting, Transfer
from tests.chaos.checks import (
    ACKNOWLEDGED,
    CREDITS,
    DEBITS,
    INVARIANTS,
    REJECTED,
    TRANSFERS,
    Request,
    Run,
    callers_kept_apart,
    money_conserved,
    nothing_acknowledged_lost,
    nothing_doubled,
    refused_stores_nothing,
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
        self.deps = CommandDependencies(
            store=self.store,
            clock=lambda: datetime(2026, 11, 30, 12, tzinfo=UTC),
            new_id=lambda: next(ids),
            sleep=lambda _: None,
        )
        self.requests: list[Request] = []
        self.transfers: dict[str, TransferRecord] = {}
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

    # THEN three transfers were stored (one by another caller under a key the first
    # caller used too), two refused, and every invariant holds
    assert len(recorded.transfers) == 3
    assert [r.outcome for r in recorded.requests].count(REJECTED) == 2
    assert violations(recorded.requests, history, recorded.transfers) == []


def test_every_invariant_is_a_row_of_the_table_under_its_own_name() -> None:
    names = [name for name, _ in INVARIANTS]

    assert len(set(names)) == len(names) == 9
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

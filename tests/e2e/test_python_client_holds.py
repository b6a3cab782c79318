"""The Python client (clients/python) against the whole local system: holds, reversals,
balances as of a moment and CSV statements."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from ledger_client import (
    AlreadyReversed,
    HoldEvent,
    HoldExpired,
    HoldNotPending,
    Ledger,
    LocalIssuerTokenProvider,
)
from tests.e2e.conftest import READ_ANY_SCOPE, WRITE_SCOPE
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def ledger(system: System) -> Iterator[Ledger]:
    provider = LocalIssuerTokenProvider(
        "e2e-client-holds", scopes=[WRITE_SCOPE, READ_ANY_SCOPE], state_dir=system.state_dir
    )
    with Ledger(system.api_url, token_provider=provider) as client:
        yield client


def test_a_hold_is_placed_captured_in_part_and_cannot_be_resolved_twice(
    ledger: Ledger, account: str
) -> None:
    # GIVEN an account holding 100.00 with 40.00 of it on hold
    ledger.credit(account, "100.00")
    hold = ledger.place_hold(account, "40.00", expires_in=600, description="hotel")
    held = ledger.wait_for(hold, timeout=30)
    assert (held.held_balance, held.available_balance) == (Decimal("40.00"), Decimal("60.00"))

    # WHEN 25.00 of it is captured
    captured = ledger.capture_hold(hold.hold_id, amount="25.00")

    # THEN 25.00 is debited and the rest released, once and for all
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("25.00"))
    balance = ledger.wait_for(captured.resolution(), timeout=30)
    assert (balance.total_balance, balance.held_balance, balance.available_balance) == (
        Decimal("75.00"),
        Decimal("0.00"),
        Decimal("75.00"),
    )
    with pytest.raises(HoldNotPending):
        ledger.void_hold(hold.hold_id)
    assert [h.hold_id for h in ledger.holds(account, status="captured")] == [hold.hold_id]


def test_a_voided_hold_moves_no_money_and_an_expired_one_is_released(
    ledger: Ledger, account: str
) -> None:
    # GIVEN an account holding 50.00, one hold voided and one left to expire
    ledger.credit(account, "50.00")
    voided = ledger.void_hold(ledger.place_hold(account, "10.00", expires_in=600).hold_id)
    expiring = ledger.place_hold(account, "20.00", expires_in=2)

    # WHEN the second hold's time runs out
    expired = ledger.wait_for_hold(expiring, timeout=60)

    # THEN the expirer released it, capturing it is refused, and the balance is untouched
    assert voided.status == "voided"
    assert expired.status == "expired"
    with pytest.raises(HoldExpired):
        ledger.capture_hold(expiring.hold_id)
    balance = ledger.wait_for(expired.resolution(), timeout=30)
    assert (balance.total_balance, balance.available_balance) == (
        Decimal("50.00"),
        Decimal("50.00"),
    )
    kinds = [event.type for event in ledger.history(account) if isinstance(event, HoldEvent)]
    assert kinds == ["HoldPlaced", "HoldVoided", "HoldPlaced", "HoldExpired"]


def test_a_credit_is_reversed_once_and_a_past_balance_still_shows_it(
    ledger: Ledger, account: str
) -> None:
    # GIVEN two credits
    first = ledger.credit(account, "30.00")
    second = ledger.credit(account, "12.00")

    # WHEN the second is reversed, then reversed again
    reversal = ledger.reverse(account, second.version, description="sent twice")
    with pytest.raises(AlreadyReversed):
        ledger.reverse(account, second.version)

    # THEN the reversal names it, the balance is back to the first credit, and the balance
    # as of the second credit's moment is what it was then
    assert reversal.type == "DebitEvent"
    assert reversal.reverses is not None
    assert (reversal.reverses.account_id, reversal.reverses.version) == (account, second.version)
    assert ledger.wait_for(reversal, timeout=30).total_balance == Decimal("30.00")
    then = ledger.balance(account, at=second.recorded_at)
    assert then.version == second.version
    assert then.total_balance == Decimal("42.00")
    assert ledger.balance(account, at=first.recorded_at).total_balance == Decimal("30.00")


def test_a_months_csv_statement_reads_back_line_by_line(ledger: Ledger, account: str) -> None:
    # GIVEN a credit and a debit this month
    ledger.credit(account, "100.00", description="salary")
    debit = ledger.debit(account, "30.25", description="=rent")
    month = debit.recorded_at.strftime("%Y-%m")

    # WHEN the month's statement is read as CSV
    statement = ledger.statement_csv(account, month)

    # THEN the file and its parsed lines agree, to the cent
    assert statement.content.startswith(b"\xef\xbb\xbf")
    assert statement.text.splitlines()[0] == "Date,Description,Counterparty,Amount,Balance"
    assert [(line.description, line.amount, line.balance) for line in statement.lines] == [
        ("salary", Decimal("100.00"), Decimal("100.00")),
        ("'=rent", Decimal("-30.25"), Decimal("69.75")),
    ]
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("0.00"),
        Decimal("69.75"),
    )

"""The Python client's accounts and transfers (clients/python) against the whole local
system: an operator opens accounts, a back office moves money between them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from ledger_client import (
    AccountFrozen,
    CurrencyMismatch,
    Event,
    InsufficientFunds,
    Ledger,
    TransferNotFound,
)
from scripts.local.issuer import token_for
from tests.e2e.conftest import READ_ANY_SCOPE, WRITE_SCOPE, eventually
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

MANAGE_SCOPE = "ledger/accounts.manage"
OWNER = "e2e-client-accounts-owner"
WAIT_S = 30


@pytest.fixture
def operator(system: System) -> Iterator[Ledger]:
    token = token_for(system.state_dir, "e2e-client-ops", scopes=[MANAGE_SCOPE])
    with Ledger(system.api_url, token=token) as client:
        yield client


@pytest.fixture
def back_office(system: System) -> Iterator[Ledger]:
    token = token_for(system.state_dir, "e2e-client-payments", scopes=[WRITE_SCOPE, READ_ANY_SCOPE])
    with Ledger(system.api_url, token=token) as client:
        yield client


def _fresh(name: str) -> str:
    # The tests share one system and may run in any order.
    return f"e2e-{name}-{uuid.uuid4().hex[:10]}"


def test_a_transfer_moves_money_between_two_opened_accounts(
    operator: Ledger, back_office: Ledger
) -> None:
    # GIVEN two EUR accounts, the first credited 100.00
    alice = operator.open_account(_fresh("alice"), "EUR", [OWNER], metadata={"kind": "test"})
    bob = operator.open_account(_fresh("bob"), "EUR", [OWNER])
    assert (alice.status, alice.currency, alice.version) == ("open", "EUR", 1)
    back_office.credit(alice.account_id, "100.00", description="salary")

    # WHEN the back office moves 40.00 from the first to the second
    transfer = back_office.transfer(
        alice.account_id, bob.account_id, Decimal("40.00"), description="rent"
    )

    # THEN once the read side caught up, both balances reflect it, exactly
    paid, received = back_office.wait_for(transfer, timeout=WAIT_S)
    assert (paid.account_id, paid.total_balance) == (alice.account_id, Decimal("60.00"))
    assert (received.account_id, received.total_balance) == (bob.account_id, Decimal("40.00"))
    assert paid.currency == received.currency == "EUR"
    # AND the transfer reads back as stored, with its two legs
    assert back_office.get_transfer(transfer.transfer_id) == transfer
    assert transfer.amount == Decimal("40.00")
    assert transfer.currency == "EUR"
    assert {(leg.account_id, leg.type) for leg in transfer.legs} == {
        (alice.account_id, "DebitEvent"),
        (bob.account_id, "CreditEvent"),
    }
    # AND each leg is in its account's history, naming the other account
    debit = list(back_office.history(alice.account_id))[-1]
    credit = list(back_office.history(bob.account_id))[-1]
    assert isinstance(debit, Event)
    assert isinstance(credit, Event)
    assert (debit.type, debit.amount, debit.transfer_id, debit.counterparty) == (
        "DebitEvent",
        Decimal("40.00"),
        transfer.transfer_id,
        bob.account_id,
    )
    assert (credit.type, credit.amount, credit.transfer_id, credit.counterparty) == (
        "CreditEvent",
        Decimal("40.00"),
        transfer.transfer_id,
        alice.account_id,
    )
    # AND the account read as a whole agrees
    assert back_office.account(alice.account_id).balances.total_balance == Decimal("60.00")


def test_refused_transfers_raise_their_class_and_move_nothing(
    operator: Ledger, back_office: Ledger
) -> None:
    # GIVEN a funded EUR account, another EUR account and a USD account
    alice = operator.open_account(_fresh("alice"), "EUR", [OWNER]).account_id
    bob = operator.open_account(_fresh("bob"), "EUR", [OWNER]).account_id
    dollars = operator.open_account(_fresh("usd"), "USD", [OWNER]).account_id
    funded = back_office.credit(alice, "10.00")

    # WHEN transfers are made that the ledger must refuse
    with pytest.raises(InsufficientFunds) as overdrawn:
        back_office.transfer(alice, bob, "10.01")
    with pytest.raises(CurrencyMismatch) as mismatched:
        back_office.transfer(alice, dollars, "1.00")
    operator.freeze(bob)
    with pytest.raises(AccountFrozen) as frozen:
        back_office.transfer(alice, bob, "1.00")

    # THEN each has its class and status, and the money stayed where it was
    assert (overdrawn.value.status, mismatched.value.status, frozen.value.status) == (422, 422, 422)
    assert back_office.wait_for(funded, timeout=WAIT_S).total_balance == Decimal("10.00")
    assert [event.type for event in back_office.history(alice)] == ["AccountOpened", "CreditEvent"]


def test_an_unknown_transfer_raises_transfer_not_found(back_office: Ledger) -> None:
    with pytest.raises(TransferNotFound):
        back_office.get_transfer(f"trf-{uuid.uuid4()}")


def test_an_owner_lists_its_accounts_once_the_read_side_has_them(
    system: System, operator: Ledger
) -> None:
    # GIVEN two accounts of a fresh owner
    owner = _fresh("owner")
    opened = sorted(
        operator.open_account(_fresh(name), "EUR", [owner]).account_id for name in ("a", "b")
    )
    token = token_for(system.state_dir, owner)

    # WHEN the owner lists "my accounts", page by page
    with Ledger(system.api_url, token=token) as mine:

        def listed() -> list[str] | None:
            ids = sorted(summary.account_id for summary in mine.accounts(page_size=1))
            return ids if ids == opened else None

        # THEN both are listed (the list is a read model: it converges)
        assert eventually(listed, "both accounts listed") == opened

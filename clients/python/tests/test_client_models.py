"""Every field of the history entries, holds, pages and accounts, parsed from the API's
names: what the models' shared parsers (`_recorded`, `_summary_fields`) must get right."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger_client import (
    Account,
    AccountEvent,
    AccountSummary,
    Event,
    EventRef,
    HistoryPage,
    Hold,
    HoldEvent,
    HoldPage,
)

RECORDED = {
    "accountId": "alice",
    "eventId": "e-7",
    "version": 7,
    "recordedAt": "2026-11-05T10:00:00+00:00",
    "recordedBy": "teller",
}
AT = datetime(2026, 11, 5, 10, tzinfo=UTC)
SUMMARY: dict[str, Any] = {
    "accountId": "alice",
    "currency": "EUR",
    "status": "open",
    "owners": ["alice", "bob"],
    "metadata": {"branch": "north"},
    "openedAt": None,
}


def test_a_posting_keeps_every_field_of_the_history_entry() -> None:
    # GIVEN a debit leg of a transfer that reverses another posting, as the API sends it
    data = {
        **RECORDED,
        "type": "DebitEvent",
        "amount": "12.50",
        "description": "rent",
        "currency": "EUR",
        "transferId": "t-1",
        "counterparty": "bob",
        "holdId": "h-1",
        "reverses": {"accountId": "alice", "version": 3},
    }

    # WHEN it is parsed
    event = Event.from_json(data)

    # THEN every field is there under its Python name
    assert event == Event(
        account_id="alice",
        event_id="e-7",
        type="DebitEvent",
        version=7,
        amount=Decimal("12.50"),
        description="rent",
        recorded_at=AT,
        currency="EUR",
        recorded_by="teller",
        transfer_id="t-1",
        counterparty="bob",
        hold_id="h-1",
        reverses=EventRef("alice", 3),
    )


def test_a_change_of_the_account_and_a_hold_event_keep_the_recorded_fields_too() -> None:
    # GIVEN an opening and a hold placed, as the API sends them
    opened = {
        **RECORDED,
        "type": "AccountOpened",
        "currency": "EUR",
        "overdraftLimit": "50.00",
        "owners": ["alice"],
        "metadata": {"branch": "north"},
    }
    placed = {
        **RECORDED,
        "type": "HoldPlaced",
        "holdId": "h-1",
        "amount": "5.00",
        "currency": "EUR",
        "description": None,
        "expiresAt": "2026-11-06T10:00:00+00:00",
    }

    # WHEN they are parsed
    account_event = AccountEvent.from_json(opened)
    hold_event = HoldEvent.from_json(placed)

    # THEN each has the shared fields and its own
    assert account_event == AccountEvent(
        account_id="alice",
        event_id="e-7",
        type="AccountOpened",
        version=7,
        recorded_at=AT,
        recorded_by="teller",
        currency="EUR",
        overdraft_limit=Decimal("50.00"),
        owners=("alice",),
        metadata={"branch": "north"},
    )
    assert hold_event == HoldEvent(
        account_id="alice",
        event_id="e-7",
        type="HoldPlaced",
        version=7,
        recorded_at=AT,
        hold_id="h-1",
        amount=Decimal("5.00"),
        currency="EUR",
        description=None,
        recorded_by="teller",
        expires_at=datetime(2026, 11, 6, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize("version", ["7", 7.5, True])
def test_a_history_entry_whose_version_is_not_a_whole_number_is_refused(version: Any) -> None:
    # GIVEN an entry whose version is a string, a fraction or a boolean
    data = {**RECORDED, "version": version, "type": "AccountFrozen"}

    # WHEN it is parsed THEN it is refused rather than guessed at
    with pytest.raises(TypeError):
        AccountEvent.from_json(data)


def test_a_resolved_hold_and_the_pages_parse_their_optional_numbers() -> None:
    # GIVEN a captured hold, on a last page of holds and a page of history with a next one
    hold = {
        "holdId": "h-1",
        "accountId": "alice",
        "amount": "5.00",
        "currency": "EUR",
        "description": None,
        "placedAt": "2026-11-05T10:00:00+00:00",
        "expiresAt": "2026-11-06T10:00:00+00:00",
        "version": 7,
        "status": "captured",
        "resolvedAt": "2026-11-05T11:00:00+00:00",
        "resolvedVersion": 9,
        "resolvedEventId": "e-9",
        "capturedAmount": "4.00",
    }
    holds = {"accountId": "alice", "holds": [hold], "nextAfter": None}
    history = {"accountId": "alice", "events": [], "nextAfter": 100}

    # WHEN they are parsed
    parsed = Hold.from_json(hold)
    hold_page = HoldPage.from_json(holds)
    history_page = HistoryPage.from_json(history)

    # THEN the optional numbers and instants are there when sent and None when null
    assert parsed.placed_at == AT
    assert parsed.resolved_at == datetime(2026, 11, 5, 11, tzinfo=UTC)
    assert parsed.resolved_version == 9
    assert parsed.resolution() == EventRef("alice", 9)
    assert parsed.captured_amount == Decimal("4.00")
    assert parsed.captured_to is None
    assert hold_page.holds == (parsed,)
    assert hold_page.next_after is None
    assert history_page.next_after == 100


def test_an_account_and_its_summary_share_their_settings() -> None:
    # GIVEN an account as the list shows it and as the account route answers it
    balances = {
        "totalBalance": "10.00",
        "currentMonthBalance": "10.00",
        "month": "2026-11",
        "version": 4,
    }
    full = {
        **SUMMARY,
        "openedAt": "2026-11-05T10:00:00+00:00",
        "overdraftLimit": "0.00",
        "version": 5,
        "balances": balances,
    }

    # WHEN both are parsed
    summary = AccountSummary.from_json(SUMMARY)
    account = Account.from_json(full)

    # THEN the settings are the same fields, and an unknown opening stays None
    assert summary == AccountSummary(
        account_id="alice",
        currency="EUR",
        status="open",
        owners=("alice", "bob"),
        metadata={"branch": "north"},
        opened_at=None,
    )
    assert account.opened_at == AT
    assert (account.account_id, account.owners, account.metadata) == (
        "alice",
        ("alice", "bob"),
        {"branch": "north"},
    )
    assert account.balances.account_id == "alice"
    assert account.balances.currency == "EUR"
    assert account.version == 5

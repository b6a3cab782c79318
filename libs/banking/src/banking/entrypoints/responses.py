"""The JSON bodies the HTTP API answers with. Amounts are strings with exactly their
currency's decimals; every body about an account names its currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from banking.application.holds import HoldPage
from banking.application.ports import HoldRecord, TransferRecord
from banking.application.queries import AccountPage, EventPage
from banking.domain.account import Account, month_of
from banking.domain.events import Event
from banking.domain.money import Money
from banking.domain.read_models import AccountSettings, AccountSummary, Balance, MonthlyStatement
from banking.serialization import converter, event_to_dict, format_time

# What every event's body has; a posting adds its amount, currency, description and,
# as a transfer's leg, the transfer and the counterparty.
_POSTING_FIELDS = ("amount", "currency", "description")


def event_body(event: Event) -> dict[str, Any]:
    data = event_to_dict(event)
    data.pop("schemaVersion")
    if "amount" in data:
        # As they always were: a posting's description is there, null when none.
        data.update({name: data.get(name) for name in _POSTING_FIELDS})
    return {key: value for key, value in data.items() if value is not None or key == "description"}


def balance_body(balance: Balance, currency: str) -> dict[str, Any]:
    return {
        "accountId": balance.account_id,
        "currency": currency,
        "totalBalance": str(balance.total_balance),
        "currentMonthBalance": str(balance.current_month_balance),
        "month": balance.month,
        "version": balance.version,
        "heldBalance": str(balance.held_balance or Money.zero(balance.total_balance.digits)),
        "availableBalance": str(balance.available_balance),
    }


def state_balance(state: Account, now: datetime, zone: ZoneInfo) -> Balance:
    """The balances of the state itself: what a command that just stored a version
    answers (exact at that version; the read models follow)."""
    this_month = month_of(now, zone)
    return Balance(
        state.account_id,
        state.balance,
        state.month_balance_in(this_month),
        this_month,
        state.version,
        state.held,
    )


def account_body(state: Account, balance: Balance) -> dict[str, Any]:
    """An account's settings and status (from the events table, at `state.version`)
    and its balances (with the version they reflect)."""
    body = _settings(state.account_id, AccountSettings.of(state))
    body.update(
        overdraftLimit=str(state.overdraft_limit),
        version=state.version,
        balances={
            key: value
            for key, value in balance_body(balance, state.currency.code).items()
            if key not in ("accountId", "currency")
        },
    )
    return body


def _settings(account_id: str, settings: AccountSettings) -> dict[str, Any]:
    opened_at = settings.opened_at
    return {
        "accountId": account_id,
        "currency": settings.currency.code,
        "status": settings.status,
        "owners": sorted(settings.owners),
        "metadata": dict(settings.metadata),
        "openedAt": format_time(opened_at) if opened_at else None,
    }


def account_summary_body(summary: AccountSummary) -> dict[str, Any]:
    return _settings(summary.account_id, summary.settings)


def account_page_body(page: AccountPage) -> dict[str, Any]:
    return {
        "accounts": [account_summary_body(summary) for summary in page.accounts],
        "nextAfter": page.next_after,
    }


def transfer_body(record: TransferRecord) -> dict[str, Any]:
    """A transfer: its postings, its legs, and with one posting its amount and currency."""
    data: dict[str, Any] = converter.unstructure(record)
    body = {
        "transferId": data["transferId"],
        "description": data.get("description"),
        "recordedAt": data["recordedAt"],
        "postings": data["postings"],
        "legs": data["legs"],
    }
    if len(data["postings"]) == 1:
        body.update(amount=data["postings"][0]["amount"], currency=data["postings"][0]["currency"])
    if record.reverses is not None:
        body["reverses"] = record.reverses
    return body


def history_body(page: EventPage, currency: str) -> dict[str, Any]:
    return {
        "accountId": page.account_id,
        "currency": currency,
        "events": [event_body(event) for event in page.events],
        "nextAfter": page.next_after,
    }


def statement_body(account_id: str, statement: MonthlyStatement, currency: str) -> dict[str, Any]:
    return {
        "accountId": account_id,
        "currency": currency,
        "month": statement.month,
        "totalCredits": str(statement.credits),
        "totalDebits": str(statement.debits),
        "closingBalance": str(statement.closing_balance),
        "eventCount": statement.event_count,
        "version": statement.version,
    }


def hold_body(hold: HoldRecord) -> dict[str, Any]:
    """A hold: what it reserves on which account until when, and what became of it."""
    data: dict[str, Any] = converter.unstructure(hold)
    return {key: value for key, value in data.items() if value is not None or key == "description"}


def hold_page_body(page: HoldPage) -> dict[str, Any]:
    return {
        "accountId": page.account_id,
        "holds": [hold_body(hold) for hold in page.holds],
        "nextAfter": page.next_after,
    }

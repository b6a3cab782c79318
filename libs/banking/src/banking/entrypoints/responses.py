"""The JSON bodies the HTTP API answers with."""

from __future__ import annotations

from typing import Any

from banking.application.queries import EventPage
from banking.domain.events import Event
from banking.domain.read_models import Balance, MonthlyStatement
from banking.serialization import event_to_dict


def event_body(event: Event) -> dict[str, Any]:
    data = event_to_dict(event)
    return {
        "accountId": data["accountId"],
        "eventId": data["eventId"],
        "type": data["type"],
        "version": data["version"],
        "amount": data["amount"],
        "description": data.get("description"),
        "recordedAt": data["recordedAt"],
    }


def balance_body(balance: Balance) -> dict[str, Any]:
    return {
        "accountId": balance.account_id,
        "totalBalance": str(balance.total_balance),
        "currentMonthBalance": str(balance.current_month_balance),
        "month": balance.month,
        "version": balance.version,
    }


def history_body(page: EventPage) -> dict[str, Any]:
    return {
        "accountId": page.account_id,
        "events": [event_body(event) for event in page.events],
        "nextAfter": page.next_after,
    }


def statement_body(account_id: str, statement: MonthlyStatement) -> dict[str, Any]:
    return {
        "accountId": account_id,
        "month": statement.month,
        "totalCredits": str(statement.credits),
        "totalDebits": str(statement.debits),
        "closingBalance": str(statement.closing_balance),
        "eventCount": statement.event_count,
        "version": statement.version,
    }

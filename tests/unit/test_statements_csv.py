"""Statements as CSV: what a spreadsheet needs, parsed back with the csv module, and
the choice between JSON and CSV from the Accept header."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.memory import InMemoryEventStore
from banking.application.ports import StoredEvent
from banking.application.statements import month_bounds, statement_entries
from banking.domain.account import evolve
from banking.domain.commands import FreezeAccount, RecordCredit, RecordDebit
from banking.domain.decisions import decide
from banking.domain.errors import StatementNotFound
from banking.domain.money import Money
from banking.entrypoints.http import NotAcceptable
from banking.entrypoints.statements_csv import CSV, JSON, negotiate, statement_csv
from tests.support import open_accounts

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def store():
    """alice opened in October, with 50.00 by November; in November a credit, a debit
    with a description a spreadsheet would run, a freeze."""
    store = InMemoryEventStore()
    open_accounts(store, "alice", at=at(1, 9, month=10))
    history: list[tuple[datetime, RecordCredit | RecordDebit | FreezeAccount]] = [
        (at(20, 9, month=10), RecordCredit("alice", Money(5000), "opening deposit")),
        (at(3, 9), RecordCredit("alice", Money(12345), 'salary, "November"')),
        (at(4, 9), RecordDebit("alice", Money(2000), '=HYPERLINK("http://x")')),
        (at(5, 9), FreezeAccount("alice")),
    ]
    for moment, command in history:
        state = store.load("alice")
        event = decide(state, command, event_id=f"e{state.version + 1}", now=moment)
        store.append(StoredEvent(event, evolve(state, event, UTC_ZONE)))
    return store


def rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_a_months_statement_parses_back_with_its_balances(store):
    # GIVEN alice's history (the fixture)
    # WHEN November's statement is written as CSV
    entries = statement_entries("alice", "2026-11", store, store, clock=lambda: NOW, zone=UTC_ZONE)
    text = statement_csv(entries, UTC_ZONE)
    # THEN it opens at 50.00, lists each posting with its running balance (a
    # freeze moves no money: no line), and closes at 153.45; lines end in CRLF
    assert rows(text) == [
        {
            "Date": "2026-11-01",
            "Description": "Opening balance",
            "Counterparty": "",
            "Amount": "",
            "Balance": "50.00",
        },
        {
            "Date": "2026-11-03 09:00:00",
            "Description": 'salary, "November"',
            "Counterparty": "",
            "Amount": "123.45",
            "Balance": "173.45",
        },
        {
            "Date": "2026-11-04 09:00:00",
            "Description": '\'=HYPERLINK("http://x")',
            "Counterparty": "",
            "Amount": "-20.00",
            "Balance": "153.45",
        },
        {
            "Date": "2026-11-30",
            "Description": "Closing balance",
            "Counterparty": "",
            "Amount": "",
            "Balance": "153.45",
        },
    ]
    assert text.count("\r\n") == 5
    assert "\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_a_description_a_spreadsheet_would_run_is_shown_as_text(start):
    # GIVEN bob credited with a description starting with `start`
    store = InMemoryEventStore()
    open_accounts(store, "bob", at=at(1, 9))
    bob = store.load("bob")
    event = decide(bob, RecordCredit("bob", Money(1), f"{start}1+1"), event_id="x", now=at(2, 9))
    store.append(StoredEvent(event, evolve(bob, event, UTC_ZONE)))
    # WHEN his November statement is written
    entries = statement_entries("bob", "2026-11", store, store, clock=lambda: NOW, zone=UTC_ZONE)
    # THEN the description is prefixed with an apostrophe: text, never a formula
    assert rows(statement_csv(entries, UTC_ZONE))[1]["Description"] == f"'{start}1+1"


def test_a_month_without_postings_opens_and_closes_at_the_same_balance(store):
    entries = statement_entries("alice", "2026-12", store, store, clock=lambda: NOW, zone=UTC_ZONE)
    assert [(r["Description"], r["Balance"]) for r in rows(statement_csv(entries, UTC_ZONE))] == [
        ("Opening balance", "153.45"),
        ("Closing balance", "153.45"),
    ]


@pytest.mark.parametrize("month", ["2026-09", "2027-01"])
def test_a_month_before_the_account_or_not_yet_begun_has_no_statement(store, month):
    with pytest.raises(StatementNotFound):
        statement_entries("alice", month, store, store, clock=lambda: NOW, zone=UTC_ZONE)


def test_months_are_taken_in_the_ledgers_time_zone():
    start, end = month_bounds("2026-12", ZoneInfo("Europe/Paris"))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 11, 30, 23, tzinfo=UTC),
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("text/*", CSV),
        ("application/json;q=0.5, text/csv", CSV),
        ("text/csv;q=0.2, application/json;q=0.9", JSON),
        ("text/html, text/csv;q=0.1", CSV),
        ("TEXT/CSV", CSV),
    ],
)
def test_accept_chooses_json_by_default_or_csv(accept, chosen):
    assert negotiate(accept) == chosen


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv;q=0", "image/*"])
def test_an_accept_of_neither_is_not_acceptable(accept):
    with pytest.raises(NotAcceptable):
        negotiate(accept)

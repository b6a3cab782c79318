"""The queries function's past: balances as of a moment and events between two."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.ports import StoredEvent
from banking.domain.account import evolve
from banking.domain.commands import RecordCredit, RecordDebit
from banking.domain.decisions import decide
from banking.domain.money import Money
from tests.support import UTC_ZONE, http_event, open_accounts

OPENED = datetime(2026, 10, 31, 12, tzinfo=UTC)
BALANCE = "GET /accounts/{accountId}/balance"
EVENTS = "GET /accounts/{accountId}/events"


@pytest.fixture
def queries(load_handler, aws):
    """The queries function, with alice's account opened at OPENED (version 1) and,
    at 2026-11-01T09:00, 10:00, 10:00 and 2026-11-02T08:00, a credit of 100.00, a
    debit of 30.00, a credit of 5.00 and a credit of 1.00 (versions 2 to 5)."""
    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    open_accounts(store, "alice", at=OPENED)
    history: list[tuple[datetime, RecordCredit | RecordDebit]] = [
        (datetime(2026, 11, 1, 9, tzinfo=UTC), RecordCredit("alice", Money(10000))),
        (datetime(2026, 11, 1, 10, tzinfo=UTC), RecordDebit("alice", Money(3000))),
        (datetime(2026, 11, 1, 10, tzinfo=UTC), RecordCredit("alice", Money(500))),
        (datetime(2026, 11, 2, 8, tzinfo=UTC), RecordCredit("alice", Money(100))),
    ]
    for hour, command in history:
        state = store.load("alice")
        event = decide(state, command, event_id=f"e{state.version + 1}", now=hour)
        store.append(StoredEvent(event, evolve(state, event, UTC_ZONE)))
    return load_handler("queries")


def get(queries, context, route_key, query):
    path = route_key.split(" ")[1].replace("{accountId}", "alice")
    event = http_event(
        "GET", path, route_key=route_key, path_parameters={"accountId": "alice"}, query=query
    )
    response = queries.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("at", "total", "month", "version"),
    [
        ("2026-10-31T12:00:00Z", "0.00", "0.00", 1),
        ("2026-11-01T09:59:59.999999Z", "100.00", "100.00", 2),
        # Two events at the same instant: the balance after both.
        ("2026-11-01T10:00:00Z", "75.00", "75.00", 4),
        ("2026-11-01T11:00:00+01:00", "75.00", "75.00", 4),
        ("2026-11-02T08:00:00.0000001Z", "76.00", "76.00", 5),
        ("2026-12-01T00:00:00Z", "76.00", "0.00", 5),
    ],
)
def test_the_balance_at_a_moment_is_the_one_after_its_last_event(
    queries, context, at, total, month, version
):
    # GIVEN alice's history (the fixture)
    # WHEN her balance is asked for as of `at`
    status, body = get(queries, context, BALANCE, {"at": at})
    # THEN it is the one stored with her last event at or before it, and the month's
    # balance is that of the month of `at`
    assert status == 200, body
    assert (body["totalBalance"], body["currentMonthBalance"], body["version"]) == (
        total,
        month,
        version,
    )
    assert body["month"] == at[:7]
    assert body["currency"] == "EUR"


def test_the_balance_before_the_account_existed_is_not_found(queries, context):
    # GIVEN alice opened at 2026-10-31T12:00Z
    # WHEN her balance is asked for as of a microsecond earlier
    status, body = get(queries, context, BALANCE, {"at": "2026-10-31T11:59:59.999999Z"})
    # THEN it did not exist then
    assert (status, body["error"]["code"]) == (404, "account_not_found")


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-01",
        "2026-11-01T10:00:00",
        "2026-11-01 10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-11-01T10:00:60Z",
        "2026-11-01T10:00:00+24:00",
        "yesterday",
        "",
    ],
)
def test_a_moment_that_is_not_an_rfc_3339_instant_is_refused(queries, context, at):
    status, body = get(queries, context, BALANCE, {"at": at})
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_a_moment_in_the_future_is_refused(queries, context):
    # GIVEN the moment an hour from now
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # WHEN a balance is asked for as of it
    status, body = get(queries, context, BALANCE, {"at": later})
    # THEN it is refused: events still to come could change it
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def versions(page):
    return [event["version"] for event in page["events"]]


def test_events_between_two_moments_are_paged_from_inclusive_to_exclusive(queries, context):
    # GIVEN alice's history (the fixture)
    window = {"from": "2026-11-01T09:00:00Z", "to": "2026-11-02T08:00:00Z", "limit": "2"}
    # WHEN her events from 2026-11-01T09:00 to 2026-11-02T08:00 are read two at a time
    status, first = get(queries, context, EVENTS, window)
    _, second = get(queries, context, EVENTS, {**window, "after": str(first["nextAfter"])})
    # THEN the first page holds versions 2 and 3, the second version 4, and no more
    assert status == 200
    assert (versions(first), first["nextAfter"]) == ([2, 3], 3)
    assert (versions(second), second["nextAfter"]) == ([4], None)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"from": "2026-11-01T10:00:00Z"}, [3, 4, 5]),
        ({"to": "2026-11-01T10:00:00Z"}, [1, 2]),
        ({"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T10:00:00Z"}, []),
        ({"from": "2026-11-01T10:00:00.0000001Z"}, [5]),
        ({"from": "2026-11-01T10:00:00Z", "after": "1"}, [3, 4, 5]),
        ({"from": "2026-12-01T00:00:00Z"}, []),
    ],
)
def test_a_window_open_on_one_side_or_empty_holds_what_it_says(queries, context, window, expected):
    status, page = get(queries, context, EVENTS, window)
    assert (status, versions(page)) == (200, expected)


@pytest.mark.parametrize(
    "window",
    [
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2026-11-01"},
        {"to": "tomorrow"},
    ],
)
def test_a_window_that_ends_before_it_starts_or_is_not_instants_is_refused(
    queries, context, window
):
    status, body = get(queries, context, EVENTS, window)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


STATEMENT = "GET /accounts/{accountId}/statements/{month}"


def statement(queries, context, month, accept):
    event = http_event(
        "GET",
        f"/accounts/alice/statements/{month}",
        route_key=STATEMENT,
        path_parameters={"accountId": "alice", "month": month},
        headers={"accept": accept} if accept is not None else None,
    )
    return queries.lambda_handler(event, context)


def test_a_statement_asked_for_as_csv_is_a_csv_file_of_the_months_entries(queries, context):
    # GIVEN alice's history (the fixture)
    # WHEN November's statement is asked for as CSV
    response = statement(queries, context, "2026-11", "text/csv")
    # THEN it is a UTF-8 CSV attachment: opening 0.00, four postings, closing 76.00
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert response["headers"]["Content-Disposition"] == (
        'attachment; filename="statement-alice-2026-11.csv"'
    )
    text = response["body"].removeprefix("\ufeff")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0] == ["Date", "Description", "Counterparty", "Amount", "Balance"]
    assert [(line[3], line[4]) for line in lines[1:]] == [
        ("", "0.00"),
        ("100.00", "100.00"),
        ("-30.00", "70.00"),
        ("5.00", "75.00"),
        ("1.00", "76.00"),
        ("", "76.00"),
    ]


def test_a_statement_stays_json_by_default_and_refuses_an_accept_of_neither(queries, context):
    # GIVEN alice's history, and no read model of it yet
    # WHEN her statement is asked for as JSON (by default) and as HTML
    json_answer = statement(queries, context, "2026-11", None)
    html_answer = statement(queries, context, "2026-11", "text/html")
    # THEN JSON answers from the read models (none yet: 404); HTML is not acceptable
    assert json_answer["statusCode"] == 404
    assert json.loads(json_answer["body"])["error"]["code"] == "statement_not_found"
    assert html_answer["statusCode"] == 406
    assert json.loads(html_answer["body"])["error"]["code"] == "not_acceptable"


@pytest.mark.parametrize(("month", "status"), [("2026-09", 404), ("2026-13", 400), ("nov", 400)])
def test_a_csv_statement_of_no_month_of_the_account_is_refused(queries, context, month, status):
    response = statement(queries, context, month, "text/csv")
    assert response["statusCode"] == status

"""MonthlyStatementForProfile, backfilled by a replay on moto: history is written
first with no projector running, then the replay function runs every segment, the
projectors take its events, and every month is checked against a fold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.verification import all_events, expected_read_models
from banking.domain.account import RecordCredit, RecordDebit
from banking.domain.money import Money
from banking.domain.read_models import MONTHLY_STATEMENT, MonthlyStatement
from tests.conftest import published
from tests.support import bus_event, http_event, open_accounts, replay_segment

MONTHS = ("2026-01", "2026-02", "2026-04", "2026-05")


def write_history(aws, accounts: dict[str, int]) -> None:
    """Each account is opened, then gets `n` credits and a debit in each of MONTHS
    (March skipped)."""
    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    for account, per_month in accounts.items():
        open_accounts(store, account, at=datetime(2026, 1, 1, tzinfo=UTC))
        moments = iter(
            datetime(2026, int(month[5:]), 1 + day, 12, tzinfo=UTC)
            for month in MONTHS
            for day in range(per_month + 1)
        )
        deps = CommandDependencies(
            store=store, clock=moments.__next__, new_id=map(str, count()).__next__
        )
        for _ in MONTHS:
            for amount in range(1, per_month + 1):
                record(RecordCredit(account, Money(amount * 1000)), deps)
            record(RecordDebit(account, Money(250)), deps)


def get_statement(queries, context, account, month):
    event = http_event(
        "GET",
        f"/accounts/{account}/statements/{month}",
        route_key="GET /accounts/{accountId}/statements/{month}",
        path_parameters={"accountId": account, "month": month},
    )
    response = queries.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def replay_everything(load_handler, context, aws, segments: int) -> int:
    replay, projectors = load_handler("replay"), load_handler("projectors")
    invocations = 0
    for segment in range(segments):
        payload = {"segment": segment, "totalSegments": segments}
        invocations += replay_segment(replay, context, payload)
    for entry in published(aws):
        assert entry["source"] == "ledger.replay"
        projectors.lambda_handler(bus_event(entry), context)
    return invocations


def test_a_backfill_gives_every_month_a_statement_equal_to_the_fold(load_handler, context, aws):
    # GIVEN months of history on three accounts, written before any statement projector
    write_history(aws, {"alice": 5, "bob": 2, "carol": 1})
    # WHEN the replay function runs every segment and the projectors take its events
    replay_everything(load_handler, context, aws, segments=3)
    # THEN every month's statement is the fold's, and a month without events has none
    queries = load_handler("queries")
    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    for account in ("alice", "bob", "carol"):
        expected = expected_read_models(
            account, all_events(store, account), ZoneInfo("UTC"), (MONTHLY_STATEMENT,)
        ).read_models
        assert sorted(str(month) for _, month in expected) == list(MONTHS)
        for (_, month), statement in expected.items():
            assert isinstance(statement, MonthlyStatement)
            status, body = get_statement(queries, context, account, month)
            assert status == 200
            assert body == {
                "accountId": account,
                "currency": "EUR",
                "month": month,
                "totalCredits": str(statement.credits),
                "totalDebits": str(statement.debits),
                "closingBalance": str(statement.closing_balance),
                "eventCount": statement.event_count,
                "version": statement.version,
            }
        status, body = get_statement(queries, context, account, "2026-03")
        assert (status, body["error"]["code"]) == (404, "statement_not_found")


def test_a_long_segment_continues_across_invocations(load_handler, context, aws, monkeypatch):
    # GIVEN a function that has time for only a few items per invocation
    write_history(aws, {"alice": 5})
    remaining = iter(range(10**6, 0, -5_000))
    monkeypatch.setattr(context, "get_remaining_time_in_millis", lambda: next(remaining) - 980_000)
    # WHEN it is invoked until its segment is done
    invocations = replay_everything(load_handler, context, aws, segments=1)
    # THEN it took several invocations and still built every statement exactly
    assert invocations > 1
    queries = load_handler("queries")
    status, body = get_statement(queries, context, "alice", "2026-05")
    assert (status, body["totalCredits"], body["eventCount"]) == (200, "150.00", 6)


@pytest.mark.parametrize(
    ("account", "month", "status", "code"),
    [
        # Who may read only accounts they own learns nothing of an unknown one.
        ("nobody", "2026-01", 403, "forbidden"),
        ("alice", "2026-13", 400, "invalid_request"),
        ("alice", "2026-1", 400, "invalid_request"),
        ("alice", "january", 400, "invalid_request"),
    ],
)
def test_a_statement_request_names_what_is_wrong(
    load_handler, context, aws, account, month, status, code
):
    write_history(aws, {"alice": 1})
    answer = get_statement(load_handler("queries"), context, account, month)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)


def test_the_statement_route_answers_as_documented(load_handler, context, aws):
    from tests.integration.test_openapi import check

    write_history(aws, {"alice": 1})
    replay_everything(load_handler, context, aws, segments=1)
    queries = load_handler("queries")
    route = "GET /accounts/{accountId}/statements/{month}"
    for account, month, status in [
        ("alice", "2026-01", 200),
        ("alice", "2026-03", 404),
        ("nobody", "2026-01", 403),
        ("alice", "2026-00", 400),
    ]:
        answer = get_statement(queries, context, account, month)
        assert answer[0] == status
        check(route, *answer)

"""The issue 14 routes answer as docs/openapi.yaml documents them: balances at an
instant, events between two, reversals of a posting and of a transfer, statements as
CSV (their refusals too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.integration.test_openapi import (
    SPEC,
    WRITE,
    call,
    check,
    handlers,  # noqa: F401  # the fixture, used by name
    open_account,
)
from tests.support import http_event, token_claims

BALANCE = "GET /accounts/{accountId}/balance"
EVENTS = "GET /accounts/{accountId}/events"
REVERSE = "POST /accounts/{accountId}/events/{version}/reversal"
REVERSE_TRANSFER = "POST /transfers/{transferId}/reversal"
STATEMENT = "GET /accounts/{accountId}/statements/{month}"


def test_history_and_reversal_routes_answer_as_documented(handlers, context):  # noqa: F811
    # GIVEN alice and bob, alice credited 10.00 and 5.00 (versions 2, 3), paying bob 4.00
    for account in ("alice", "bob"):
        open_account(handlers, context, account)
    credit = "POST /accounts/{accountId}/credits"
    assert call(handlers, context, credit, "alice", body='{"amount": "10.00"}')[0] == 201
    assert call(handlers, context, credit, "alice", body='{"amount": "5.00"}')[0] == 201
    paid = call(
        handlers,
        context,
        "POST /transfers",
        body='{"from": "alice", "to": "bob", "amount": "4.00"}',
        claims=token_claims("payments", WRITE),
    )
    now = datetime.now(UTC).isoformat()
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    # WHEN each route is asked right and wrong
    # THEN every answer is a documented one
    for route, query, status in [
        (BALANCE, {"at": now}, 200),
        (BALANCE, {"at": later}, 400),
        (BALANCE, {"at": "2000-01-01T00:00:00Z"}, 403),
        (EVENTS, {"from": "2000-01-01T00:00:00Z", "to": now, "limit": "2"}, 200),
        (EVENTS, {"from": now, "to": "2000-01-01T00:00:00Z"}, 400),
    ]:
        claims = token_claims("alice") if status != 403 else token_claims("mallory")
        answer = call(handlers, context, route, "alice", query=query, claims=claims)
        assert answer[0] == status, (route, query, answer)
        check(route, *answer)
    before = call(
        handlers,
        context,
        BALANCE,
        "alice",
        query={"at": "2000-01-01T00:00:00Z"},
        claims=token_claims("audit", "ledger/accounts.read"),
    )
    assert before[0] == 404
    check(BALANCE, *before)
    for version, status in [("3", 201), ("3", 409), ("2", 422), ("1", 422), ("9", 404), ("0", 400)]:
        answer = call(handlers, context, REVERSE, "alice", path={"version": version}, body=None)
        assert answer[0] == status, (version, answer)
        check(REVERSE, *answer)
    for transfer_id, status in [(paid[1]["transferId"], 201), ("nope", 404)]:
        answer = call(
            handlers,
            context,
            REVERSE_TRANSFER,
            path={"transferId": transfer_id},
            body='{"description": "sent by mistake"}',
            claims=token_claims("payments", WRITE),
        )
        assert answer[0] == status, answer
        check(REVERSE_TRANSFER, *answer)


def test_a_csv_statement_is_served_as_documented(handlers, context):  # noqa: F811
    open_account(handlers, context, "alice")
    month = datetime.now(UTC).strftime("%Y-%m")
    responses = {}
    for accept in ("text/csv", "text/html"):
        event = http_event(
            "GET",
            f"/accounts/alice/statements/{month}",
            route_key=STATEMENT,
            path_parameters={"accountId": "alice", "month": month},
            headers={"accept": accept},
        )
        responses[accept] = handlers["GET"].lambda_handler(event, context)
    documented = SPEC["paths"]["/accounts/{accountId}/statements/{month}"]["get"]["responses"]
    csv_answer, refused = responses["text/csv"], responses["text/html"]
    assert csv_answer["statusCode"] == 200
    assert csv_answer["headers"]["Content-Type"].split(";")[0] in documented["200"]["content"]
    assert refused["statusCode"] == 406
    check(STATEMENT, 406, json.loads(refused["body"]))

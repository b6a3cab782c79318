"""The hold routes answer as docs/openapi.yaml documents them: placing, capturing,
voiding, reading and listing holds, the history holding hold events, the balances
with their held and available parts, and every refusal."""

from __future__ import annotations

import pytest

from tests.integration.test_openapi import WRITE, call, check, open_account
from tests.support import run_pipeline, token_claims

PLACE, CAPTURE, VOID = (
    "POST /accounts/{accountId}/holds",
    "POST /holds/{holdId}/capture",
    "POST /holds/{holdId}/void",
)
GET_HOLD, LIST_HOLDS = "GET /holds/{holdId}", "GET /accounts/{accountId}/holds"
WRITER = {"claims": token_claims("shop", WRITE)}


@pytest.fixture
def handlers(load_handler, aws):
    return {"POST": load_handler("commands"), "GET": load_handler("queries")}


def test_hold_routes_answer_as_documented(handlers, context, pipeline, aws):
    # GIVEN alice with 10.00, and bob
    open_account(handlers, context, "alice")
    open_account(handlers, context, "bob")
    assert (
        call(
            handlers,
            context,
            "POST /accounts/{accountId}/credits",
            "alice",
            body='{"amount": "10"}',
        )[0]
        == 201
    )

    # WHEN holds are placed, one captured into bob, one voided, one left pending
    answers = {}
    for name, body in (
        ("into", '{"amount": "3", "expiresIn": 60, "description": "card"}'),
        ("void", '{"amount": "1", "expiresIn": 60}'),
        ("kept", '{"amount": 2, "expiresIn": 3600}'),
    ):
        answers[name] = call(handlers, context, PLACE, "alice", body=body, **WRITER)
    captured = call(
        handlers,
        context,
        CAPTURE,
        path={"holdId": answers["into"][1]["holdId"]},
        body='{"amount": "2.50", "to": "bob"}',
        **WRITER,
    )
    voided = call(handlers, context, VOID, path={"holdId": answers["void"][1]["holdId"]}, **WRITER)

    # THEN every answer is the documented one
    for answer in answers.values():
        assert answer[0] == 201, answer
        check(PLACE, *answer)
    assert captured[0] == 200, captured
    check(CAPTURE, *captured)
    assert voided[0] == 200, voided
    check(VOID, *voided)

    # AND so are the refusals
    held = answers["kept"][1]["holdId"]
    for route, path, request, status in [
        (PLACE, None, '{"amount": "100", "expiresIn": 60}', 422),
        (PLACE, None, '{"amount": "1", "expiresIn": 0}', 400),
        (CAPTURE, {"holdId": held}, '{"amount": "2.01"}', 400),
        (CAPTURE, {"holdId": answers["void"][1]["holdId"]}, None, 409),
        (VOID, {"holdId": "00000000-0000-4000-8000-000000000000"}, None, 404),
    ]:
        answer = call(
            handlers,
            context,
            route,
            "alice" if path is None else None,
            body=request,
            path=path,
            **WRITER,
        )
        assert answer[0] == status, (route, request, answer)
        check(route, *answer)

    # AND the reads: a hold, the account's holds, its history and balances
    answer = call(handlers, context, GET_HOLD, path={"holdId": held})
    assert answer[0] == 200
    check(GET_HOLD, *answer)
    answer = call(handlers, context, LIST_HOLDS, "alice", query={"status": "pending"})
    assert [hold["holdId"] for hold in answer[1]["holds"]] == [held]
    check(LIST_HOLDS, *answer)
    events = call(handlers, context, "GET /accounts/{accountId}/events", "alice")
    check("GET /accounts/{accountId}/events", *events)
    assert {e["type"] for e in events[1]["events"]} >= {"HoldPlaced", "HoldVoided"}
    run_pipeline(pipeline, context, aws)
    balance = call(handlers, context, "GET /accounts/{accountId}/balance", "alice")
    check("GET /accounts/{accountId}/balance", *balance)
    assert (
        balance[1]["totalBalance"],
        balance[1]["heldBalance"],
        balance[1]["availableBalance"],
    ) == ("7.50", "2.00", "5.50")
    account = call(handlers, context, "GET /accounts/{accountId}", "alice")
    check("GET /accounts/{accountId}", *account)
    assert account[1]["balances"]["availableBalance"] == "5.50"

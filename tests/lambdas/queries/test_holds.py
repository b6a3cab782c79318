"""Holds through the queries function: one hold by its id, an account's holds by
status, and the held and available balances."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.holds import place_hold, void_hold
from banking.domain.commands import RecordCredit
from banking.domain.holds import PlaceHold, VoidHold
from banking.domain.money import Money
from banking.entrypoints.bootstrap import utc_now
from tests.support import http_event, open_on_moto, token_claims

HOLD_ID = "00000000-0000-4000-8000-00000000000{}"


@pytest.fixture
def queries(load_handler, aws):
    """alice with 100.00 and two holds of 10.00, the first voided; bob, not hers."""
    open_on_moto(aws, "alice", "bob")
    store = DynamoDBEventStore(
        aws["dynamodb"],
        aws["tables"]["events"],
        aws["tables"]["idempotency"],
        holds_table=aws["tables"]["holds"],
    )
    ids = iter(range(100, 200))
    deps = CommandDependencies(store, utc_now, lambda: f"event-{next(ids)}")
    record(RecordCredit("alice", Money(10000)), deps, caller="bank")
    for index in (1, 2):
        command = PlaceHold("alice", HOLD_ID.format(index), Money(1000), timedelta(hours=1))
        place_hold(command, deps, idempotency_key=f"k{index}", caller="shop")
    void_hold(VoidHold(HOLD_ID.format(1)), deps, idempotency_key="v", caller="shop")
    return load_handler("queries")


def get(queries, context, path, route_key, query=None, claims=None):
    event = http_event(
        "GET",
        path,
        route_key=route_key,
        path_parameters={"accountId": "alice"} if "{accountId}" in route_key else None,
        query=query,
        claims=claims or token_claims("alice"),
    )
    response = queries.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_hold_reads_back_by_its_id(queries, context):
    status, body = get(queries, context, f"/holds/{HOLD_ID.format(2)}", "GET /holds/{holdId}")
    assert status == 200
    assert (body["accountId"], body["amount"], body["status"]) == ("alice", "10.00", "pending")


def test_a_hold_of_another_callers_account_is_forbidden(queries, context):
    status, _ = get(
        queries,
        context,
        f"/holds/{HOLD_ID.format(2)}",
        "GET /holds/{holdId}",
        claims=token_claims("bob"),
    )
    assert status == 403


def test_an_unknown_hold_is_404(queries, context):
    status, body = get(queries, context, f"/holds/{HOLD_ID.format(9)}", "GET /holds/{holdId}")
    assert (status, body["error"]["code"]) == (404, "hold_not_found")


def test_an_accounts_holds_list_by_status(queries, context):
    route = "GET /accounts/{accountId}/holds"
    status, body = get(queries, context, "/accounts/alice/holds", route)
    assert status == 200
    assert [(h["holdId"], h["status"]) for h in body["holds"]] == [
        (HOLD_ID.format(1), "voided"),
        (HOLD_ID.format(2), "pending"),
    ]
    _, pending = get(queries, context, "/accounts/alice/holds", route, {"status": "pending"})
    assert [h["holdId"] for h in pending["holds"]] == [HOLD_ID.format(2)]
    _, page = get(queries, context, "/accounts/alice/holds", route, {"limit": "1"})
    assert page["nextAfter"] == body["holds"][0]["version"]


def test_an_unknown_status_is_a_400(queries, context):
    status, body = get(
        queries,
        context,
        "/accounts/alice/holds",
        "GET /accounts/{accountId}/holds",
        {"status": "x"},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.domain.money import Money
from banking.domain.read_models import CurrentMonthBalance, TotalBalance
from tests.support import READ_ANY_SCOPE, http_event, open_on_moto, token_claims


@pytest.fixture
def queries(load_handler, aws):
    """The queries function, with alice's account opened (version 1, owned by alice)."""
    open_on_moto(aws, "alice")
    return load_handler("queries")


def get(queries, context, path, route_key, account="alice", query=None, claims=None):
    event = http_event(
        "GET",
        path,
        route_key=route_key,
        path_parameters={"accountId": account} if "{accountId}" in route_key else None,
        query=query,
        claims=claims,
    )
    response = queries.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def balance(queries, context, account="alice", claims=None):
    return get(
        queries,
        context,
        f"/accounts/{account}/balance",
        "GET /accounts/{accountId}/balance",
        account,
        claims=claims,
    )


def test_an_unknown_account_is_not_found_only_to_who_may_read_any_account(queries, context):
    # GIVEN an id nobody opened
    # WHEN a reader of any account and its namesake ask for its balance
    auditor = balance(queries, context, "nobody", token_claims("audit", READ_ANY_SCOPE))
    namesake = balance(queries, context, "nobody", token_claims("nobody"))
    # THEN the first learns it does not exist, the second only that it may not read it
    assert (auditor[0], auditor[1]["error"]["code"]) == (404, "account_not_found")
    assert (namesake[0], namesake[1]["error"]["code"]) == (403, "forbidden")


def test_an_opened_account_the_read_models_have_not_caught_up_with_reads_zero(queries, context):
    # GIVEN alice's account opened, nothing projected yet
    # WHEN her balance is read
    status, body = balance(queries, context)
    # THEN it is zero at version 0 (not "not found": it exists), in her currency
    assert status == 200
    assert (body["totalBalance"], body["version"], body["currency"]) == ("0.00", 0, "EUR")


def test_the_balance_comes_from_the_read_models_with_their_version(queries, context, aws):
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    this_month = datetime.now(UTC).strftime("%Y-%m")
    store.save("alice", TotalBalance(Money(12345), 7))
    store.save("alice", CurrentMonthBalance(this_month, Money(-500), 7))
    assert balance(queries, context) == (
        200,
        {
            "accountId": "alice",
            "currency": "EUR",
            "totalBalance": "123.45",
            "currentMonthBalance": "-5.00",
            "month": this_month,
            "version": 7,
            "heldBalance": "0.00",
            "availableBalance": "123.45",
        },
    )


def test_a_month_without_events_has_a_zero_month_balance(queries, context, aws):
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    store.save("alice", TotalBalance(Money(100), 1))
    store.save("alice", CurrentMonthBalance("2020-01", Money(100), 1))
    status, body = balance(queries, context)
    assert status == 200
    assert body["currentMonthBalance"] == "0.00"
    assert body["month"] == datetime.now(UTC).strftime("%Y-%m")


def test_history_is_paginated_in_version_order(queries, context, load_handler):
    commands = load_handler("commands")
    for amount in range(1, 6):
        event = http_event(
            "POST",
            "/accounts/alice/credits",
            route_key="POST /accounts/{accountId}/credits",
            path_parameters={"accountId": "alice"},
            body=json.dumps({"amount": f"{amount}.00"}),
            headers={"idempotency-key": f"credit-{amount}"},
        )
        assert commands.lambda_handler(event, context)["statusCode"] == 201
    route = "GET /accounts/{accountId}/events"
    status, page = get(queries, context, "/accounts/alice/events", route, query={"limit": "2"})
    assert status == 200
    assert [e["version"] for e in page["events"]] == [1, 2]
    assert page["nextAfter"] == 2
    assert page["events"][0]["type"] == "AccountOpened"
    assert page["events"][1]["amount"] == "1.00"
    _, page = get(
        queries, context, "/accounts/alice/events", route, query={"after": "4", "limit": "2"}
    )
    assert [e["version"] for e in page["events"]] == [5, 6]
    assert page["nextAfter"] is None
    _, page = get(queries, context, "/accounts/alice/events", route)
    assert len(page["events"]) == 6


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"after": "-1"},
        {"page": "2"},
        {"limit": "1,2"},
    ],
)
def test_bad_query_parameters_are_invalid_requests(queries, context, query):
    status, body = get(
        queries, context, "/accounts/alice/events", "GET /accounts/{accountId}/events", query=query
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_an_unknown_route_is_not_found(queries, context):
    status, body = get(queries, context, "/nowhere", "$default")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_a_bad_account_id_is_refused(queries, context):
    status, body = balance(queries, context, account="a" * 65)
    assert (status, body["error"]["code"]) == (400, "invalid_account_id")


def test_a_corrupt_stored_event_in_the_history_is_a_500_never_a_400(
    queries, context, load_handler, aws
):
    # GIVEN alice's one credit, rewritten to a type this code does not know
    commands = load_handler("commands")
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key="POST /accounts/{accountId}/credits",
        path_parameters={"accountId": "alice"},
        body=json.dumps({"amount": "1.00"}),
        headers={"idempotency-key": "credit-1"},
    )
    assert commands.lambda_handler(event, context)["statusCode"] == 201
    aws["dynamodb"].update_item(
        TableName=aws["tables"]["events"],
        Key={"accountId": {"S": "alice"}, "version": {"N": "2"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": "ForgedEvent"}},
    )
    # WHEN her history is read
    status, body = get(
        queries, context, "/accounts/alice/events", "GET /accounts/{accountId}/events"
    )
    # THEN the store's fault is a server error, which names nothing of it
    assert (status, body["error"]["code"]) == (500, "internal_error")
    assert "ForgedEvent" not in json.dumps(body)


def test_answers_and_refusals_of_the_queries_forbid_caching(queries, context, aws):
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    store.save("alice", TotalBalance(Money(100), 1))
    store.save("alice", CurrentMonthBalance(datetime.now(UTC).strftime("%Y-%m"), Money(100), 1))
    for account in ("alice", "nobody"):
        event = http_event(
            "GET",
            f"/accounts/{account}/balance",
            route_key="GET /accounts/{accountId}/balance",
            path_parameters={"accountId": account},
        )
        response = queries.lambda_handler(event, context)
        assert response["statusCode"] == (200 if account == "alice" else 403)
        assert response["headers"]["Cache-Control"] == "no-store"

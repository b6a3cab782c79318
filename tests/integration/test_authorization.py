"""The functions check who calls them themselves (defence in depth): a route deployed
without its authorizer must not open the data, and a valid token only reaches what it
may."""

from __future__ import annotations

import json
import uuid

import pytest

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.domain.money import Money
from banking.domain.read_models import CurrentMonthBalance, TotalBalance
from tests.support import (
    READ_ANY_SCOPE,
    WRITE_SCOPE,
    http_event,
    open_on_moto,
    post,
    stored_versions,
    token_claims,
)

CREDIT = "POST /accounts/{accountId}/credits"
BALANCE = "GET /accounts/{accountId}/balance"
EVENTS = "GET /accounts/{accountId}/events"
STATEMENT = "GET /accounts/{accountId}/statements/{month}"


@pytest.fixture
def handlers(load_handler, aws):
    """Both HTTP functions, with alice's account opened (owned by alice, version 1)."""
    open_on_moto(aws, "alice")
    return {"POST": load_handler("commands"), "GET": load_handler("queries")}


def call(handlers, context, route, account, **auth):
    method, template = route.split(" ", 1)
    path = template.replace("{accountId}", account).replace("{month}", "2026-01")
    event = http_event(
        method,
        path,
        route_key=route,
        path_parameters={"accountId": account, "month": "2026-01"},
        body=json.dumps({"amount": "10.00", "description": "salary"}) if method == "POST" else None,
        headers={"idempotency-key": str(uuid.uuid4())} if method == "POST" else None,
        **auth,
    )
    response = handlers[method].lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def alice_has_a_balance(aws):
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    store.save("alice", TotalBalance(Money(1000), 1))
    store.save("alice", CurrentMonthBalance("2026-01", Money(1000), 1))


@pytest.mark.parametrize("route", [CREDIT, BALANCE, EVENTS, STATEMENT])
def test_a_request_that_skipped_the_authorizer_is_refused_and_stores_nothing(
    handlers, context, aws, route
):
    # GIVEN a route deployed without its authorizer: no verified claims in the event
    # WHEN a request reaches the function through it
    status, body = call(handlers, context, route, "alice", anonymous=True)

    # THEN the function itself refuses it, and nothing is stored
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert stored_versions(aws, "alice") == [1]


@pytest.mark.parametrize("route", [BALANCE, EVENTS, STATEMENT])
def test_reading_someone_elses_account_is_forbidden(handlers, context, alice_has_a_balance, route):
    # GIVEN bob's token, WHEN he reads alice's account
    status, body = call(handlers, context, route, "alice", claims=token_claims("bob"))

    # THEN it is forbidden, whatever the account holds
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_the_owner_reads_her_own_balance(handlers, context, alice_has_a_balance):
    status, body = call(handlers, context, BALANCE, "alice", claims=token_claims("alice"))

    assert (status, body["totalBalance"]) == (200, "10.00")


def test_an_account_listed_in_the_accounts_claim_is_readable(
    handlers, context, alice_has_a_balance
):
    # GIVEN a user whose token lists alice's account among hers, as the API renders arrays
    claims = token_claims("user-42", **{"ledger:accounts": "[joint-1 alice]"})

    status, _ = call(handlers, context, BALANCE, "alice", claims=claims)

    assert status == 200


def test_the_back_office_read_scope_reads_any_account(handlers, context, alice_has_a_balance):
    claims = token_claims("audit-svc", READ_ANY_SCOPE)

    assert call(handlers, context, BALANCE, "alice", claims=claims)[0] == 200


def test_the_owner_without_the_write_scope_cannot_record_and_nothing_is_stored(
    handlers, context, aws
):
    # GIVEN alice's own token, without the write scope
    # WHEN she credits her own account
    status, body = call(handlers, context, CREDIT, "alice", claims=token_claims("alice"))

    # THEN it is forbidden and nothing is stored
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert stored_versions(aws, "alice") == [1]


def test_a_back_office_token_with_the_write_scope_records_on_any_account(handlers, context, aws):
    claims = token_claims("payments-svc", WRITE_SCOPE)

    status, body = call(handlers, context, CREDIT, "alice", claims=claims)

    assert (status, body["version"]) == (201, 2)
    assert stored_versions(aws, "alice") == [1, 2]


def test_a_forbidden_command_is_refused_before_its_body_is_read(handlers, context, aws):
    # GIVEN a caller without the write scope sending a body that is not even JSON
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=CREDIT,
        path_parameters={"accountId": "alice"},
        body="{not json" * 5000,
        claims=token_claims("alice"),
    )

    response = handlers["POST"].lambda_handler(event, context)

    # THEN the answer is about authorization, not about the body
    assert response["statusCode"] == 403
    assert stored_versions(aws, "alice") == [1]


def test_a_refused_debit_tells_a_write_only_caller_no_figures(handlers, context):
    # GIVEN alice holding 10.00, and a back-office token that may write but not read
    writer = token_claims("payments-svc", WRITE_SCOPE)
    post(handlers["POST"], context, "credits", "alice", {"amount": "10.00"}, claims=writer)
    # WHEN its debit beyond the balance is refused
    status, body = post(
        handlers["POST"], context, "debits", "alice", {"amount": "10.01"}, claims=writer
    )
    # THEN it learns that, and neither the balance nor the overdraft limit
    assert (status, body["error"]["code"]) == (422, "insufficient_funds")
    assert "details" not in body["error"]
    assert "10.00" not in json.dumps(body)


def test_a_refused_debit_shows_its_figures_to_a_writer_that_may_also_read_any_account(
    handlers, context
):
    both = token_claims("payments-svc", WRITE_SCOPE, READ_ANY_SCOPE)
    post(handlers["POST"], context, "credits", "alice", {"amount": "10.00"}, claims=both)
    status, body = post(
        handlers["POST"], context, "debits", "alice", {"amount": "10.01"}, claims=both
    )
    assert status == 422
    assert body["error"]["details"]["balance"] == "10.00"
    assert body["error"]["details"]["overdraftLimit"] == "0.00"


def test_every_owner_reads_a_joint_account_and_its_namesake_does_not(handlers, context, aws):
    # GIVEN an account "joint" owned by alice and bob
    open_on_moto(aws, "joint", owners={"alice", "bob"})
    # WHEN each owner and a token whose subject is the account id read it
    readers = [
        call(handlers, context, BALANCE, "joint", claims=token_claims(s)) for s in ("alice", "bob")
    ]
    namesake = call(handlers, context, BALANCE, "joint", claims=token_claims("joint"))
    # THEN the owners may, and the rule "the subject is the account id" is gone
    assert [status for status, _ in readers] == [200, 200]
    assert (namesake[0], namesake[1]["error"]["code"]) == (403, "forbidden")


def test_a_refused_debit_shows_its_figures_to_an_owner_who_may_write(handlers, context, aws):
    # GIVEN bob's account owned by a back-office subject that may also write
    open_on_moto(aws, "bob-shop", owners={"shop-svc"})
    writer = token_claims("shop-svc", WRITE_SCOPE)
    # WHEN its debit beyond the balance is refused
    status, body = post(
        handlers["POST"], context, "debits", "bob-shop", {"amount": "0.01"}, claims=writer
    )
    # THEN as an owner it is shown the figures
    assert status == 422
    assert body["error"]["details"]["balance"] == "0.00"

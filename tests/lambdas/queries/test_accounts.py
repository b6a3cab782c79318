"""GET /accounts/{id}, GET /accounts?owner= and GET /transfers/{id} through the queries
function, on what the commands and the pipeline stored."""

from __future__ import annotations

import json

import pytest

from tests.lambdas.commands.test_accounts import OPS, call
from tests.support import READ_ANY_SCOPE, WRITE_SCOPE, http_event, post, run_pipeline, token_claims


@pytest.fixture
def ledger(pipeline, load_handler, context, aws):
    """alice (owned by alice) and joint (owned by alice and bob), opened by ops; alice
    credited 10.00 and 3.00 moved to joint; everything projected."""
    commands = pipeline["commands"]
    for account, owners in (("alice", ["alice"]), ("joint", ["alice", "bob"])):
        body = {"accountId": account, "currency": "EUR", "owners": owners}
        assert call(commands, context, "/accounts", body, claims=OPS)[0] == 201
    post(commands, context, "credits", "alice", {"amount": "10.00"})
    event = http_event(
        "POST",
        "/transfers",
        route_key="POST /transfers",
        body=json.dumps({"from": "alice", "to": "joint", "amount": "3"}),
        headers={"idempotency-key": "t1"},
        claims=token_claims("payments", WRITE_SCOPE),
    )
    transfer = json.loads(commands.lambda_handler(event, context)["body"])
    run_pipeline(pipeline, context, aws)
    return {"queries": load_handler("queries"), "transfer": transfer}


def get(ledger, context, path, *, claims, query=None):
    parts = path.split("/")
    route, parameters = path, None
    if parts[1] == "accounts" and len(parts) > 2:
        route, parameters = "/accounts/{accountId}", {"accountId": parts[2]}
    elif parts[1] == "transfers":
        route, parameters = "/transfers/{transferId}", {"transferId": parts[2]}
    event = http_event(
        "GET",
        path,
        route_key=f"GET {route}",
        path_parameters=parameters,
        query=query,
        claims=claims,
    )
    response = ledger["queries"].lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_an_account_reads_with_its_settings_and_its_balances(ledger, context):
    status, body = get(ledger, context, "/accounts/alice", claims=token_claims("alice"))
    assert status == 200
    assert (body["currency"], body["status"], body["owners"]) == ("EUR", "open", ["alice"])
    assert body["version"] == 3
    assert body["balances"]["totalBalance"] == "7.00"
    assert body["balances"]["version"] == 3


def test_a_joint_account_reads_to_each_owner_only(ledger, context):
    bob = get(ledger, context, "/accounts/joint", claims=token_claims("bob"))
    carol = get(ledger, context, "/accounts/joint", claims=token_claims("carol"))
    assert (bob[0], bob[1]["balances"]["totalBalance"]) == (200, "3.00")
    assert (carol[0], carol[1]["error"]["code"]) == (403, "forbidden")


def test_my_accounts_lists_what_the_caller_owns_page_by_page(ledger, context):
    # WHEN alice lists her accounts one per page
    status, first = get(
        ledger,
        context,
        "/accounts",
        claims=token_claims("alice"),
        query={"owner": "me", "limit": "1"},
    )
    _, second = get(
        ledger,
        context,
        "/accounts",
        claims=token_claims("alice"),
        query={"owner": "me", "limit": "1", "after": first["nextAfter"]},
    )
    # THEN she gets both, by id, the second page the last
    assert status == 200
    assert [a["accountId"] for a in first["accounts"] + second["accounts"]] == ["alice", "joint"]
    assert first["accounts"][0]["currency"] == "EUR"
    assert second["nextAfter"] is None


def test_listing_someone_elses_accounts_needs_the_read_scope(ledger, context):
    bob = get(ledger, context, "/accounts", claims=token_claims("bob"), query={"owner": "alice"})
    audit = get(
        ledger,
        context,
        "/accounts",
        claims=token_claims("audit", READ_ANY_SCOPE),
        query={"owner": "bob"},
    )
    assert (bob[0], bob[1]["error"]["code"]) == (403, "forbidden")
    assert [a["accountId"] for a in audit[1]["accounts"]] == ["joint"]


def test_a_transfer_reads_to_an_owner_of_one_of_its_accounts(ledger, context):
    transfer_id = ledger["transfer"]["transferId"]
    bob = get(ledger, context, f"/transfers/{transfer_id}", claims=token_claims("bob"))
    carol = get(ledger, context, f"/transfers/{transfer_id}", claims=token_claims("carol"))
    missing = get(ledger, context, "/transfers/nope", claims=token_claims("audit", READ_ANY_SCOPE))
    assert bob == (200, ledger["transfer"])
    assert (carol[0], carol[1]["error"]["code"]) == (403, "forbidden")
    assert (missing[0], missing[1]["error"]["code"]) == (404, "transfer_not_found")


def test_each_accounts_history_shows_its_leg_of_the_transfer(ledger, context):
    event = http_event(
        "GET",
        "/accounts/joint/events",
        route_key="GET /accounts/{accountId}/events",
        path_parameters={"accountId": "joint"},
        claims=token_claims("bob"),
    )
    history = json.loads(ledger["queries"].lambda_handler(event, context)["body"])
    leg = history["events"][-1]
    assert (leg["type"], leg["transferId"], leg["counterparty"]) == (
        "CreditEvent",
        ledger["transfer"]["transferId"],
        "alice",
    )
    assert leg["recordedBy"] == "payments"

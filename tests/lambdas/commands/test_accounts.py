"""Opening, freezing, unfreezing and closing accounts, and changing their overdraft
limit, through the commands function: every refusal a 4xx that stores nothing."""

from __future__ import annotations

import json

import pytest

from tests.support import WRITE_SCOPE, http_event, post, stored_versions, token_claims

MANAGE = "ledger/accounts.manage"
OPS = token_claims("ops", MANAGE)


@pytest.fixture
def commands(load_handler, aws):
    return load_handler("commands")


def call(commands, context, path, body=None, *, claims=OPS, headers=None):
    account = path.split("/")[2] if path.count("/") > 1 else None
    event = http_event(
        "POST",
        path,
        route_key="POST " + (path.replace(account, "{accountId}") if account else path),
        path_parameters={"accountId": account} if account else None,
        body=json.dumps(body) if body is not None else None,
        headers=headers,
        claims=claims,
    )
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def open_account(commands, context, account="alice", **fields):
    body = {"accountId": account, "currency": "EUR", "owners": ["alice"], **fields}
    return call(commands, context, "/accounts", body)


def test_an_account_is_opened_with_its_settings(commands, context, aws):
    # WHEN ops open an account in yen with two owners, a limit and metadata
    status, body = open_account(
        commands,
        context,
        "shop",
        currency="JPY",
        owners=["bob", "alice"],
        overdraftLimit="500",
        metadata={"kind": "merchant"},
    )
    # THEN it is stored at version 1 and answered with its settings and zero balances
    assert status == 201
    assert body["accountId"] == "shop"
    assert (body["currency"], body["overdraftLimit"], body["status"]) == ("JPY", "500", "open")
    assert (body["owners"], body["metadata"]) == (["alice", "bob"], {"kind": "merchant"})
    assert body["version"] == 1
    assert body["openedAt"].endswith("Z")
    assert body["balances"]["totalBalance"] == "0"
    assert stored_versions(aws, "shop") == [1]


def test_the_default_overdraft_limit_is_zero_in_the_currencys_digits(commands, context):
    status, body = open_account(commands, context, "kw", currency="KWD")
    assert (status, body["overdraftLimit"]) == (201, "0.000")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"currency": "XYZ"}, 400, "invalid_currency"),
        ({"currency": "eur"}, 400, "invalid_currency"),
        ({"overdraftLimit": "1.001"}, 400, "invalid_amount"),
        ({"overdraftLimit": "-1"}, 400, "invalid_amount"),
        ({"owners": []}, 400, "invalid_request"),
        ({"owners": "alice"}, 400, "invalid_request"),
        ({"metadata": {"k": "\u202e"}}, 400, "invalid_request"),
        ({"accountId": "a b"}, 400, "invalid_account_id"),
        ({"colour": "red"}, 400, "invalid_request"),
    ],
)
def test_a_bad_opening_is_refused_and_stores_nothing(commands, context, aws, fields, status, code):
    answer = open_account(commands, context, "alice", **fields)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert stored_versions(aws, "alice") == []


def test_opening_an_existing_id_is_a_conflict_unless_it_is_the_same_request_again(
    commands, context, aws
):
    # GIVEN alice opened with an idempotency key
    key = {"idempotency-key": "open-alice"}
    first = call(commands, context, "/accounts", _alice(), headers=key)
    # WHEN the same request comes again, and then another opening of the same id
    again = call(commands, context, "/accounts", _alice(), headers=key)
    other = call(commands, context, "/accounts", _alice(), headers={"idempotency-key": "x"})
    reused = call(commands, context, "/accounts", _alice(currency="USD"), headers=key)
    # THEN the retry gets the first answer, the other opening 409 account_exists, the
    # reused key 409 idempotency_key_reused; one event stored
    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert (other[0], other[1]["error"]["code"]) == (409, "account_exists")
    assert (reused[0], reused[1]["error"]["code"]) == (409, "idempotency_key_reused")
    assert stored_versions(aws, "alice") == [1]


def _alice(**fields):
    return {"accountId": "alice", "currency": "EUR", "owners": ["alice"], **fields}


def test_opening_needs_the_manage_scope(commands, context, aws):
    writer = token_claims("payments", WRITE_SCOPE)
    status, body = call(commands, context, "/accounts", _alice(), claims=writer)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert stored_versions(aws, "alice") == []


def test_a_frozen_account_refuses_postings_until_unfrozen(commands, context, aws):
    # GIVEN alice opened and frozen
    open_account(commands, context)
    status, body = call(commands, context, "/accounts/alice/freeze")
    assert (status, body["status"], body["version"]) == (200, "frozen", 2)
    # WHEN credited, frozen again
    credit = post(commands, context, "credits", "alice", {"amount": "1.00"})
    again = call(commands, context, "/accounts/alice/freeze", {})
    # THEN both are refused and store nothing
    assert (credit[0], credit[1]["error"]["code"]) == (422, "account_frozen")
    assert (again[0], again[1]["error"]["code"]) == (422, "account_frozen")
    assert stored_versions(aws, "alice") == [1, 2]
    # WHEN unfrozen THEN postings are taken again; unfreezing twice is refused
    assert call(commands, context, "/accounts/alice/unfreeze")[1]["status"] == "open"
    assert post(commands, context, "credits", "alice", {"amount": "1.00"})[0] == 201
    twice = call(commands, context, "/accounts/alice/unfreeze")
    assert (twice[0], twice[1]["error"]["code"]) == (422, "account_not_frozen")


def test_an_account_closes_only_at_zero_and_then_refuses_everything(commands, context, aws):
    open_account(commands, context)
    post(commands, context, "credits", "alice", {"amount": "1.00"})
    # WHEN closed with money on it THEN refused
    status, body = call(commands, context, "/accounts/alice/close")
    assert (status, body["error"]["code"]) == (422, "account_not_empty")
    # WHEN emptied and closed THEN closed, and every change after it is refused
    post(commands, context, "debits", "alice", {"amount": "1.00"})
    assert call(commands, context, "/accounts/alice/close")[1]["status"] == "closed"
    credit = post(commands, context, "credits", "alice", {"amount": "1.00"})
    freeze = call(commands, context, "/accounts/alice/freeze")
    assert (credit[0], credit[1]["error"]["code"]) == (422, "account_closed")
    assert (freeze[0], freeze[1]["error"]["code"]) == (422, "account_closed")
    assert stored_versions(aws, "alice") == [1, 2, 3, 4]


def test_the_overdraft_limit_changes_by_an_event_and_not_below_the_balance(commands, context, aws):
    open_account(commands, context)
    # WHEN the limit is raised THEN debits may go down to it
    status, body = call(
        commands, context, "/accounts/alice/overdraft-limit", {"overdraftLimit": "5"}
    )
    assert (status, body["overdraftLimit"]) == (200, "5.00")
    assert post(commands, context, "debits", "alice", {"amount": "5.00"})[0] == 201
    # WHEN lowered below the balance THEN refused, and nothing is stored
    lower = call(commands, context, "/accounts/alice/overdraft-limit", {"overdraftLimit": "4.99"})
    assert (lower[0], lower[1]["error"]["code"]) == (422, "overdraft_limit_too_low")
    assert stored_versions(aws, "alice") == [1, 2, 3]


def test_changes_to_an_account_nobody_opened_are_not_found(commands, context, aws):
    for path in ("/accounts/ghost/freeze", "/accounts/ghost/close"):
        status, body = call(commands, context, path)
        assert (status, body["error"]["code"]) == (404, "account_not_found")
    credit = post(commands, context, "credits", "ghost", {"amount": "1.00"})
    assert (credit[0], credit[1]["error"]["code"]) == (404, "account_not_found")
    assert stored_versions(aws, "ghost") == []


def test_a_status_change_with_a_body_other_than_empty_is_refused(commands, context, aws):
    open_account(commands, context)
    status, body = call(commands, context, "/accounts/alice/freeze", {"why": "fraud"})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert stored_versions(aws, "alice") == [1]


def test_postings_answer_in_the_accounts_currency_digits_and_name_it(commands, context):
    open_account(commands, context, "yen", currency="JPY")
    status, body = post(commands, context, "credits", "yen", {"amount": "1500"})
    assert (status, body["amount"], body["currency"]) == (201, "1500", "JPY")
    fraction = post(commands, context, "credits", "yen", {"amount": "1.5"})
    assert (fraction[0], fraction[1]["error"]["code"]) == (400, "invalid_amount")

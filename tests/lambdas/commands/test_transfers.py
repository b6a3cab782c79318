"""POST /transfers through the commands function: both legs or neither, and every
refusal a 4xx that stores nothing."""

from __future__ import annotations

import json

import pytest

from tests.lambdas.commands.test_accounts import OPS, call
from tests.support import (
    WRITE_SCOPE,
    http_event,
    open_on_moto,
    post,
    stored_versions,
    token_claims,
)

WRITER = token_claims("payments", WRITE_SCOPE)


@pytest.fixture
def commands(load_handler, aws, context):
    """alice (holding 10.00), bob and fees in EUR; yen in JPY."""
    open_on_moto(aws, "alice", "bob", "fees")
    open_on_moto(aws, "yen", currency="JPY")
    handler = load_handler("commands")
    post(handler, context, "credits", "alice", {"amount": "10.00"})
    return handler


def send(commands, context, body, *, key="t-key", claims=WRITER):
    event = http_event(
        "POST",
        "/transfers",
        route_key="POST /transfers",
        body=json.dumps(body),
        headers={"idempotency-key": key} if key else None,
        claims=claims,
    )
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_transfer_stores_a_leg_on_each_account_and_answers_both(commands, context, aws):
    # WHEN alice pays bob 4.00
    status, body = send(
        commands, context, {"from": "alice", "to": "bob", "amount": "4", "description": "rent"}
    )
    # THEN both legs are stored and answered, with the amount in the accounts' currency
    assert status == 201
    assert (body["amount"], body["currency"], body["description"]) == ("4.00", "EUR", "rent")
    assert body["postings"] == [{"from": "alice", "to": "bob", "amount": "4.00", "currency": "EUR"}]
    assert [(leg["accountId"], leg["version"], leg["type"]) for leg in body["legs"]] == [
        ("alice", 3, "DebitEvent"),
        ("bob", 2, "CreditEvent"),
    ]
    assert stored_versions(aws, "alice") == [1, 2, 3]
    assert stored_versions(aws, "bob") == [1, 2]


def test_a_payment_with_its_fee_is_one_transfer(commands, context, aws):
    body = {
        "postings": [
            {"from": "alice", "to": "bob", "amount": "9.50"},
            {"from": "alice", "to": "fees", "amount": "0.50"},
        ]
    }
    status, answer = send(commands, context, body)
    assert status == 201
    assert "amount" not in answer
    assert len(answer["legs"]) == 4
    assert stored_versions(aws, "fees") == [1, 2]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"from": "alice", "to": "alice", "amount": "1"}, 400, "invalid_request"),
        ({"from": "alice", "to": "ghost", "amount": "1"}, 404, "account_not_found"),
        ({"from": "alice", "to": "yen", "amount": "1"}, 422, "currency_mismatch"),
        ({"from": "alice", "to": "bob", "amount": "10.01"}, 422, "insufficient_funds"),
        ({"from": "alice", "to": "bob", "amount": "0"}, 400, "invalid_amount"),
        ({"from": "alice", "to": "bob", "amount": "0.001"}, 400, "invalid_amount"),
        ({"from": "alice", "to": "bob"}, 400, "invalid_request"),
        ({"from": "alice", "to": "bob", "amount": "1", "fee": "1"}, 400, "invalid_request"),
        ({"postings": []}, 400, "invalid_request"),
        (
            {"postings": [{"from": "alice", "to": "bob", "amount": "1"}] * 11},
            400,
            "invalid_request",
        ),
        (
            {
                "postings": [
                    {"from": "alice", "to": "bob", "amount": "9"},
                    {"from": "alice", "to": "fees", "amount": "1.01"},
                ]
            },
            422,
            "insufficient_funds",
        ),
    ],
)
def test_a_refused_transfer_stores_nothing(commands, context, aws, body, status, code):
    answer = send(commands, context, body)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert stored_versions(aws, "alice") == [1, 2]
    assert stored_versions(aws, "bob") == [1]
    assert stored_versions(aws, "fees") == [1]


def test_a_frozen_account_takes_no_transfer(commands, context, aws):
    call(commands, context, "/accounts/bob/freeze", claims=OPS)
    status, body = send(commands, context, {"from": "alice", "to": "bob", "amount": "1"})
    assert (status, body["error"]["code"]) == (422, "account_frozen")
    assert stored_versions(aws, "alice") == [1, 2]


def test_a_retried_key_answers_the_first_transfer_and_stores_nothing_new(commands, context, aws):
    body = {"from": "alice", "to": "bob", "amount": "1"}
    first = send(commands, context, body, key="pay-1")
    again = send(commands, context, body, key="pay-1")
    other = send(commands, context, {**body, "amount": "2"}, key="pay-1")
    assert first == again
    assert (other[0], other[1]["error"]["code"]) == (409, "idempotency_key_reused")
    assert stored_versions(aws, "bob") == [1, 2]


def test_a_transfer_needs_the_write_scope_and_a_key(commands, context, aws):
    owner = send(
        commands,
        context,
        {"from": "alice", "to": "bob", "amount": "1"},
        claims=token_claims("alice"),
    )
    keyless = send(commands, context, {"from": "alice", "to": "bob", "amount": "1"}, key=None)
    assert (owner[0], owner[1]["error"]["code"]) == (403, "forbidden")
    assert (keyless[0], keyless[1]["error"]["code"]) == (400, "idempotency_key_required")
    assert stored_versions(aws, "bob") == [1]


def test_a_refused_transfer_shows_figures_only_to_who_may_read_the_account(commands, context):
    body = {"from": "alice", "to": "bob", "amount": "11"}
    blind = send(commands, context, body, key="a")
    reader = send(
        commands,
        context,
        body,
        key="b",
        claims=token_claims("payments", WRITE_SCOPE, "ledger/accounts.read"),
    )
    assert "details" not in blind[1]["error"]
    assert reader[1]["error"]["details"]["balance"] == "10.00"

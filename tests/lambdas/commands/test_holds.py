"""Holds through the commands function: place, capture and void, and every refusal a
4xx with its code that stores nothing."""

from __future__ import annotations

import json

import pytest

from tests.support import (
    WRITE_SCOPE,
    http_event,
    open_on_moto,
    post,
    stored_versions,
    token_claims,
)

SHOP = token_claims("shop", WRITE_SCOPE)
READER = token_claims("alice")


@pytest.fixture
def commands(load_handler, aws, context):
    """alice holding 100.00 and bob, in EUR."""
    open_on_moto(aws, "alice", "bob")
    handler = load_handler("commands")
    post(handler, context, "credits", "alice", {"amount": "100.00"})
    return handler


def send(commands, context, path, body=None, *, key="k1", claims=SHOP):
    route = "POST " + path.replace(
        path.split("/")[2], "{holdId}" if path.startswith("/holds") else "{accountId}"
    )
    event = http_event(
        "POST",
        path,
        route_key=route,
        path_parameters={"accountId": path.split("/")[2]} if path.startswith("/accounts") else None,
        body=json.dumps(body) if body is not None else None,
        headers={"idempotency-key": key} if key else None,
        claims=claims,
    )
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def place(commands, context, amount="30.00", expires_in=60, key="place-1", **more):
    return send(
        commands,
        context,
        "/accounts/alice/holds",
        {"amount": amount, "expiresIn": expires_in, **more},
        key=key,
    )


def test_a_placed_hold_answers_its_id_account_amount_expiry_and_version(commands, context, aws):
    # WHEN 30.00 is held for a minute
    status, body = place(commands, context, description="card 1234")
    # THEN it is stored as the account's next version and answered
    assert status == 201
    assert body["accountId"] == "alice"
    assert (body["amount"], body["currency"], body["status"]) == ("30.00", "EUR", "pending")
    assert body["version"] == 3
    assert body["expiresAt"] > body["placedAt"]
    assert stored_versions(aws, "alice") == [1, 2, 3]


def test_capturing_part_then_again_is_refused_as_not_pending(commands, context, aws):
    # GIVEN a hold of 30.00
    _, placed = place(commands, context)
    hold = placed["holdId"]
    # WHEN 10.00 of it is captured
    status, body = send(commands, context, f"/holds/{hold}/capture", {"amount": "10"})
    # THEN the capture is stored and the hold answers captured
    assert status == 200
    assert (body["status"], body["capturedAmount"], body["resolvedVersion"]) == (
        "captured",
        "10.00",
        4,
    )
    # AND a second capture or a void is 409 hold_not_pending, storing nothing
    for action, key in (("capture", "k2"), ("void", "k3")):
        status, body = send(commands, context, f"/holds/{hold}/{action}", key=key)
        assert (status, body["error"]["code"]) == (409, "hold_not_pending")
    assert stored_versions(aws, "alice") == [1, 2, 3, 4]


def test_a_capture_to_another_account_credits_it(commands, context, aws):
    _, placed = place(commands, context)
    status, body = send(commands, context, f"/holds/{placed['holdId']}/capture", {"to": "bob"})
    assert status == 200
    assert (body["capturedTo"], body["capturedAmount"]) == ("bob", "30.00")
    assert body["transferId"]
    assert stored_versions(aws, "bob") == [1, 2]


def test_a_retried_capture_answers_the_same_once(commands, context, aws):
    _, placed = place(commands, context)
    path = f"/holds/{placed['holdId']}/capture"
    first = send(commands, context, path, {"amount": "5.00"}, key="same")
    again = send(commands, context, path, {"amount": "5.00"}, key="same")
    assert first == again
    assert first[0] == 200
    assert stored_versions(aws, "alice") == [1, 2, 3, 4]


def test_a_voided_hold_answers_voided(commands, context):
    _, placed = place(commands, context)
    status, body = send(commands, context, f"/holds/{placed['holdId']}/void")
    assert (status, body["status"]) == (200, "voided")


def test_a_hold_beyond_the_available_balance_is_refused(commands, context, aws):
    place(commands, context, amount="80.00")
    status, body = place(commands, context, amount="30.00", key="place-2")
    assert (status, body["error"]["code"]) == (422, "insufficient_funds")
    # AND a debit is judged on the available balance too
    status, body = post(commands, context, "debits", "alice", {"amount": "30.00"})
    assert (status, body["error"]["code"]) == (422, "insufficient_funds")
    assert stored_versions(aws, "alice") == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "1", "expiresIn": 0}, "invalid_request"),
        ({"amount": "1", "expiresIn": 2592001}, "invalid_request"),
        ({"amount": "1", "expiresIn": 1.5}, "invalid_request"),
        ({"amount": "1", "expiresIn": "60"}, "invalid_request"),
        ({"amount": "1"}, "invalid_request"),
        ({"amount": "0", "expiresIn": 60}, "invalid_amount"),
        ({"amount": "1.001", "expiresIn": 60}, "invalid_amount"),
        ({"amount": "1", "expiresIn": True}, "invalid_request"),
        ({"amount": "1", "expiresIn": 60, "extra": 1}, "invalid_request"),
    ],
)
def test_a_malformed_hold_is_a_400_that_stores_nothing(commands, context, aws, body, code):
    status, answer = send(commands, context, "/accounts/alice/holds", body)
    assert (status, answer["error"]["code"]) == (400, code)
    assert stored_versions(aws, "alice") == [1, 2]


def test_money_moving_hold_requests_need_an_idempotency_key(commands, context):
    status, body = place(commands, context, key=None)
    assert (status, body["error"]["code"]) == (400, "idempotency_key_required")
    _, placed = place(commands, context)
    for action in ("capture", "void"):
        status, body = send(commands, context, f"/holds/{placed['holdId']}/{action}", key=None)
        assert (status, body["error"]["code"]) == (400, "idempotency_key_required")


def test_an_unknown_hold_is_404(commands, context):
    status, body = send(commands, context, "/holds/00000000-0000-4000-8000-000000000000/capture")
    assert (status, body["error"]["code"]) == (404, "hold_not_found")
    status, body = send(commands, context, "/holds/not-a-hold/void")
    assert (status, body["error"]["code"]) == (404, "hold_not_found")


def test_a_caller_without_the_write_scope_may_not_hold_capture_or_void(commands, context):
    event_status, body = send(
        commands,
        context,
        "/accounts/alice/holds",
        {"amount": "1", "expiresIn": 60},
        claims=READER,
    )
    assert (event_status, body["error"]["code"]) == (403, "forbidden")
    _, placed = place(commands, context)
    for action in ("capture", "void"):
        status, body = send(commands, context, f"/holds/{placed['holdId']}/{action}", claims=READER)
        assert status == 403


def test_closing_an_account_with_a_pending_hold_is_refused(commands, context):
    # GIVEN an account at a zero balance with a hold on its overdraft
    ops = token_claims("ops", "ledger/accounts.manage")
    send(commands, context, "/accounts/alice/overdraft-limit", {"overdraftLimit": "50"}, claims=ops)
    post(commands, context, "debits", "alice", {"amount": "100.00"})
    place(commands, context, amount="10.00")
    # WHEN it is closed
    status, body = send(commands, context, "/accounts/alice/close", key=None, claims=ops)
    # THEN it is refused
    assert (status, body["error"]["code"]) == (422, "account_has_pending_holds")


@pytest.mark.parametrize("body", [{"amount": None}, {"to": None}, {"to": 5}, {"other": 1}])
def test_a_malformed_capture_is_a_400_that_stores_nothing(commands, context, aws, body):
    _, placed = place(commands, context)
    status, answer = send(commands, context, f"/holds/{placed['holdId']}/capture", body)
    assert status == 400
    assert answer["error"]["code"] in ("invalid_request", "invalid_amount")
    assert stored_versions(aws, "alice") == [1, 2, 3]

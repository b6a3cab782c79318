"""POST .../events/{version}/reversal and POST /transfers/{id}/reversal through the
commands function: the stored reversal answered with 201, every refusal a 4xx with
its code that stores nothing."""

from __future__ import annotations

import json

import pytest

from tests.lambdas.commands.test_transfers import WRITER, send
from tests.support import http_event, open_on_moto, post, stored_versions

ENTRY_ROUTE = "POST /accounts/{accountId}/events/{version}/reversal"
TRANSFER_ROUTE = "POST /transfers/{transferId}/reversal"


@pytest.fixture
def commands(load_handler, aws, context):
    """alice credited 10.00 (version 2) and debited 3.00 (version 3); bob opened."""
    open_on_moto(aws, "alice", "bob")
    handler = load_handler("commands")
    post(handler, context, "credits", "alice", {"amount": "10.00", "description": "refund"})
    post(handler, context, "debits", "alice", {"amount": "3.00"})
    return handler


def reverse(commands, context, version, *, account="alice", key="r-key", body=None):
    event = http_event(
        "POST",
        f"/accounts/{account}/events/{version}/reversal",
        route_key=ENTRY_ROUTE,
        path_parameters={"accountId": account, "version": str(version)},
        body=json.dumps(body) if body is not None else None,
        headers={"idempotency-key": key} if key else None,
    )
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def undo(commands, context, transfer_id, *, key="u-key", body=None):
    event = http_event(
        "POST",
        f"/transfers/{transfer_id}/reversal",
        route_key=TRANSFER_ROUTE,
        path_parameters={"transferId": transfer_id},
        body=json.dumps(body) if body is not None else None,
        headers={"idempotency-key": key} if key else None,
        claims=WRITER,
    )
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_debit_is_reversed_by_a_credit_answered_with_201(commands, context, aws):
    # WHEN alice's debit (version 3) is reversed
    status, body = reverse(commands, context, 3, body={"description": "fee waived"})
    # THEN a credit of 3.00 at version 4 names it, and is stored
    assert status == 201, body
    assert body["type"] == "CreditEvent"
    assert (body["version"], body["amount"], body["description"]) == (4, "3.00", "fee waived")
    assert body["reverses"] == {"accountId": "alice", "version": 3}
    assert stored_versions(aws, "alice") == [1, 2, 3, 4]


def test_a_second_reversal_is_409_and_a_retry_answers_the_first(commands, context, aws):
    # GIVEN alice's debit reversed with key r-key
    first = reverse(commands, context, 3)
    # WHEN the same request is retried, and another one comes with a new key
    again = reverse(commands, context, 3)
    other = reverse(commands, context, 3, key="other")
    # THEN the retry answers the first; the other is refused; one reversal stored
    assert again == first
    assert (other[0], other[1]["error"]["code"]) == (409, "already_reversed")
    assert stored_versions(aws, "alice") == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("version", "key", "body", "status", "code"),
    [
        (1, "k", None, 422, "not_reversible"),
        (9, "k", None, 404, "event_not_found"),
        ("0", "k", None, 400, "invalid_request"),
        ("x", "k", None, 400, "invalid_request"),
        (2, None, None, 400, "idempotency_key_required"),
        (2, "k", {"amount": "1"}, 400, "invalid_request"),
        # The credit of 10.00 was partly spent: reversing it would overdraw alice.
        (2, "k", None, 422, "insufficient_funds"),
    ],
)
def test_refused_reversals_store_nothing(commands, context, aws, version, key, body, status, code):
    answer = reverse(commands, context, version, key=key, body=body)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert stored_versions(aws, "alice") == [1, 2, 3]


def test_a_transfer_is_reversed_whole_and_its_leg_alone_never(commands, context, aws):
    # GIVEN alice paid bob 4.00
    status, paid = send(commands, context, {"from": "alice", "to": "bob", "amount": "4.00"})
    assert status == 201, paid
    # WHEN bob's leg is reversed alone, then the transfer
    leg = reverse(commands, context, 2, account="bob")
    status, body = undo(commands, context, paid["transferId"])
    # THEN the leg alone is refused; the transfer's reversal moved the money back
    assert (leg[0], leg[1]["error"]["code"]) == (422, "not_reversible")
    assert status == 201, body
    assert body["reverses"] == paid["transferId"]
    assert body["postings"] == [{"from": "bob", "to": "alice", "amount": "4.00", "currency": "EUR"}]
    # (a transfer stores its credit legs before its debit legs: docs/events.md)
    assert [(leg["accountId"], leg["version"]) for leg in body["legs"]] == [
        ("alice", 5),
        ("bob", 3),
    ]
    # AND a second reversal is refused, as is a reversal of the reversal
    again = undo(commands, context, paid["transferId"], key="again")
    twice = undo(commands, context, body["transferId"], key="twice")
    assert (again[0], again[1]["error"]["code"]) == (409, "already_reversed")
    assert (twice[0], twice[1]["error"]["code"]) == (422, "not_reversible")
    assert stored_versions(aws, "bob") == [1, 2, 3]


@pytest.mark.parametrize(
    ("transfer_id", "status", "code"),
    [("no-such-transfer", 404, "transfer_not_found"), ("bad id!", 400, "invalid_request")],
)
def test_an_unknown_or_malformed_transfer_is_refused(commands, context, transfer_id, status, code):
    answer = undo(commands, context, transfer_id)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)

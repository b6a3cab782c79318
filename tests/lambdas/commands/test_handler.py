from __future__ import annotations

import base64
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import http_event, stored_versions

CREDIT_ROUTE = "POST /accounts/{accountId}/credits"
DEBIT_ROUTE = "POST /accounts/{accountId}/debits"


@pytest.fixture
def commands(load_handler, monkeypatch):
    monkeypatch.setenv("OVERDRAFT_LIMIT", "0.00")
    return load_handler("commands")


def post(commands, context, kind, account, body=None, headers=None, *, raw=None, base64_body=False):
    text = raw if raw is not None else json.dumps(body)
    event = http_event(
        "POST",
        f"/accounts/{account}/{kind}",
        route_key=DEBIT_ROUTE if kind == "debits" else CREDIT_ROUTE,
        path_parameters={"accountId": account},
        body=base64.b64encode(text.encode()).decode() if base64_body else text,
        headers=headers,
    )
    event["isBase64Encoded"] = base64_body
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_credit_is_stored_and_answered_with_its_version(commands, context, aws):
    status, body = post(
        commands, context, "credits", "alice", {"amount": "12.3", "description": "pay"}
    )
    assert status == 201
    assert body["accountId"] == "alice"
    assert body["type"] == "CreditEvent"
    assert body["version"] == 1
    assert body["amount"] == "12.30"
    assert body["description"] == "pay"
    assert body["recordedAt"].endswith("Z")
    assert body["eventId"]
    assert stored_versions(aws, "alice") == [1]


def test_a_json_number_amount_is_exact(commands, context):
    status, body = post(commands, context, "credits", "alice", raw='{"amount": 0.1}')
    assert (status, body["amount"]) == (201, "0.10")


def test_a_debit_beyond_the_balance_is_refused_and_stores_nothing(commands, context, aws):
    post(commands, context, "credits", "alice", {"amount": "10.00"})
    status, body = post(commands, context, "debits", "alice", {"amount": "10.01"})
    assert status == 422
    assert body["error"]["code"] == "insufficient_funds"
    assert stored_versions(aws, "alice") == [1]


def test_the_overdraft_limit_is_a_deployment_setting(load_handler, context, monkeypatch):
    monkeypatch.setenv("OVERDRAFT_LIMIT", "50.00")
    commands = load_handler("commands")
    assert post(commands, context, "debits", "alice", {"amount": "50.00"})[0] == 201
    assert post(commands, context, "debits", "alice", {"amount": "0.01"})[0] == 422


def test_a_retried_idempotency_key_answers_the_first_response(commands, context, aws):
    headers = {"idempotency-key": "order-42"}
    first = post(commands, context, "credits", "alice", {"amount": "5.00"}, headers)
    again = post(commands, context, "credits", "alice", {"amount": "5.00"}, headers)
    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert stored_versions(aws, "alice") == [1]
    reused = post(commands, context, "credits", "alice", {"amount": "6.00"}, headers)
    assert reused[0] == 409
    assert reused[1]["error"]["code"] == "idempotency_key_reused"
    assert stored_versions(aws, "alice") == [1]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{", 400, "invalid_json"),
        ('{"amount": NaN}', 400, "invalid_json"),
        ('{"amount": "1", "amount": "2"}', 400, "invalid_json"),
        ('{"amount": 1e400}', 400, "invalid_amount"),
        ('{"amount": -0}', 400, "invalid_amount"),
        ('{"amount": "1.999"}', 400, "invalid_amount"),
        ('{"amount": "' + "9" * 400 + '"}', 400, "invalid_amount"),
        ('{"amount": "1.00", "extra": true}', 400, "invalid_request"),
        ('{"amount": "1.00", "description": ["x"]}', 400, "invalid_request"),
        ("[]", 400, "invalid_request"),
        ("", 400, "invalid_json"),
        ('{"amount": "1.00", "description": "' + "x" * 17000 + '"}', 413, "payload_too_large"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_store_nothing(commands, context, aws, raw, status, code):
    answer = post(commands, context, "credits", "alice", None, raw=raw)
    assert answer[0] == status
    assert answer[1]["error"]["code"] == code
    assert answer[1]["error"]["message"]
    assert stored_versions(aws, "alice") == []


def test_non_utf8_bodies_are_invalid_json(commands, context, aws):
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=CREDIT_ROUTE,
        path_parameters={"accountId": "alice"},
        body=base64.b64encode(b'{"amount": "1.00\xff"}').decode(),
    )
    event["isBase64Encoded"] = True
    response = commands.lambda_handler(event, context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"
    assert stored_versions(aws, "alice") == []


@pytest.mark.parametrize("account", ["al ice", "a" * 65, "..", "аlice"])
def test_bad_account_ids_are_refused(commands, context, aws, account):
    status, body = post(commands, context, "credits", account, {"amount": "1.00"})
    assert (status, body["error"]["code"]) == (400, "invalid_account_id")


def test_an_invalid_idempotency_key_is_refused(commands, context, aws):
    status, body = post(
        commands, context, "credits", "alice", {"amount": "1.00"}, {"idempotency-key": "x" * 129}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert stored_versions(aws, "alice") == []


def test_twenty_concurrent_debits_on_dynamodb(commands, context, aws, atomic_dynamodb):
    # GIVEN an account holding 100.00
    assert post(commands, context, "credits", "alice", {"amount": "100.00"})[0] == 201
    barrier = threading.Barrier(20)

    def debit(_):
        barrier.wait()
        return post(commands, context, "debits", "alice", {"amount": "10.00"})

    # WHEN 20 debits of 10.00 arrive at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(debit, range(20)))

    # THEN 10 are stored, 10 refused, versions 1..11 without a gap
    assert sorted(status for status, _ in answers) == [201] * 10 + [422] * 10
    assert {body["error"]["code"] for status, body in answers if status == 422} == {
        "insufficient_funds"
    }
    assert sorted(stored_versions(aws, "alice")) == list(range(1, 12))


def test_concurrent_duplicates_with_one_key_store_one_event(
    commands, context, aws, atomic_dynamodb
):
    barrier = threading.Barrier(6)

    def credit(_):
        barrier.wait()
        return post(
            commands, context, "credits", "alice", {"amount": "1.00"}, {"idempotency-key": "k"}
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(credit, range(6)))

    assert {status for status, _ in answers} == {201}
    assert len({body["eventId"] for _, body in answers}) == 1
    assert stored_versions(aws, "alice") == [1]


def test_logs_are_json_with_the_requests_correlation_id(commands, context):
    output = io.StringIO()
    commands.logger.registered_handler.setStream(output)
    post(
        commands,
        context,
        "credits",
        "alice",
        {"amount": "1.00", "description": "secret memo"},
        {"x-correlation-id": "journey-7"},
    )
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    recorded = [line for line in lines if line.get("message") == "recorded"]
    assert recorded
    assert recorded[0]["correlation_id"] == "journey-7"
    assert "secret memo" not in json.dumps(lines)


def test_commands_are_counted_accepted_and_rejected_by_code(commands, context, capsys):
    post(commands, context, "credits", "alice", {"amount": "1.00"})
    post(commands, context, "debits", "alice", {"amount": "5.00"})
    emitted = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
    ]
    names = {
        (metric["Name"], entry.get("code") or entry.get("type"))
        for entry in emitted
        for metric in entry["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert ("CommandAccepted", "credit") in names
    assert ("CommandRejected", "insufficient_funds") in names

from __future__ import annotations

import base64
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from banking.application.ports import WriteCanceled
from tests.conftest import refuse
from tests.support import (
    CREDIT_ROUTE,
    WRITE_SCOPE,
    http_event,
    open_on_moto,
    post,
    stored_versions,
    token_claims,
)


@pytest.fixture
def commands(load_handler, monkeypatch, aws):
    """The commands function, with the accounts alice and bob opened (version 1)."""
    monkeypatch.setenv("OVERDRAFT_LIMIT", "0.00")
    open_on_moto(aws, "alice", "bob")
    return load_handler("commands")


def test_a_credit_is_stored_and_answered_with_its_version(commands, context, aws):
    status, body = post(
        commands, context, "credits", "alice", {"amount": "12.3", "description": "pay"}
    )
    assert status == 201
    assert body["accountId"] == "alice"
    assert body["type"] == "CreditEvent"
    assert body["version"] == 2
    assert body["amount"] == "12.30"
    assert body["currency"] == "EUR"
    assert body["recordedBy"] == "alice"
    assert body["description"] == "pay"
    assert body["recordedAt"].endswith("Z")
    assert body["eventId"]
    assert stored_versions(aws, "alice") == [1, 2]


def test_a_json_number_amount_is_exact(commands, context):
    status, body = post(commands, context, "credits", "alice", raw='{"amount": 0.1}')
    assert (status, body["amount"]) == (201, "0.10")


def test_a_debit_beyond_the_balance_is_refused_and_stores_nothing(commands, context, aws):
    post(commands, context, "credits", "alice", {"amount": "10.00"})
    status, body = post(commands, context, "debits", "alice", {"amount": "10.01"})
    assert status == 422
    assert body["error"]["code"] == "insufficient_funds"
    assert stored_versions(aws, "alice") == [1, 2]


def test_the_overdraft_limit_is_the_accounts_own(load_handler, context, aws):
    # GIVEN an account opened with an overdraft limit of 50.00
    open_on_moto(aws, "carol", overdraft_limit="50.00")
    commands = load_handler("commands")
    # WHEN debited down to that limit, then a cent beyond
    # THEN the first is stored and the second refused
    assert post(commands, context, "debits", "carol", {"amount": "50.00"})[0] == 201
    assert post(commands, context, "debits", "carol", {"amount": "0.01"})[0] == 422


def test_a_retried_idempotency_key_answers_the_first_response(commands, context, aws):
    headers = {"idempotency-key": "order-42"}
    first = post(commands, context, "credits", "alice", {"amount": "5.00"}, headers)
    again = post(commands, context, "credits", "alice", {"amount": "5.00"}, headers)
    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert stored_versions(aws, "alice") == [1, 2]
    reused = post(commands, context, "credits", "alice", {"amount": "6.00"}, headers)
    assert reused[0] == 409
    assert reused[1]["error"]["code"] == "idempotency_key_reused"
    assert stored_versions(aws, "alice") == [1, 2]


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
    assert stored_versions(aws, "alice") == [1]


def test_non_utf8_bodies_are_invalid_json(commands, context, aws):
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=CREDIT_ROUTE,
        path_parameters={"accountId": "alice"},
        body=base64.b64encode(b'{"amount": "1.00\xff"}').decode(),
        headers={"idempotency-key": "k-utf8"},
    )
    event["isBase64Encoded"] = True
    response = commands.lambda_handler(event, context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"
    assert stored_versions(aws, "alice") == [1]


@pytest.mark.parametrize("account", ["al ice", "a" * 65, "..", "аlice"])
def test_bad_account_ids_are_refused(commands, context, aws, account):
    status, body = post(commands, context, "credits", account, {"amount": "1.00"})
    assert (status, body["error"]["code"]) == (400, "invalid_account_id")


def test_an_invalid_idempotency_key_is_refused(commands, context, aws):
    status, body = post(
        commands, context, "credits", "alice", {"amount": "1.00"}, {"idempotency-key": "x" * 129}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert stored_versions(aws, "alice") == [1]


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
    assert sorted(stored_versions(aws, "alice")) == list(range(1, 13))


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
    assert stored_versions(aws, "alice") == [1, 2]


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


def test_a_credit_without_an_idempotency_key_is_refused_and_stores_nothing(commands, context, aws):
    # GIVEN a client that sends no Idempotency-Key
    # WHEN it posts a credit
    status, body = post(commands, context, "credits", "alice", {"amount": "1.00"}, keyed=False)
    # THEN it is refused with its own code, before anything is stored
    assert (status, body["error"]["code"]) == (400, "idempotency_key_required")
    assert "Idempotency-Key" in body["error"]["message"]
    assert stored_versions(aws, "alice") == [1]


def test_a_debit_without_an_idempotency_key_is_refused_and_stores_nothing(commands, context, aws):
    post(commands, context, "credits", "alice", {"amount": "5.00"})
    status, body = post(commands, context, "debits", "alice", {"amount": "1.00"}, keyed=False)
    assert (status, body["error"]["code"]) == (400, "idempotency_key_required")
    assert stored_versions(aws, "alice") == [1, 2]


def test_two_callers_reusing_one_key_and_body_each_store_their_payment(commands, context, aws):
    # GIVEN two back-office systems that happen to pick the same key for the same body
    key = {"idempotency-key": "invoice-1"}
    payroll = token_claims("payroll-svc", WRITE_SCOPE)
    shop = token_claims("shop-svc", WRITE_SCOPE)
    # WHEN each posts its credit, and the first retries
    first = post(commands, context, "credits", "alice", {"amount": "5.00"}, key, claims=payroll)
    second = post(commands, context, "credits", "alice", {"amount": "5.00"}, key, claims=shop)
    again = post(commands, context, "credits", "alice", {"amount": "5.00"}, key, claims=payroll)
    # THEN each caller's key stores once: two payments, and the retry answers the first
    assert (first[0], second[0], again[0]) == (201, 201, 201)
    assert first[1]["eventId"] != second[1]["eventId"]
    assert again[1] == first[1]
    assert stored_versions(aws, "alice") == [1, 2, 3]


def test_a_refused_debit_shows_its_figures_to_a_caller_who_may_read_the_account(commands, context):
    # GIVEN alice holding 10.00, and a token that owns her account and may write
    post(commands, context, "credits", "alice", {"amount": "10.00"})
    # WHEN a debit beyond the balance is refused
    status, body = post(commands, context, "debits", "alice", {"amount": "10.01"})
    # THEN the figures come as details, the message is generic
    assert status == 422
    assert body["error"]["details"] == {
        "accountId": "alice",
        "currency": "EUR",
        "balance": "10.00",
        "availableBalance": "10.00",
        "overdraftLimit": "0.00",
        "debit": "10.01",
    }
    assert "10.00" not in body["error"]["message"]


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2066", "\ue000", "\u2028", "\u0378"])
def test_descriptions_with_invisible_or_direction_changing_characters_are_refused(
    commands, context, aws, char
):
    status, body = post(
        commands, context, "credits", "alice", {"amount": "1.00", "description": f"pay{char}x"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert stored_versions(aws, "alice") == [1]


def test_every_answer_forbids_caching(commands, context):
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=CREDIT_ROUTE,
        path_parameters={"accountId": "alice"},
        body=json.dumps({"amount": "1.00"}),
        headers={"idempotency-key": "k-cache"},
    )
    accepted = commands.lambda_handler(event, context)
    refused = commands.lambda_handler({**event, "body": "{"}, context)
    assert accepted["statusCode"] == 201
    assert refused["statusCode"] == 400
    assert accepted["headers"]["Cache-Control"] == "no-store"
    assert refused["headers"]["Cache-Control"] == "no-store"


def test_a_corrupt_stored_event_is_a_500_logged_and_counted_never_a_400(
    commands, context, aws, capsys
):
    # GIVEN alice's last stored event of a type this code does not know
    post(commands, context, "credits", "alice", {"amount": "1.00"})
    aws["dynamodb"].update_item(
        TableName=aws["tables"]["events"],
        Key={"accountId": {"S": "alice"}, "version": {"N": "2"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": "ForgedEvent"}},
    )
    capsys.readouterr()
    log = io.StringIO()
    commands.logger.registered_handler.setStream(log)
    # WHEN a credit loads her account
    status, body = post(commands, context, "credits", "alice", {"amount": "1.00"})
    # THEN it is a server error that tells the caller nothing of the store, an error in
    # the log and a count of the metric the alarm watches; nothing is stored
    assert (status, body["error"]["code"]) == (500, "internal_error")
    assert "ForgedEvent" not in json.dumps(body)
    errors = [
        line for line in map(json.loads, log.getvalue().splitlines()) if line["level"] == "ERROR"
    ]
    assert [line["message"] for line in errors] == ["stored event unreadable"]
    assert "StoredEventUnreadable" in capsys.readouterr().out
    assert stored_versions(aws, "alice") == [1, 2]


def test_a_throttled_command_is_answered_503_with_retry_after_and_stores_nothing(
    commands, context, aws, monkeypatch, instant_sdk_retries
):
    # GIVEN the events table stays throttled through the SDK's retries
    attempts = refuse(monkeypatch, "transact_write_items", "ProvisionedThroughputExceededException")
    event = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=CREDIT_ROUTE,
        path_parameters={"accountId": "alice"},
        body=json.dumps({"amount": "10.00"}),
        headers={"idempotency-key": "k-throttled"},
    )
    # WHEN a credit is recorded
    response = commands.lambda_handler(event, context)
    # THEN the client is told to come back, and the write was not retried as a conflict
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "service_unavailable"
    assert response["headers"]["Retry-After"] == "1"
    assert len(attempts) == 5  # the SDK's tries, once
    assert stored_versions(aws, "alice") == [1]


@pytest.mark.parametrize("reason", ["ThrottlingError", "ProvisionedThroughputExceeded"])
def test_a_transaction_canceled_by_a_throttle_is_a_503_not_a_conflict(
    commands, context, aws, monkeypatch, reason
):
    # GIVEN DynamoDB cancels the event-and-key transaction for capacity
    attempts = refuse(
        monkeypatch,
        "transact_write_items",
        "TransactionCanceledException",
        reasons=[reason, "None"],
    )
    # WHEN a credit with an idempotency key is recorded
    status, body = post(
        commands, context, "credits", "alice", {"amount": "10.00"}, {"Idempotency-Key": "k1"}
    )
    # THEN it is answered "try later" at once, not retried until concurrent_modification
    assert (status, body["error"]["code"]) == (503, "service_unavailable")
    assert len(attempts) == 1
    assert stored_versions(aws, "alice") == [1]


def test_a_transaction_canceled_for_another_reason_fails_with_that_reason(
    commands, context, aws, monkeypatch
):
    # GIVEN DynamoDB cancels the transaction as invalid
    attempts = refuse(
        monkeypatch,
        "transact_write_items",
        "TransactionCanceledException",
        reasons=["ValidationError", "None"],
    )
    # WHEN a credit with an idempotency key is recorded
    # THEN the function fails (a 500 at the gateway), its error naming the reason,
    # and the write is not retried
    with pytest.raises(WriteCanceled, match="ValidationError"):
        post(commands, context, "credits", "alice", {"amount": "10.00"}, {"Idempotency-Key": "k"})
    assert len(attempts) == 1
    assert stored_versions(aws, "alice") == [1]


def test_a_transaction_conflict_is_retried_like_a_version_conflict(
    commands, context, aws, monkeypatch
):
    # GIVEN a concurrent transaction on the same items cancels the first try
    attempts = refuse(
        monkeypatch,
        "transact_write_items",
        "TransactionCanceledException",
        reasons=["None", "TransactionConflict"],
        times=1,
    )
    # WHEN a credit with an idempotency key is recorded
    status, body = post(
        commands, context, "credits", "alice", {"amount": "10.00"}, {"Idempotency-Key": "k"}
    )
    # THEN the command decided again and stored its event once
    assert (status, body["version"]) == (201, 2)
    assert len(attempts) == 1
    assert stored_versions(aws, "alice") == [1, 2]

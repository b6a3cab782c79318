"""Fixtures of the tiers that run handlers and adapters on moto's in-process AWS:
tests/integration and tests/lambdas/<name> (one folder per Lambda)."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.moto_patches import atomic
from scripts.local.tables import create_ledger_tables
from scripts.local.worker_main import LambdaContext

REGION = "eu-west-1"
TEST_FUNCTION = {
    "AWS_LAMBDA_FUNCTION_NAME": "ledger-test",
    "LEDGER_LOCAL_FUNCTION_ARN": "arn:aws:lambda:eu-west-1:123456789012:function:ledger-test",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        tables = create_ledger_tables(dynamodb, "ledger-test")
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name="ledger-test")
        sqs = boto3.client("sqs", region_name=REGION)
        # A catch-all rule into a queue lets a test see what was published.
        queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="tap",
            EventBusName="ledger-test",
            EventPattern=json.dumps({"account": [{"exists": True}]}),
        )
        events.put_targets(
            Rule="tap", EventBusName="ledger-test", Targets=[{"Id": "q", "Arn": queue_arn}]
        )
        monkeypatch.setenv("EVENTS_TABLE_NAME", tables["events"])
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", tables["idempotency"])
        monkeypatch.setenv("PROJECTIONS_TABLE_NAME", tables["projections"])
        monkeypatch.setenv("TRANSFERS_TABLE_NAME", tables["transfers"])
        monkeypatch.setenv("HOLDS_TABLE_NAME", tables["holds"])
        monkeypatch.setenv("EVENT_BUS_NAME", "ledger-test")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ledger-test")
        yield {
            "dynamodb": dynamodb,
            "tables": tables,
            "events": events,
            "sqs": sqs,
            "tap_queue_url": queue_url,
        }


def published(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything published on the bus so far, drained from the tap queue."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = aws["sqs"].receive_message(QueueUrl=aws["tap_queue_url"], MaxNumberOfMessages=10)
        if not batch.get("Messages"):
            return messages
        for message in batch["Messages"]:
            messages.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(
                QueueUrl=aws["tap_queue_url"], ReceiptHandle=message["ReceiptHandle"]
            )


@pytest.fixture
def load_handler(aws: dict[str, Any]) -> Callable[[str], ModuleType]:
    """Import a Lambda's handler module afresh, as a cold start would, inside moto."""

    def load(name: str) -> ModuleType:
        module_name = f"lambdas.{name}.handler"
        sys.modules.pop(module_name, None)
        return importlib.import_module(module_name)

    return load


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB requests are atomic; moto's are not. Threaded tests take the lock our
    moto server takes around every DynamoDB request (scripts.local.moto_patches)."""
    monkeypatch.setattr(DynamoHandler, "call_action", atomic(DynamoHandler.call_action))


@pytest.fixture
def context() -> LambdaContext:
    """The context the Lambda runtime passes, with 15 minutes (Lambda's most) left."""
    deadline_ms = int(time.time() * 1000) + 15 * 60 * 1000
    return LambdaContext("c0ffee00-0000-4000-8000-000000000000", deadline_ms, TEST_FUNCTION)


def refuse(
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    code: str,
    *,
    reasons: list[str] | None = None,
    times: int | None = None,
) -> list[str]:
    """Make moto's DynamoDB answer `operation` (e.g. "put_item") with the error `code`
    (a canceled transaction: with these cancellation reasons, one per item) the first
    `times` times, or always. The answer goes over the wire as DynamoDB's would, so the
    SDK parses it and its retry policy runs as in production. Returns the attempts
    answered so."""
    attempts: list[str] = []
    original = getattr(DynamoDBBackend, operation)

    def answer(*args: Any, **kwargs: Any) -> Any:
        if times is not None and len(attempts) >= times:
            return original(*args, **kwargs)
        attempts.append(operation)
        if reasons is not None:
            raise TransactionCanceledException([(r, r, None) for r in reasons])
        raise DynamodbException(ERROR_TYPE_PREFIX + code, f"refused for the test: {code}")

    monkeypatch.setattr(DynamoDBBackend, operation, answer)
    return attempts


@pytest.fixture
def instant_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's retries, without their backoff sleeps."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def pipeline(load_handler: Callable[[str], ModuleType]) -> dict[str, ModuleType]:
    """The handlers a stored event passes through, from the command that stores it."""
    return {name: load_handler(name) for name in ("commands", "fanout", "dispatcher", "projectors")}

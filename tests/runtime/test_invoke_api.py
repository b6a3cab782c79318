"""The runtime's Lambda Invoke API: boto3's lambda client works against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from scripts.local.aws import fake_session
from scripts.local.invoke_api import InvokeApiServer
from scripts.local.workers import Outcome

pytestmark = pytest.mark.runtime


def fake_invoke(name: str, event: Any) -> Outcome:
    if name == "missing":
        raise KeyError(f"no function {name!r} in moto")
    if event.get("fail"):
        return Outcome("r1", error={"errorMessage": "boom", "errorType": "RuntimeError"})
    return Outcome("r1", result={"function": name, "echo": event})


@pytest.fixture
def lambda_client() -> Iterator[Any]:
    server = InvokeApiServer(fake_invoke)
    server.start()
    try:
        yield fake_session("eu-west-1").client(
            "lambda",
            endpoint_url=server.url,
            config=Config(retries={"max_attempts": 1}),
        )
    finally:
        server.request_stop()
        server.stop()


def test_a_synchronous_invoke_returns_the_functions_result(lambda_client):
    response = lambda_client.invoke(FunctionName="ledger-local-replay", Payload=b'{"segment": 1}')
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {
        "function": "ledger-local-replay",
        "echo": {"segment": 1},
    }


def test_a_function_error_comes_back_as_lambda_reports_it(lambda_client):
    response = lambda_client.invoke(FunctionName="f", Payload=b'{"fail": true}')
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorMessage"] == "boom"


def test_an_unknown_function_is_resource_not_found(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="missing", Payload=b"{}")

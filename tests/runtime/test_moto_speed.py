"""What our moto server and the HTTP API do to answer quickly: connections kept alive,
answers not held back by Nagle's algorithm, and moto's per-request lookups done once."""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonpath_ng.ext.parser import parse as jsonpath_parse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from scripts.local.http_api import HttpApiServer
from scripts.local.moto_patches import _backend_remembered, _remembered
from scripts.local.system import MotoProcess
from scripts.local.wiring import HttpApi, Route
from scripts.local.workers import Outcome

pytestmark = pytest.mark.runtime

# moto reads the service and region from the signature's scope and checks nothing else.
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[http.client.HTTPConnection]:
    server = MotoProcess(tmp_path / "moto.log")
    address = urlsplit(server.endpoint_url)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()
        server.stop()


def _dynamodb(
    connection: http.client.HTTPConnection,
    operation: str,
    body: dict[str, Any],
    **headers: str,
) -> tuple[int, dict[str, Any], str | None]:
    connection.request(
        "POST",
        "/",
        body=json.dumps(body),
        headers={
            "Authorization": AUTHORIZATION,
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            **headers,
        },
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    return response.status, answer, response.getheader("Connection")


def test_one_connection_carries_many_aws_calls(connection: http.client.HTTPConnection) -> None:
    # GIVEN a table, created on a connection of its own
    status, _, _ = _dynamodb(
        connection,
        "CreateTable",
        {
            "TableName": "t",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert status == 200
    first_socket = connection.sock

    # WHEN a write, a refused write and a read follow on the same connection
    put = _dynamodb(connection, "PutItem", {"TableName": "t", "Item": {"k": {"S": "a"}}})
    refused = _dynamodb(
        connection,
        "PutItem",
        {
            "TableName": "t",
            "Item": {"k": {"S": "a"}},
            "ConditionExpression": "attribute_not_exists(k)",
        },
    )
    read = _dynamodb(connection, "GetItem", {"TableName": "t", "Key": {"k": {"S": "a"}}})

    # THEN each got its own answer, none asked to close, and the socket is the first one
    assert put[0] == 200
    assert refused[0] == 400
    assert refused[1]["__type"].endswith("ConditionalCheckFailedException")
    assert read[1]["Item"] == {"k": {"S": "a"}}
    assert [put[2], refused[2], read[2]] == [None, None, None]
    assert connection.sock is first_socket


def test_a_request_expecting_100_continue_is_answered_and_its_connection_closed(
    connection: http.client.HTTPConnection,
) -> None:
    # GIVEN a client that announces its body with Expect: 100-continue (werkzeug answers
    # "100 Continue" before the body is read, so it is not read ahead)

    # WHEN it asks
    status, answer, closing = _dynamodb(connection, "ListTables", {}, Expect="100-continue")

    # THEN it gets its answer, on a connection werkzeug closes as it always did
    assert status == 200
    assert answer == {"TableNames": []}
    assert closing == "close"


def test_answers_are_not_held_back_for_the_client_s_acknowledgement(
    connection: http.client.HTTPConnection,
) -> None:
    # GIVEN a kept-alive connection (with Nagle's algorithm on, each answer's body waited
    # for the client's delayed acknowledgement of its headers: about 40 ms every time)
    _dynamodb(connection, "ListTables", {})

    # WHEN small requests follow one another on it
    seconds = []
    for _ in range(15):
        started = time.perf_counter()
        _dynamodb(connection, "ListTables", {})
        seconds.append(time.perf_counter() - started)

    # THEN the typical one takes well under that delay, even on a busy machine
    assert statistics.median(seconds) < 0.025


def test_a_jsonpath_expression_is_parsed_once_and_finds_the_same() -> None:
    # GIVEN jsonpath_ng's parser as our moto server uses it
    parse = _remembered(jsonpath_parse)

    # WHEN the same expression is parsed twice
    first, second = parse("$.detail-type"), parse("$.detail-type")

    # THEN it was parsed once, and finds what a fresh parse finds
    assert first is second
    event = {"detail-type": "CreditEvent", "detail": {}}
    assert [m.value for m in first.find(event)] == [
        m.value for m in jsonpath_parse("$.detail-type").find(event)
    ]


def test_a_host_s_backend_is_looked_up_once_and_is_moto_s_own_answer() -> None:
    # GIVEN moto's dispatcher, and its lookup counted
    app = DomainDispatcherApplication(create_backend_app)
    calls: list[str | None] = []

    def counted(self: DomainDispatcherApplication, host: str | None) -> Any:
        calls.append(host)
        return DomainDispatcherApplication.get_backend_for_host(self, host)

    lookup = _backend_remembered(counted)
    hosts = ["dynamodb", "sqs.eu-west-1.amazonaws.com", "events.eu-west-1.amazonaws.com"]

    # WHEN each host is looked up three times
    answers = [lookup(app, host) for host in hosts for _ in range(3)]

    # THEN moto's own answer every time, and moto was asked once per host
    assert answers == [app.get_backend_for_host(host) for host in hosts for _ in range(3)]
    assert answers[::3] == ["dynamodb", "sqs", "events"]
    assert calls == hosts


def test_the_http_api_answers_a_kept_alive_client_without_the_acknowledgement_delay() -> None:
    # GIVEN the HTTP API in front of a function that answers at once
    route = Route("GET /ping", "arn:aws:lambda:eu-west-1:123456789012:function:f", "2.0")
    server = HttpApiServer(
        HttpApi("api", "api", (route,)), 0, lambda _arn, _event: Outcome("r", result="pong")
    )
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/ping")
        connection.getresponse().read()

        # WHEN requests follow one another on the kept-alive connection
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            connection.request("GET", "/ping")
            answer = connection.getresponse().read()
            seconds.append(time.perf_counter() - started)
    finally:
        connection.close()
        server.stop()

    # THEN each is answered, and the typical one well under Nagle's ~40 ms wait
    assert answer == b'"pong"'  # a bare answer is a JSON body (format 2.0)
    assert statistics.median(seconds) < 0.025

"""The HTTP API data plane: routes from moto, payload format 2.0 events, responses."""

from __future__ import annotations

import base64
import json
import socket

import pytest
import requests

from tests.runtime.conftest import Bench

pytestmark = pytest.mark.runtime

ECHO = (
    "import json\n"
    "def lambda_handler(event, context):\n"
    "    if event['rawPath'] == '/boom':\n"
    "        raise ValueError('boom')\n"
    "    if event['rawPath'] == '/bare':\n"
    "        return {'hello': 'world'}\n"
    "    return {'statusCode': 201, 'headers': {'X-Echo': 'yes'}, 'cookies': ['a=1'],\n"
    "            'body': json.dumps({'event': event, 'function': context.function_name,\n"
    "                                'remaining': context.get_remaining_time_in_millis()})}\n"
)


def _api(bench: Bench, routes: list[str], *, allowed: bool = True) -> str:
    function_arn = bench.function("echo", {"handler.py": ECHO})
    gateway = bench.moto.client("apigatewayv2")
    api_id = gateway.create_api(Name="test", ProtocolType="HTTP")["ApiId"]
    if allowed:
        execution_arn = f"arn:aws:execute-api:eu-west-1:123456789012:{api_id}"
        bench.allow("echo", "apigateway.amazonaws.com", f"{execution_arn}/*/*")
    integration = gateway.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    for route_key in routes:
        gateway.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration}")
    server = bench.start().api_server
    assert server is not None
    return f"http://127.0.0.1:{server.port}"


def test_a_request_reaches_the_function_as_a_payload_2_0_event(bench: Bench) -> None:
    # GIVEN a route with a path variable
    url = _api(bench, ["POST /accounts/{accountId}/credits"])

    # WHEN a client posts JSON to it, with a query string, repeated headers and cookies
    response = requests.post(
        f"{url}/accounts/acc-1/credits?a=1&a=2&b=",
        data=json.dumps({"amount": "1.00"}),
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": "k1",
            "Cookie": "c1=v1; c2=v2",
        },
        timeout=10,
    )

    # THEN the function got API Gateway's event and its answer became the response
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["set-cookie"] == "a=1"
    answer = response.json()
    event = answer["event"]
    assert answer["function"] == "echo"
    assert 0 < answer["remaining"] <= 3000
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /accounts/{accountId}/credits"
    assert event["rawPath"] == "/accounts/acc-1/credits"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"accountId": "acc-1"}
    assert event["headers"]["idempotency-key"] == "k1"
    assert event["headers"]["content-type"] == "application/json"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["body"] == '{"amount": "1.00"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/accounts/acc-1/credits"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default"
    assert context["routeKey"] == event["routeKey"]
    assert {"accountId", "apiId", "domainName", "requestId", "time", "timeEpoch"} <= set(context)


def test_a_body_that_is_not_text_arrives_base64_encoded(bench: Bench) -> None:
    url = _api(bench, ["POST /upload"])

    response = requests.post(
        f"{url}/upload",
        data=b"\x00\x01binary",
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )

    event = response.json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01binary"


def test_the_most_specific_route_wins_and_default_catches_the_rest(bench: Bench) -> None:
    url = _api(bench, ["GET /items/{id}", "GET /items/special", "ANY /files/{proxy+}", "$default"])

    def route_of(method: str, path: str) -> str:
        response = requests.request(method, f"{url}{path}", timeout=10)
        return str(response.json()["event"]["routeKey"])

    assert route_of("GET", "/items/special") == "GET /items/special"
    assert route_of("GET", "/items/42") == "GET /items/{id}"
    assert route_of("DELETE", "/files/a/b/c") == "ANY /files/{proxy+}"
    assert route_of("POST", "/items/42") == "$default"
    assert route_of("GET", "/nowhere") == "$default"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_any_method_goes_to_its_route_or_default_as_api_gateway_routes_it(
    bench: Bench, method: str
) -> None:
    # GIVEN an API with a $default route
    url = _api(bench, ["GET /items/{id}", "$default"])

    # WHEN a client sends a method no route declares (http.server's own answer: HTML 501)
    response = requests.request(method, f"{url}/items/42", timeout=10)

    # THEN $default's function answers it, as in AWS
    assert response.status_code == 201, response.text
    assert response.json()["event"]["requestContext"]["http"]["method"] == method


def test_a_head_request_gets_its_answers_headers_without_a_body(bench: Bench) -> None:
    url = _api(bench, ["$default"])

    response = requests.head(f"{url}/anything", timeout=10)

    assert response.status_code == 201
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


def test_no_matching_route_and_no_default_is_a_404(bench: Bench) -> None:
    url = _api(bench, ["GET /items/{id}"])

    response = requests.get(f"{url}/other", timeout=10)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_function_error_is_a_500_like_api_gateway(bench: Bench) -> None:
    url = _api(bench, ["GET /boom"])

    response = requests.get(f"{url}/boom", timeout=10)

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_a_bare_json_answer_is_a_200_with_that_body(bench: Bench) -> None:
    url = _api(bench, ["GET /bare"])

    response = requests.get(f"{url}/bare", timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "world"}


def test_a_function_whose_policy_does_not_allow_the_api_is_a_500(bench: Bench) -> None:
    # GIVEN a route whose function lacks the aws_lambda_permission for API Gateway
    url = _api(bench, ["GET /bare"], allowed=False)

    response = requests.get(f"{url}/bare", timeout=10)

    # THEN API Gateway cannot invoke it, as on AWS
    assert response.status_code == 500


def _raw(url: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client fixes the framing up) and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        pytest.param(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n"
            b"Connection: close\r\n\r\n",
            413,
            "Request Entity Too Large",
            id="a body over 10 MB",
        ),
        pytest.param(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
            400,
            "Bad Request",
            id="a negative content length",
        ),
        pytest.param(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\nConnection: close\r\n\r\n",
            400,
            "Bad Request",
            id="a content length that is not a number",
        ),
        pytest.param(
            b"GET /upload HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 1000) for i in range(12))
            + b"Connection: close\r\n\r\n",
            431,
            "Request Header Fields Too Large",
            id="over 10 KB of headers",
        ),
    ],
)
def test_requests_beyond_api_gateways_limits_are_refused_before_any_function(
    bench: Bench, request_bytes: bytes, status: int, message: str
) -> None:
    # GIVEN a served route
    url = _api(bench, ["POST /upload", "GET /upload"])

    # WHEN a request breaks API Gateway's limits or framing
    answer = _raw(url, request_bytes)

    # THEN it is refused as API Gateway refuses it
    assert answer == (status, json.dumps({"message": message}).encode())

"""docs/openapi.yaml is the API's contract: valid, matching the routes Terraform
declares, and matching what the handlers answer on every route."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator
from openapi_spec_validator import validate

from tests.support import http_event, open_on_moto, token_claims

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


def spec_routes() -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in SPEC["paths"].items()
        for method in operations
    }


def response_schema(route: str, status: int) -> Any:
    method, path = route.split(" ", 1)
    response = SPEC["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = resolve(response["$ref"])
    return inline(response["content"]["application/json"]["schema"])


def resolve(ref: str) -> Any:
    node: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def inline(schema: Any) -> Any:
    """OpenAPI 3.0 schemas as JSON Schema draft 4: refs inlined, nullable expanded."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inline(resolve(schema["$ref"]))
        result = {key: inline(value) for key, value in schema.items() if key != "nullable"}
        if schema.get("nullable"):
            return {"anyOf": [result, {"type": "null"}]}
        return result
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    return schema


def test_the_document_is_valid_openapi():
    validate(SPEC)


def test_the_document_has_exactly_the_routes_terraform_declares():
    terraform = "\n".join(p.read_text() for p in (ROOT / "terraform").rglob("*.tf"))
    declared = set(
        re.findall(r'route_key\s*=\s*"((?:GET|POST|PUT|PATCH|DELETE) /[^"]+)"', terraform)
    )
    assert declared == spec_routes()


@pytest.fixture
def handlers(load_handler, aws):
    """Both HTTP functions, with alice's account opened."""
    open_on_moto(aws, "alice")
    return {"POST": load_handler("commands"), "GET": load_handler("queries")}


def call(handlers, context, route, account, *, body=None, query=None, **auth):
    method, template = route.split(" ", 1)
    event = http_event(
        method,
        template.replace("{accountId}", account),
        route_key=route,
        path_parameters={"accountId": account},
        body=body,
        query=query,
        headers={"idempotency-key": str(uuid.uuid4())} if method == "POST" else None,
        **auth,
    )
    response = handlers[method].lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def check(route: str, status: int, body: Any) -> None:
    Draft4Validator(response_schema(route, status)).validate(body)


def test_every_route_answers_as_documented(handlers, context):
    credits, debits = "POST /accounts/{accountId}/credits", "POST /accounts/{accountId}/debits"
    balance, events = "GET /accounts/{accountId}/balance", "GET /accounts/{accountId}/events"
    for route, body, status in [
        (credits, '{"amount": "10.00", "description": "x"}', 201),
        (debits, '{"amount": 2.5}', 201),
        (debits, '{"amount": "100.00"}', 422),
        (credits, '{"amount": "1.001"}', 400),
        (credits, "{", 400),
        (credits, '{"amount": "1.00", "description": "' + "y" * 20000 + '"}', 413),
    ]:
        answer = call(handlers, context, route, "alice", body=body)
        assert answer[0] == status
        check(route, *answer)
    answer = call(handlers, context, balance, "alice")
    check(balance, *answer)
    answer = call(handlers, context, events, "alice", query={"limit": "1"})
    assert answer[0] == 200
    check(events, *answer)
    answer = call(handlers, context, events, "alice", query={"limit": "0"})
    check(events, *answer)


def test_the_functions_refusals_answer_as_documented(handlers, context):
    # GIVEN each route, reached without verified claims, then with a stranger's token
    for route in [
        "POST /accounts/{accountId}/credits",
        "GET /accounts/{accountId}/balance",
        "GET /accounts/{accountId}/events",
    ]:
        body = '{"amount": "1.00"}' if route.startswith("POST") else None
        # THEN the 401 and the 403 are the documented ones
        unauthenticated = call(handlers, context, route, "alice", body=body, anonymous=True)
        forbidden = call(handlers, context, route, "alice", body=body, claims=token_claims("bob"))
        assert (unauthenticated[0], forbidden[0]) == (401, 403)
        check(route, *unauthenticated)
        check(route, *forbidden)


def test_the_issue_15_refusals_answer_as_documented(handlers, context, aws):
    credits = "POST /accounts/{accountId}/credits"
    # GIVEN a payment without an Idempotency-Key
    unkeyed = http_event(
        "POST",
        "/accounts/alice/credits",
        route_key=credits,
        path_parameters={"accountId": "alice"},
        body='{"amount": "1.00"}',
    )
    response = handlers["POST"].lambda_handler(unkeyed, context)
    # THEN its 400 is the documented one, with the documented code
    assert response["statusCode"] == 400
    check(credits, 400, json.loads(response["body"]))
    # GIVEN a stored event this code cannot read (alice's credit, her latest)
    assert call(handlers, context, credits, "alice", body='{"amount": "1.00"}')[0] == 201
    aws["dynamodb"].update_item(
        TableName=aws["tables"]["events"],
        Key={"accountId": {"S": "alice"}, "version": {"N": "2"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": "ForgedEvent"}},
    )
    # THEN the 500 is documented too
    for route, body in (
        (credits, '{"amount": "1.00"}'),
        ("GET /accounts/{accountId}/events", None),
    ):
        status, answer = call(handlers, context, route, "alice", body=body)
        assert status == 500
        check(route, status, answer)

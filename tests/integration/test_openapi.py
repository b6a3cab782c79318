"""docs/openapi.yaml is the API's contract: valid, matching the routes Terraform
declares, and matching what the handlers answer on every route."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import iso4217
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from banking.entrypoints.http import ROUTES
from tests.support import http_event, run_pipeline, token_claims

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
    """An OpenAPI 3.1 schema (JSON Schema 2020-12) with its document refs inlined."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inline(resolve(schema["$ref"]))
        return {key: inline(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    return schema


def test_the_document_is_valid_openapi():
    validate(SPEC)


def test_the_default_routes_table_has_exactly_the_documented_routes():
    # GIVEN the table the $default route answers 405 from  THEN it is the document's
    table = {f"{method} {path}" for path, methods in ROUTES.items() for method in methods}
    assert table == spec_routes()


def test_the_document_has_exactly_the_routes_terraform_declares():
    terraform = "\n".join(p.read_text() for p in (ROOT / "terraform").rglob("*.tf"))
    declared = set(
        re.findall(r'route_key\s*=\s*"((?:GET|POST|PUT|PATCH|DELETE) /[^"]+)"', terraform)
    )
    assert declared == spec_routes()


@pytest.fixture
def handlers(load_handler, aws):
    """Both HTTP functions (each test opens its accounts through the API)."""
    return {"POST": load_handler("commands"), "GET": load_handler("queries")}


MANAGE = "ledger/accounts.manage"
READ_ANY = "ledger/accounts.read"
WRITE = "ledger/transactions.write"


def call(handlers, context, route, account=None, *, body=None, query=None, path=None, **auth):
    """One request to the function serving `route`; `path` fills the route's other
    parameters (a transfer's id)."""
    method, template = route.split(" ", 1)
    parameters = {**({"accountId": account} if account else {}), **(path or {})}
    concrete = template
    for name, value in parameters.items():
        concrete = concrete.replace(f"{{{name}}}", value)
    event = http_event(
        method,
        concrete,
        route_key=route,
        path_parameters=parameters or None,
        body=body,
        query=query,
        headers={"idempotency-key": str(uuid.uuid4())} if method == "POST" else None,
        **auth,
    )
    response = handlers[method].lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def open_account(handlers, context, account, currency="EUR", **fields):
    body = json.dumps({"accountId": account, "currency": currency, "owners": [account], **fields})
    answer = call(
        handlers, context, "POST /accounts", body=body, claims=token_claims("ops", MANAGE)
    )
    assert answer[0] == 201, answer
    check("POST /accounts", *answer)
    return answer[1]


def check(route: str, status: int, body: Any) -> None:
    Draft202012Validator(response_schema(route, status)).validate(body)


def test_every_route_answers_as_documented(handlers, context):
    open_account(handlers, context, "alice")
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
    open_account(handlers, context, "alice")
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
        Key={"accountId": {"S": "alice"}, "version": {"N": "2"}},  # 1 is its opening
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


def test_the_documented_currencies_are_iso_4217s_by_their_minor_units():
    # GIVEN the currencies the document lists, by the digits of their minor unit
    documented = {
        int(name.removeprefix("Currency")): set(schema["enum"])
        for name, schema in SPEC["components"]["schemas"].items()
        if name.removeprefix("Currency").isdigit()
    }
    # WHEN compared with the ISO 4217 table the domain takes its currencies from
    table: dict[int, set[str]] = {}
    for entry in iso4217.Currency:
        if entry.exponent is not None:
            table.setdefault(entry.exponent, set()).add(entry.code)
    # THEN each code is documented with its own digits, none missing, none invented
    assert documented == table


def test_account_routes_answer_as_documented(handlers, context, pipeline, aws):
    account, manage = "GET /accounts/{accountId}", {"claims": token_claims("ops", MANAGE)}
    reader = {"claims": token_claims("auditor", READ_ANY)}
    # GIVEN accounts in currencies of 0, 2 and 3 decimals
    opened = open_account(handlers, context, "yen", "JPY", overdraftLimit="500")
    assert opened["overdraftLimit"] == "500"
    open_account(handlers, context, "fils", "KWD", metadata={"branch": "kuwait-1"})
    open_account(handlers, context, "alice")
    open_account(handlers, context, "bob")
    credited = call(
        handlers, context, "POST /accounts/{accountId}/credits", "alice", body='{"amount": "5"}'
    )
    assert credited[0] == 201
    check("POST /accounts/{accountId}/credits", *credited)

    answers = [
        # an owner reads it; the read scope reads an unknown one as 404
        (account, "fils", None, {}, 200),
        (account, "nobody", None, reader, 404),
        (account, "nobody", None, {"claims": token_claims("eve")}, 403),
        ("GET /accounts/{accountId}/balance", "bob", None, {}, 200),
        ("GET /accounts/{accountId}/events", "yen", None, {}, 200),
        # every refusal of the managing routes
        ("POST /accounts/{accountId}/freeze", "bob", None, manage, 200),
        ("POST /accounts/{accountId}/freeze", "bob", None, manage, 422),
        ("POST /accounts/{accountId}/credits", "bob", '{"amount": "1.00"}', {}, 422),
        ("POST /accounts/{accountId}/unfreeze", "bob", "{}", manage, 200),
        ("POST /accounts/{accountId}/unfreeze", "bob", None, manage, 422),
        ("POST /accounts/{accountId}/freeze", "bob", '{"why": "x"}', manage, 400),
        ("POST /accounts/{accountId}/close", "alice", None, manage, 422),
        ("POST /accounts/{accountId}/close", "bob", None, manage, 200),
        ("POST /accounts/{accountId}/close", "nobody", None, manage, 404),
        ("POST /accounts/{accountId}/overdraft-limit", "yen", '{"overdraftLimit": "0.5"}', manage, 400),
        ("POST /accounts/{accountId}/overdraft-limit", "fils", '{"overdraftLimit": "0.125"}', manage, 200),
        ("POST /accounts/{accountId}/overdraft-limit", "nobody", '{"overdraftLimit": "1"}', manage, 404),
        ("POST /accounts/{accountId}/credits", "nobody", '{"amount": "1.00"}', {}, 404),
        ("POST /accounts/{accountId}/credits", "yen", '{"amount": "1.5"}', {}, 400),
    ]  # fmt: skip
    for route, account_id, body, auth, status in answers:
        answer = call(handlers, context, route, account_id, body=body, **auth)
        assert answer[0] == status, (route, account_id, answer)
        check(route, *answer)

    # AND opening refuses what the document refuses, with the documented codes
    for body, status in [
        ('{"accountId": "alice", "currency": "EUR", "owners": ["alice"]}', 409),
        ('{"accountId": "x1", "currency": "EURO", "owners": ["x1"]}', 400),
        ('{"accountId": "x1", "currency": "XAU", "owners": ["x1"]}', 400),
        ('{"accountId": "x1", "currency": "EUR", "owners": []}', 400),
        (
            '{"accountId": "x1", "currency": "EUR", "owners": ["x1"], "overdraftLimit": "0.001"}',
            400,
        ),
        ('{"accountId": "x1", "currency": "EUR", "owners": ["x1"], "metadata": {"": "v"}}', 400),
    ]:
        answer = call(handlers, context, "POST /accounts", body=body, **manage)
        assert answer[0] == status, (body, answer)
        check("POST /accounts", *answer)

    # AND "my accounts" (once projected) lists the caller's own, another owner's only
    # with the read scope
    run_pipeline(pipeline, context, aws)
    mine = call(
        handlers, context, "GET /accounts", query={"owner": "me"}, claims=token_claims("alice")
    )
    assert mine[0] == 200
    assert [summary["accountId"] for summary in mine[1]["accounts"]] == ["alice"]
    check("GET /accounts", *mine)
    theirs = call(
        handlers, context, "GET /accounts", query={"owner": "bob"}, claims=token_claims("eve")
    )
    assert theirs[0] == 403
    check("GET /accounts", *theirs)
    paged = call(handlers, context, "GET /accounts", query={"owner": "bob", "limit": "0"}, **reader)
    assert paged[0] == 400
    check("GET /accounts", *paged)


def test_transfer_routes_answer_as_documented(handlers, context):
    # GIVEN two euro accounts, one credited, and a yen account
    for account, currency in (("alice", "EUR"), ("bob", "EUR"), ("yen", "JPY")):
        open_account(handlers, context, account, currency)
    credit = "POST /accounts/{accountId}/credits"
    assert call(handlers, context, credit, "alice", body='{"amount": "10.00"}')[0] == 201
    transfers, writer = "POST /transfers", {"claims": token_claims("payments", WRITE)}

    # WHEN money moves, once with one posting and once with two
    single = call(
        handlers,
        context,
        transfers,
        body='{"from": "alice", "to": "bob", "amount": "4.00"}',
        **writer,
    )
    postings = json.dumps(
        {
            "postings": [
                {"from": "alice", "to": "bob", "amount": "1"},
                {"from": "bob", "to": "alice", "amount": "0.50"},
            ]
        }
    )
    several = call(handlers, context, transfers, body=postings, **writer)

    # THEN both answers, and every refusal, are the documented ones
    for answer in (single, several):
        assert answer[0] == 201, answer
        check(transfers, *answer)
    assert (single[1]["amount"], single[1]["currency"]) == ("4.00", "EUR")
    assert "amount" not in several[1]
    for body, status in [
        ('{"from": "alice", "to": "alice", "amount": "1.00"}', 400),
        ('{"from": "alice", "to": "nobody", "amount": "1.00"}', 404),
        ('{"from": "alice", "to": "yen", "amount": "1"}', 422),
        ('{"from": "bob", "to": "alice", "amount": "1000.00"}', 422),
        ('{"postings": []}', 400),
    ]:
        answer = call(handlers, context, transfers, body=body, **writer)
        assert answer[0] == status, (body, answer)
        check(transfers, *answer)

    # AND the transfer reads as documented to an owner of one of its accounts, and is
    # refused to anyone else, or unknown
    read = "GET /transfers/{transferId}"
    path = {"transferId": single[1]["transferId"]}
    for claims, status in [
        (token_claims("bob"), 200),
        (token_claims("eve"), 403),
    ]:
        answer = call(handlers, context, read, path=path, claims=claims)
        assert answer[0] == status, answer
        check(read, *answer)
    unknown = call(
        handlers, context, read, path={"transferId": "t-404"}, claims=token_claims("bob")
    )
    assert unknown[0] == 404
    check(read, *unknown)
    # AND each account's history shows its leg
    history = call(handlers, context, "GET /accounts/{accountId}/events", "bob")
    assert history[0] == 200
    check("GET /accounts/{accountId}/events", *history)
    assert {event.get("transferId") for event in history[1]["events"]} >= {path["transferId"]}

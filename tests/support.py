"""Helpers shared by the test tiers: fixtures on disk and the ledger's tables."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def fixture_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return event


def http_event(
    method: str,
    path: str,
    *,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    request_id: str = "req-1",
    claims: dict[str, str] | None = None,
    anonymous: bool = False,
) -> dict[str, Any]:
    """A payload format 2.0 event, from the recorded fixture, as the JWT authorizer passes
    it on: with ``claims`` (by default a token owning the path's account that may also
    write), or with no authorizer context at all when ``anonymous``."""
    event = copy.deepcopy(fixture_event("apigw_http_post_credit"))
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = request_id
    event["pathParameters"] = path_parameters
    event["headers"].update(headers or {})
    event["body"] = body
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if body is None:
        event.pop("body")
    if not anonymous:
        account = (path_parameters or {}).get("accountId", "alice")
        verified = claims if claims is not None else token_claims(account, WRITE_SCOPE)
        event["requestContext"]["authorizer"] = {"jwt": {"claims": verified, "scopes": None}}
    return event


WRITE_SCOPE = "ledger/transactions.write"
READ_ANY_SCOPE = "ledger/accounts.read"


def token_claims(subject: str, *scopes: str, **extra: str) -> dict[str, str]:
    """Claims as the HTTP API hands a verified token's claims over: every value a string."""
    claims = {
        "iss": "https://issuer.example",
        "sub": subject,
        "aud": "ledger-test",
        "exp": "4102444800",
        "iat": "1767225600",
        **extra,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims


def create_ledger_tables(client: Any, prefix: str) -> dict[str, str]:
    names = {
        "events": f"{prefix}-events",
        "idempotency": f"{prefix}-idempotency",
        "projections": f"{prefix}-projections",
    }
    client.create_table(
        TableName=names["events"],
        KeySchema=[
            {"AttributeName": "accountId", "KeyType": "HASH"},
            {"AttributeName": "version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "accountId", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    client.create_table(
        TableName=names["idempotency"],
        KeySchema=[{"AttributeName": "idempotencyKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "idempotencyKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName=names["projections"],
        KeySchema=[
            {"AttributeName": "accountId", "KeyType": "HASH"},
            {"AttributeName": "readModel", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "accountId", "AttributeType": "S"},
            {"AttributeName": "readModel", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return names

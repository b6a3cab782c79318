"""Helpers shared by the test tiers: fixtures on disk and the ledger's tables."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3

from banking.application.ports import StoredEvent
from banking.domain.account import OpenAccount, decide, evolve
from banking.domain.currency import Currency
from banking.domain.money import Money
from banking.domain.read_models import BALANCE_READ_MODELS
from tests.conftest import published

FIXTURES = Path(__file__).parent / "fixtures" / "events"


OPENED_AT = datetime(2026, 1, 1, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def open_accounts(
    store,
    *account_ids,
    currency="EUR",
    overdraft_limit="0",
    owners=None,
    at=OPENED_AT,
    zone=UTC_ZONE,
):
    """Open each account (its `AccountOpened` at version 1, owned by its own id unless
    `owners`), straight into an event store: what every posting needs first."""
    for account_id in account_ids:
        state = store.load(account_id)
        command = OpenAccount(
            account_id,
            Currency(currency),
            owners=owners or {account_id},
            overdraft_limit=Money.of(overdraft_limit, Currency(currency).digits),
        )
        event = decide(state, command, event_id=f"open-{account_id}", now=at, recorded_by="ops")
        store.append_many([StoredEvent(event, evolve(state, event, zone))])
    return store


def open_on_moto(aws, *account_ids, **terms):
    """Open the accounts in the `aws` fixture's events table (see `open_accounts`)."""
    from banking.adapters.dynamodb import DynamoDBEventStore

    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    return open_accounts(store, *account_ids, **terms)


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


def account_items(aws, table, account):
    """One account's items of one of the `aws` fixture's tables (events, projections)."""
    items: list[dict[str, Any]] = aws["dynamodb"].query(
        TableName=aws["tables"][table],
        KeyConditionExpression="accountId = :a",
        ExpressionAttributeValues={":a": {"S": account}},
    )["Items"]
    return items


def stored_versions(aws, account):
    return [int(item["version"]["N"]) for item in account_items(aws, "events", account)]


def credit(commands, context, account, amount, kind="credits"):
    """Post a credit (or debit) to the account, opening it first if nobody did."""
    if not commands.dependencies.store.load(account).opened:
        open_accounts(commands.dependencies.store, account)
    event = http_event(
        "POST",
        f"/accounts/{account}/{kind}",
        route_key=f"POST /accounts/{{accountId}}/{kind}",
        path_parameters={"accountId": account},
        body=json.dumps({"amount": amount}),
        headers={"idempotency-key": str(uuid.uuid4())},
        request_id=f"req-{account}-{amount}",
    )
    response = commands.lambda_handler(event, context)
    assert response["statusCode"] == 201, response["body"]
    return json.loads(response["body"])


def stream_records(aws):
    """The events table's stream records, shaped as Lambda delivers them."""
    streams = boto3.client("dynamodbstreams", region_name="eu-west-1")
    arn = aws["dynamodb"].describe_table(TableName=aws["tables"]["events"])["Table"][
        "LatestStreamArn"
    ]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            # Lambda delivers the creation time as epoch seconds, not a datetime.
            delivered: dict[str, Any] = {**record, "eventSourceARN": arn}
            delivered["dynamodb"] = {
                **record["dynamodb"],
                "ApproximateCreationDateTime": 1795676400,
            }
            records.append(delivered)
    return records


def bus_event(entry):
    event = copy.deepcopy(fixture_event("eventbridge_event_stored"))
    event["source"], event["detail-type"], event["detail"] = (
        entry["source"],
        entry["detail-type"],
        entry["detail"],
    )
    return event


def run_pipeline(pipeline, context, aws):
    """Stream records through the fanout, the dispatcher and the projectors, in turn."""
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    carried = published(aws)
    for event in carried:
        pipeline["projectors"].lambda_handler(bus_event(event), context)
    return carried


def read_models(aws, account):
    items = account_items(aws, "projections", account)
    return {
        item["readModel"]["S"]: (item["amount"]["S"], int(item["lastKnownVersion"]["N"]))
        for item in items
        if item["readModel"]["S"] in BALANCE_READ_MODELS
    }


def replay_segment(replay, context, payload):
    """Invoke the replay function as its caller does, again from each answer's
    lastEvaluatedKey until that is null; returns the number of invocations."""
    invocations = 0
    while True:
        answer = replay.lambda_handler(payload, context)
        invocations += 1
        assert answer["failures"] == []
        if answer["lastEvaluatedKey"] is None:
            return invocations
        payload = {**payload, "startKey": answer["lastEvaluatedKey"]}


CREDIT_ROUTE = "POST /accounts/{accountId}/credits"
DEBIT_ROUTE = "POST /accounts/{accountId}/debits"


def post(
    commands,
    context,
    kind,
    account,
    body=None,
    headers=None,
    *,
    raw=None,
    base64_body=False,
    keyed=True,
    claims=None,
):
    """POST as a client does: with a fresh Idempotency-Key unless `headers` has one (or
    `keyed` is False)."""
    text = raw if raw is not None else json.dumps(body)
    if keyed:
        headers = {"idempotency-key": str(uuid.uuid4()), **(headers or {})}
    event = http_event(
        "POST",
        f"/accounts/{account}/{kind}",
        route_key=DEBIT_ROUTE if kind == "debits" else CREDIT_ROUTE,
        path_parameters={"accountId": account},
        body=base64.b64encode(text.encode()).decode() if base64_body else text,
        headers=headers,
        claims=claims,
    )
    event["isBase64Encoded"] = base64_body
    response = commands.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])

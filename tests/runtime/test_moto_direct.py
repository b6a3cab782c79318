"""Our moto server's savings per request (the direct route past Flask, moto's lookups
done once: scripts.local.moto_server, moto_patches.SPEED_PATCHES) give moto's own
answers: the same requests, played on a server serving as moto does
(``LEDGER_MOTO_PLAIN=1``) and on ours, get the same status, body and the headers the
SDK reads, request by request."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.moto_cpu import (
    BUS,
    PREFIX,
    Answer,
    RawClient,
    Server,
    event_item,
    get_event,
    keyed_credit,
    load_account,
    project,
    put_events,
)
from scripts.local.faults import ENV as FAULTS_ENV
from scripts.local.moto_patches import TAP_RULE
from scripts.local.tables import create_ledger_tables

pytestmark = pytest.mark.runtime

# Values moto makes up afresh on every server: compared by their presence and type only.
MADE_UP = frozenset(
    {
        "EventId",
        "eventID",
        "SequenceNumber",
        "StartingSequenceNumber",
        "EndingSequenceNumber",
        "ApproximateCreationDateTime",
        "ShardIterator",
        "NextShardIterator",
        "ShardId",
        "ParentShardId",
        "StreamArn",
        "LatestStreamArn",
        "LatestStreamLabel",
        "StreamLabel",
        "CreationDateTime",
        "CreationTime",
        "CreationRequestDateTime",
        "LastModifiedTime",
        "id",  # an event as the bus sends it to a target
        "time",
        "ingestion-time",
        "TableId",
    }
)
# The same in a text answer (moto's XML): each server's port, request ids.
_MADE_UP_TEXT = re.compile(rb"127\.0\.0\.1:\d+|(?<=<RequestId>)[^<]*(?=</RequestId>)")


def _masked(value: Any, key: str = "") -> Any:
    if key in MADE_UP:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def comparable(answer: Answer) -> dict[str, Any]:
    """What the SDK reads of an answer, less what moto makes up per server: the
    status; every header but the date, the request id by its presence, and the body's
    checksum and length where the body has nothing made up; the body, as JSON with
    made-up values masked (or as text, masked alike)."""
    headers = {k: v for k, v in answer.headers.items() if k not in ("date", "x-amzn-requestid")}
    try:
        body: Any = _masked(json.loads(answer.body))
        exact = body == json.loads(answer.body)
    except ValueError:
        masked = _MADE_UP_TEXT.sub(b"<made up>", answer.body)
        body, exact = masked.decode(errors="replace"), masked == answer.body
    if not exact:
        headers.pop("x-amz-crc32", None)
        headers.pop("content-length", None)
    return {
        "status": answer.status,
        "request id": "x-amzn-requestid" in answer.headers,
        "headers": headers,
        "body": body,
    }


@dataclass
class Session:
    """One server's side of the script: its client, and what earlier answers told."""

    client: RawClient
    tables: dict[str, str] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)
    answers: list[tuple[str, Answer]] = field(default_factory=list)

    def aws(self, label: str, target: str, body: Any, **headers: str) -> Answer:
        answer = self.client.aws(target, body, **headers)
        self.answers.append((label, answer))
        return answer

    def raw(self, label: str, method: str, path: str, body: bytes | None, **headers: str) -> Answer:
        answer = self.client.send(method, path, body, headers)
        self.answers.append((label, answer))
        return answer


class _TableMaker:
    """The create_table that scripts.local.tables calls, sent raw through a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create_table(self, **request: Any) -> None:
        self._session.aws(
            f"CreateTable {request['TableName']}", "DynamoDB_20120810.CreateTable", request
        )


def _dynamodb(s: Session) -> None:
    names = s.tables = create_ledger_tables(_TableMaker(s), PREFIX)
    events, projections = names["events"], names["projections"]
    s.aws("ListTables", "DynamoDB_20120810.ListTables", {})
    s.aws("DescribeTable", "DynamoDB_20120810.DescribeTable", {"TableName": events})
    s.aws(
        "DescribeTable of no table",
        "DynamoDB_20120810.DescribeTable",
        {"TableName": "no-such-table"},
    )
    put = {"TableName": events, "Item": event_item("a-1", 1)}
    s.aws("PutItem", "DynamoDB_20120810.PutItem", put)
    refused = {**put, "ConditionExpression": "attribute_not_exists(version)"}
    s.aws("PutItem, its condition failed", "DynamoDB_20120810.PutItem", refused)
    s.aws(
        "PutItem, its condition failed, ALL_OLD",
        "DynamoDB_20120810.PutItem",
        {**refused, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
    )
    for number, condition in enumerate(("attribute_not_exists(version) AND", "version <> !1", "(")):
        s.aws(
            f"PutItem, bad condition {number}",
            "DynamoDB_20120810.PutItem",
            {**put, "ConditionExpression": condition},
        )
    s.aws(
        "PutItem without its key",
        "DynamoDB_20120810.PutItem",
        {"TableName": events, "Item": {"accountId": {"S": "a-1"}}},
    )
    credit = keyed_credit(names, "a-1", 2)
    credit["ClientRequestToken"] = "token-1"
    s.aws("TransactWriteItems", "DynamoDB_20120810.TransactWriteItems", credit)
    s.aws("TransactWriteItems, its token again", "DynamoDB_20120810.TransactWriteItems", credit)
    other = keyed_credit(names, "a-1", 3)
    s.aws(
        "TransactWriteItems, its token with other items",
        "DynamoDB_20120810.TransactWriteItems",
        {**other, "ClientRequestToken": "token-1"},
    )
    conflict = keyed_credit(names, "a-1", 2)
    del conflict["ClientRequestToken"]
    s.aws("TransactWriteItems cancelled", "DynamoDB_20120810.TransactWriteItems", conflict)
    for item in conflict["TransactItems"]:
        item["Put"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    s.aws(
        "TransactWriteItems cancelled, ALL_OLD",
        "DynamoDB_20120810.TransactWriteItems",
        conflict,
    )
    twice = keyed_credit(names, "a-2", 1)
    twice["TransactItems"].append(twice["TransactItems"][0])
    s.aws(
        "TransactWriteItems naming one item twice",
        "DynamoDB_20120810.TransactWriteItems",
        twice,
    )
    s.aws(
        "TransactWriteItems of 101 items",
        "DynamoDB_20120810.TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": events, "Item": event_item("b", v)}} for v in range(1, 102)
            ]
        },
    )
    s.aws("Query", "DynamoDB_20120810.Query", load_account(names, "a-1"))
    s.aws(
        "Query, a page",
        "DynamoDB_20120810.Query",
        {**load_account(names, "a-1"), "ScanIndexForward": True},
    )
    s.aws(
        "Query of an index",
        "DynamoDB_20120810.Query",
        {**load_account(names, "a-1"), "IndexName": "byRecordedAt", "ConsistentRead": False},
    )
    s.aws(
        "Query, a bad key condition",
        "DynamoDB_20120810.Query",
        {**load_account(names, "a-1"), "KeyConditionExpression": "accountId = :missing"},
    )
    s.aws("GetItem", "DynamoDB_20120810.GetItem", get_event(names, "a-1", 2))
    s.aws("GetItem of no item", "DynamoDB_20120810.GetItem", get_event(names, "a-1", 9))
    s.aws(
        "GetItem, projected",
        "DynamoDB_20120810.GetItem",
        {**get_event(names, "a-1", 1), "ProjectionExpression": "version, snapshot.month"},
    )
    s.aws("GetItem without its key", "DynamoDB_20120810.GetItem", {"TableName": events, "Key": {}})
    model = "TotalBalanceForProfile"
    s.aws("UpdateItem", "DynamoDB_20120810.UpdateItem", project(names, "a-1", model, 2))
    s.aws(
        "UpdateItem, stale",
        "DynamoDB_20120810.UpdateItem",
        project(names, "a-1", model, 1),
    )
    s.aws(
        "UpdateItem, ALL_NEW",
        "DynamoDB_20120810.UpdateItem",
        {**project(names, "a-1", model, 3), "ReturnValues": "ALL_NEW"},
    )
    removing = project(names, "a-1", model, 4)
    removing["UpdateExpression"] = "SET #f0 = :f0, #version = :version REMOVE #f1, #f2"
    del removing["ExpressionAttributeValues"][":f1"], removing["ExpressionAttributeValues"][":f2"]
    s.aws("UpdateItem, removing", "DynamoDB_20120810.UpdateItem", removing)
    key_update = project(names, "a-1", model, 5)
    key_update["ExpressionAttributeNames"]["#f1"] = "readModel"
    s.aws("UpdateItem of the key", "DynamoDB_20120810.UpdateItem", key_update)
    twice_set = project(names, "a-1", model, 5)
    twice_set["UpdateExpression"] = "SET #f0 = :f0, #f0 = :f1, #f2 = :f2, #version = :version"
    s.aws("UpdateItem setting one path twice", "DynamoDB_20120810.UpdateItem", twice_set)
    bad = project(names, "a-1", model, 5)
    bad["UpdateExpression"] = "SET #f0 = = :f0"
    s.aws("UpdateItem, bad syntax", "DynamoDB_20120810.UpdateItem", bad)
    unknown_value = project(names, "a-1", model, 5)
    del unknown_value["ExpressionAttributeValues"][":f0"]
    s.aws("UpdateItem, a value missing", "DynamoDB_20120810.UpdateItem", unknown_value)
    s.aws(
        "UpdateItem, ADD to a number",
        "DynamoDB_20120810.UpdateItem",
        {
            "TableName": projections,
            "Key": {"accountId": {"S": "a-1"}, "readModel": {"S": "count"}},
            "UpdateExpression": "ADD #n :one",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
            "ReturnValues": "UPDATED_NEW",
        },
    )
    s.aws("Scan", "DynamoDB_20120810.Scan", {"TableName": events, "Limit": 2})
    s.aws(
        "DeleteItem",
        "DynamoDB_20120810.DeleteItem",
        {"TableName": projections, "Key": {"accountId": {"S": "a-1"}, "readModel": {"S": "count"}}},
    )
    s.aws(
        "BatchGetItem",
        "DynamoDB_20120810.BatchGetItem",
        {"RequestItems": {events: {"Keys": [get_event(names, "a-1", v)["Key"] for v in (1, 2)]}}},
    )
    s.aws("no such action", "DynamoDB_20120810.NoSuchAction", {})
    s.raw(
        "a body that is not JSON",
        "POST",
        "/",
        b"{not json",
        **{
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261202/eu-west-1/"
            "dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        },
    )


def _streams(s: Session) -> None:
    events = s.tables["events"]
    table = s.aws("DescribeTable", "DynamoDB_20120810.DescribeTable", {"TableName": events})
    arn = table.json()["Table"]["LatestStreamArn"]
    s.aws("ListStreams", "DynamoDBStreams_20120810.ListStreams", {"TableName": events})
    stream = s.aws("DescribeStream", "DynamoDBStreams_20120810.DescribeStream", {"StreamArn": arn})
    shards = [shard["ShardId"] for shard in stream.json()["StreamDescription"]["Shards"]]
    for number, shard in enumerate(shards):
        iterator = s.aws(
            f"GetShardIterator of shard {number}",
            "DynamoDBStreams_20120810.GetShardIterator",
            {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"},
        ).json()["ShardIterator"]
        for page in range(3):
            answer = s.aws(
                f"GetRecords of shard {number}, page {page}",
                "DynamoDBStreams_20120810.GetRecords",
                {"ShardIterator": iterator, "Limit": 2},
            ).json()
            if "NextShardIterator" not in answer:
                break
            iterator = answer["NextShardIterator"]
    s.aws(
        "GetShardIterator of no shard",
        "DynamoDBStreams_20120810.GetShardIterator",
        {"StreamArn": arn, "ShardId": "shardId-none", "ShardIteratorType": "LATEST"},
    )
    s.aws(
        "GetRecords of a bad iterator",
        "DynamoDBStreams_20120810.GetRecords",
        {"ShardIterator": "no-such-iterator"},
    )
    s.raw("/_local/stream-records", "GET", "/_local/stream-records?after=0&timeout=0", None)


def _events(s: Session) -> None:
    s.aws("CreateEventBus", "AWSEvents.CreateEventBus", {"Name": BUS})
    s.aws(
        "PutRule (the tap)",
        "AWSEvents.PutRule",
        {"Name": TAP_RULE, "EventBusName": BUS, "EventPattern": '{"source": [{"prefix": ""}]}'},
    )
    s.aws(
        "PutRule",
        "AWSEvents.PutRule",
        {
            "Name": "credits",
            "EventBusName": BUS,
            "EventPattern": '{"detail-type": ["CreditEvent"]}',
        },
    )
    s.aws(
        "PutTargets (a function)",
        "AWSEvents.PutTargets",
        {
            "Rule": "credits",
            "EventBusName": BUS,
            "Targets": [
                {"Id": "f", "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:projector"}
            ],
        },
    )
    s.aws("PutEvents", "AWSEvents.PutEvents", put_events("CreditEvent", "a-1", 2))
    entries = [
        put_events("EventStored", "a-1", 1)["Entries"][0],
        {"EventBusName": BUS, "Source": "ledger", "DetailType": "x", "Detail": "not json"},
        {"EventBusName": BUS, "Source": "ledger", "DetailType": "x"},
        {**put_events("EventStored", "a-1", 2)["Entries"][0], "EventBusName": "no-such-bus"},
    ]
    s.aws("PutEvents, partly failed", "AWSEvents.PutEvents", {"Entries": entries})
    s.aws("PutEvents of 11 entries", "AWSEvents.PutEvents", {"Entries": entries[:1] * 11})
    s.aws("DescribeEventBus", "AWSEvents.DescribeEventBus", {"Name": BUS})
    s.aws("ListRules", "AWSEvents.ListRules", {"EventBusName": BUS})
    s.aws(
        "DescribeRule of no rule", "AWSEvents.DescribeRule", {"Name": "none", "EventBusName": BUS}
    )
    s.raw("/_local/bus-events", "GET", f"/_local/bus-events?bus={BUS}&after=0&limit=10", None)


def _around_the_direct_route(s: Session) -> None:
    """Requests the direct route leaves to Flask: they must still be answered so."""
    body = json.dumps(get_event(s.tables, "a-1", 1)).encode()
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261202/eu-west-1/dynamodb/"
        "aws4_request, SignedHeaders=host, Signature=0",
    }
    s.raw(
        "GetItem, gzipped",
        "POST",
        "/",
        gzip.compress(body),
        **headers,
        **{"Content-Encoding": "gzip"},
    )
    s.raw("GetItem from a browser", "POST", "/", body, **headers, Origin="http://localhost:3000")
    s.raw("GetItem on another path", "POST", "/other", body, **headers)
    s.raw("GET of the DynamoDB endpoint", "GET", "/", None, **headers)
    s.raw(
        "SQS CreateQueue (another service)",
        "POST",
        "/",
        b"Action=CreateQueue&QueueName=q&Version=2012-11-05",
        **{
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261202/eu-west-1/sqs/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )


SCRIPT: tuple[Callable[[Session], None], ...] = (
    _dynamodb,
    _events,
    _streams,
    _around_the_direct_route,
)


def play(server: Server) -> list[tuple[str, Answer]]:
    session = Session(RawClient(server.endpoint_url))
    try:
        for part in SCRIPT:
            part(session)
    finally:
        session.client.close()
    return session.answers


@pytest.fixture
def servers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Server, Server]]:
    env = {FAULTS_ENV: request.param} if request.param else {}
    plain = Server(tmp_path / "plain.log", plain=True, env=env)
    try:
        ours = Server(tmp_path / "ours.log", plain=False, env=env)
        try:
            yield plain, ours
        finally:
            ours.stop()
    finally:
        plain.stop()


@pytest.mark.parametrize(
    "servers",
    ["", '{"stream_shard_split_rate": 1.0}'],
    ids=["as-is", "every-write-splits-its-stream"],
    indirect=True,
)
def test_every_request_gets_moto_s_own_answer(servers: tuple[Server, Server]) -> None:
    # GIVEN a server serving as moto does and ours, both fresh (and, in the second case,
    # both splitting a stream's shard before each write, as the chaos run's fault does)
    plain, ours = servers

    # WHEN the same requests are played on each: every DynamoDB action the ledger uses
    # (and a few more), each kind of refusal, the streams, EventBridge, the local routes,
    # and requests the direct route leaves to moto's Flask application
    expected, got = play(plain), play(ours)

    # THEN each request got the same answer from both
    assert [label for label, _ in got] == [label for label, _ in expected]
    for (label, mine), (_, theirs) in zip(got, expected, strict=True):
        assert comparable(mine) == comparable(theirs), label
    statuses = {answer.status for _, answer in got}
    assert {200, 400, 500} <= statuses  # the script reached successes and each refusal

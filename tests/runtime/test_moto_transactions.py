"""Our moto server's TransactWriteItems (scripts.local.moto_patches): the answers, the
tables and the streams moto's own gives for the same requests, at the cost of the items
a transaction touches; ClientRequestToken as DynamoDB honours it; and a server whose
memory follows the data it holds, not the requests it served."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from scripts.local.aws import FAKE_CREDENTIALS, Moto
from scripts.local.moto_patches import (
    TOKEN_TTL_S,
    _idempotent_transactions,
    _transact_write_items,
)
from scripts.local.system import MotoProcess

pytestmark = pytest.mark.runtime

REGION = "eu-west-1"
EVENTS, KEYS = "events", "keys"


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Any]]:
    """moto in this process (unpatched unless a test patches it); each call to the
    fixture's value gives a client on fresh, empty tables."""
    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    mocks: list[Any] = []

    def fresh() -> Any:
        if mocks:
            mocks.pop().stop()
        mock = mock_aws()
        mock.start()
        mocks.append(mock)
        return create_tables(boto3.client("dynamodb", region_name=REGION))

    yield fresh
    for mock in mocks:
        mock.stop()


def create_tables(dynamodb: Any) -> Any:
    """The ledger's shape: events keyed by account and version with a stream, and a
    hash-only table of idempotency keys."""
    dynamodb.create_table(
        TableName=EVENTS,
        KeySchema=[
            {"AttributeName": "accountId", "KeyType": "HASH"},
            {"AttributeName": "version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "accountId", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.create_table(
        TableName=KEYS,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return dynamodb


def event(account: str, version: int, **attributes: str) -> dict[str, Any]:
    item = {"accountId": {"S": account}, "version": {"N": str(version)}}
    return {**item, **{name: {"S": value} for name, value in attributes.items()}}


def put(table: str, item: dict[str, Any], condition: str | None = None, **extra: Any) -> Any:
    operation: dict[str, Any] = {"TableName": table, "Item": item, **extra}
    if condition is not None:
        operation["ConditionExpression"] = condition
    return {"Put": operation}


NEW_VERSION = "attribute_not_exists(version)"
NEW_KEY = "attribute_not_exists(#k)"
KEY_NAME = {"ExpressionAttributeNames": {"#k": "key"}}


def keyed(account: str, version: int, key: str, **condition: Any) -> list[dict[str, Any]]:
    """A keyed command as the ledger writes it: the event and its idempotency key."""
    return [
        put(EVENTS, event(account, version, kind="credit"), NEW_VERSION),
        put(KEYS, {"key": {"S": key}, "accountId": {"S": account}}, NEW_KEY, **KEY_NAME),
    ]


def update(table: str, key: dict[str, Any], expression: str, **extra: Any) -> Any:
    return {"Update": {"TableName": table, "Key": key, "UpdateExpression": expression, **extra}}


ALICE_1 = {"accountId": {"S": "alice"}, "version": {"N": "1"}}
SCENARIOS: dict[str, list[list[dict[str, Any]]]] = {
    "keyed commands, one after the other": [
        keyed("alice", 1, "k1"),
        keyed("alice", 2, "k2"),
        keyed("bob", 1, "k3"),
    ],
    "a version conflict cancels the key too": [
        keyed("alice", 1, "k1"),
        keyed("alice", 1, "k2"),
    ],
    "a key taken cancels the event too": [
        keyed("alice", 1, "k1"),
        keyed("alice", 2, "k1"),
    ],
    "a retry of an applied transaction without a token fails both conditions": [
        keyed("alice", 1, "k1"),
        keyed("alice", 1, "k1"),
    ],
    "the old item comes back in the reason when asked": [
        keyed("alice", 1, "k1"),
        [
            put(KEYS, {"key": {"S": "k9"}}, NEW_KEY, **KEY_NAME),
            put(
                EVENTS,
                event("alice", 1, kind="debit"),
                NEW_VERSION,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        ],
    ],
    "an update changed in place and then cancelled is put back as it was": [
        [put(EVENTS, event("alice", 1, kind="credit", note="first"))],
        [
            update(
                EVENTS,
                ALICE_1,
                "SET note = :n, extra = :n",
                ExpressionAttributeValues={":n": {"S": "changed"}},
            ),
            {
                "ConditionCheck": {
                    "TableName": KEYS,
                    "Key": {"key": {"S": "missing"}},
                    "ConditionExpression": "attribute_exists(#k)",
                    **KEY_NAME,
                }
            },
        ],
    ],
    "an update creating an item, a delete and a put, all cancelled": [
        [put(EVENTS, event("alice", 1, kind="credit")), put(KEYS, {"key": {"S": "k1"}})],
        [
            update(
                EVENTS,
                {"accountId": {"S": "carol"}, "version": {"N": "1"}},
                "SET kind = :k",
                ExpressionAttributeValues={":k": {"S": "credit"}},
            ),
            {"Delete": {"TableName": KEYS, "Key": {"key": {"S": "k1"}}}},
            put(EVENTS, event("alice", 2, kind="debit")),
            put(EVENTS, event("alice", 1, kind="again"), NEW_VERSION),
        ],
    ],
    "deletes and updates that succeed": [
        [put(EVENTS, event("alice", 1, kind="credit")), put(KEYS, {"key": {"S": "k1"}})],
        [
            {"Delete": {"TableName": KEYS, "Key": {"key": {"S": "k1"}}}},
            update(
                EVENTS,
                ALICE_1,
                "SET kind = :k",
                ExpressionAttributeValues={":k": {"S": "debit"}, ":c": {"S": "credit"}},
                ConditionExpression="kind = :c",
            ),
        ],
    ],
    "one item twice is refused and writes nothing": [
        [
            put(KEYS, {"key": {"S": "k1"}}),
            put(EVENTS, event("alice", 1, kind="credit")),
            put(KEYS, {"key": {"S": "k1"}, "again": {"S": "yes"}}),
        ],
    ],
    "a table that does not exist cancels the others": [
        [put(EVENTS, event("alice", 1, kind="credit")), put("nowhere", {"key": {"S": "k1"}})],
    ],
}


def play(dynamodb: Any, transactions: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Everything a client can see of the transactions: each answer, then both tables
    and both streams."""
    answers: list[Any] = []
    for transaction in transactions:
        try:
            dynamodb.transact_write_items(TransactItems=transaction)
            answers.append("ok")
        except ClientError as error:
            answers.append(
                (
                    error.response["Error"]["Code"],
                    error.response["Error"].get("Message"),
                    error.response.get("CancellationReasons"),
                )
            )
    return {"answers": answers, **{table: seen(dynamodb, table) for table in (EVENTS, KEYS)}}


def seen(dynamodb: Any, table: str) -> dict[str, Any]:
    items = dynamodb.scan(TableName=table)["Items"]
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = [
        (
            r["eventName"],
            r["dynamodb"]["Keys"],
            r["dynamodb"].get("OldImage"),
            r["dynamodb"].get("NewImage"),
        )
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]
    return {
        "items": sorted(items, key=repr),
        "count": dynamodb.describe_table(TableName=table)["Table"]["ItemCount"],
        "stream": records,
    }


@pytest.mark.parametrize("name", SCENARIOS)
def test_transactions_answer_and_leave_what_moto_s_own_do(
    in_process: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # GIVEN what moto's own TransactWriteItems answers and leaves for these transactions
    theirs = play(in_process(), SCENARIOS[name])

    # WHEN ours plays them on fresh tables
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)
    ours = play(in_process(), SCENARIOS[name])

    # THEN a client sees the same answers (cancellation reasons included), tables and
    # streams
    assert ours == theirs


def test_the_scenarios_cover_success_cancellation_and_refusal(
    in_process: Callable[[], Any],
) -> None:
    answers = [a for s in SCENARIOS.values() for a in play(in_process(), s)["answers"]]
    codes = {a if a == "ok" else a[0] for a in answers}
    assert codes == {
        "ok",
        "TransactionCanceledException",
        "ValidationException",
        "ResourceNotFoundException",
    }
    reasons = {r["Code"] for a in answers if a != "ok" and a[2] for r in a[2]}
    assert reasons == {"None", "ConditionalCheckFailed"}
    assert any("Item" in r for a in answers if a != "ok" and a[2] for r in a[2])


def test_a_transaction_costs_the_items_it_touches_not_the_table(
    in_process: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN our transactions, on an events table of 3,000 events
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)
    dynamodb = in_process()
    for version in range(1, 3001):
        dynamodb.put_item(
            TableName=EVENTS, Item=event(f"acct-{version % 50}", version, padding="x" * 200)
        )
    started = time.perf_counter()
    dynamodb.transact_write_items(TransactItems=keyed("fresh", 1, "warm-up"))
    small = time.perf_counter() - started

    # WHEN keyed commands are written, half of them cancelled
    started = time.perf_counter()
    for n in range(20):
        with pytest.raises(ClientError) if n % 2 else contextlib.nullcontext():
            dynamodb.transact_write_items(TransactItems=keyed("fresh", n // 2 + 2, f"k{n // 2}"))
    each = (time.perf_counter() - started) / 20

    # THEN each takes about what one on a fresh table takes (moto's own deep-copied the
    # 3,000 events, ~0.5 s each here), and every accepted one is stored
    assert each < max(10 * small, 0.1)
    assert dynamodb.query(
        TableName=EVENTS,
        KeyConditionExpression="accountId = :a",
        ExpressionAttributeValues={":a": {"S": "fresh"}},
        Select="COUNT",
    )["Count"] == (11)


@pytest.fixture
def tokened(
    in_process: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[float]]:
    """Our transactions and tokens in this process, on a clock the test moves."""
    now = [1000.0]
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)
    monkeypatch.setattr(
        DynamoHandler,
        "transact_write_items",
        _idempotent_transactions(DynamoHandler.transact_write_items, clock=lambda: now[0]),
    )
    return in_process(), now


def test_a_transaction_repeated_with_its_token_succeeds_and_writes_nothing_again(
    tokened: tuple[Any, list[float]],
) -> None:
    # GIVEN a keyed command applied with a token (its answer lost, say)
    dynamodb, _ = tokened
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1"))

    # WHEN the SDK sends it again with the same token
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1"))

    # THEN it succeeds, as on DynamoDB, and the event is stored and streamed once
    assert len(seen(dynamodb, EVENTS)["stream"]) == 1
    assert seen(dynamodb, KEYS)["count"] == 1


def test_a_token_reused_with_other_parameters_is_refused_and_stores_nothing(
    tokened: tuple[Any, list[float]],
) -> None:
    dynamodb, _ = tokened
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1"))

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            ClientRequestToken="t1", TransactItems=keyed("alice", 2, "k2")
        )

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert [i["version"]["N"] for i in seen(dynamodb, EVENTS)["items"]] == ["1"]


def test_the_token_of_a_cancelled_transaction_can_be_sent_again(
    tokened: tuple[Any, list[float]],
) -> None:
    # GIVEN a transaction cancelled by a key another command holds
    dynamodb, _ = tokened
    dynamodb.put_item(TableName=KEYS, Item={"key": {"S": "k1"}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1")
        )

    # WHEN the key is free again and the same request is sent with the same token
    dynamodb.delete_item(TableName=KEYS, Key={"key": {"S": "k1"}})
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1"))

    # THEN it was applied (only a success is remembered)
    assert seen(dynamodb, EVENTS)["count"] == 1


def test_a_token_is_a_new_request_after_ten_minutes(tokened: tuple[Any, list[float]]) -> None:
    # GIVEN a token used 10 minutes and a second ago
    dynamodb, now = tokened
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 1, "k1"))
    now[0] += TOKEN_TTL_S + 1

    # WHEN it comes with other parameters  THEN it is a new transaction, applied
    dynamodb.transact_write_items(ClientRequestToken="t1", TransactItems=keyed("alice", 2, "k2"))
    assert seen(dynamodb, EVENTS)["count"] == 2


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_server_s_memory_does_not_grow_with_requests_that_store_nothing(
    tmp_path: Path,
) -> None:
    # GIVEN our moto server holding 300 events, and a queue
    server = MotoProcess(tmp_path / "moto.log")
    try:
        moto = Moto(server.endpoint_url, REGION)
        dynamodb = create_tables(moto.client("dynamodb"))
        for version in range(1, 301):
            dynamodb.put_item(TableName=EVENTS, Item=event("alice", version, pad="x" * 500))
        sqs = moto.client("sqs")
        queue = sqs.create_queue(QueueName="tap")["QueueUrl"]

        def requests_storing_nothing(count: int) -> None:
            for n in range(count):
                with pytest.raises(ClientError):
                    dynamodb.transact_write_items(
                        ClientRequestToken=f"t{n}", TransactItems=keyed("alice", 300, f"k{n}")
                    )
                sqs.send_message(QueueUrl=queue, MessageBody="x" * 200_000)
                for message in sqs.receive_message(QueueUrl=queue)["Messages"]:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

        requests_storing_nothing(50)  # the allocator's and the caches' first growth
        before = resident_bytes(server.process.pid)

        # WHEN it serves 600 more requests that store nothing (cancelled transactions,
        # messages of 200 kB sent, received and deleted)
        requests_storing_nothing(150)

        # THEN its resident memory barely moved (moto's own kept every deep copy of the
        # events table, about 1 MB per transaction here, and every message)
        assert resident_bytes(server.process.pid) - before < 10 * 1024 * 1024
    finally:
        server.stop()

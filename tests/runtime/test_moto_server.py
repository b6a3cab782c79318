"""Our moto server: what it turns off in moto, what it fixes for Terraform, and the
moto version its patches are written for."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
import requests

from scripts.local import moto_patches
from scripts.local.moto_patches import (
    PATCHES,
    MotoVersionError,
    check_moto_version,
    pinned_moto_version,
)
from scripts.local.moto_server import serve
from tests.runtime.conftest import Bench

pytestmark = pytest.mark.runtime


def test_stream_records_survive_writes_to_a_table_with_an_event_source_mapping(
    bench: Bench,
) -> None:
    # GIVEN a table whose stream is mapped to a function (moto would consume its records)
    arn = bench.function("consumer", {"handler.py": "def lambda_handler(e, c):\n    pass\n"})
    dynamodb = bench.moto.client("dynamodb")
    stream_arn = dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    bench.moto.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=arn, StartingPosition="TRIM_HORIZON"
    )

    # WHEN items are written
    for item_id in ("a", "b", "c"):
        dynamodb.put_item(TableName="t", Item={"id": {"S": item_id}})

    # THEN every record is still there for the runtime's poller
    streams = bench.moto.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["a", "b", "c"]


def test_put_events_succeeds_with_lambda_targets_and_still_feeds_queues(bench: Bench) -> None:
    # GIVEN a rule with a Lambda target and a queue target
    arn = bench.function("consumer", {"handler.py": "def lambda_handler(e, c):\n    pass\n"})
    queue_url, queue_arn = bench.queue("q")
    events = bench.moto.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["s"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "f", "Arn": arn}, {"Id": "q", "Arn": queue_arn}])

    # WHEN an event is published (moto alone raises NotImplementedError for the Lambda)
    result = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])

    # THEN it is accepted and the queue target got it
    assert result["FailedEntryCount"] == 0
    assert len(bench.messages(queue_url, 1)) == 1


def test_event_invoke_configs_read_back_as_aws_returns_them(bench: Bench) -> None:
    bench.function("f", {"handler.py": "def lambda_handler(e, c):\n    pass\n"})
    lambda_ = bench.moto.client("lambda")

    lambda_.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=2)
    lambda_.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=0)
    config = lambda_.get_function_event_invoke_config(FunctionName="f")

    # A put replaces the previous config, and LastModified is a timestamp (boto3 parses it).
    assert config["MaximumRetryAttempts"] == 0
    assert config["LastModified"].year >= 2024


def test_a_cancelled_transaction_neither_stops_the_stream_nor_leaves_records_in_it(
    bench: Bench,
) -> None:
    # GIVEN a table with a stream, read from its end as the runtime's poller reads it
    dynamodb = bench.moto.client("dynamodb")
    stream_arn = dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName="t", Item={"id": {"S": "taken"}})
    streams = bench.moto.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]

    # WHEN a transaction is cancelled (its second put's condition fails), then an item
    # is written
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"id": {"S": "cancelled"}}}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"id": {"S": "taken"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    dynamodb.put_item(TableName="t", Item={"id": {"S": "after"}})

    # THEN the iterator taken before sees the later write, and nothing of the cancelled one
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["after"]


def test_sqs_delays_and_visibility_timeouts_keep_time(bench: Bench) -> None:
    # GIVEN a queue on our moto server (whose SQS reads the clock its own, cheaper way)
    sqs = bench.moto.client("sqs")
    url = sqs.create_queue(QueueName="clocked")["QueueUrl"]

    # WHEN a message is sent with a delay of 1 s
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)

    # THEN it is not there at once, and is after the delay
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.2)
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in received] == ["later"]
    # AND once received it stays hidden for its visibility timeout, then comes back
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.2)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["later"]


def test_readers_never_see_an_update_half_done(bench: Bench) -> None:
    # GIVEN a table, and a writer creating items with UpdateItem (moto stores the bare
    # key first, then sets the attributes)
    dynamodb = bench.moto.client("dynamodb")
    dynamodb.create_table(
        TableName="half",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    done = threading.Event()

    def write() -> None:
        writer = bench.moto.client("dynamodb")
        for index in range(80):
            writer.update_item(
                TableName="half",
                Key={"id": {"S": f"item-{index}"}},
                # Many actions: moto validates them between storing the key and setting them.
                UpdateExpression="SET version = :v, " + ", ".join(f"a{n} = :a" for n in range(40)),
                ExpressionAttributeValues={":v": {"N": str(index)}, ":a": {"S": "1.00"}},
            )
        done.set()

    # WHEN a reader scans the table while the writer writes
    writer = threading.Thread(target=write)
    writer.start()
    seen, bare = 0, []
    while not done.is_set():
        for item in dynamodb.scan(TableName="half")["Items"]:
            seen += 1
            if "version" not in item:
                bare.append(item)
    writer.join()

    # THEN it saw many items, and every one of them whole
    assert seen > 80
    assert bare == []


def test_the_patches_are_written_for_the_pinned_moto_and_that_moto_is_installed() -> None:
    pinned = pinned_moto_version()
    assert {patch.written_for for patch in PATCHES} == {pinned}
    assert moto_patches.installed_moto_version() == pinned


def test_the_server_refuses_to_start_on_another_moto_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a moto other than the pinned one
    monkeypatch.setattr(moto_patches, "installed_moto_version", lambda: "9.9.9")
    monkeypatch.setattr(sys, "argv", ["moto_server", "--port", "0"])
    # WHEN the server starts  THEN it stops at once, saying which versions and what to do
    with pytest.raises(SystemExit) as exit_:
        serve("our moto server")
    message = str(exit_.value.code)
    assert f"moto 9.9.9 is installed but our moto server patches moto {pinned_moto_version()}" in (
        message
    )
    assert "make install" in message


def test_a_patch_written_for_another_version_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = replace(PATCHES[0], written_for="5.0.0")
    monkeypatch.setattr(moto_patches, "PATCHES", (stale, *PATCHES[1:]))
    pinned = pinned_moto_version()
    with pytest.raises(MotoVersionError, match=f"pins moto {pinned} but these patches"):
        check_moto_version(pinned, pinned)
    with pytest.raises(MotoVersionError, match=stale.name):
        check_moto_version(pinned, pinned)


@pytest.mark.parametrize("handler", ["DynamoHandler", "DynamoDBStreamsHandler"])
def test_a_streams_or_table_request_waits_while_another_dynamodb_request_runs(
    handler: str,
) -> None:
    # GIVEN the server's patch of that handler, around a request that notes it ran
    patch = next(
        p
        for p in moto_patches.PATCHES
        if p.owner.__name__ == handler and p.attribute == "call_action"
    )
    ran = threading.Event()
    request = patch.replace(lambda *args, **kwargs: ran.set())
    # WHEN it comes in while a DynamoDB request (a transaction being undone) holds the lock
    with moto_patches.DYNAMODB_LOCK:
        caller = threading.Thread(target=request)
        caller.start()
        caller.join(0.3)
        # THEN it waits for that request to finish (a GetRecords never sees records
        # a cancelled transaction is about to take back)
        assert not ran.is_set()
    caller.join(5)
    assert ran.is_set()


def _stream_records(bench: Bench, after: int, timeout_s: float) -> requests.Response:
    return requests.get(
        f"{bench.moto.endpoint_url}/_local/stream-records",
        params={"after": after, "timeout": timeout_s},
        timeout=60,
    )


def _table_with_a_stream(bench: Bench) -> Any:
    dynamodb = bench.moto.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return dynamodb


def test_a_wait_for_stream_records_ends_as_soon_as_a_record_is_written(bench: Bench) -> None:
    # GIVEN a table with a stream, and the count of stream records written so far
    dynamodb = _table_with_a_stream(bench)
    before = int(_stream_records(bench, -1, 0).json()["count"])
    answers: list[tuple[int, float]] = []

    def wait() -> None:
        count = int(_stream_records(bench, before, 30).json()["count"])
        answers.append((count, time.monotonic()))

    # WHEN a poller waits up to 30 s for more, and an item is written meanwhile
    waiting = threading.Thread(target=wait)
    waiting.start()
    time.sleep(0.5)
    written = time.monotonic()
    dynamodb.put_item(TableName="t", Item={"id": {"S": "a"}})
    waiting.join(timeout=60)

    # THEN the wait ends with one record more, long before its 30 s
    ((count, answered),) = answers
    assert count == before + 1
    assert answered - written < 10


def test_a_wait_for_stream_records_ends_at_its_timeout_when_nothing_is_written(
    bench: Bench,
) -> None:
    # GIVEN a table with a stream and one record in it
    dynamodb = _table_with_a_stream(bench)
    dynamodb.put_item(TableName="t", Item={"id": {"S": "a"}})
    count = int(_stream_records(bench, -1, 0).json()["count"])

    # WHEN a poller waits 0.5 s for a record after that one, and none is written
    started = time.monotonic()
    answer = _stream_records(bench, count, 0.5)

    # THEN it is answered after its timeout, with the same count
    assert answer.status_code == 200
    assert answer.json() == {"count": count}
    assert time.monotonic() - started >= 0.45


def test_a_wait_for_stream_records_with_a_bad_query_is_refused_with_a_code(bench: Bench) -> None:
    # GIVEN a moto server
    # WHEN a wait's `after` is not a number
    answer = requests.get(
        f"{bench.moto.endpoint_url}/_local/stream-records",
        params={"after": "soon", "timeout": "1"},
        timeout=60,
    )

    # THEN it is refused with a machine-readable code
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_query"


def test_a_wait_for_stream_records_with_a_count_from_another_server_ends_at_once() -> None:
    # GIVEN a fresh server's count (none written), and a poller that saw 40 on a server
    # started before it
    records = moto_patches.StreamRecordCount()

    # WHEN the poller waits for more than its 40, up to 30 s
    started = time.monotonic()
    count = records.wait(40, 30)

    # THEN the wait ends at once with this server's count, which the poller goes on from
    assert count == 0
    assert time.monotonic() - started < 5


def test_a_bus_event_is_handed_out_again_until_a_read_after_it_acknowledges_it() -> None:
    # GIVEN a bus's log holding three tapped events
    log = moto_patches.BusEventLog()
    for number in (1, 2, 3):
        log.append("bus", json.dumps({"n": number}))

    # WHEN a reader takes two, reads again from the start (its routing failed), then
    # reads after the first two
    first = log.read("bus", 0, 0, 2)
    again = log.read("bus", 0, 0, 2)
    rest = log.read("bus", first[0], 0, 10)

    # THEN the first two are handed out twice, and the third only after them
    assert first == again == (2, ['{"n": 1}', '{"n": 2}'])
    assert rest == (3, ['{"n": 3}'])
    # AND once a read goes past them, they are no longer kept
    assert log.read("bus", 3, 0, 10) == (3, [])
    assert log.read("bus", 0, 0, 10) == (0, [])


def test_a_read_of_bus_events_waits_for_one_and_ends_when_it_comes() -> None:
    # GIVEN an empty bus log, and a reader waiting up to 30 s for an event
    log = moto_patches.BusEventLog()
    answers: list[tuple[int, list[str]]] = []
    reader = threading.Thread(target=lambda: answers.append(log.read("bus", 0, 30, 10)))
    reader.start()
    time.sleep(0.2)

    # WHEN an event is tapped on another bus, then on this one
    started = time.monotonic()
    log.append("other", "{}")
    log.append("bus", '{"n": 1}')
    reader.join(timeout=30)

    # THEN the reader gets this bus's event at once, not the other's
    assert answers == [(1, ['{"n": 1}'])]
    assert time.monotonic() - started < 10


def test_a_bus_events_cursor_from_another_server_starts_over() -> None:
    # GIVEN a fresh server's log with one event, and a reader whose cursor is 40
    log = moto_patches.BusEventLog()
    log.append("bus", '{"n": 1}')

    # WHEN it reads after 40
    answer = log.read("bus", 40, 0, 10)

    # THEN it gets this server's events from the start
    assert answer == (1, ['{"n": 1}'])


def test_what_the_tap_rule_matches_is_read_as_eventbridge_sends_it_and_other_targets_still_get_it(
    bench: Bench,
) -> None:
    # GIVEN a bus with the runtime's tap rule and a rule with a queue target
    events = bench.moto.client("events")
    events.create_event_bus(Name="b")
    events.put_rule(
        Name=moto_patches.TAP_RULE,
        EventBusName="b",
        EventPattern=json.dumps({"source": [{"prefix": ""}]}),
    )
    queue_url, queue_arn = bench.queue("other")
    events.put_rule(Name="q", EventBusName="b", EventPattern=json.dumps({"source": ["s"]}))
    events.put_targets(Rule="q", EventBusName="b", Targets=[{"Id": "q", "Arn": queue_arn}])

    # WHEN an event is put on the bus, and the runtime's route is read
    events.put_events(
        Entries=[{"Source": "s", "DetailType": "T", "Detail": '{"a": 1}', "EventBusName": "b"}]
    )
    page = requests.get(
        f"{bench.moto.endpoint_url}/_local/bus-events",
        params={"bus": "b", "after": "0", "timeout": "5"},
        timeout=60,
    ).json()

    # THEN the event is there as EventBridge sends it to a target, and the queue got it too
    [event] = page["events"]
    assert page["last"] == 1
    assert (event["source"], event["detail-type"], event["detail"]) == ("s", "T", {"a": 1})
    assert event["time"].endswith("Z")
    assert {"id", "account", "region"} <= set(event)
    assert len(bench.messages(queue_url, 1)) == 1


def test_a_read_of_bus_events_without_a_bus_is_refused_with_a_code(bench: Bench) -> None:
    # GIVEN a moto server
    # WHEN the runtime's route is read without naming a bus
    answer = requests.get(
        f"{bench.moto.endpoint_url}/_local/bus-events", params={"after": "0"}, timeout=60
    )

    # THEN it is refused with a machine-readable code
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_query"

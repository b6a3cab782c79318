"""The events table's stream, fed to its mapped function like Lambda's poller does."""

from __future__ import annotations

import json
import threading
import time

import pytest

from scripts.local.stream_poller import IDLE_POLL_S, RecordWaiter
from scripts.local.system import free_port
from tests.runtime.conftest import Bench, bodies, observing_handler, table_streaming_to

pytestmark = pytest.mark.runtime

FAIL_ONCE = observing_handler(
    "global calls\n"
    "calls = globals().get('calls', 0) + 1\n"
    "if calls == 1:\n"
    "    raise RuntimeError('first call fails')\n"
    "observe([r['dynamodb']['NewImage']['id']['S'] for r in event['Records']])\n"
)
POISON_RAISES = observing_handler(
    "ids = [r['dynamodb']['NewImage']['id']['S'] for r in event['Records']]\n"
    "if 'poison' in ids:\n"
    "    raise ValueError('poison record')\n"
    "observe(ids)\n"
)
POISON_REPORTED = observing_handler(
    "failures, ok = [], []\n"
    "for r in event['Records']:\n"
    "    if r['dynamodb']['NewImage']['id']['S'] == 'poison':\n"
    "        failures.append({'itemIdentifier': r['dynamodb']['SequenceNumber']})\n"
    "    else:\n"
    "        ok.append(r['dynamodb']['NewImage']['id']['S'])\n"
    "observe(ok)\n"
    "return {'batchItemFailures': failures}\n"
)


def _put(bench: Bench, *ids: str) -> None:
    for item_id in ids:
        bench.moto.client("dynamodb").put_item(TableName="events", Item={"id": {"S": item_id}})


def _delivered(bench: Bench, observed_url: str, count: int) -> list[str]:
    batches = bodies(bench.messages(observed_url, count))
    return sorted(i for batch in batches for i in batch)


def test_records_reach_the_function_shaped_as_lambda_shapes_them(bench: Bench) -> None:
    handler = observing_handler("observe(event)\n")
    observed_url, stream_arn = table_streaming_to(bench, handler, BatchSize=10)
    _put(bench, "a")
    bench.start()

    [event] = bodies(bench.messages(observed_url, 1))

    [record] = event["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stream_arn
    assert record["awsRegion"] == "eu-west-1"
    assert {"eventID", "eventVersion"} <= set(record)
    dynamodb = record["dynamodb"]
    assert dynamodb["Keys"] == {"id": {"S": "a"}}
    assert dynamodb["NewImage"] == {"id": {"S": "a"}}
    assert dynamodb["StreamViewType"] == "NEW_IMAGE"
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int)
    assert {"SequenceNumber", "SizeBytes"} <= set(dynamodb)


def test_a_function_that_fails_once_is_retried(bench: Bench) -> None:
    # GIVEN a consumer whose first invoke fails
    observed_url, _ = table_streaming_to(bench, FAIL_ONCE, BatchSize=10, MaximumRetryAttempts=2)
    _put(bench, "a", "b")

    # WHEN the runtime feeds it the stream
    bench.start()

    # THEN the retried batch is delivered, whole
    assert _delivered(bench, observed_url, 1) == ["a", "b"]


def test_a_poison_record_is_set_aside_while_the_records_around_it_are_delivered(
    bench: Bench,
) -> None:
    # GIVEN a consumer that raises on one record, bisecting and retrying once
    _, failure_arn = bench.queue("stream-failures")
    failure_url = bench.moto.client("sqs").get_queue_url(QueueName="stream-failures")["QueueUrl"]
    observed_url, stream_arn = table_streaming_to(
        bench,
        POISON_RAISES,
        BatchSize=10,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    _put(bench, "a", "b", "poison", "c", "d")

    # WHEN the runtime feeds it the stream
    bench.start()

    # THEN every other record is delivered and the poison one's batch info is set aside
    [failure] = bodies(bench.messages(failure_url, 1))
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == stream_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    delivered: list[str] = []
    while len(delivered) < 4:
        batch = bodies(bench.messages(observed_url, 1))
        assert batch, f"only {delivered} delivered"
        delivered += [i for b in batch for i in b]
    assert sorted(delivered) == ["a", "b", "c", "d"]


def test_a_reported_item_failure_retries_from_that_record_only(bench: Bench) -> None:
    # GIVEN a consumer reporting the poison record as a batch item failure
    _, failure_arn = bench.queue("stream-failures")
    failure_url = bench.moto.client("sqs").get_queue_url(QueueName="stream-failures")["QueueUrl"]
    observed_url, _ = table_streaming_to(
        bench,
        POISON_REPORTED,
        BatchSize=10,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    _put(bench, "a", "b", "poison", "c")

    bench.start()

    # THEN the first invoke delivers a, b, c; the retry starts at the poison record
    [failure] = bodies(bench.messages(failure_url, 1))
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2  # poison and c, from its checkpoint
    first, retry = bodies(bench.messages(observed_url, 2))
    assert first == ["a", "b", "c"]
    assert retry == ["c"]
    assert json.dumps(failure)  # a plain JSON document, as AWS sends


def test_records_written_while_the_poller_waits_for_them_reach_the_function_in_order(
    bench: Bench,
) -> None:
    # GIVEN a running runtime whose poller has read the stream to its end and waits
    handler = observing_handler(
        "observe([r['dynamodb']['NewImage']['id']['S'] for r in event['Records']])\n"
    )
    observed_url, _ = table_streaming_to(bench, handler, BatchSize=10)
    bench.start()
    time.sleep(1.5)

    # WHEN records are written one by one, the poller idle before each
    delivered = []
    for item_id in ("a", "b", "c"):
        _put(bench, item_id)
        delivered += bodies(bench.messages(observed_url, 1))
        time.sleep(0.3)

    # THEN each was delivered, in order, once
    assert delivered == [["a"], ["b"], ["c"]]
    assert bench.messages(observed_url, 1, timeout_s=2) == []


def test_a_poller_whose_moto_has_no_records_route_sleeps_between_empty_polls() -> None:
    # GIVEN a waiter pointed at a port nobody listens on (a moto server without the route)
    waiter = RecordWaiter(f"http://127.0.0.1:{free_port()}", threading.Event())

    # WHEN it waits after an empty poll
    started = time.monotonic()
    waiter.wait()

    # THEN it sleeps the idle poll interval rather than polling again at once
    assert time.monotonic() - started >= IDLE_POLL_S * 0.9

"""The fault kinds a user on AWS meets that the runtime injects for the chaos run: each
happens where it says, and is journalled. (That the system shrugs them off is the chaos
run's part: it switches every one of them on and checks nothing is lost or wrong.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local.aws import Moto
from scripts.local.faults import (
    JOURNAL_NAME,
    PROJECTIONS_THROTTLE,
    PUT_EVENTS_PARTIAL_FAILURE,
    SHARD_SPLIT,
    Faults,
    FaultSettings,
    summary,
    totals,
)
from scripts.local.system import MotoProcess
from tests.runtime.conftest import REGION, Bench, bodies, observing_handler, table_streaming_to

pytestmark = pytest.mark.runtime

WRITER = (
    "import boto3, os\n"
    "from botocore.config import Config\n"
    "client = boto3.client('dynamodb', config=Config(retries={'mode': 'standard',"
    " 'max_attempts': 2}))\n"
    "def lambda_handler(event, context):\n"
    "    stored = []\n"
    "    for table in ('events', os.environ['PROJECTIONS_TABLE_NAME']):\n"
    "        try:\n"
    "            client.put_item(TableName=table, Item={'id': {'S': event['id']}})\n"
    "            stored.append(table)\n"
    "        except client.exceptions.ClientError as error:\n"
    "            stored.append(error.response['Error']['Code'])\n"
    "    return stored\n"
)

PUBLISHER = (
    "import boto3\n"
    "client = boto3.client('events')\n"
    "def lambda_handler(event, context):\n"
    "    entries = [{'Source': 'chaos', 'DetailType': 'n', 'Detail': '{\"n\": %d}' % n}\n"
    "               for n in range(event['count'])]\n"
    "    response = client.put_events(Entries=entries)\n"
    "    return {'failed': response['FailedEntryCount'], 'entries': response['Entries']}\n"
)


def _switch_on(monkeypatch: pytest.MonkeyPatch, **settings: object) -> None:
    monkeypatch.setenv("LEDGER_FAULTS", json.dumps(settings))


def _journal(bench: Bench) -> dict[str, int]:
    return dict(totals(summary(bench.state / JOURNAL_NAME).items()))


def _table(bench: Bench, name: str) -> None:
    bench.moto.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_projections_throttle_refuses_the_projections_tables_writes_only(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN every write to the projections table throttled, and no other fault
    _switch_on(monkeypatch, projections_throttle_rate=1)
    _table(bench, "events")
    _table(bench, "projections")
    arn = bench.function(
        "projector",
        {"handler.py": WRITER},
        timeout=15,
        environment={"PROJECTIONS_TABLE_NAME": "projections"},
    )

    # WHEN the function writes to both tables, with a client retrying twice (the dict's
    # max_attempts counts retries)
    outcome = bench.start().invoke(arn, {"id": "a"})

    # THEN the events table took its write; the projections table's three attempts were
    # throttled, as AWS names it both ways, before reaching the table
    assert outcome.error is None, outcome.error
    assert outcome.result[0] == "events"
    assert outcome.result[1] in {"ProvisionedThroughputExceededException", "ThrottlingException"}
    items = bench.moto.client("dynamodb").scan(TableName="projections")["Items"]
    assert items == []
    assert _journal(bench) == {PROJECTIONS_THROTTLE: 3}


def test_a_put_events_partial_failure_publishes_some_entries_and_names_the_others_in_place(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN every PutEvents call partially failing, and a queue that sees what the
    # default bus publishes
    _switch_on(monkeypatch, put_events_partial_failure_rate=1, seed=7)
    queue_url, queue_arn = bench.queue("published")
    events = bench.moto.client("events")
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["chaos"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": queue_arn}])
    arn = bench.function("publisher", {"handler.py": PUBLISHER}, timeout=15)

    # WHEN the function publishes 5 entries in one call
    outcome = bench.start().invoke(arn, {"count": 5})

    # THEN some failed, named in their positions with FailedEntryCount, and exactly the
    # others were published
    assert outcome.error is None, outcome.error
    entries = outcome.result["entries"]
    failed = [n for n, entry in enumerate(entries) if entry.get("ErrorCode")]
    assert len(entries) == 5
    assert 1 <= len(failed) <= 4
    assert outcome.result["failed"] == len(failed)
    published = bench.messages(queue_url, 5 - len(failed))
    assert sorted(json.loads(m["Body"])["detail"]["n"] for m in published) == [
        n for n in range(5) if n not in failed
    ]
    assert all("EventId" in entries[n] for n in range(5) if n not in failed)
    assert _journal(bench) == {PUT_EVENTS_PARTIAL_FAILURE: 1}


def test_a_single_entry_put_events_failure_fails_it_without_sending_anything(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    _switch_on(monkeypatch, put_events_partial_failure_rate=1)
    arn = bench.function("publisher", {"handler.py": PUBLISHER}, timeout=15)

    outcome = bench.start().invoke(arn, {"count": 1})

    assert outcome.error is None, outcome.error
    assert outcome.result["failed"] == 1
    assert outcome.result["entries"][0]["ErrorCode"] == "InternalFailure"


@pytest.mark.parametrize("count", [1, 2, 3, 10])
def test_a_partial_failure_fails_at_least_one_entry_and_leaves_one_when_it_can(
    count: int,
) -> None:
    faults = Faults(FaultSettings(seed=count), None)

    for _ in range(50):
        failing = faults.failed_positions(count)
        assert 1 <= len(failing) <= max(1, count - 1)
        assert failing == sorted(set(failing))
        assert all(0 <= n < count for n in failing)


@pytest.fixture
def splitting_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    """A bench whose moto server splits a stream's shard before every write request: the
    server reads the fault settings when it starts, from the environment it inherits."""
    _switch_on(monkeypatch, stream_shard_split_rate=1)
    server = MotoProcess(tmp_path / "moto.log")
    bench = Bench(Moto(server.endpoint_url, REGION), tmp_path)
    try:
        yield bench
    finally:
        bench.stop()
        server.stop()


def test_a_split_closes_the_shard_and_continues_the_stream_on_a_child(
    splitting_bench: Bench,
) -> None:
    # GIVEN a table with a stream, in a moto splitting its shard before each write
    bench = splitting_bench
    _, stream_arn = table_streaming_to(bench, observing_handler("observe(event)"))
    dynamodb, streams = bench.moto.client("dynamodb"), bench.moto.client("dynamodbstreams")

    # WHEN two items are written
    for key in ("a", "b"):
        dynamodb.put_item(TableName="events", Item={"id": {"S": key}})

    # THEN the stream has three shards, each the child of the one before; the first
    # (the table's own) closed empty, the second closed after "a", the last open
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    assert len(shards) == 3
    assert [s.get("ParentShardId") for s in shards] == [
        None,
        shards[0]["ShardId"],
        shards[1]["ShardId"],
    ]
    assert "EndingSequenceNumber" in shards[1]["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in shards[2]["SequenceNumberRange"]

    # AND a closed shard's last page has no next iterator, the open one's has
    def page(shard: dict[str, str]) -> dict[str, object]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return dict(streams.get_records(ShardIterator=iterator))

    closed, open_ = page(shards[1]), page(shards[2])
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in closed["Records"]] == ["a"]  # type: ignore[attr-defined]
    assert "NextShardIterator" not in closed
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in open_["Records"]] == ["b"]  # type: ignore[attr-defined]
    assert open_.get("NextShardIterator")


def test_the_poller_follows_each_split_from_parent_to_child_in_order(
    splitting_bench: Bench,
) -> None:
    # GIVEN a stream split before each of 6 writes, so each record is on a shard of its own
    bench = splitting_bench
    observed_url, _ = table_streaming_to(
        bench,
        observing_handler("observe([r['dynamodb']['Keys']['id']['S'] for r in event['Records']])"),
    )
    dynamodb = bench.moto.client("dynamodb")
    keys = [f"k{n}" for n in range(6)]
    for key in keys:
        dynamodb.put_item(TableName="events", Item={"id": {"S": key}})

    # WHEN the runtime polls the stream
    bench.start()

    # THEN every record is delivered once, in the order written: each parent was read to
    # its end before its child, and every split was followed and journalled
    batches = bodies(bench.messages(observed_url, len(keys)))
    assert [key for batch in batches for key in batch] == keys
    assert _journal(bench) == {SHARD_SPLIT: len(keys)}

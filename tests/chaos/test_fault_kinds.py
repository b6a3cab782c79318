"""The fault kinds a user on AWS meets that the runtime injects for the chaos run: each
happens where it says, and is journalled. (That the system shrugs them off is the chaos
run's part: it switches every one of them on and checks nothing is lost or wrong.)"""

from __future__ import annotations

import json

import pytest

from scripts.local.faults import (
    JOURNAL_NAME,
    PROJECTIONS_THROTTLE,
    PUT_EVENTS_PARTIAL_FAILURE,
    Faults,
    FaultSettings,
    summary,
    totals,
)
from tests.runtime.conftest import Bench

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

    # WHEN the function writes to both tables, with a client retrying once
    outcome = bench.start().invoke(arn, {"id": "a"})

    # THEN the events table took its write; the projections table's two attempts were
    # throttled, as AWS names it both ways, before reaching the table
    assert outcome.error is None, outcome.error
    assert outcome.result[0] == "events"
    assert outcome.result[1] in {"ProvisionedThroughputExceededException", "ThrottlingException"}
    items = bench.moto.client("dynamodb").scan(TableName="projections")["Items"]
    assert items == []
    assert _journal(bench) == {PROJECTIONS_THROTTLE: 2}


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

"""The asynchronous side, handler by handler, on moto: stream records into the fanout,
its envelopes into the dispatcher, the state-carried events into the projectors."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import boto3
import pytest

from banking.domain.read_models import BALANCE_READ_MODELS
from tests.integration.conftest import published
from tests.support import fixture_event, http_event


@pytest.fixture
def pipeline(load_handler):
    return {name: load_handler(name) for name in ("commands", "fanout", "dispatcher", "projectors")}


def credit(pipeline, context, account, amount, kind="credits"):
    event = http_event(
        "POST",
        f"/accounts/{account}/{kind}",
        route_key=f"POST /accounts/{{accountId}}/{kind}",
        path_parameters={"accountId": account},
        body=json.dumps({"amount": amount}),
        headers={"idempotency-key": str(uuid.uuid4())},
        request_id=f"req-{account}-{amount}",
    )
    response = pipeline["commands"].lambda_handler(event, context)
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


def test_the_fanout_publishes_every_new_event_as_an_envelope(pipeline, context, aws):
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline, context, "alice", amount)
    response = pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    assert response == {"batchItemFailures": []}
    envelopes = published(aws)
    assert [(e["source"], e["detail-type"]) for e in envelopes] == [
        ("ledger.events", "EventStored")
    ] * 3
    assert sorted(e["detail"]["version"] for e in envelopes) == [1, 2, 3]
    assert envelopes[0]["detail"]["correlationId"].startswith("req-alice")


def test_the_fanout_publishes_at_most_10_entries_per_call(pipeline, context, aws):
    for index in range(23):
        credit(pipeline, context, "alice", f"{index + 1}.00")
    sizes: list[int] = []
    pipeline["fanout"].bus._client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: sizes.append(len(params["Entries"])),
    )
    response = pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    assert response == {"batchItemFailures": []}
    assert sizes == [10, 10, 3]


def test_the_fanout_reports_exactly_the_records_whose_entries_failed(pipeline, context, aws):
    # GIVEN a batch whose second and fourth entries the bus rejects
    for amount in ("1.00", "2.00", "3.00", "4.00"):
        credit(pipeline, context, "alice", amount)
    records = stream_records(aws)

    def reject_some(parsed, **_):
        for index in (1, 3):
            parsed["Entries"][index] = {"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}
        parsed["FailedEntryCount"] = 2

    pipeline["fanout"].bus._client.meta.events.register("after-call.events.PutEvents", reject_some)
    # WHEN the fanout handles it
    response = pipeline["fanout"].lambda_handler({"Records": records}, context)
    # THEN exactly those two records are reported
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [
        records[1]["dynamodb"]["SequenceNumber"],
        records[3]["dynamodb"]["SequenceNumber"],
    ]


def test_the_fanout_handles_the_recorded_fixture(pipeline, context, aws):
    response = pipeline["fanout"].lambda_handler(fixture_event("dynamodb_stream_insert"), context)
    assert response == {"batchItemFailures": []}
    assert published(aws)[0]["detail"]["payload"]["snapshot"]["monthEventCount"] == 1


def run_pipeline(pipeline, context, aws):
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    carried = published(aws)
    for event in carried:
        pipeline["projectors"].lambda_handler(bus_event(event), context)
    return carried


def read_models(aws, account):
    items = aws["dynamodb"].query(
        TableName=aws["tables"]["projections"],
        KeyConditionExpression="accountId = :a",
        ExpressionAttributeValues={":a": {"S": account}},
    )["Items"]
    return {
        item["readModel"]["S"]: (item["amount"]["S"], int(item["lastKnownVersion"]["N"]))
        for item in items
        if item["readModel"]["S"] in BALANCE_READ_MODELS
    }


def test_events_flow_to_the_read_models(pipeline, context, aws):
    credit(pipeline, context, "alice", "100.00")
    credit(pipeline, context, "alice", "30.00", kind="debits")
    carried = run_pipeline(pipeline, context, aws)
    assert sorted(e["detail-type"] for e in carried) == ["CreditEvent", "DebitEvent"]
    assert {e["source"] for e in carried} == {"ledger.dispatcher"}
    assert read_models(aws, "alice") == {
        "TotalBalanceForProfile": ("70.00", 2),
        "CurrentMonthBalanceForProfile": ("70.00", 2),
    }


def test_out_of_order_and_duplicate_deliveries_leave_the_newest_state(pipeline, context, aws):
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline, context, "alice", amount)
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    carried = sorted(published(aws), key=lambda e: e["detail"]["version"])
    for event in [carried[2], carried[0], carried[2], carried[1], carried[0]]:
        pipeline["projectors"].lambda_handler(bus_event(event), context)
    assert read_models(aws, "alice")["TotalBalanceForProfile"] == ("6.00", 3)


def test_the_dispatcher_reads_a_bounded_number_of_items_per_event(pipeline, context, aws):
    # GIVEN an account with 1,000 prior events
    from banking.adapters.dynamodb import DynamoDBEventStore
    from banking.application.commands import CommandDependencies, record
    from banking.domain.account import RecordCredit
    from banking.domain.money import Money
    from banking.entrypoints.bootstrap import new_event_id, utc_now

    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    deps = CommandDependencies(store=store, clock=utc_now, new_id=new_event_id)
    for _ in range(1001):
        record(RecordCredit("old", Money(100)), deps)
    envelope = fixture_event("eventbridge_event_stored")
    stored = store.get("old", 1001)
    from banking.application.envelope import EventStored
    from banking.serialization import event_to_dict, snapshot_of

    envelope["detail"] = EventStored.from_item(
        {**event_to_dict(stored.event), "snapshot": snapshot_of(stored.state)}
    ).to_detail()
    items_read: list[int] = []

    def count(parsed, **_):
        items_read.append(len(parsed.get("Items", [])) + (1 if "Item" in parsed else 0))

    pipeline["dispatcher"].store._client.meta.events.register("after-call.dynamodb.*", count)
    # WHEN the newest event is dispatched
    pipeline["dispatcher"].lambda_handler(envelope, context)
    # THEN one item was read, and the aggregate is right
    assert sum(items_read) == 1
    carried = published(aws)[-1]["detail"]
    assert carried["aggregate"]["totalBalance"] == "1001.00"
    assert carried["aggregate"]["version"] == 1001


@pytest.mark.parametrize("change", [{"type": "InterestEvent"}, {"schemaVersion": 2}])
def test_an_unknown_stored_event_fails_its_own_delivery(pipeline, context, aws, change):
    envelope = fixture_event("eventbridge_event_stored")
    credit(pipeline, context, "alice", "12.34")
    envelope["detail"]["payload"].update(change)
    with pytest.raises(Exception, match="unknown"):
        pipeline["dispatcher"].lambda_handler(envelope, context)
    assert published(aws) == []

"""`ledger redrive` on moto: each dead-letter shape goes back where it failed, and a
message is deleted only once it was re-sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, record
from banking.domain.account import RecordCredit
from banking.domain.money import Money
from scripts.ops import redrive
from scripts.ops.__main__ import main
from scripts.ops.redrive import BusEvent, StreamBatch, Unrecognised, parse
from tests.conftest import published
from tests.support import open_accounts

LEDGER = ["--environment", "test"]
CREDIT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "CreditEvent",
    "source": "ledger.dispatcher",
    "account": "123456789012",
    "time": "2026-11-26T07:00:00Z",
    "region": "eu-west-1",
    "resources": [],
    # A parked copy that claims a balance the events table never had: a forgery.
    "detail": {
        "accountId": "bob",
        "version": 2,
        "type": "CreditEvent",
        "aggregate": {"totalBalance": "999999.00"},
    },
}
ENVELOPE: dict[str, Any] = {
    **CREDIT,
    "detail-type": "EventStored",
    "source": "ledger.events",
    "detail": {"accountId": "carol", "version": 2, "type": "CreditEvent"},
}


def _queue(aws: dict[str, Any], short_name: str) -> str:
    url: str = aws["sqs"].create_queue(QueueName=f"ledger-test-{short_name}-dlq")["QueueUrl"]
    return url


def _park(aws: dict[str, Any], url: str, body: Any) -> None:
    aws["sqs"].send_message(QueueUrl=url, MessageBody=json.dumps(body))


def _depth(aws: dict[str, Any], url: str) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _stored_credit(aws: dict[str, Any], account: str) -> dict[str, Any]:
    """Opens the account and stores a credit (version 2); returns the stream's batch info
    of the credit's record."""
    store = open_accounts(DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"]), account)
    deps = CommandDependencies(
        store=store, clock=lambda: datetime.now(UTC), new_id=lambda: f"id-{account}"
    )
    record(RecordCredit(account, Money(1250)), deps)
    streams = aws["streams"]
    arn = aws["dynamodb"].describe_table(TableName=aws["tables"]["events"])["Table"][
        "LatestStreamArn"
    ]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    [stored] = [
        r
        for r in streams.get_records(ShardIterator=iterator)["Records"]
        if r["dynamodb"]["Keys"]["accountId"]["S"] == account
        and r["dynamodb"]["Keys"]["version"]["N"] == "2"
    ]
    sequence = stored["dynamodb"]["SequenceNumber"]
    now = datetime.now(UTC).isoformat()
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": sequence,
            "endSequenceNumber": sequence,
            "approximateArrivalOfFirstRecord": now,
            "approximateArrivalOfLastRecord": now,
            "batchSize": 1,
            "streamArn": arn,
        },
    }


@pytest.fixture
def dlqs(aws: dict[str, Any]) -> dict[str, str]:
    aws["streams"] = boto3.client("dynamodbstreams", region_name="eu-west-1")
    return {
        name: _queue(aws, name)
        for name in (
            "fanout-stream",
            "event-stored",
            "balance-changed",
            "dispatcher-async",
            "projectors-async",
        )
    }


def test_each_dead_letter_shape_is_understood():
    # GIVEN the three shapes a dead-letter queue holds, and junk
    batch = {
        "DDBStreamBatchInfo": {
            "shardId": "s",
            "startSequenceNumber": "1",
            "endSequenceNumber": "3",
            "streamArn": "arn",
        }
    }
    invocation = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": CREDIT}

    # THEN each is read as what it stands for
    assert parse(json.dumps(batch)) == StreamBatch("arn", "s", "1", "3", None, None)
    parked = parse(json.dumps(CREDIT))
    assert isinstance(parked, BusEvent)
    assert (parked.entry.source, parked.entry.detail_type) == ("ledger.dispatcher", "CreditEvent")
    assert parse(json.dumps(invocation)) == parked
    assert isinstance(parse("{not json"), Unrecognised)
    assert isinstance(parse('{"detail": "x"}'), Unrecognised)


def test_redrive_sends_every_parked_message_back_and_empties_the_queues(aws, dlqs):
    # GIVEN a stream batch set aside, an event a rule could not deliver, and a failed
    # async invocation
    _park(aws, dlqs["fanout-stream"], _stored_credit(aws, "alice"))
    _stored_credit(aws, "carol")
    _stored_credit(aws, "bob")
    published(aws)
    _park(aws, dlqs["event-stored"], {**ENVELOPE, "detail": {**ENVELOPE["detail"], "version": 2}})
    _park(aws, dlqs["projectors-async"], {"requestContext": {}, "requestPayload": CREDIT})

    # WHEN every queue is redriven
    assert main([*LEDGER, "redrive", "--all"]) == 0

    # THEN the stored events' envelopes are published afresh as the fanout would, the
    # state-carried event is rebuilt from the events table as the dispatcher builds it
    # (not the parked copy), and the queues are empty
    sent = sorted(published(aws), key=lambda e: e["detail"]["accountId"])
    assert [(e["source"], e["detail-type"], e["detail"]["accountId"]) for e in sent] == [
        ("ledger.events", "EventStored", "alice"),
        ("ledger.dispatcher", "CreditEvent", "bob"),
        ("ledger.events", "EventStored", "carol"),
    ]
    assert sent[0]["detail"]["payload"]["amount"] == "12.50"
    assert sent[0]["detail"]["version"] == 2
    assert sent[1]["detail"]["eventId"] == "id-bob"
    assert sent[1]["detail"]["aggregate"]["totalBalance"] == "12.50"
    assert sent[1]["detail"]["replay"] is False
    assert sent[2]["detail"]["payload"]["eventId"] == "id-carol"
    assert all(_depth(aws, url) == 0 for url in dlqs.values())


def test_a_message_that_cannot_be_redriven_stays_and_fails_the_run(aws, dlqs, capsys):
    _stored_credit(aws, "bob")
    published(aws)
    _park(aws, dlqs["balance-changed"], {"something": "else"})
    _park(aws, dlqs["balance-changed"], CREDIT)

    assert main([*LEDGER, "redrive", "--queue", "balance-changed"]) == 1

    assert [e["detail"]["eventId"] for e in published(aws)] == ["id-bob"]
    assert _depth(aws, dlqs["balance-changed"]) == 1
    assert "1 left" in capsys.readouterr().out


def test_an_envelope_of_an_event_never_stored_stays_parked(aws, dlqs, capsys):
    _park(aws, dlqs["dispatcher-async"], {"requestPayload": ENVELOPE})

    assert main([*LEDGER, "redrive", "--all"]) == 1

    assert published(aws) == []
    assert _depth(aws, dlqs["dispatcher-async"]) == 1
    assert "no stored event ('carol', 2)" in capsys.readouterr().out


def test_a_dry_run_sends_nothing_and_keeps_every_message(aws, dlqs, capsys):
    _stored_credit(aws, "bob")
    published(aws)
    _park(aws, dlqs["dispatcher-async"], {"requestPayload": CREDIT})

    assert main([*LEDGER, "redrive", "--all", "--dry-run"]) == 0

    assert published(aws) == []
    assert _depth(aws, dlqs["dispatcher-async"]) == 1
    assert "would redrive 1" in capsys.readouterr().out


def test_an_unknown_queue_is_refused_with_the_queues_there_are(aws, dlqs):
    with pytest.raises(SystemExit, match="fanout-stream"):
        redrive.select_queues(list(dlqs.values()), "ledger-test", ["nowhere"])


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        ({**CREDIT, "detail": {**CREDIT["detail"], "version": 7}}, "names no readable"),
        ({**CREDIT, "detail-type": "DebitEvent"}, "which is a CreditEvent"),
        ({**CREDIT, "source": "someone.else"}, "unknown source"),
    ],
)
def test_a_state_carried_event_the_events_table_does_not_back_stays_parked(
    aws, dlqs, capsys, forged, reason
):
    # GIVEN bob's one stored credit (version 2), and a parked event that names another
    _stored_credit(aws, "bob")
    published(aws)
    _park(aws, dlqs["balance-changed"], forged)

    # WHEN redriven
    assert main([*LEDGER, "redrive", "--all"]) == 1

    # THEN nothing is sent, and the message stays for a look
    assert published(aws) == []
    assert _depth(aws, dlqs["balance-changed"]) == 1
    assert reason in capsys.readouterr().out


def test_a_parked_replay_event_is_rebuilt_as_a_replay_of_the_same_read_models(aws, dlqs):
    _stored_credit(aws, "bob")
    published(aws)
    parked = {
        **CREDIT,
        "source": "ledger.replay",
        "detail": {**CREDIT["detail"], "readModels": ["TotalBalanceForProfile", "Forged"]},
    }
    _park(aws, dlqs["projectors-async"], {"requestPayload": parked})

    assert main([*LEDGER, "redrive", "--all"]) == 0

    [sent] = published(aws)
    assert (sent["source"], sent["detail"]["replay"]) == ("ledger.replay", True)
    assert sent["detail"]["readModels"] == ["TotalBalanceForProfile"]
    assert sent["detail"]["aggregate"]["totalBalance"] == "12.50"

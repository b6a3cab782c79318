"""`ledger redrive`: send what sits in the dead-letter queues back through the pipeline.

Each queue holds one of three shapes, and each goes back where it failed:

- the stream's on-failure records (`…-fanout-stream-dlq`): a `DDBStreamBatchInfo`
  naming a shard and a range of sequence numbers, not the records. The keys are read
  back from the stream (24 hours on AWS; past that, the events recorded while the
  batch arrived, from the events table), each event is re-read from the events table
  as it is now, and its `EventStored` envelope is published again, as the fanout would;
- an EventBridge target's dead letters (`…-event-stored-dlq`, `…-balance-changed-dlq`):
  the event itself;
- a function's async on-failure records (`…-dispatcher-async-dlq`,
  `…-projectors-async-dlq`): an invocation record whose `requestPayload` is the event.

No parked copy goes back on the bus as it was: a dead-letter queue is only as
trustworthy as whoever could send to it, and a forged state-carried event would land
in the read models (and, being ahead, hold them there). A parked message only says
which stored event to re-send: an `EventStored` envelope gets a fresh envelope, as for
a stream batch, and a state-carried event (any of the seven types) is rebuilt from the
events table as the dispatcher (source `ledger.dispatcher`) or the replay (source `ledger.replay`,
keeping its `readModels`) builds it; that part is `banking.application.redrive`, which
the deterministic simulation runs too. One that names no stored event, or another type
or source, stays parked.

A message is deleted only once what it stands for was re-sent. Everything downstream
is idempotent (version-guarded read models), so a redrive delivers at least once and
never does harm twice. Fix the cause first: a redriven poison event fails again and is
parked again. Only the messages present when the run starts are handled, so a message
parked again meanwhile waits for the next run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from attrs import define, field, frozen
from botocore.exceptions import ClientError

from banking.adapters.dynamodb import DynamoDBEventStore, from_item
from banking.adapters.eventbridge import EventBridgePublisher
from banking.application.ports import BusEntry
from banking.application.redrive import CannotRedrive, envelopes, parked_key, redriven
from banking.serialization import parse_time
from scripts.ops.aws import Ledger, dead_letter_queue_urls

# How long a received message stays hidden while it is re-sent; ample for one message.
VISIBILITY_S = 120
# Events recorded this long around a batch's arrival times are re-sent when the stream
# no longer holds the batch (stream records arrive within about a second of the write).
ARRIVAL_MARGIN = timedelta(seconds=5)


@frozen
class StreamBatch:
    stream_arn: str
    shard_id: str
    start: str
    end: str
    first_arrival: str | None
    last_arrival: str | None


@frozen
class BusEvent:
    entry: BusEntry


@frozen
class Unrecognised:
    reason: str


Parked = StreamBatch | BusEvent | Unrecognised


def parse(body: str) -> Parked:
    """What a dead-letter message stands for."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return Unrecognised("not JSON")
    if not isinstance(data, dict):
        return Unrecognised("not a JSON object")
    info = data.get("DDBStreamBatchInfo")
    if isinstance(info, dict):
        try:
            return StreamBatch(
                stream_arn=str(info["streamArn"]),
                shard_id=str(info["shardId"]),
                start=str(info["startSequenceNumber"]),
                end=str(info["endSequenceNumber"]),
                first_arrival=info.get("approximateArrivalOfFirstRecord"),
                last_arrival=info.get("approximateArrivalOfLastRecord"),
            )
        except KeyError as missing:
            return Unrecognised(f"DDBStreamBatchInfo without {missing}")
    event = data.get("requestPayload", data)  # an async invocation record, or the event
    if isinstance(event, dict) and isinstance(event.get("detail"), dict):
        source, detail_type = event.get("source"), event.get("detail-type")
        if isinstance(source, str) and isinstance(detail_type, str):
            return BusEvent(BusEntry(source, detail_type, event["detail"]))
    return Unrecognised("neither stream batch info nor an EventBridge event")


@define
class QueueResult:
    name: str
    found: int = 0
    redriven: int = 0
    # (account, version) of every event re-sent (or that would be, in a dry run)
    events: list[tuple[str, int]] = field(factory=list)
    left: list[str] = field(factory=list)

    @property
    def events_sent(self) -> int:
        return len(self.events)


class Redriver:
    def __init__(self, ledger: Ledger, out: TextIO) -> None:
        self._ledger = ledger
        self._sqs = ledger.client("sqs")
        self._dynamodb = ledger.client("dynamodb")
        self._store = DynamoDBEventStore(
            self._dynamodb, ledger.events_table, legacy=ledger.legacy_terms
        )
        self._streams = ledger.client("dynamodbstreams")
        self._bus = EventBridgePublisher(ledger.client("events"), ledger.prefix)
        self._out = out

    def redrive(self, queue_url: str, *, dry_run: bool = False) -> QueueResult:
        result = QueueResult(queue_url.rsplit("/", 1)[-1])
        received: list[dict[str, Any]] = []
        for message in self._messages(queue_url):
            result.found += 1
            parked = parse(message["Body"])
            try:
                if isinstance(parked, Unrecognised):
                    raise CannotRedrive(parked.reason)
                entries = self._entries(parked)
                if dry_run:
                    received.append(message)
                    self._say(f"  would re-send {len(entries)} event(s): {_describe(parked)}")
                else:
                    self._publish(entries)
                    self._sqs.delete_message(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            except (CannotRedrive, ClientError) as error:
                received.append(message)
                result.left.append(f"{message['MessageId']}: {error}")
                continue
            result.redriven += 1
            result.events += [parked_key(entry) for entry in entries]
        for message in received:  # visible again at once, for the next run or a look
            self._sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return result

    def _messages(self, queue_url: str) -> Iterator[dict[str, Any]]:
        """The messages present now (not those parked again while this runs)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        remaining = int(attributes["ApproximateNumberOfMessages"])
        seen: set[str] = set()
        while remaining > 0:
            page = self._sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, remaining),
                VisibilityTimeout=VISIBILITY_S,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            fresh = [m for m in page if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                remaining -= 1
                yield message

    def _entries(self, parked: StreamBatch | BusEvent) -> list[BusEntry]:
        if isinstance(parked, StreamBatch):
            keys = self._stream_keys(parked)
            return envelopes(self._keys_by_arrival(parked) if keys is None else keys, self._item)
        return redriven(parked.entry, self._store, self._item)

    def _item(self, account_id: str, version: int) -> dict[str, Any] | None:
        item = self._dynamodb.get_item(
            TableName=self._ledger.events_table,
            Key={"accountId": {"S": account_id}, "version": {"N": str(version)}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else from_item(item)

    def _stream_keys(self, batch: StreamBatch) -> list[tuple[str, int]] | None:
        """The (account, version) of every record of the batch, or None when the stream
        no longer holds them."""
        try:
            iterator = self._streams.get_shard_iterator(
                StreamArn=batch.stream_arn,
                ShardId=batch.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=batch.start,
            )["ShardIterator"]
        except ClientError:
            return None  # trimmed (past 24 hours), or the stream itself is gone
        end = int(batch.end)
        keys: list[tuple[str, int]] = []
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                if int(record["dynamodb"]["SequenceNumber"]) > end:
                    return keys
                key = record["dynamodb"]["Keys"]
                keys.append((str(key["accountId"]["S"]), int(key["version"]["N"])))
            if not page["Records"]:
                return keys  # the end of what the shard holds
            iterator = page.get("NextShardIterator")
        return keys

    def _keys_by_arrival(self, batch: StreamBatch) -> list[tuple[str, int]]:
        if not (batch.first_arrival and batch.last_arrival):
            raise CannotRedrive("the stream no longer holds the batch and it has no times")
        since = datetime.fromisoformat(batch.first_arrival) - ARRIVAL_MARGIN
        until = datetime.fromisoformat(batch.last_arrival) + ARRIVAL_MARGIN
        keys: list[tuple[str, int]] = []
        for page in self._dynamodb.get_paginator("scan").paginate(
            TableName=self._ledger.events_table,
            ProjectionExpression="accountId, version, recordedAt",
        ):
            for item in page["Items"]:
                if since <= parse_time(item["recordedAt"]["S"]) <= until:
                    keys.append((str(item["accountId"]["S"]), int(item["version"]["N"])))
        return keys

    def _publish(self, entries: Sequence[BusEntry]) -> None:
        failed = self._bus.publish(entries)
        if failed:
            raise CannotRedrive(f"the bus rejected {len(failed)} of {len(entries)} event(s)")

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)


def _describe(parked: StreamBatch | BusEvent) -> str:
    if isinstance(parked, StreamBatch):
        return f"stream batch {parked.start}..{parked.end} of {parked.shard_id}"
    detail = parked.entry.detail
    return (
        f"{parked.entry.detail_type} from {parked.entry.source} "
        f"({detail.get('accountId')} v{detail.get('version')})"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "redrive", help="send what sits in dead-letter queues back through the pipeline"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--queue",
        action="append",
        dest="queues",
        metavar="NAME",
        help="a dead-letter queue, by name or short name (fanout-stream, "
        "dispatcher-async, …); repeatable",
    )
    which.add_argument("--all", action="store_true", help="every dead-letter queue")
    parser.add_argument("--dry-run", action="store_true", help="say what would be re-sent")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    results = redrive_queues(Ledger.from_args(args), args.queues, dry_run=args.dry_run)
    return 1 if any(result.left for result in results) else 0


def redrive_queues(
    ledger: Ledger,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    out: TextIO | None = None,
) -> list[QueueResult]:
    """Redrive the queues named (every dead-letter queue by default), saying how it went."""
    out = out or sys.stdout
    redriver = Redriver(ledger, out)
    results = []
    for url in select_queues(dead_letter_queue_urls(ledger), ledger.prefix, names):
        result = redriver.redrive(url, dry_run=dry_run)
        verb = "would redrive" if dry_run else "redriven"
        print(
            f"{result.name}: {result.found} message(s), {verb} {result.redriven}, "
            f"{result.events_sent} event(s) re-sent, {len(result.left)} left",
            file=out,
        )
        for reason in result.left:
            print(f"  left: {reason}", file=out)
        results.append(result)
    return results


def select_queues(urls: Sequence[str], prefix: str, names: Sequence[str] | None) -> list[str]:
    if not names:
        return list(urls)
    by_name = {url.rsplit("/", 1)[-1]: url for url in urls}
    chosen = []
    for name in names:
        full = name if name in by_name else f"{prefix}-{name.removesuffix('-dlq')}-dlq"
        if full not in by_name:
            raise SystemExit(f"no dead-letter queue {name!r}; there are: {', '.join(by_name)}")
        chosen.append(by_name[full])
    return chosen

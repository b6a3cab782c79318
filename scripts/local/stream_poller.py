"""The DynamoDB stream → Lambda event source mapping, which moto does not run.

Like Lambda's poller: reads each shard in order with the dynamodbstreams API, invokes
the function with batches of up to BatchSize records shaped as Lambda shapes them, and
moves on only once a batch succeeded or was set aside. A failed batch is retried
(from the lowest failed sequence number when the function reports batch item
failures), bisected on function errors when asked, and after MaximumRetryAttempts or
MaximumRecordAgeInSeconds its description goes to the OnFailure destination.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from scripts.local.aws import Moto
from scripts.local.destinations import Destinations, now_iso
from scripts.local.faults import DEAD_LETTERED, DUPLICATE, SHARD_SPLIT, STREAM_RETRY, Faults
from scripts.local.logs import Logs
from scripts.local.threads import Workers
from scripts.local.wiring import UNLIMITED, StreamMapping
from scripts.local.workers import Outcome

Invoke = Callable[[str, Any], Outcome]
# Between two empty polls when the moto server cannot say when records arrive (one
# without our route, or the route failing): about Lambda's own four polls a second.
IDLE_POLL_S = 0.2
# The longest one wait for new records lasts: how soon a stop is noticed at worst.
RECORDS_WAIT_S = 1.0


class RecordWaiter:
    """Waits, after an empty poll, until the moto server has written a stream record
    since the last wait (scripts.local.moto_server's /_local/stream-records): a record
    reaches its function a few milliseconds after it is written instead of up to
    IDLE_POLL_S later, and an idle poller asks moto nothing. Any record written after
    the previous wait returned ends the next one at once, so none is waited past."""

    def __init__(self, endpoint_url: str, stopped: threading.Event) -> None:
        self._url = f"{endpoint_url}/_local/stream-records"
        self._stopped = stopped
        self._session = requests.Session()
        self._seen = -1  # the first wait answers at once, with the count so far

    def wait(self) -> None:
        try:
            answer = self._session.get(
                self._url,
                params={"after": self._seen, "timeout": RECORDS_WAIT_S},
                timeout=RECORDS_WAIT_S + 10,
            )
            answer.raise_for_status()
            self._seen = int(answer.json()["count"])
        except (requests.RequestException, ValueError, KeyError, TypeError):
            self._stopped.wait(IDLE_POLL_S)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda puts it in the event (epoch seconds, base64 binaries)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": _wire_format(dynamodb),
        "eventSourceARN": stream_arn,
    }


def _wire_format(value: Any) -> Any:
    """boto3 decodes binary attribute values; Lambda hands them over base64-encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire_format(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_format(v) for v in value]
    return value


class _Failed(Exception):
    """A batch whose records from ``index`` on are to be retried."""

    def __init__(self, index: int, whole_batch: bool) -> None:
        super().__init__(index)
        self.index = index
        self.whole_batch = whole_batch


class ShardPoller:
    def __init__(
        self,
        moto: Moto,
        mapping: StreamMapping,
        shard_id: str,
        invoke: Invoke,
        destinations: Destinations,
        logs: Logs,
        function_name: str,
        retry_delays_s: tuple[float, ...],
        stopped: threading.Event,
        faults: Faults | None = None,
    ) -> None:
        self._streams = moto.client("dynamodbstreams")
        self._faults = faults or Faults.off()
        self._mapping = mapping
        self._shard_id = shard_id
        self._invoke = invoke
        self._destinations = destinations
        self._logs = logs
        self._function_name = function_name
        self._retry_delays_s = retry_delays_s
        self._stopped = stopped
        self._records = RecordWaiter(moto.endpoint_url, stopped)

    def run(self) -> None:
        iterator = self._iterator(self._mapping.starting_position)
        while not self._stopped.is_set():
            if not iterator:
                # A closed shard read to its end (a split): its records continue on its
                # child, read from its start only now, so each account's stay in order.
                iterator = self._follow_child()
                continue
            try:
                page = self._streams.get_records(
                    ShardIterator=iterator, Limit=self._mapping.batch_size
                )
            except Exception as exc:  # noqa: BLE001 - a poller outlives moto hiccups
                self._logs.write("runtime", f"stream poll failed: {exc}")
                time.sleep(1)
                continue
            records = [lambda_record(r, self._mapping.stream_arn) for r in page["Records"]]
            if records:
                self._deliver(records)
            else:
                self._records.wait()
            iterator = page.get("NextShardIterator")

    def _iterator(self, position: str) -> str | None:
        answer = self._streams.get_shard_iterator(
            StreamArn=self._mapping.stream_arn, ShardId=self._shard_id, ShardIteratorType=position
        )
        return str(answer["ShardIterator"])

    def _follow_child(self) -> str | None:
        shards = self._streams.describe_stream(StreamArn=self._mapping.stream_arn)
        children = [
            shard["ShardId"]
            for shard in shards["StreamDescription"]["Shards"]
            if shard.get("ParentShardId") == self._shard_id
        ]
        if not children:
            self._stopped.wait(IDLE_POLL_S)
            return None
        self._shard_id = children[0]
        self._faults.note(SHARD_SPLIT, self._function_name)
        return self._iterator("TRIM_HORIZON")

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke until every record succeeded or was set aside, in sequence order."""
        attempts = 0
        while records and not self._stopped.is_set():
            try:
                self._invoke_batch(records)
                return
            except _Failed as failed:
                records = records[failed.index :]
                if failed.whole_batch and self._mapping.bisect_on_error and len(records) > 1:
                    # Bisecting halves the batch until the poison record is alone, so the
                    # records around it are delivered; halving costs no retry attempt.
                    middle = len(records) // 2
                    self._deliver(records[:middle])
                    self._deliver(records[middle:])
                    return
            attempts += 1
            if self._too_old(records[0]):
                self._set_aside(records, attempts, "RecordAgeExceeded")
                return
            limit = self._mapping.max_retry_attempts
            if limit != UNLIMITED and attempts > limit:
                self._set_aside(records, attempts, "RetryAttemptsExhausted")
                return
            self._faults.note(STREAM_RETRY, self._function_name)
            self._stopped.wait(self._retry_delays_s[min(attempts, len(self._retry_delays_s)) - 1])

    def _invoke_batch(self, records: list[dict[str, Any]]) -> None:
        outcome = self._invoke(self._mapping.function_arn, {"Records": records})
        if not outcome.failed and self._faults.inject(DUPLICATE, self._function_name):
            outcome = self._invoke(self._mapping.function_arn, {"Records": records})
        if outcome.failed:
            raise _Failed(0, whole_batch=True)
        if not self._mapping.report_batch_item_failures:
            return
        failures = (outcome.result or {}).get("batchItemFailures") or []
        if not failures:
            return
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed_ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in sequence_numbers for i in failed_ids):
            # Lambda treats an empty, null or unknown identifier as a failure of the batch.
            raise _Failed(0, whole_batch=True)
        raise _Failed(min(sequence_numbers.index(i) for i in failed_ids), whole_batch=False)

    def _too_old(self, record: dict[str, Any]) -> bool:
        limit = self._mapping.max_record_age_s
        created = record["dynamodb"].get("ApproximateCreationDateTime", time.time())
        return limit != UNLIMITED and time.time() - float(created) > limit

    def _set_aside(self, records: list[dict[str, Any]], attempts: int, condition: str) -> None:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self._logs.write(
            self._function_name,
            f"{len(records)} stream record(s) {first['SequenceNumber']}..{last['SequenceNumber']}"
            f" set aside: {condition}",
        )
        self._faults.note(DEAD_LETTERED, self._function_name)
        if not self._mapping.on_failure_arn:
            return
        self._destinations.send(
            self._mapping.on_failure_arn,
            {
                "requestContext": {
                    "requestId": "",
                    "functionArn": self._mapping.function_arn,
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "version": "1.0",
                "timestamp": now_iso(),
                "DDBStreamBatchInfo": {
                    "shardId": self._shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _iso(first),
                    "approximateArrivalOfLastRecord": _iso(last),
                    "batchSize": len(records),
                    "streamArn": self._mapping.stream_arn,
                },
            },
        )


def _iso(dynamodb: dict[str, Any]) -> str:
    created = float(dynamodb.get("ApproximateCreationDateTime", time.time()))
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds")


class StreamPollers:
    """One poller thread per shard of every stream mapping."""

    def __init__(
        self,
        moto: Moto,
        mappings: tuple[StreamMapping, ...],
        invoke: Invoke,
        function_names: dict[str, str],
        destinations: Destinations,
        logs: Logs,
        retry_delays_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0),
        faults: Faults | None = None,
    ) -> None:
        self._moto = moto
        self._faults = faults
        self._mappings = mappings
        self._invoke = invoke
        self._function_names = function_names
        self._destinations = destinations
        self._logs = logs
        self._retry_delays_s = retry_delays_s
        self._workers = Workers()
        self._stopped = self._workers.stopped

    def start(self) -> None:
        streams = self._moto.client("dynamodbstreams")
        for mapping in self._mappings:
            shards = streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
            listed = {shard["ShardId"] for shard in shards["Shards"]}
            # A child shard is read by its parent's poller, once the parent is done.
            for shard in (s for s in shards["Shards"] if s.get("ParentShardId") not in listed):
                poller = ShardPoller(
                    self._moto,
                    mapping,
                    shard["ShardId"],
                    self._invoke,
                    self._destinations,
                    self._logs,
                    self._function_names[mapping.function_arn],
                    self._retry_delays_s,
                    self._stopped,
                    self._faults,
                )
                self._workers.start(poller.run, name="stream-poller")

    def request_stop(self) -> None:
        self._workers.request_stop()

    def stop(self) -> None:
        self._workers.stop()

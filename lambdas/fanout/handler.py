"""The events table's only stream reader: publish every new event to the bus as a
generic "EventStored" envelope, reporting partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBStreamEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.fanout import StreamChange, fan_out
from banking.entrypoints.bootstrap import publisher
from banking.entrypoints.observability import logger, metrics, traced
from banking.entrypoints.settings import Settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
bus = publisher(Settings.from_env())


class RecordNotPublished(Exception):
    pass


@logger.inject_lambda_context(log_event=False)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes = [_change(record) for record in DynamoDBStreamEvent(event).records]
    failures = fan_out(changes, bus)
    metrics.add_metric(
        name="EventsFannedOut", unit=MetricUnit.Count, value=len(changes) - len(failures)
    )
    metrics.add_metric(name="FanoutRecordsFailed", unit=MetricUnit.Count, value=len(failures))
    published = {change.record_id: change for change in changes if change.record_id not in failures}

    def report(record: DynamoDBRecord) -> None:
        record_id = _record_id(record)
        if record_id in failures:
            # Set aside for a retry or the dead-letter queue: an operator needs to see it.
            logger.error(
                "not published", extra={"recordId": record_id, "reason": failures[record_id]}
            )
            raise RecordNotPublished(failures[record_id])
        new_item = published[record_id].new_item or {}
        logger.debug(
            "published",
            extra={
                "accountId": new_item.get("accountId"),
                "version": int(new_item.get("version", 0)),
                "correlation_id": new_item.get("correlationId"),
            },
        )

    return process_partial_response(
        event=event, record_handler=report, processor=processor, context=context
    )


def _record_id(record: DynamoDBRecord) -> str:
    return str(record.dynamodb.sequence_number if record.dynamodb else record.event_id)


def _change(record: DynamoDBRecord) -> StreamChange:
    image = record.dynamodb.new_image if record.dynamodb else None
    name = record.event_name.name if record.event_name else "UNKNOWN"
    return StreamChange(record_id=_record_id(record), change=name, new_item=image or None)

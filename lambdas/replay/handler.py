"""Replay one parallel-scan segment of the events table (or one account) onto the bus,
as `ledger.replay` events only projections receive.

Payload: {segment, totalSegments, startKey?, rateLimit?, target?, everyEvent?,
dryRun?, accountId?}; answer: {read, published, failures, lastEvaluatedKey}. It stops
well before its timeout and answers where it stopped: the caller invokes it again
from `lastEvaluatedKey` until that is null.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.replay import ReplayJob, result_to_payload, run_job
from banking.entrypoints.bootstrap import BATCH_READ_TIMEOUT_S, event_store, publisher
from banking.entrypoints.observability import logger, metrics, traced
from banking.entrypoints.settings import Settings

settings = Settings.from_env()
store = event_store(settings, read_timeout_s=BATCH_READ_TIMEOUT_S)
bus = publisher(settings)

# Time kept back for the last batch and the answer (a page of items, one PutEvents).
STOP_BEFORE_TIMEOUT_MS = 15_000


@logger.inject_lambda_context(log_event=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = ReplayJob.from_payload(event)
    result = run_job(
        job,
        store,
        bus,
        should_stop=lambda: context.get_remaining_time_in_millis() < STOP_BEFORE_TIMEOUT_MS,
    )
    metrics.add_metric(name="ReplayedEvents", unit=MetricUnit.Count, value=result.published)
    logger.info(
        "replayed",
        extra={
            "segment": job.segment,
            "read": result.read,
            "published": result.published,
            "failures": len(result.failures),
            "finished": result.cursor is None,
        },
    )
    return result_to_payload(result)

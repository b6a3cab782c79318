"""Keep the balance read models from state-carried events, newest version wins."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.projection import project_balances
from banking.entrypoints.bootstrap import projection_store, utc_now
from banking.entrypoints.observability import logger, metrics, tracer
from banking.entrypoints.settings import Settings
from banking.serialization import state_carried_from_dict

projections = projection_store(Settings.from_env())


@logger.inject_lambda_context(correlation_id_path="detail.correlationId")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    carried = state_carried_from_dict(EventBridgeEvent(event).detail)
    written = project_balances(carried, projections)
    # From the moment the command stored the event to this read model write.
    lag = (utc_now() - carried.recorded_at).total_seconds() * 1000
    metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=lag)
    metrics.add_metric(name="ReadModelWrites", unit=MetricUnit.Count, value=sum(written.values()))
    logger.info(
        "projected",
        extra={"accountId": carried.account_id, "version": carried.version, "written": written},
    )

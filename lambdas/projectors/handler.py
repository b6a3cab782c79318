"""Keep the read models from state-carried events, newest version wins.

A replay may name the read models it rebuilds (`detail.readModels`); the others are
left alone, which spares their conditional writes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.projection import KEPT_READ_MODELS, project
from banking.entrypoints.bootstrap import projection_store, utc_now
from banking.entrypoints.observability import logger, metrics, traced
from banking.entrypoints.settings import Settings
from banking.serialization import state_carried_from_dict

projections = projection_store(Settings.from_env())


@logger.inject_lambda_context(correlation_id_path="detail.correlationId", log_event=False)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    # The detail is all the event carries for us: powertools' EventBridgeEvent would
    # import its whole data_classes package (some 20 ms of CPU per cold start) for a key.
    detail = event["detail"]
    carried = state_carried_from_dict(detail)
    written = project(carried, projections, detail.get("readModels") or KEPT_READ_MODELS)
    # From the moment the command stored the event to this read model write.
    lag = (utc_now() - carried.recorded_at).total_seconds() * 1000
    metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=lag)
    metrics.add_metric(name="ReadModelWrites", unit=MetricUnit.Count, value=sum(written.values()))
    logger.debug(
        "projected",
        extra={"accountId": carried.account_id, "version": carried.version, "written": written},
    )

"""Release every pending hold past its expiry (`HoldExpired`), run every minute by a
schedule. Overlapping runs and captures racing it are safe: each release is a
conditional write on the account's version and the hold's status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.holds import expire_holds
from banking.entrypoints.bootstrap import command_dependencies, event_store
from banking.entrypoints.observability import count, logger, metrics, traced
from banking.entrypoints.settings import Settings

settings = Settings.from_env()
dependencies = command_dependencies(settings, on_conflict=lambda: count("VersionConflictRetried"))
# The holds table's expiry index: which holds are due, without a scan.
index = event_store(settings, with_holds=True)


@logger.inject_lambda_context(log_event=False)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    run = expire_holds(index, dependencies)
    metrics.add_metric(name="HoldsExpired", unit=MetricUnit.Count, value=run.expired)
    logger.info(
        "holds expired", extra={"expired": run.expired, "alreadyResolved": run.already_resolved}
    )
    return {"expired": run.expired, "alreadyResolved": run.already_resolved}

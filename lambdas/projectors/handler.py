"""Keep the balance read models from state-carried events, newest version wins."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.projection import project_balances
from banking.entrypoints.bootstrap import projection_store
from banking.entrypoints.settings import Settings
from banking.serialization import state_carried_from_dict

logger = Logger()
projections = projection_store(Settings.from_env())


@logger.inject_lambda_context(correlation_id_path="detail.correlationId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    carried = state_carried_from_dict(EventBridgeEvent(event).detail)
    written = project_balances(carried, projections)
    logger.info(
        "projected",
        extra={"accountId": carried.account_id, "version": carried.version, "written": written},
    )

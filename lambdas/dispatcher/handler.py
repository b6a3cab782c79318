"""Turn the generic "EventStored" envelope into a typed, state-carried CreditEvent or
DebitEvent carrying the aggregate as of the event's version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.dispatch import bus_entry, state_carried_event
from banking.application.envelope import EventStored
from banking.entrypoints.bootstrap import event_store, publisher
from banking.entrypoints.observability import count, logger, metrics, traced
from banking.entrypoints.settings import Settings

settings = Settings.from_env()
store = event_store(settings)
bus = publisher(settings)


class NotPublished(Exception):
    pass


@logger.inject_lambda_context(correlation_id_path="detail.correlationId", log_event=False)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    # Any exception fails this one event: EventBridge retries it per the target's
    # policy, then sends it to the target's dead-letter queue.
    # The detail is all the event carries for us: powertools' EventBridgeEvent would
    # import its whole data_classes package (some 20 ms of CPU per cold start) for a key.
    envelope = EventStored.from_detail(event["detail"])
    carried = state_carried_event(envelope, store)
    entry = bus_entry(carried, correlation_id=envelope.correlation_id, replay=envelope.replay)
    if bus.publish([entry]):
        raise NotPublished(
            f"the bus rejected {carried.type} {carried.account_id}/{carried.version}"
        )
    count("EventsDispatched", type=carried.type)
    logger.debug(
        "dispatched",
        extra={"accountId": carried.account_id, "version": carried.version, "type": carried.type},
    )

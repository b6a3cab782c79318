"""Wiring: build each function's dependencies once, from its environment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.config import Config

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.adapters.eventbridge import EventBridgePublisher
from banking.entrypoints import sdk
from banking.entrypoints.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

    from banking.application.commands import CommandDependencies

# The SDK's share of the API path's time budget (docs/infrastructure.md, "Time budgets"):
# one call, all its attempts and the back-off between them included, ends within
# SDK_CALL_BUDGET_S, which is less than the functions' timeout (terraform/modules/ledger),
# itself less than API Gateway's integration timeout (tests/infra/test_time_budgets.py).
# Standard retry mode retries throttling and transient errors; after the n-th failed
# attempt it waits a random time of at most 2^(n-1) s. DynamoDB answers in milliseconds:
# a call that has not answered in a second is retried rather than waited for.
SDK_MAX_ATTEMPTS = 3
SDK_CONNECT_TIMEOUT_S = 1.0
SDK_READ_TIMEOUT_S = 1.0
SDK_CALL_BUDGET_S = SDK_MAX_ATTEMPTS * (SDK_CONNECT_TIMEOUT_S + SDK_READ_TIMEOUT_S) + sum(
    2.0**failed for failed in range(SDK_MAX_ATTEMPTS - 1)
)
# A command starts its write only with time for the write and, should it conflict, the
# read that tells whether it was its own.
COMMAND_WRITE_BUDGET_S = 2 * SDK_CALL_BUDGET_S

_CLIENT_CONFIG = Config(
    # total_max_attempts counts the first try; botocore's max_attempts would not, and
    # would make one call a try longer than the budget above.
    retries={"mode": "standard", "total_max_attempts": SDK_MAX_ATTEMPTS},
    connect_timeout=SDK_CONNECT_TIMEOUT_S,
    read_timeout=SDK_READ_TIMEOUT_S,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


# A batch function (the replay) reads whole 1 MB scan pages and has minutes with no
# caller waiting: it gives an answer as long as the SDK's default does.
BATCH_READ_TIMEOUT_S = 60


def dynamodb_client(*, read_timeout_s: float | None = None) -> DynamoDBClient:
    config = _CLIENT_CONFIG
    if read_timeout_s is not None:
        config = config.merge(Config(read_timeout=read_timeout_s))
    return sdk.default_session().client("dynamodb", config=config)


def events_client() -> EventBridgeClient:
    return sdk.default_session().client("events", config=_CLIENT_CONFIG)


def event_store(
    settings: Settings,
    *,
    with_idempotency: bool = False,
    with_transfers: bool = False,
    read_timeout_s: float | None = None,
    with_holds: bool = False,
) -> DynamoDBEventStore:
    return DynamoDBEventStore(
        dynamodb_client(read_timeout_s=read_timeout_s),
        settings.required("EVENTS_TABLE_NAME"),
        settings.required("IDEMPOTENCY_TABLE_NAME") if with_idempotency else None,
        transfers_table=settings.required("TRANSFERS_TABLE_NAME") if with_transfers else None,
        holds_table=settings.required("HOLDS_TABLE_NAME") if with_holds else None,
        clock=utc_now,
        legacy=settings.legacy_terms,
    )


def projection_store(settings: Settings) -> DynamoDBProjectionStore:
    return DynamoDBProjectionStore(dynamodb_client(), settings.required("PROJECTIONS_TABLE_NAME"))


def publisher(settings: Settings) -> EventBridgePublisher:
    return EventBridgePublisher(events_client(), settings.required("EVENT_BUS_NAME"))


def command_dependencies(
    settings: Settings, *, on_conflict: Callable[[], None] = lambda: None
) -> CommandDependencies:
    # Imported here: the use cases of commands (and the domain's decisions they bring)
    # are a cost at import for the functions that never run one (docs/benchmarks.md).
    from banking.application.commands import CommandDependencies, CommandSettings

    return CommandDependencies(
        on_conflict=on_conflict,
        store=event_store(settings, with_idempotency=True, with_transfers=True, with_holds=True),
        clock=utc_now,
        new_id=new_event_id,
        settings=CommandSettings(zone=settings.zone, write_budget_seconds=COMMAND_WRITE_BUDGET_S),
    )

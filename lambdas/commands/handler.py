"""HTTP commands: record a credit or a debit on an account."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.commands import record
from banking.entrypoints.auth import Access, authorized_account, principal_of
from banking.entrypoints.bootstrap import command_dependencies
from banking.entrypoints.http import json_response, parse_json_body, register_error_handlers
from banking.entrypoints.observability import count, logger, metrics, tracer
from banking.entrypoints.requests import correlation_id, idempotency_key, transaction_command
from banking.entrypoints.responses import event_body
from banking.entrypoints.settings import Settings

app = APIGatewayHttpResolver()
register_error_handlers(app, on_error=lambda error: count("CommandRejected", code=error.code))
dependencies = command_dependencies(
    Settings.from_env(), on_conflict=lambda: count("VersionConflictRetried")
)


@app.post("/accounts/<account_id>/credits")
def credit(account_id: str) -> Response[str]:
    return _record("credit", account_id)


@app.post("/accounts/<account_id>/debits")
def debit(account_id: str) -> Response[str]:
    return _record("debit", account_id)


def _record(kind: str, account_id: str) -> Response[str]:
    # Who may write is settled before the body is even parsed.
    account_id = authorized_account(app.current_event.raw_event, account_id, Access.WRITE)
    principal = principal_of(app.current_event.raw_event).subject
    key = idempotency_key(app.current_event.headers)
    command = transaction_command(kind, account_id, parse_json_body(app))
    event = record(
        command,
        dependencies,
        idempotency_key=key,
        caller=principal,
        correlation_id=logger.get_correlation_id(),
        time_left=lambda: app.lambda_context.get_remaining_time_in_millis() / 1000,
    )
    # The audit trail: who recorded what where (never the amount or the description).
    logger.info(
        "recorded",
        extra={"accountId": account_id, "version": event.version, "principal": principal},
    )
    count("CommandAccepted", type=kind)
    return json_response(201, event_body(event))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    request_id = str((event.get("requestContext") or {}).get("requestId", ""))
    logger.set_correlation_id(correlation_id(headers, request_id))
    return app.resolve(event, context)

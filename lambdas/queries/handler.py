"""HTTP queries: balances from the read models, history from the events table.

Also the API's `$default` route, so an unknown route answers in the API's error format.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.queries import balance, history, statement
from banking.domain.errors import InvalidRequest
from banking.entrypoints.auth import Access, authorized_account
from banking.entrypoints.bootstrap import event_store, projection_store, utc_now
from banking.entrypoints.http import json_response, register_error_handlers
from banking.entrypoints.observability import logger, metrics, tracer
from banking.entrypoints.responses import balance_body, history_body, statement_body
from banking.entrypoints.settings import Settings

app = APIGatewayHttpResolver()
register_error_handlers(app)
settings = Settings.from_env()
events = event_store(settings)
projections = projection_store(settings)

DEFAULT_PAGE, MAX_PAGE = 50, 100
_QUERY_PARAMETERS = {"after", "limit"}


@app.get("/accounts/<account_id>/balance")
def get_balance(account_id: str) -> Response[str]:
    account_id = _readable(account_id)
    current = balance(account_id, projections, clock=utc_now, zone=settings.zone)
    return json_response(200, balance_body(current))


@app.get("/accounts/<account_id>/statements/<month>")
def get_statement(account_id: str, month: str) -> Response[str]:
    account_id = _readable(account_id)
    found = statement(account_id, month, projections, events)
    return json_response(200, statement_body(account_id, found))


@app.get("/accounts/<account_id>/events")
def get_events(account_id: str) -> Response[str]:
    account_id = _readable(account_id)
    parameters = app.current_event.query_string_parameters or {}
    unknown = sorted(set(parameters) - _QUERY_PARAMETERS)
    if unknown:
        raise InvalidRequest(f"unknown query parameter(s) {', '.join(map(repr, unknown))}")
    after = _integer(parameters, "after", default=0, low=0, high=2**53)
    limit = _integer(parameters, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    page = history(account_id, events, after=after, limit=limit)
    return json_response(200, history_body(page))


def _readable(account_id: str) -> str:
    return authorized_account(app.current_event.raw_event, account_id, Access.READ)


def _integer(parameters: dict[str, str], name: str, *, default: int, low: int, high: int) -> int:
    raw = parameters.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 16) or not low <= int(raw) <= high:
        raise InvalidRequest(f"query parameter {name!r} must be an integer from {low} to {high}")
    return int(raw)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

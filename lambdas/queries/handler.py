"""HTTP queries: an account's settings (events table) and balances (read models), its
history, statements, "my accounts", transfers and holds.

Also the API's `$default` route, so an unknown route answers in the API's error format.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.history import history_between, state_at
from banking.application.holds import find_hold, holds_of
from banking.application.ports import HoldStatus
from banking.application.queries import accounts_of, balance, history, statement, transfer
from banking.application.statements import statement_entries
from banking.domain.account import Account
from banking.domain.errors import InvalidRequest
from banking.domain.identifiers import validate_account_id
from banking.entrypoints.auth import (
    READ_ANY_ACCOUNT,
    Access,
    Forbidden,
    principal_of,
    readable,
)
from banking.entrypoints.bootstrap import event_store, projection_store, utc_now
from banking.entrypoints.http import json_response, register_error_handlers
from banking.entrypoints.instants import parse_instant
from banking.entrypoints.observability import logger, metrics, traced
from banking.entrypoints.requests import hold_id_of, transfer_id_of
from banking.entrypoints.responses import (
    account_body,
    account_page_body,
    balance_body,
    history_body,
    hold_body,
    hold_page_body,
    state_balance,
    statement_body,
    transfer_body,
)
from banking.entrypoints.settings import Settings
from banking.entrypoints.statements_csv import (
    CSV,
    CSV_CONTENT_TYPE,
    filename,
    negotiate,
    statement_csv,
)
from banking.serialization import format_time

app = APIGatewayHttpResolver()
settings = Settings.from_env()
events = event_store(settings, with_transfers=True, with_holds=True)
projections = projection_store(settings)
register_error_handlers(app, owners_of=lambda account_id: events.load(account_id).owners)
# As docs/openapi.yaml states them: a subject is printable ASCII without spaces.
_SUBJECT = re.compile(r"\A[\x21-\x7e]{1,128}\Z")

DEFAULT_PAGE, MAX_PAGE = 50, 100
_MAX_CURSOR = 64


@app.get("/accounts/<account_id>")
def get_account(account_id: str) -> Response[str]:
    account = _readable(account_id)
    current = balance(account, projections, clock=utc_now, zone=settings.zone)
    return json_response(200, account_body(account, current))


@app.get("/accounts")
def list_accounts() -> Response[str]:
    principal = principal_of(app.current_event.raw_event)
    parameters = _parameters({"owner", "limit", "after"})
    owner = parameters.get("owner")
    if not owner or not _SUBJECT.match(owner):
        raise InvalidRequest(
            "query parameter 'owner' is required: 'me' or a subject of 1 to 128 printable "
            "ASCII characters"
        )
    owner = principal.subject if owner == "me" else owner
    if owner != principal.subject and READ_ANY_ACCOUNT not in principal.scopes:
        raise Forbidden(f"listing another subject's accounts needs the scope {READ_ANY_ACCOUNT}")
    after = parameters.get("after")
    if after is not None and not 1 <= len(after) <= _MAX_CURSOR:
        raise InvalidRequest("query parameter 'after' is not a cursor this API gave")
    limit = _integer(parameters, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    page = accounts_of(owner, projections, after=after, limit=limit)
    return json_response(200, account_page_body(page))


@app.get("/accounts/<account_id>/balance")
def get_balance(account_id: str) -> Response[str]:
    account = _readable(account_id)
    at = _parameters({"at"}).get("at")
    if at is not None:
        return _balance_at(account, parse_instant("at", at))
    current = balance(account, projections, clock=utc_now, zone=settings.zone)
    return json_response(200, balance_body(current, account.currency.code))


def _balance_at(account: Account, moment: datetime) -> Response[str]:
    """The balances as they stood at `moment`, from the events table (consistent),
    with the version they stood at and the month of `moment`."""
    past = state_at(account.account_id, moment, events, clock=utc_now)
    body = balance_body(state_balance(past, moment, settings.zone), past.currency.code)
    return json_response(200, {**body, "at": format_time(moment)})


@app.get("/accounts/<account_id>/statements/<month>")
def get_statement(account_id: str, month: str) -> Response[str]:
    account = _readable(account_id)
    if negotiate(app.current_event.headers.get("accept")) == CSV:
        return _statement_csv(account, month)
    found = statement(account.account_id, month, projections, events)
    return json_response(200, statement_body(account.account_id, found, account.currency.code))


def _statement_csv(account: Account, month: str) -> Response[str]:
    """The month line by line from the events table (the JSON statement is the read
    model's totals)."""
    entries = statement_entries(
        account.account_id, month, events, events, clock=utc_now, zone=settings.zone
    )
    return Response(
        status_code=200,
        content_type=CSV_CONTENT_TYPE,
        body=statement_csv(entries, settings.zone),
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{filename(entries)}"',
        },
    )


@app.get("/accounts/<account_id>/events")
def get_events(account_id: str) -> Response[str]:
    account = _readable(account_id)
    parameters = _parameters({"after", "limit", "from", "to"})
    after = _integer(parameters, "after", default=0, low=0, high=2**53)
    limit = _integer(parameters, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    start, end = parameters.get("from"), parameters.get("to")
    if start is None and end is None:
        page = history(account.account_id, events, after=after, limit=limit)
    else:
        page = history_between(
            account.account_id,
            events,
            start=parse_instant("from", start, round_up=True) if start is not None else None,
            end=parse_instant("to", end, round_up=True) if end is not None else None,
            after=after,
            limit=limit,
        )
    return json_response(200, history_body(page, account.currency.code))


@app.get("/transfers/<transfer_id>")
def get_transfer(transfer_id: str) -> Response[str]:
    principal = principal_of(app.current_event.raw_event)
    found = transfer(transfer_id_of(transfer_id), events)
    accounts = sorted({leg.account_id for leg in found.legs})
    if not any(
        principal.may(Access.READ, account_id, events.load(account_id).owners)
        for account_id in accounts
    ):
        raise Forbidden(
            f"reading a transfer needs ownership of one of its accounts or {READ_ANY_ACCOUNT}"
        )
    return json_response(200, transfer_body(found))


@app.get("/holds/<hold_id>")
def get_hold(hold_id: str) -> Response[str]:
    principal_of(app.current_event.raw_event)  # 401 before anything is judged
    hold = find_hold(hold_id_of(hold_id), events)
    readable(app.current_event.raw_event, events.load(hold.account_id))
    return json_response(200, hold_body(hold))


@app.get("/accounts/<account_id>/holds")
def list_holds(account_id: str) -> Response[str]:
    account = _readable(account_id)
    parameters = _parameters({"status", "after", "limit"})
    status = parameters.get("status")
    if status is not None and status not in _HOLD_STATUSES:
        raise InvalidRequest(
            f"query parameter 'status' must be one of {', '.join(sorted(_HOLD_STATUSES))}"
        )
    after = _integer(parameters, "after", default=0, low=0, high=2**53)
    limit = _integer(parameters, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    page = holds_of(
        account.account_id,
        events,
        status=HoldStatus(status) if status else None,
        after=after,
        limit=limit,
    )
    return json_response(200, hold_page_body(page))


_HOLD_STATUSES = frozenset(status.value for status in HoldStatus)


def _readable(account_id: str) -> Account:
    """The account (one read of the events table), once the caller may read it."""
    principal_of(app.current_event.raw_event)  # 401 before anything is judged
    account = events.load(validate_account_id(account_id))
    readable(app.current_event.raw_event, account)
    return account


def _parameters(known: set[str]) -> dict[str, str]:
    parameters = app.current_event.query_string_parameters or {}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise InvalidRequest(f"unknown query parameter(s) {', '.join(map(repr, unknown))}")
    return dict(parameters)


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
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

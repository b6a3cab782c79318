"""HTTP commands: open, freeze, unfreeze and close accounts, change their overdraft
limit, record credits and debits, transfer between accounts, place, capture and void
holds, and reverse a posting or a transfer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from banking.application.commands import record
from banking.application.holds import capture_hold, place_hold, void_hold
from banking.application.reversals import reverse_entry, reverse_transfer
from banking.application.transfers import transfer
from banking.domain.commands import AccountCommand, CloseAccount, FreezeAccount, UnfreezeAccount
from banking.domain.events import Event
from banking.domain.holds import VoidHold
from banking.domain.identifiers import validate_account_id
from banking.entrypoints.auth import (
    MANAGE_ACCOUNTS,
    WRITE_TRANSACTIONS,
    Access,
    authorized,
    authorized_account,
    principal_of,
)
from banking.entrypoints.bootstrap import command_dependencies, new_event_id, utc_now
from banking.entrypoints.http import json_response, parse_json_body, register_error_handlers
from banking.entrypoints.observability import count, logger, metrics, traced
from banking.entrypoints.requests import (
    capture_command,
    correlation_id,
    hold_command,
    hold_id_of,
    idempotency_key,
    limit_command,
    no_fields,
    open_command,
    optional_idempotency_key,
    reversal_description,
    reverse_entry_command,
    transaction_command,
    transfer_command,
    transfer_id_of,
)
from banking.entrypoints.responses import (
    account_body,
    event_body,
    hold_body,
    state_balance,
    transfer_body,
)
from banking.entrypoints.settings import Settings

app = APIGatewayHttpResolver()
dependencies = command_dependencies(
    Settings.from_env(), on_conflict=lambda: count("VersionConflictRetried")
)
register_error_handlers(
    app,
    on_error=lambda error: count("CommandRejected", code=error.code),
    owners_of=lambda account_id: dependencies.store.load(account_id).owners,
)

# The account commands whose path says everything, by the path's last segment.
_STATUS_COMMANDS: dict[str, type[FreezeAccount | UnfreezeAccount | CloseAccount]] = {
    "freeze": FreezeAccount,
    "unfreeze": UnfreezeAccount,
    "close": CloseAccount,
}


@app.post("/accounts")
def open_account() -> Response[str]:
    authorized(app.current_event.raw_event, MANAGE_ACCOUNTS)
    command = open_command(parse_json_body(app))
    return _manage(command, status=201)


@app.post("/accounts/<account_id>/credits")
def credit(account_id: str) -> Response[str]:
    return _record("credit", account_id)


@app.post("/accounts/<account_id>/debits")
def debit(account_id: str) -> Response[str]:
    return _record("debit", account_id)


@app.post("/accounts/<account_id>/overdraft-limit")
def change_overdraft_limit(account_id: str) -> Response[str]:
    authorized(app.current_event.raw_event, MANAGE_ACCOUNTS)
    account_id = validate_account_id(account_id)
    # The limit is read in the account's currency's digits.
    currency = dependencies.store.load(account_id).currency
    return _manage(limit_command(account_id, parse_json_body(app), currency))


def _status_route(
    command_type: type[FreezeAccount | UnfreezeAccount | CloseAccount],
) -> Callable[[str], Response[str]]:
    def change_status(account_id: str) -> Response[str]:
        authorized(app.current_event.raw_event, MANAGE_ACCOUNTS)
        account_id = validate_account_id(account_id)
        if app.current_event.body:
            no_fields(parse_json_body(app))
        return _manage(command_type(account_id))

    return change_status


for _action, _command_type in _STATUS_COMMANDS.items():
    app.post(f"/accounts/<account_id>/{_action}")(_status_route(_command_type))


@app.post("/transfers")
def post_transfer() -> Response[str]:
    principal = authorized(app.current_event.raw_event, WRITE_TRANSACTIONS)
    key = idempotency_key(app.current_event.headers)
    command = transfer_command(new_event_id(), parse_json_body(app))
    stored = transfer(
        command,
        dependencies,
        idempotency_key=key,
        caller=principal.subject,
        correlation_id=logger.get_correlation_id(),
    )
    logger.info(
        "transferred",
        extra={
            "transferId": stored.transfer_id,
            "legs": len(stored.legs),
            "principal": principal.subject,
        },
    )
    count("CommandAccepted", type="transfer")
    return json_response(201, transfer_body(stored))


@app.post("/accounts/<account_id>/holds")
def place(account_id: str) -> Response[str]:
    account_id = authorized_account(app.current_event.raw_event, account_id, Access.WRITE)
    principal = principal_of(app.current_event.raw_event).subject
    key = idempotency_key(app.current_event.headers)
    command = hold_command(account_id, new_event_id(), parse_json_body(app))
    hold = place_hold(
        command,
        dependencies,
        idempotency_key=key,
        caller=principal,
        correlation_id=logger.get_correlation_id(),
    )
    _held("placed", hold.account_id, hold.hold_id, principal)
    return json_response(201, hold_body(hold))


@app.post("/holds/<hold_id>/capture")
def capture(hold_id: str) -> Response[str]:
    # Like a transfer: writing needs the scope, whichever accounts are involved.
    principal = authorized(app.current_event.raw_event, WRITE_TRANSACTIONS).subject
    key = idempotency_key(app.current_event.headers)
    body = parse_json_body(app) if app.current_event.body else {}
    command = capture_command(hold_id_of(hold_id), body)
    hold = capture_hold(
        command,
        dependencies,
        idempotency_key=key,
        caller=principal,
        transfer_id=new_event_id(),
        correlation_id=logger.get_correlation_id(),
    )
    _held("captured", hold.account_id, hold.hold_id, principal)
    return json_response(200, hold_body(hold))


@app.post("/holds/<hold_id>/void")
def void(hold_id: str) -> Response[str]:
    principal = authorized(app.current_event.raw_event, WRITE_TRANSACTIONS).subject
    key = idempotency_key(app.current_event.headers)
    if app.current_event.body:
        no_fields(parse_json_body(app))
    hold = void_hold(
        VoidHold(hold_id_of(hold_id)),
        dependencies,
        idempotency_key=key,
        caller=principal,
        correlation_id=logger.get_correlation_id(),
    )
    _held("voided", hold.account_id, hold.hold_id, principal)
    return json_response(200, hold_body(hold))


def _held(what: str, account_id: str, hold_id: str, principal: str) -> None:
    logger.info(
        f"hold {what}",
        extra={"accountId": account_id, "holdId": hold_id, "principal": principal},
    )
    count("CommandAccepted", type=f"hold-{what}")


@app.post("/accounts/<account_id>/events/<version>/reversal")
def reverse(account_id: str, version: str) -> Response[str]:
    # Reversing a credit debits the account: the same right as a debit.
    account_id = authorized_account(app.current_event.raw_event, account_id, Access.WRITE)
    principal = principal_of(app.current_event.raw_event).subject
    key = idempotency_key(app.current_event.headers)
    body = parse_json_body(app) if app.current_event.body else None
    event = reverse_entry(
        reverse_entry_command(account_id, version, body),
        dependencies,
        idempotency_key=key,
        caller=principal,
        correlation_id=logger.get_correlation_id(),
    )
    logger.info(
        "reversed",
        extra={"accountId": account_id, "version": event.version, "principal": principal},
    )
    count("CommandAccepted", type="reversal")
    return json_response(201, event_body(event))


@app.post("/transfers/<transfer_id>/reversal")
def reverse_a_transfer(transfer_id: str) -> Response[str]:
    principal = authorized(app.current_event.raw_event, WRITE_TRANSACTIONS)
    key = idempotency_key(app.current_event.headers)
    transfer_id = transfer_id_of(transfer_id)
    body = parse_json_body(app) if app.current_event.body else None
    stored = reverse_transfer(
        transfer_id,
        dependencies,
        reversal_id=new_event_id(),
        description=reversal_description(body),
        idempotency_key=key,
        caller=principal.subject,
        correlation_id=logger.get_correlation_id(),
    )
    logger.info(
        "transfer reversed",
        extra={
            "transferId": stored.transfer_id,
            "reverses": transfer_id,
            "principal": principal.subject,
        },
    )
    count("CommandAccepted", type="transfer-reversal")
    return json_response(201, transfer_body(stored))


def _manage(command: AccountCommand, *, status: int = 200) -> Response[str]:
    principal = principal_of(app.current_event.raw_event).subject
    event = _store(command, principal, optional_idempotency_key(app.current_event.headers))
    # The account as of the event (settings and balances of that version).
    state = dependencies.store.get(event.account_id, event.version).state
    count("CommandAccepted", type=type(command).__name__)
    balances = state_balance(state, utc_now(), dependencies.settings.zone)
    return json_response(status, account_body(state, balances))


def _record(kind: str, account_id: str) -> Response[str]:
    # Who may write is settled before the body is even parsed.
    account_id = authorized_account(app.current_event.raw_event, account_id, Access.WRITE)
    principal = principal_of(app.current_event.raw_event).subject
    key = idempotency_key(app.current_event.headers)
    command = transaction_command(kind, account_id, parse_json_body(app))
    event = _store(command, principal, key)
    count("CommandAccepted", type=kind)
    return json_response(201, event_body(event))


def _store(command: Any, principal: str, key: str | None) -> Event:
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
        extra={"accountId": event.account_id, "version": event.version, "principal": principal},
    )
    return event


@logger.inject_lambda_context(log_event=False)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    request_id = str((event.get("requestContext") or {}).get("requestId", ""))
    logger.set_correlation_id(correlation_id(headers, request_id))
    return app.resolve(event, context)

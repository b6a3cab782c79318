"""The HTTP API's conventions, shared by the commands and queries functions.

Errors are `{"error": {"code", "message"}}` with a stable code, plus `"details"`
(figures such as a refused debit's balance) only for a caller who may read the
account. Request bodies are parsed strictly: exact decimals (never floats), no
NaN/Infinity, no duplicate keys, bounded size and depth. No answer may be cached:
every one is about one caller's money, as it is now.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from banking.application.ports import StoreThrottled
from banking.domain.errors import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    AccountHasPendingHolds,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotFrozen,
    AlreadyReversed,
    ConcurrentModification,
    CurrencyMismatch,
    DomainError,
    EntryNotFound,
    HoldHasExpired,
    HoldNotFound,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidRequest,
    NotReversible,
    OverdraftLimitTooLow,
    StatementNotFound,
    TransferNotFound,
    UnknownEvent,
)
from banking.entrypoints.auth import Access, Forbidden, Unauthenticated, principal_of
from banking.entrypoints.observability import count, logger

MAX_BODY_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32

# Any other domain error is the request's fault: 400.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InsufficientFunds: 422,
    AccountFrozen: 422,
    AccountNotFrozen: 422,
    AccountClosed: 422,
    AccountNotEmpty: 422,
    CurrencyMismatch: 422,
    OverdraftLimitTooLow: 422,
    IdempotencyKeyReused: 409,
    ConcurrentModification: 409,
    AccountExists: 409,
    AccountNotFound: 404,
    StatementNotFound: 404,
    TransferNotFound: 404,
    StoreThrottled: 503,
    # A stored event this code cannot read is the store's fault, never the caller's.
    UnknownEvent: 500,
    EntryNotFound: 404,
    NotReversible: 422,
    AlreadyReversed: 409,
}
# How long a client should wait before sending the same request again (seconds).
RETRY_AFTER_BY_ERROR: dict[type[DomainError], int] = {StoreThrottled: 1}


class InvalidJson(DomainError):
    code = "invalid_json"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


# Every route of the HTTP API (Terraform declares them; a test holds the two equal), so
# the `$default` route can tell an unknown path (404) from a known path asked with a
# method it does not have (405, with the methods it has).
ROUTES: dict[str, tuple[str, ...]] = {
    "/accounts": ("GET", "POST"),
    "/accounts/{accountId}": ("GET",),
    "/accounts/{accountId}/balance": ("GET",),
    "/accounts/{accountId}/events": ("GET",),
    "/accounts/{accountId}/statements/{month}": ("GET",),
    "/accounts/{accountId}/credits": ("POST",),
    "/accounts/{accountId}/debits": ("POST",),
    "/accounts/{accountId}/freeze": ("POST",),
    "/accounts/{accountId}/unfreeze": ("POST",),
    "/accounts/{accountId}/close": ("POST",),
    "/accounts/{accountId}/overdraft-limit": ("POST",),
    "/transfers": ("POST",),
    "/transfers/{transferId}": ("GET",),
    "/accounts/{accountId}/holds": ("GET", "POST"),
    "/holds/{holdId}": ("GET",),
    "/holds/{holdId}/capture": ("POST",),
    "/holds/{holdId}/void": ("POST",),
    "/accounts/{accountId}/events/{version}/reversal": ("POST",),
    "/transfers/{transferId}/reversal": ("POST",),
}
_ROUTE_PATTERNS = [
    (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"), methods)
    for template, methods in ROUTES.items()
]


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"


class RouteNotFound(DomainError):
    code = "not_found"


class NotAcceptable(DomainError):
    """An Accept header that takes none of the types the resource is served as."""

    code = "not_acceptable"


STATUS_BY_ERROR.update(
    {
        HoldNotFound: 404,
        HoldNotPending: 409,
        HoldHasExpired: 422,
        AccountHasPendingHolds: 422,
        PayloadTooLarge: 413,
        RouteNotFound: 404,
        MethodNotAllowed: 405,
        Unauthenticated: 401,
        Forbidden: 403,
        NotAcceptable: 406,
    }
)


# The metric the "stored event unreadable" alarm watches (namespace Ledger).
UNREADABLE_EVENT_METRIC = "StoredEventUnreadable"
INTERNAL_ERROR = "internal_error"
_NO_STORE = {"Cache-Control": "no-store"}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, str] | None = None,
    *,
    retry_after: int | None = None,
) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    response = json_response(status, {"error": error})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def json_response(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers=dict(_NO_STORE),
    )


def register_error_handlers(
    app: APIGatewayHttpResolver,
    on_error: Callable[[DomainError], None] | None = None,
    owners_of: Callable[[str], Collection[str]] = lambda _: (),
) -> None:
    """`owners_of(account_id)`: who owns an account, to tell whether the caller may
    see the figures an error's details hold (read only when there are some)."""

    @app.exception_handler(DomainError)  # type: ignore[misc]  # powertools leaves it untyped
    def _domain_error(error: DomainError) -> Response[str]:
        if isinstance(error, UnknownEvent):
            return _unreadable_event(error)
        if on_error is not None:
            on_error(error)
        details = error.details if error.details and _may_read(app, error, owners_of) else None
        return error_response(
            STATUS_BY_ERROR.get(type(error), 400),
            error.code,
            error.message,
            details,
            retry_after=RETRY_AFTER_BY_ERROR.get(type(error)),
        )

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        path = app.current_event.raw_path
        allowed = next((m for pattern, m in _ROUTE_PATTERNS if pattern.match(path)), None)
        if allowed is None:
            return error_response(404, RouteNotFound.code, f"no route for {_method(app)} {path}")
        response = error_response(
            405,
            MethodNotAllowed.code,
            f"{path} takes {', '.join(allowed)}, not {_method(app)}",
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response


def _unreadable_event(error: UnknownEvent) -> Response[str]:
    # What is wrong is for the operators (the log and the alarm), not for the caller.
    logger.error("stored event unreadable", extra={"code": error.code, "reason": error.message})
    count(UNREADABLE_EVENT_METRIC)
    return error_response(
        STATUS_BY_ERROR[UnknownEvent],
        INTERNAL_ERROR,
        "the account's stored events could not be read; retry later",
    )


def _may_read(
    app: APIGatewayHttpResolver, error: DomainError, owners_of: Callable[[str], Collection[str]]
) -> bool:
    """Whether the caller may read the account the error is about (named in its details,
    or else the request's path): only then does an error show figures of it."""
    account_id = error.details.get("accountId") or (
        (app.current_event.path_parameters or {}).get("accountId")
    )
    try:
        principal = principal_of(app.current_event.raw_event)
    except Unauthenticated:
        return False
    if account_id is None:
        return False
    return principal.may(Access.READ, account_id) or principal.may(
        Access.READ, account_id, owners_of(account_id)
    )


def _method(app: APIGatewayHttpResolver) -> str:
    return str(app.current_event.request_context.http.method)


def parse_json_body(app: APIGatewayHttpResolver) -> dict[str, Any]:
    data = _raw_bytes(app.current_event.raw_event)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {len(data)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJson("request body is not UTF-8") from error
    return parse_json_object(text)


def _raw_bytes(raw_event: dict[str, Any]) -> bytes:
    body = raw_event.get("body") or ""
    if raw_event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidJson("request body is not valid base64") from error
    return body.encode("utf-8", errors="surrogatepass")


def parse_json_object(text: str) -> dict[str, Any]:
    if not text.strip():
        raise InvalidJson("request body is empty; expected a JSON object")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_reject_duplicate_keys,
        )
    except _DuplicateKey as error:
        raise InvalidJson(f"request body has the key {error.args[0]!r} twice") from error
    except _NonFiniteNumber as error:
        raise InvalidJson(f"request body has the non-standard number {error.args[0]}") from error
    except RecursionError as error:
        raise InvalidJson("request body is nested too deeply") from error
    except ValueError as error:
        raise InvalidJson(f"request body is not valid JSON: {error}") from error
    if _too_deep(value):
        raise InvalidJson("request body is nested too deeply")
    if not isinstance(value, dict):
        raise InvalidRequest("request body must be a JSON object")
    return value


class _DuplicateKey(ValueError):
    pass


class _NonFiniteNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFiniteNumber(name)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _too_deep(value: Any) -> bool:
    """Whether containers nest deeper than MAX_JSON_DEPTH; without recursion, since the
    parser accepts nesting far deeper than the interpreter's stack would."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)
    return False

"""Every error the client raises: one class per error code of the API, all `LedgerError`.

This module is the one place that knows the API's error codes. A new code is one class
and one line in `_BY_CODE`; a code the client does not know yet maps to the class of
its HTTP status (`_BY_STATUS`), else to `LedgerError` itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx


class LedgerError(Exception):
    """An error answered by the API (or, with ``status`` None, no answer at all)."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.details: Mapping[str, Any] = details or {}

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"


class InvalidRequest(LedgerError):
    code = "invalid_request"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class InvalidAmount(InvalidRequest):
    code = "invalid_amount"


class InvalidAccountId(InvalidRequest):
    code = "invalid_account_id"


class IdempotencyKeyRequired(InvalidRequest):
    code = "idempotency_key_required"


class InvalidCurrency(InvalidRequest):
    code = "invalid_currency"


class Unauthorized(LedgerError):
    code = "unauthorized"


class Forbidden(LedgerError):
    code = "forbidden"


class NotFound(LedgerError):
    code = "not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class StatementNotFound(NotFound):
    code = "statement_not_found"


class TransferNotFound(NotFound):
    code = "transfer_not_found"


class HoldNotFound(NotFound):
    code = "hold_not_found"


class EventNotFound(NotFound):
    """No event at that version of the account (a reversal of a version never stored)."""

    code = "event_not_found"


class NotAcceptable(LedgerError):
    """The resource is not served in the media type asked for (``Accept``)."""

    code = "not_acceptable"


class HoldNotPending(LedgerError):
    """The hold was already captured, voided or expired: it is resolved at most once."""

    code = "hold_not_pending"


class HoldExpired(LedgerError):
    """The hold reached its expiry, whether or not the expirer has recorded it yet."""

    code = "hold_expired"


class AccountHasPendingHolds(LedgerError):
    """Closing an account that still carries pending holds: capture or void them first."""

    code = "account_has_pending_holds"


class AlreadyReversed(LedgerError):
    """The posting or transfer was reversed already (by anyone): at most once."""

    code = "already_reversed"


class NotReversible(LedgerError):
    """An account event, a reversal, or a transfer's leg (reverse its transfer instead)."""

    code = "not_reversible"


class AccountExists(LedgerError):
    code = "account_exists"


class IdempotencyKeyReused(LedgerError):
    code = "idempotency_key_reused"


class ConcurrentModification(LedgerError):
    code = "concurrent_modification"


class PayloadTooLarge(LedgerError):
    code = "payload_too_large"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class AccountFrozen(LedgerError):
    code = "account_frozen"


class AccountNotFrozen(LedgerError):
    code = "account_not_frozen"


class AccountClosed(LedgerError):
    code = "account_closed"


class AccountNotEmpty(LedgerError):
    code = "account_not_empty"


class CurrencyMismatch(LedgerError):
    code = "currency_mismatch"


class OverdraftLimitTooLow(LedgerError):
    code = "overdraft_limit_too_low"


class ServerError(LedgerError):
    code = "server_error"


class ServiceUnavailable(ServerError):
    code = "service_unavailable"


class NoResponse(LedgerError):
    """The request got no answer (connection refused or reset, timeout), even after the
    retries that were safe; ``__cause__`` is the transport's exception."""

    code = "no_response"


class UnexpectedResponse(LedgerError):
    """A success status whose body is not what the API documents."""

    code = "unexpected_response"


class NotCaughtUp(LedgerError, TimeoutError):
    """The read models did not reach the awaited version in time. Nothing is wrong with
    the write: the read side is eventually consistent and may just be slow."""

    code = "not_caught_up"


class TokenRequestFailed(LedgerError):
    """A token provider could not get a token (the OAuth error code, when there is one)."""

    code = "token_request_failed"


_BY_CODE: dict[str, type[LedgerError]] = {
    error.code: error
    for error in (
        InvalidRequest,
        InvalidJson,
        InvalidAmount,
        InvalidAccountId,
        IdempotencyKeyRequired,
        InvalidCurrency,
        Unauthorized,
        Forbidden,
        NotFound,
        AccountNotFound,
        StatementNotFound,
        TransferNotFound,
        HoldNotFound,
        EventNotFound,
        NotAcceptable,
        HoldNotPending,
        HoldExpired,
        AccountHasPendingHolds,
        AlreadyReversed,
        NotReversible,
        AccountExists,
        IdempotencyKeyReused,
        ConcurrentModification,
        PayloadTooLarge,
        InsufficientFunds,
        AccountFrozen,
        AccountNotFrozen,
        AccountClosed,
        AccountNotEmpty,
        CurrencyMismatch,
        OverdraftLimitTooLow,
    )
}

_BY_STATUS: dict[int, type[LedgerError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    406: NotAcceptable,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


def error_code(response: httpx.Response) -> str | None:
    """The API's error code in ``response``, if it has one."""
    error = _error_object(response)
    code = error.get("code")
    return code if isinstance(code, str) else None


def error_for(response: httpx.Response) -> LedgerError:
    """The exception for an error answer: by its code, else by its status."""
    error = _error_object(response)
    code = error_code(response)
    status = response.status_code
    fallback = _BY_STATUS.get(status, ServerError if status >= 500 else LedgerError)
    kind = _BY_CODE.get(code, fallback) if code else fallback
    message = error.get("message")
    details = error.get("details")
    return kind(
        message if isinstance(message, str) else response.reason_phrase or f"HTTP {status}",
        code=code or kind.code,
        status=status,
        details=details if isinstance(details, dict) else None,
    )


def _error_object(response: httpx.Response) -> dict[str, Any]:
    """``{"error": {...}}`` of the API, or the gateway's bare ``{"message": ...}``."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    return {"message": body["message"]} if isinstance(body.get("message"), str) else {}

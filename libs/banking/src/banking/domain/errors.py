"""Domain errors. Each carries a stable, machine-readable code clients can rely on."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class DomainError(Exception):
    """`message` is for any caller; `details` are figures only a caller who may read
    the account is shown (an error must not tell a caller what it may not read)."""

    code = "domain_error"

    def __init__(self, message: str, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, str] = MappingProxyType(dict(details or {}))


class InvalidAmount(DomainError):
    code = "invalid_amount"


class InvalidAccountId(DomainError):
    code = "invalid_account_id"


class InvalidRequest(DomainError):
    code = "invalid_request"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


class IdempotencyKeyRequired(DomainError):
    """A request that moves money without an idempotency key: a client retrying it
    after a lost answer could not help posting it twice."""

    code = "idempotency_key_required"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class ConcurrentModification(DomainError):
    code = "concurrent_modification"


class AccountNotFound(DomainError):
    code = "account_not_found"


class StatementNotFound(DomainError):
    """The account exists but has no statement for that month (no event in it, or
    the statement is still being backfilled)."""

    code = "statement_not_found"


class UnknownEvent(DomainError):
    """A stored event whose type or schema version this code does not know: a corrupt
    store or a deployment behind its data, never the caller's fault (a 500 over HTTP)."""

    code = "unknown_event"

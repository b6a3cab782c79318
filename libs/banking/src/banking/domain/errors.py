"""Domain errors. Each carries a stable, machine-readable code clients can rely on."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(DomainError):
    code = "invalid_amount"


class InvalidAccountId(DomainError):
    code = "invalid_account_id"


class InvalidRequest(DomainError):
    code = "invalid_request"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


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
    """A stored event whose type or schema version this code does not know."""

    code = "unknown_event"

"""Domain errors. Each carries a stable, machine-readable code clients can rely on.

`message` is safe for any caller: it never names a figure of an account (a balance,
a limit). Figures go in `details`, which the HTTP layer shows only to callers who may
read the account (issue 15: a write-only client must not learn balances from refusals).
"""

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


class InvalidCurrency(DomainError):
    """Not an ISO 4217 code with minor units (a fund or metal code like XAU has none)."""

    code = "invalid_currency"


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


class AccountExists(DomainError):
    """Opening an id that was already opened (or has a history from before accounts)."""

    code = "account_exists"


class AccountFrozen(DomainError):
    """A posting to (or a change that needs) an account that is frozen."""

    code = "account_frozen"


class AccountNotFrozen(DomainError):
    """Unfreezing an account that is not frozen."""

    code = "account_not_frozen"


class AccountClosed(DomainError):
    """Anything but reading, on a closed account."""

    code = "account_closed"


class AccountNotEmpty(DomainError):
    """Closing an account whose balance is not zero."""

    code = "account_not_empty"


class CurrencyMismatch(DomainError):
    """A posting between accounts of different currencies, or in another currency
    than its accounts'."""

    code = "currency_mismatch"


class OverdraftLimitTooLow(DomainError):
    """A new overdraft limit the account's balance is already below."""

    code = "overdraft_limit_too_low"


class StatementNotFound(DomainError):
    """The account exists but has no statement for that month (no event in it, or
    the statement is still being backfilled)."""

    code = "statement_not_found"


class TransferNotFound(DomainError):
    code = "transfer_not_found"


class UnknownEvent(DomainError):
    """A stored event whose type or schema version this code does not know: a corrupt
    store or a deployment behind its data, never the caller's fault (a 500 over HTTP)."""

    code = "unknown_event"


class HoldNotFound(DomainError):
    code = "hold_not_found"


class HoldNotPending(DomainError):
    """Capturing or voiding a hold that was already captured, voided or expired."""

    code = "hold_not_pending"


class HoldHasExpired(DomainError):
    """Capturing or voiding a hold past its expiry, recorded yet or not."""

    code = "hold_expired"


class HoldNotExpired(DomainError):
    """Recording the expiry of a hold whose time has not run out (the expirer only asks
    for those past it: a clock far behind another's)."""

    code = "hold_not_expired"


class AccountHasPendingHolds(DomainError):
    """Closing an account that still carries pending holds."""

    code = "account_has_pending_holds"


class EntryNotFound(DomainError):
    """An account's event asked for by its version, which it does not have."""

    code = "event_not_found"


class NotReversible(DomainError):
    """Reversing what cannot be: an account event (it moves no money), a reversal, or a
    transfer's leg on its own (its transfer is reversed whole)."""

    code = "not_reversible"


class AlreadyReversed(DomainError):
    """Reversing a posting (or transfer) a reversal was already stored for."""

    code = "already_reversed"

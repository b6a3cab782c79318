"""Parsing the commands' requests: every way a request can be wrong has its own code
and a message naming the problem."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal
from typing import Any

from banking.domain.commands import (
    ChangeOverdraftLimit,
    Command,
    OpenAccount,
    RecordCredit,
    RecordDebit,
)
from banking.domain.currency import MAX_DIGITS, Currency, parse_currency
from banking.domain.errors import HoldNotFound, IdempotencyKeyRequired, InvalidRequest
from banking.domain.holds import MAX_EXPIRES_IN, CaptureHold, PlaceHold
from banking.domain.identifiers import validate_account_id
from banking.domain.money import parse_overdraft_limit, parse_transaction_amount
from banking.domain.reversals import ReverseEntry
from banking.domain.text import validate_metadata, validate_owners
from banking.domain.transfer import MAX_POSTINGS, Posting, Transfer

MAX_DESCRIPTION = 140
_FIELDS = {"amount", "description"}
_PRINTABLE_ASCII = re.compile(r"\A[\x20-\x7e]{1,128}\Z")
# Control characters, surrogates, and what a reader cannot see: format characters
# (zero-width, bidirectional overrides that reorder what is displayed), private-use
# and unassigned code points, and line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"})


def transaction_command(kind: str, account_id: str, body: dict[str, Any]) -> Command:
    _only(body, _FIELDS, required={"amount"})
    # Any currency's digits here: the account's currency decides, exactly.
    amount = parse_transaction_amount(body["amount"], MAX_DIGITS)
    description = _description(body.get("description"))
    command_type = RecordCredit if kind == "credit" else RecordDebit
    return command_type(account_id=account_id, amount=amount, description=description)


_OPEN_FIELDS = {"accountId", "currency", "overdraftLimit", "owners", "metadata"}


def open_command(body: dict[str, Any]) -> OpenAccount:
    _only(body, _OPEN_FIELDS, required={"accountId", "currency", "owners"})
    if not isinstance(body["accountId"], str):
        raise InvalidRequest("field 'accountId' must be a string")
    currency = parse_currency(body["currency"])
    return OpenAccount(
        account_id=validate_account_id(body["accountId"]),
        currency=currency,
        owners=validate_owners(body["owners"]),
        overdraft_limit=parse_overdraft_limit(body.get("overdraftLimit", "0"), currency),
        metadata=validate_metadata(body.get("metadata", {})),
    )


def limit_command(
    account_id: str, body: dict[str, Any], currency: Currency
) -> ChangeOverdraftLimit:
    _only(body, {"overdraftLimit"}, required={"overdraftLimit"})
    return ChangeOverdraftLimit(account_id, parse_overdraft_limit(body["overdraftLimit"], currency))


def no_fields(body: dict[str, Any]) -> None:
    """A request whose path says it all: no body, or an empty object."""
    _only(body, set())


_TRANSFER_FIELDS = {"from", "to", "amount", "description"}
_POSTINGS_FIELDS = {"postings", "description"}
_POSTING_FIELDS = {"from", "to", "amount"}


def transfer_command(transfer_id: str, body: dict[str, Any]) -> Transfer:
    """`{"from", "to", "amount"}` or `{"postings": [...]}`, with a description either way."""
    if "postings" in body:
        _only(body, _POSTINGS_FIELDS, required={"postings"})
        raw = body["postings"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_POSTINGS:
            raise InvalidRequest(f"field 'postings' must be a list of 1 to {MAX_POSTINGS} postings")
        postings = [_posting(item) for item in raw]
    else:
        _only(body, _TRANSFER_FIELDS, required={"from", "to", "amount"})
        postings = [_posting({k: v for k, v in body.items() if k != "description"})]
    return Transfer(transfer_id, postings, _description(body.get("description")))


def _posting(raw: Any) -> Posting:
    if not isinstance(raw, dict):
        raise InvalidRequest('each posting must be an object {"from", "to", "amount"}')
    _only(raw, _POSTING_FIELDS, required=_POSTING_FIELDS)
    for side in ("from", "to"):
        if not isinstance(raw[side], str):
            raise InvalidRequest(f"field {side!r} must be an account id")
    return Posting(
        validate_account_id(raw["from"]),
        validate_account_id(raw["to"]),
        parse_transaction_amount(raw["amount"], MAX_DIGITS),
    )


_HOLD_FIELDS = {"amount", "description", "expiresIn"}
_CAPTURE_FIELDS = {"amount", "to"}


def hold_command(account_id: str, hold_id: str, body: dict[str, Any]) -> PlaceHold:
    """`{"amount", "expiresIn" (seconds), "description"?}`."""
    _only(body, _HOLD_FIELDS, required={"amount", "expiresIn"})
    expires_in = body["expiresIn"]
    limit = int(MAX_EXPIRES_IN.total_seconds())
    # JSON numbers arrive as Decimal: a whole number of seconds, not 1.5 nor true.
    if not isinstance(expires_in, Decimal) or expires_in != expires_in.to_integral_value():
        raise InvalidRequest(f"field 'expiresIn' must be a whole number of seconds, 1 to {limit}")
    if not 1 <= expires_in <= limit:
        raise InvalidRequest(f"field 'expiresIn' must be 1 to {limit} seconds")
    return PlaceHold(
        account_id=account_id,
        hold_id=hold_id,
        amount=parse_transaction_amount(body["amount"], MAX_DIGITS),
        expires_in=timedelta(seconds=int(expires_in)),
        description=_description(body.get("description")),
    )


def capture_command(hold_id: str, body: dict[str, Any]) -> CaptureHold:
    """`{"amount"?, "to"?}`: all of the hold when no amount, into `to` when given. The
    hold's account is looked up from its id."""
    _only(body, _CAPTURE_FIELDS)
    # Absent means all of it, or no other account; null is not absent.
    if "to" in body and not isinstance(body["to"], str):
        raise InvalidRequest("field 'to' must be an account id")
    return CaptureHold(
        hold_id=hold_id,
        amount=parse_transaction_amount(body["amount"], MAX_DIGITS) if "amount" in body else None,
        to=validate_account_id(body["to"]) if "to" in body else None,
    )


def hold_id_of(raw: str) -> str:
    """A hold id as this API gives them (a UUID); anything else names no hold."""
    if not _HOLD_ID.match(raw):
        raise HoldNotFound(f"hold {raw[:64]!r} does not exist")
    return raw


_HOLD_ID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _only(body: dict[str, Any], allowed: set[str], *, required: Collection[str] = ()) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(map(repr, unknown))}")
    for name in sorted(required):
        if name not in body:
            raise InvalidRequest(f"field {name!r} is required")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("field 'description' must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidRequest(f"field 'description' is longer than {MAX_DESCRIPTION} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value):
        raise InvalidRequest(
            "field 'description' contains control, invisible or direction-changing characters"
        )
    return value


def idempotency_key(headers: dict[str, str]) -> str:
    """The request's Idempotency-Key, required on every request that moves money."""
    value = headers.get("idempotency-key")
    if value is None:
        raise IdempotencyKeyRequired(
            "header Idempotency-Key is required: a unique key per payment, sent again "
            "unchanged when the request is retried"
        )
    if not _PRINTABLE_ASCII.match(value):
        raise InvalidRequest("header Idempotency-Key must be 1 to 128 printable ASCII characters")
    return value


def optional_idempotency_key(headers: dict[str, str]) -> str | None:
    """The Idempotency-Key of a request that moves no money: optional, but checked."""
    return idempotency_key(headers) if "idempotency-key" in headers else None


def correlation_id(headers: dict[str, str], request_id: str) -> str:
    """The client's X-Correlation-Id when it is sane, else the API's request id."""
    value = headers.get("x-correlation-id")
    return value if value and _PRINTABLE_ASCII.match(value) else request_id


_VERSION = re.compile(r"\A[1-9][0-9]{0,15}\Z", re.ASCII)
_TRANSFER_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z", re.ASCII)


def reverse_entry_command(
    account_id: str, version: str, body: dict[str, Any] | None
) -> ReverseEntry:
    """A reversal of an account's event: its version from the path, and an optional
    description (no body at all is the same as an empty one)."""
    if not _VERSION.match(version):
        raise InvalidRequest("an event's version is a whole number from 1")
    return ReverseEntry(account_id, int(version), reversal_description(body))


def reversal_description(body: dict[str, Any] | None) -> str | None:
    _only(body or {}, {"description"})
    return _description((body or {}).get("description"))


def transfer_id_of(raw: str) -> str:
    if not _TRANSFER_ID.match(raw):
        raise InvalidRequest("a transfer id is 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return raw

"""Parsing the commands' requests: every way a request can be wrong has its own code
and a message naming the problem."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from banking.domain.account import Command, RecordCredit, RecordDebit
from banking.domain.errors import IdempotencyKeyRequired, InvalidRequest
from banking.domain.money import parse_transaction_amount

MAX_DESCRIPTION = 140
_FIELDS = {"amount", "description"}
_PRINTABLE_ASCII = re.compile(r"\A[\x20-\x7e]{1,128}\Z")
# Control characters, surrogates, and what a reader cannot see: format characters
# (zero-width, bidirectional overrides that reorder what is displayed), private-use
# and unassigned code points, and line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"})


def transaction_command(kind: str, account_id: str, body: dict[str, Any]) -> Command:
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(map(repr, unknown))}")
    if "amount" not in body:
        raise InvalidRequest("field 'amount' is required")
    amount = parse_transaction_amount(body["amount"])
    description = _description(body.get("description"))
    command_type = RecordCredit if kind == "credit" else RecordDebit
    return command_type(account_id=account_id, amount=amount, description=description)


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


def correlation_id(headers: dict[str, str], request_id: str) -> str:
    """The client's X-Correlation-Id when it is sane, else the API's request id."""
    value = headers.get("x-correlation-id")
    return value if value and _PRINTABLE_ASCII.match(value) else request_id

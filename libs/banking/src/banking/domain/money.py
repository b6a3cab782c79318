"""Exact money. Amounts are whole cents held in an int; a float never touches them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from attrs import frozen

from banking.domain.errors import InvalidAmount

MAX_TRANSACTION = 100_000_000_000  # 1,000,000,000.00 in cents
# A plain decimal, optionally with up to 2 fractional digits: no exponent, no sign,
# no spaces, no unicode digits (str.isdigit would accept "١٢").
_AMOUNT = re.compile(r"\A(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?\Z")


@frozen(order=True)
class Money:
    cents: int

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def of(cls, text: str) -> Money:
        """Parse a trusted decimal string such as "-12.30" (stored data, not input)."""
        value = Decimal(text)
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{text!r} has more than 2 decimal places")
        return cls(int(cents))

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - other.cents)

    def __neg__(self) -> Money:
        return Money(-self.cents)

    def to_decimal(self) -> Decimal:
        return Decimal(self.cents).scaleb(-2)

    def __str__(self) -> str:
        sign = "-" if self.cents < 0 else ""
        whole, fraction = divmod(abs(self.cents), 100)
        return f"{sign}{whole}.{fraction:02d}"


def parse_transaction_amount(raw: object) -> Money:
    """A client's amount: a decimal string or a JSON number already parsed as Decimal.

    Greater than 0, at most 2 decimal places, at most 1,000,000,000.00.
    """
    if isinstance(raw, bool) or not isinstance(raw, str | Decimal | int):
        raise InvalidAmount('amount must be a decimal string such as "12.34" or a number')
    text = _canonical_text(raw)
    match = _AMOUNT.match(text)
    if match is None:
        raise InvalidAmount(
            f"amount {_shorten(text)!r} is not a positive decimal with at most 2 decimal places"
        )
    whole, fraction = match.group(1), match.group(2) or ""
    cents = int(whole) * 100 + int(fraction.ljust(2, "0"))
    if cents <= 0:
        raise InvalidAmount("amount must be greater than 0")
    if cents > MAX_TRANSACTION:
        raise InvalidAmount("amount must be at most 1000000000.00")
    return Money(cents)


def _canonical_text(raw: str | Decimal | int) -> str:
    if isinstance(raw, str):
        return raw
    try:
        value = Decimal(raw)
        if not value.is_finite():
            raise InvalidAmount("amount must be a finite number")
        # Bound the exponent before formatting: "1e400000000" would otherwise expand
        # into a gigabyte of digits.
        if abs(value.adjusted()) > 20:
            raise InvalidAmount("amount must be at most 1000000000.00")
        if value.is_signed():
            raise InvalidAmount("amount must be greater than 0")
        return format(value.normalize(), "f") if value != value.to_integral() else str(int(value))
    except InvalidOperation as error:
        raise InvalidAmount("amount is not a number") from error


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[:limit] + "…"

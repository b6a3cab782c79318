"""Exact money. An amount is a whole number of minor units held in an int, with the
number of decimal digits those units have (2 for cents, 0 for yen, 3 for fils); a
float never touches it.

Conversions from decimals never go through context arithmetic: `value * 100`,
`scaleb` and `normalize` all round to the context's 28 significant digits, which
turned `99.9999999999999999999999999999` into `100.00`. `_minor_units` works on the
decimal's digits and exponent instead, so a value either fits exactly or is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from attrs import frozen

from banking.domain.currency import Currency
from banking.domain.errors import InvalidAmount

DEFAULT_DIGITS = 2
MAX_TRANSACTION_MAJOR = 1_000_000_000  # in major units, whatever the currency
# Generous (a bank's own settlement accounts run deep), but bounded like every input.
MAX_OVERDRAFT_MAJOR = 10**12
# A plain decimal: no exponent, no sign, no spaces, no leading zeros, no unicode
# digits (str.isdigit would accept "١٢"). How many decimals fit is decided later,
# exactly, against the currency.
_PLAIN_DECIMAL = re.compile(r"\A(?:0|[1-9][0-9]*)(?:\.[0-9]+)?\Z", re.ASCII)
# Far beyond any balance, small enough that no conversion builds a huge integer.
_MAX_ADJUSTED_EXPONENT = 30


class MixedDigits(ValueError):
    """Arithmetic or comparison between amounts of different minor units: a bug (two
    currencies mixed), never something to round away."""


@frozen
class Money:
    """`minor` units of 10**-digits: `Money(1234)` is 12.34, `Money(1234, 0)` is 1234."""

    minor: int
    digits: int = DEFAULT_DIGITS

    @property
    def cents(self) -> int:
        """The minor units, by their name from when every amount had two decimals."""
        return self.minor

    @classmethod
    def zero(cls, digits: int = DEFAULT_DIGITS) -> Money:
        return cls(0, digits)

    @classmethod
    def of(cls, text: str, digits: int = DEFAULT_DIGITS) -> Money:
        """Parse a trusted decimal string such as "-12.30" (stored data, not input);
        ValueError unless it is a whole number of minor units."""
        try:
            value = Decimal(text)
        except InvalidOperation as error:
            raise ValueError(f"{text!r} is not a decimal") from error
        if not value.is_finite() or value.adjusted() > _MAX_ADJUSTED_EXPONENT:
            raise ValueError(f"{text!r} is not an amount")
        minor = _minor_units(value, digits)
        if minor is None:
            raise ValueError(f"{text!r} has more than {digits} decimal places")
        return cls(minor, digits)

    def in_digits(self, digits: int) -> Money | None:
        """The same amount in units of 10**-digits; None if it does not fit exactly."""
        if digits >= self.digits:
            return Money(self.minor * 10 ** (digits - self.digits), digits)
        quotient, remainder = divmod(self.minor, 10 ** (self.digits - digits))
        return Money(quotient, digits) if remainder == 0 else None

    def is_positive(self) -> bool:
        return self.minor > 0

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.digits)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.digits)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.digits)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other).minor

    def _same(self, other: Money) -> Money:
        if other.digits != self.digits:
            raise MixedDigits(f"{self} has {self.digits} decimal digits, {other} {other.digits}")
        return other

    def to_decimal(self) -> Decimal:
        return Decimal(str(self))  # exact: Decimal(str) never rounds

    def __str__(self) -> str:
        sign = "-" if self.minor < 0 else ""
        whole, fraction = divmod(abs(self.minor), 10**self.digits)
        return f"{sign}{whole}.{fraction:0{self.digits}d}" if self.digits else f"{sign}{whole}"


def parse_amount(raw: object, currency: Currency) -> Money:
    """A client's amount in `currency`: a decimal string or a JSON number already
    parsed as Decimal. Greater than 0, a whole number of the currency's minor units,
    at most 1,000,000,000 major units."""
    return parse_transaction_amount(raw, currency.digits)


def parse_transaction_amount(raw: object, digits: int = DEFAULT_DIGITS) -> Money:
    """A client's amount with `digits` decimals at most (see `parse_amount`).

    Pass `currency.MAX_DIGITS` when the currency is not known yet: `decide` then
    checks the amount against the account's currency, exactly.
    """
    value = _exact_decimal(raw, "amount")
    if value.is_signed() or value.is_zero():
        raise InvalidAmount("amount must be greater than 0")
    return _bounded(value, digits, "amount", MAX_TRANSACTION_MAJOR)


def parse_overdraft_limit(raw: object, currency: Currency) -> Money:
    """A client's overdraft limit: how far below zero the balance may go. At least 0,
    a whole number of the currency's minor units, at most 10**12 major units."""
    value = _exact_decimal(raw, "overdraft limit")
    if value.is_signed() and not value.is_zero():
        raise InvalidAmount("overdraft limit must be 0 or more")
    # Not abs(): like every context operation it rounds to 28 significant digits.
    return _bounded(value, currency.digits, "overdraft limit", MAX_OVERDRAFT_MAJOR)


def _bounded(value: Decimal, digits: int, what: str, maximum: int) -> Money:
    if value > maximum:
        raise InvalidAmount(f"{what} must be at most {maximum}")
    minor = _minor_units(value, digits)
    if minor is None:
        raise InvalidAmount(
            f"{what} {_shorten(str(value))!r} has more than {digits} decimal places"
        )
    return Money(minor, digits)


def _exact_decimal(raw: object, what: str) -> Decimal:
    """The exact value of a string or JSON number (Decimal or int), never rounded."""
    if isinstance(raw, bool) or not isinstance(raw, str | Decimal | int):
        raise InvalidAmount(f'{what} must be a decimal string such as "12.34" or a number')
    if isinstance(raw, str):
        if not _PLAIN_DECIMAL.match(raw):
            raise InvalidAmount(f"{what} {_shorten(raw)!r} is not a plain decimal such as 12.34")
        return Decimal(raw)
    value = Decimal(raw)
    if not value.is_finite():
        raise InvalidAmount(f"{what} must be a finite number")
    return value


def _minor_units(value: Decimal, digits: int) -> int | None:
    """`value` in units of 10**-digits, exactly, or None when it is not a whole
    number of them. Callers bound the magnitude first (it builds an int of it)."""
    sign, coefficient, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity
        return None
    shift = exponent + digits
    if shift < 0:
        if any(coefficient[shift:]):
            return None
        coefficient, shift = coefficient[:shift], 0
    magnitude: int = int("".join(map(str, coefficient)) or "0") * 10**shift
    return -magnitude if sign else magnitude


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[:limit] + "…"

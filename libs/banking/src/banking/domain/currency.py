"""Currencies: ISO 4217 codes and their minor units.

The codes and minor units come from the `iso4217` package, which ships the table
ISO's maintenance agency publishes; a new release of the table is a version bump,
never an edit here. Codes without minor units (precious metals, XDR, the testing
code XTS, "no currency" XXX) cannot hold a ledger amount and are not currencies here.
"""

from __future__ import annotations

import re

import iso4217
from attrs import field, frozen

from banking.domain.errors import InvalidCurrency

_MINOR_DIGITS: dict[str, int] = {
    entry.code: entry.exponent for entry in iso4217.Currency if entry.exponent is not None
}
# The finest minor unit of any currency: an amount with more decimals fits none.
MAX_DIGITS = max(_MINOR_DIGITS.values())
_CODE = re.compile(r"\A[A-Z]{3}\Z")


def _known(_: object, __: object, code: str) -> None:
    if code not in _MINOR_DIGITS:
        raise InvalidCurrency(f"{_shorten(code)!r} is not an ISO 4217 currency code")


@frozen
class Currency:
    """An ISO 4217 currency, such as `Currency("EUR")`; any other code raises
    `InvalidCurrency`."""

    code: str = field(validator=_known)

    @property
    def digits(self) -> int:
        """Its minor units: 2 for EUR (cents), 0 for JPY, 3 for KWD (fils)."""
        return _MINOR_DIGITS[self.code]

    def __str__(self) -> str:
        return self.code


def parse_currency(raw: object) -> Currency:
    """A client's currency: exactly three upper-case letters of a known code."""
    if not isinstance(raw, str) or not _CODE.match(raw):
        shown = _shorten(raw) if isinstance(raw, str) else type(raw).__name__
        raise InvalidCurrency(f"currency must be an ISO 4217 code such as 'EUR', not {shown!r}")
    return Currency(raw)


def _shorten(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[:limit] + "…"

"""Deployment settings, read once from the environment a function is given."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen

from banking.domain.account import LegacyTerms
from banking.domain.currency import Currency
from banking.domain.errors import InvalidCurrency
from banking.domain.money import Money


class SettingsError(Exception):
    pass


@frozen
class Settings:
    environment: Mapping[str, str]

    @classmethod
    def from_env(cls) -> Settings:
        return cls(dict(os.environ))

    def required(self, name: str) -> str:
        value = self.environment.get(name)
        if not value:
            raise SettingsError(f"environment variable {name} is not set")
        return value

    @property
    def zone(self) -> ZoneInfo:
        name = self.environment.get("LEDGER_TIMEZONE") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingsError(f"LEDGER_TIMEZONE {name!r} is not an IANA time zone") from error

    @property
    def legacy_terms(self) -> LegacyTerms:
        """How accounts whose history predates accounts read (docs/events.md): the
        deployment's currency (LEGACY_CURRENCY, default EUR) and overdraft limit
        (OVERDRAFT_LIMIT) of that time."""
        code = self.environment.get("LEGACY_CURRENCY") or "EUR"
        try:
            return LegacyTerms(Currency(code), self.overdraft_limit)
        except (InvalidCurrency, ValueError) as error:
            raise SettingsError(
                f"LEGACY_CURRENCY {code!r} must be an ISO 4217 code with two decimals"
            ) from error

    @property
    def overdraft_limit(self) -> Money:
        raw = self.environment.get("OVERDRAFT_LIMIT") or "0"
        try:
            value = Decimal(raw)
        except InvalidOperation as error:
            raise SettingsError(f"OVERDRAFT_LIMIT {raw!r} is not a decimal") from error
        if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
            raise SettingsError(f"OVERDRAFT_LIMIT {raw!r} must be >= 0 with at most 2 decimals")
        return Money.of(str(value))

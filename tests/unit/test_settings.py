"""The deployment settings that say how accounts from before accounts read."""

from __future__ import annotations

import pytest

from banking.domain.account import LegacyTerms
from banking.domain.currency import Currency
from banking.domain.money import Money
from banking.entrypoints.settings import Settings, SettingsError


def test_legacy_accounts_read_in_euros_at_a_zero_limit_by_default():
    assert Settings({}).legacy_terms == LegacyTerms(Currency("EUR"), Money(0))


def test_the_legacy_currency_and_limit_come_from_the_environment():
    settings = Settings({"LEGACY_CURRENCY": "USD", "OVERDRAFT_LIMIT": "50.00"})
    assert settings.legacy_terms == LegacyTerms(Currency("USD"), Money(5000))


@pytest.mark.parametrize("code", ["JPY", "KWD", "XYZ", "eur"])
def test_a_legacy_currency_without_two_decimals_or_unknown_is_refused(code):
    # Every amount stored before accounts has two decimals: only such a currency fits.
    with pytest.raises(SettingsError, match="LEGACY_CURRENCY"):
        _ = Settings({"LEGACY_CURRENCY": code}).legacy_terms

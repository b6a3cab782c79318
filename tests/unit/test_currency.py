import iso4217
import pytest

from banking.domain.currency import MAX_DIGITS, Currency, parse_currency
from banking.domain.errors import InvalidCurrency


@pytest.mark.parametrize(("code", "digits"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_minor_units_come_from_the_iso_table(code, digits):
    assert parse_currency(code).digits == digits


def test_every_currency_with_minor_units_in_the_published_table_is_known():
    # GIVEN the table the iso4217 package ships WHEN each code is looked up
    for entry in iso4217.Currency:
        if entry.exponent is None:
            continue
        # THEN it is a currency with exactly the table's minor units
        assert Currency(entry.code).digits == entry.exponent
    finest = max(e.exponent for e in iso4217.Currency if e.exponent is not None)
    assert finest == MAX_DIGITS


@pytest.mark.parametrize(
    "raw",
    [
        "eur",  # codes are upper case; no guessing
        "EURO",
        "XYZ",
        "XAU",  # gold: no minor units, no ledger amount
        "XXX",
        "",
        " EUR",
        "ＥＵＲ",  # fullwidth letters
        None,
        978,  # the numeric code is not accepted in place of the letters
        ["EUR"],
    ],
)
def test_anything_but_a_known_code_is_an_invalid_currency(raw):
    with pytest.raises(InvalidCurrency) as refused:
        parse_currency(raw)
    assert refused.value.code == "invalid_currency"


def test_a_currency_cannot_be_built_from_an_unknown_code():
    with pytest.raises(InvalidCurrency):
        Currency("ABC")


def test_a_currency_reads_as_its_code():
    assert str(Currency("KWD")) == "KWD"

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from banking.domain.currency import Currency
from banking.domain.errors import InvalidAmount
from banking.domain.money import (
    MAX_TRANSACTION_MAJOR,
    MixedDigits,
    Money,
    parse_amount,
    parse_overdraft_limit,
    parse_transaction_amount,
)


def json_number(text):
    """A JSON number as the HTTP layer parses it (entrypoints.http.parse_json_object)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("5", 500),
        ("5.5", 550),
        ("1.000", 100),  # decided on the value: trailing zeros add no precision
        ("1000000000.00", 100_000_000_000),
        (Decimal("12.5"), 1250),
        (Decimal("100"), 10000),
        (Decimal("1E+2"), 10000),
        (Decimal("1.0000000000000000000000000000000000"), 100),
        (7, 700),
    ],
)
def test_valid_amounts_are_parsed_exactly(raw, cents):
    assert parse_transaction_amount(raw) == Money(cents)


@pytest.mark.parametrize(
    "raw",
    [
        "0",
        "0.00",
        "-1",
        "1.001",
        "1e3",
        "NaN",
        "Infinity",
        " 1",
        "1,00",
        "１２",  # fullwidth digits
        "١٢",  # Arabic-Indic digits
        "1000000000.01",
        "9" * 5000,
        "",
        "+1",
        "01",
        ".5",
        "5.",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1e400"),
        Decimal("1e-400"),
        Decimal("-0"),
        Decimal("0E-5"),
        Decimal("0.001"),
        Decimal("-5"),
        True,
        None,
        [],
        {"amount": 1},
        1.5,  # a float never gets near money
    ],
)
def test_invalid_amounts_are_rejected(raw):
    with pytest.raises(InvalidAmount):
        parse_transaction_amount(raw)


@pytest.mark.parametrize(
    "text",
    [
        "99.9999999999999999999999999999",  # 30 significant digits: rounded to 100.00 once
        "12.3400000000000000000000000000001",
        "0.0000000000000000000000000000001",
        "999999999.99999999999999999999999999",
    ],
)
def test_an_amount_with_too_many_decimals_is_refused_however_long_as_string_and_number(text):
    # GIVEN the amount as a JSON string and as a JSON number
    for raw in (text, json_number(text)):
        # WHEN parsed THEN refused, not rounded
        with pytest.raises(InvalidAmount, match="decimal places"):
            parse_transaction_amount(raw)


def test_json_numbers_reach_the_domain_unrounded():
    # GIVEN the JSON parse the HTTP layer uses WHEN given 30 significant digits
    # THEN no digit is lost (Decimal(str) is exact; only context arithmetic rounds)
    assert str(json_number("99.9999999999999999999999999999")) == "99.9999999999999999999999999999"


@pytest.mark.parametrize(
    ("raw", "code", "expected"),
    [
        ("1200", "JPY", Money(1200, 0)),
        (Decimal("1.2E+3"), "JPY", Money(1200, 0)),
        ("12.34", "EUR", Money(1234, 2)),
        ("1.234", "KWD", Money(1234, 3)),
        ("0.001", "KWD", Money(1, 3)),
    ],
)
def test_an_amount_fits_its_currencys_minor_units(raw, code, expected):
    assert parse_amount(raw, Currency(code)) == expected


@pytest.mark.parametrize(
    ("raw", "code"), [("12.5", "JPY"), (Decimal("0.1"), "JPY"), ("1.001", "EUR"), ("1.0001", "KWD")]
)
def test_an_amount_finer_than_its_currency_is_refused(raw, code):
    with pytest.raises(InvalidAmount):
        parse_amount(raw, Currency(code))


def test_the_maximum_per_transaction_is_in_major_units_in_every_currency():
    for code in ("JPY", "EUR", "KWD"):
        assert parse_amount(str(MAX_TRANSACTION_MAJOR), Currency(code)).minor > 0
        with pytest.raises(InvalidAmount, match="at most"):
            parse_amount(str(MAX_TRANSACTION_MAJOR + 1), Currency(code))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", Money(0)), ("250.5", Money(25050)), (0, Money(0)), (Decimal("-0"), Money(0))],
)
def test_an_overdraft_limit_may_be_zero(raw, expected):
    assert parse_overdraft_limit(raw, Currency("EUR")) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        Decimal("-0.01"),
        "0.001",
        "1e3",
        Decimal("1e13"),
        "99.9999999999999999999999999999",
        Decimal("99.9999999999999999999999999999"),
    ],
)
def test_an_invalid_overdraft_limit_is_refused(raw):
    with pytest.raises(InvalidAmount, match="overdraft limit"):
        parse_overdraft_limit(raw, Currency("EUR"))


def test_money_formats_with_its_digits():
    assert str(Money(0)) == "0.00"
    assert str(Money(5)) == "0.05"
    assert str(Money(-1234)) == "-12.34"
    assert str(Money.of("-0.10")) == "-0.10"
    assert str(Money(1200, 0)) == "1200"
    assert str(Money(-5, 3)) == "-0.005"


def test_money_arithmetic_is_exact():
    total = sum((Money.of("0.10") for _ in range(10)), Money.zero())
    assert total == Money.of("1.00")


def test_money_of_refuses_what_does_not_fit_its_digits():
    with pytest.raises(ValueError, match="decimal places"):
        Money.of("0.001")
    assert Money.of("1.5", 3) == Money(1500, 3)


def test_arithmetic_or_comparison_across_digits_is_an_error():
    yen, cents = Money(1, 0), Money(100, 2)
    for operation in (
        lambda: yen + cents,
        lambda: yen - cents,
        lambda: yen < cents,
        lambda: yen <= cents,
        lambda: yen > cents,
        lambda: yen >= cents,
    ):
        with pytest.raises(MixedDigits):
            operation()


def test_converting_digits_is_exact_or_nothing():
    assert Money(1200, 2).in_digits(0) == Money(12, 0)
    assert Money(1234, 2).in_digits(0) is None
    assert Money(12, 0).in_digits(3) == Money(12000, 3)


digits = st.sampled_from([0, 2, 3])


def written(money, zeros):
    """`money` as text, with `zeros` more trailing zeros in its fraction."""
    text = str(money)
    if zeros and money.digits == 0:
        text += "."
    return text + "0" * zeros


@given(minor=st.integers(1, MAX_TRANSACTION_MAJOR), digits=digits, padding=st.integers(0, 40))
def test_every_amount_that_fits_parses_to_exactly_its_value_as_string_and_number(
    minor, digits, padding
):
    # GIVEN an amount that fits `digits`, written with up to 40 more trailing zeros
    text = written(Money(minor, digits), padding)
    # WHEN parsed as a string and as a JSON number THEN both give exactly that amount
    assert parse_transaction_amount(text, digits) == Money(minor, digits)
    assert parse_transaction_amount(json_number(text), digits) == Money(minor, digits)


@given(
    minor=st.integers(1, MAX_TRANSACTION_MAJOR - 1),
    digits=digits,
    extra=st.integers(1, 40),
    tail=st.integers(1, 9),
)
def test_every_amount_with_a_nonzero_digit_beyond_its_currency_is_refused(
    minor, digits, extra, tail
):
    # GIVEN an amount with a nonzero digit `extra` places beyond what `digits` allows
    text = written(Money(minor, digits), extra - 1) + ("." if digits == 0 and extra == 1 else "")
    text += str(tail)
    # WHEN parsed as a string and as a JSON number THEN refused as too precise
    for raw in (text, json_number(text)):
        with pytest.raises(InvalidAmount, match="decimal places"):
            parse_transaction_amount(raw, digits)

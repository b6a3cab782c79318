from decimal import Decimal

import pytest

from banking.domain.errors import InvalidAmount
from banking.domain.money import Money, parse_transaction_amount


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("5", 500),
        ("5.5", 550),
        ("1000000000.00", 100_000_000_000),
        (Decimal("12.5"), 1250),
        (Decimal("100"), 10000),
        (Decimal("1E+2"), 10000),
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
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1e400"),
        Decimal("-0"),
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


def test_money_formats_with_exactly_two_decimals():
    assert str(Money(0)) == "0.00"
    assert str(Money(5)) == "0.05"
    assert str(Money(-1234)) == "-12.34"
    assert str(Money.of("-0.10")) == "-0.10"


def test_money_arithmetic_is_exact():
    total = sum((Money.of("0.10") for _ in range(10)), Money.zero())
    assert total == Money.of("1.00")

from decimal import Decimal

import pytest

from banking.domain.errors import IdempotencyKeyRequired, InvalidAmount, InvalidRequest
from banking.domain.identifiers import validate_account_id
from banking.entrypoints.http import InvalidJson, parse_json_object
from banking.entrypoints.requests import idempotency_key, transaction_command


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"amount": NaN}',
        '{"amount": Infinity}',
        '{"amount": "1", "amount": "2"}',
        "[" * 5000 + "]" * 5000,
        '{"amount": "1", "x": ' + "[" * 900 + "]" * 900 + "}",  # parses, then too deep
        '{"a":' * 40 + "1" + "}" * 40,
    ],
)
def test_malformed_json_is_invalid_json(text):
    with pytest.raises(InvalidJson):
        parse_json_object(text)


def test_json_numbers_are_parsed_exactly_never_as_floats():
    body = parse_json_object('{"amount": 0.1}')
    command = transaction_command("credit", "alice", body)
    # Exactly 0.1, in as many digits as any currency has: the account's currency
    # decides how it is written.
    assert command.amount.to_decimal() == Decimal("0.1")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"amount": "1.00", "memo": "x"}, InvalidRequest),
        ({}, InvalidRequest),
        ({"amount": "1.00", "description": 5}, InvalidRequest),
        ({"amount": "1.00", "description": "x" * 141}, InvalidRequest),
        ({"amount": "1.00", "description": "bell\x07"}, InvalidRequest),
        # invisible and direction-changing characters, as control characters are
        ({"amount": "1.00", "description": "pay\u202eevil"}, InvalidRequest),  # Cf: RLO
        ({"amount": "1.00", "description": "pay\u200bme"}, InvalidRequest),  # Cf: zero width
        ({"amount": "1.00", "description": "pay\ue000"}, InvalidRequest),  # Co: private use
        ({"amount": "1.00", "description": "pay\u0378"}, InvalidRequest),  # Cn: unassigned
        ({"amount": "1.00", "description": "a\u2028b"}, InvalidRequest),  # Zl
        ({"amount": "1.00", "description": "a\u2029b"}, InvalidRequest),  # Zp
        ({"amount": "-1.00"}, InvalidAmount),
        ({"amount": None}, InvalidAmount),
    ],
)
def test_bad_bodies_are_refused_with_their_code(body, error):
    with pytest.raises(error):
        transaction_command("debit", "alice", body)


def test_a_json_array_is_not_a_request():
    with pytest.raises(InvalidRequest):
        parse_json_object("[1]")


@pytest.mark.parametrize(
    "account_id",
    ["", "a" * 65, "alice/../bob", "alice%2F", "аlice", "alice bob", "alice\n", "..", "ali.ce"],
)
def test_bad_account_ids_are_refused(account_id):
    with pytest.raises(Exception, match="account id"):
        validate_account_id(account_id)


def test_good_account_ids_are_accepted():
    assert validate_account_id("Alice_01-x") == "Alice_01-x"
    assert validate_account_id("a" * 64) == "a" * 64


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "ключ"])
def test_bad_idempotency_keys_are_refused(key):
    with pytest.raises(InvalidRequest):
        idempotency_key({"idempotency-key": key})


def test_a_request_without_an_idempotency_key_is_refused():
    # GIVEN headers without Idempotency-Key WHEN read THEN the key is required
    with pytest.raises(IdempotencyKeyRequired) as refused:
        idempotency_key({"content-type": "application/json"})
    assert refused.value.code == "idempotency_key_required"


def test_ordinary_descriptions_in_any_script_are_accepted():
    command = transaction_command(
        "credit", "alice", {"amount": "1", "description": "Café – 東京 €"}
    )
    assert command.description == "Café – 東京 €"

"""Every error answer becomes one exception class, carrying code, message, status, details."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fakes import FakeApi

from ledger_client import (
    AccountClosed,
    AccountExists,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotFrozen,
    ConcurrentModification,
    CurrencyMismatch,
    Forbidden,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAccountId,
    InvalidAmount,
    InvalidCurrency,
    InvalidJson,
    InvalidRequest,
    Ledger,
    LedgerError,
    NotFound,
    OverdraftLimitTooLow,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    StatementNotFound,
    TransferNotFound,
    Unauthorized,
    UnexpectedResponse,
)
from ledger_client.errors import error_for


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_json", InvalidJson),
        (400, "invalid_amount", InvalidAmount),
        (400, "invalid_account_id", InvalidAccountId),
        (400, "invalid_request", InvalidRequest),
        (400, "idempotency_key_required", IdempotencyKeyRequired),
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (404, "account_not_found", AccountNotFound),
        (404, "statement_not_found", StatementNotFound),
        (404, "not_found", NotFound),
        (409, "idempotency_key_reused", IdempotencyKeyReused),
        (409, "concurrent_modification", ConcurrentModification),
        (413, "payload_too_large", PayloadTooLarge),
        (422, "insufficient_funds", InsufficientFunds),
        (400, "invalid_currency", InvalidCurrency),
        (404, "transfer_not_found", TransferNotFound),
        (409, "account_exists", AccountExists),
        (422, "account_frozen", AccountFrozen),
        (422, "account_not_frozen", AccountNotFrozen),
        (422, "account_closed", AccountClosed),
        (422, "account_not_empty", AccountNotEmpty),
        (422, "currency_mismatch", CurrencyMismatch),
        (422, "overdraft_limit_too_low", OverdraftLimitTooLow),
    ],
)
def test_each_error_code_has_its_class(status: int, code: str, error: type[LedgerError]) -> None:
    # GIVEN an error answer of the API
    body = {"error": {"code": code, "message": "why", "details": {"field": "amount"}}}

    # WHEN it is mapped
    raised = error_for(httpx.Response(status, json=body))

    # THEN it is exactly that class, with everything the answer said
    assert type(raised) is error
    assert isinstance(raised, LedgerError)
    assert (raised.code, raised.message, raised.status) == (code, "why", status)
    assert raised.details == {"field": "amount"}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, LedgerError),
        (418, LedgerError),
        (500, ServerError),
        (503, ServiceUnavailable),
    ],
)
def test_an_unknown_code_maps_to_the_class_of_its_status(
    status: int, error: type[LedgerError]
) -> None:
    body = {"error": {"code": "brand_new_code", "message": "new"}}

    raised = error_for(httpx.Response(status, json=body))

    assert type(raised) is error
    assert raised.code == "brand_new_code"


def test_the_gateways_bare_message_maps_by_status() -> None:
    # GIVEN the API gateway's own 401 (no "error" object, no code)
    raised = error_for(httpx.Response(401, json={"message": "Unauthorized"}))

    # THEN it is Unauthorized with the class's code
    assert type(raised) is Unauthorized
    assert (raised.code, raised.message, raised.status) == ("unauthorized", "Unauthorized", 401)
    assert raised.details == {}


def test_an_error_body_that_is_not_json_still_maps_by_status() -> None:
    raised = error_for(httpx.Response(502, text="<html>Bad Gateway</html>"))

    assert type(raised) is ServerError
    assert raised.status == 502
    assert raised.message == "Bad Gateway"


def test_a_debit_beyond_the_balance_raises_insufficient_funds(ledger: Ledger) -> None:
    ledger.credit("alice", "5.00")

    with pytest.raises(InsufficientFunds) as raised:
        ledger.debit("alice", Decimal("5.01"))

    assert raised.value.status == 422
    assert str(raised.value) == "422 insufficient_funds: insufficient_funds (fake)"


def test_a_success_with_an_unexpected_body_raises_unexpected_response() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json={"accountId": "a"}))
    with (
        Ledger("https://x", token="t", transport=transport) as ledger,
        pytest.raises(UnexpectedResponse),
    ):
        ledger.balance("a")


def test_an_account_id_cannot_escape_its_route(ledger: Ledger, api: FakeApi) -> None:
    with pytest.raises(NotFound):
        ledger.balance("../../admin")

    assert api.requests[0].url.raw_path == b"/accounts/..%2F..%2Fadmin/balance"

"""Who may do what, and hostile input, over real HTTP: the JWT authorizer the local
runtime enforces as Terraform declared it, then the functions' own checks. Whatever is
refused stores nothing."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import READ_ANY_SCOPE, WRITE_SCOPE, Api, new_key
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

UNAUTHORIZED = {"message": "Unauthorized"}


def code(response) -> str:
    return str(response.json()["error"]["code"])


def test_a_request_without_a_token_is_unauthorized_and_stores_nothing(
    api: Api, account: str
) -> None:
    # WHEN a credit is posted without a token
    response = api.as_(None).credit(account, "10.00")

    # THEN the authorizer refuses it, and nothing is stored
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert api.postings(account) == []


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"ttl_s": -60}, id="expired"),
        pytest.param({"claims": {"aud": "another-api"}}, id="for another audience"),
        pytest.param({"claims": {"iss": "http://127.0.0.1:9/evil"}}, id="of another issuer"),
    ],
)
def test_an_invalid_token_is_unauthorized_and_stores_nothing(
    api: Api, system: System, account: str, options: dict[str, object]
) -> None:
    token = system.token("payments", WRITE_SCOPE, **options)

    response = api.as_(token).credit(account, "10.00")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert api.postings(account) == []


@pytest.mark.parametrize("token_use", ["id", "refresh"])
def test_a_token_that_is_not_an_access_token_is_refused_by_the_functions_and_stores_nothing(
    api: Api, system: System, account: str, token_use: str
) -> None:
    # GIVEN valid tokens of the issuer that are not access tokens (a Cognito ID token
    # passes API Gateway's JWT authorizer, which cannot check token_use)
    writer = api.as_(system.token("payments", WRITE_SCOPE, claims={"token_use": token_use}))
    owner = api.as_(system.token(account, claims={"token_use": token_use}))

    # WHEN they record and read
    recorded = writer.credit(account, "10.00")
    read = owner.get(f"/accounts/{account}/events")

    # THEN the functions refuse both as unauthenticated, and nothing is stored
    assert (recorded.status_code, code(recorded)) == (401, "unauthorized")
    assert (read.status_code, code(read)) == (401, "unauthorized")
    assert api.postings(account) == []


def test_a_tampered_token_is_unauthorized(api: Api, system: System, account: str) -> None:
    # GIVEN a user's token whose payload is swapped for one claiming the write scope
    header, _, signature = system.token(account).split(".")
    _, forged_payload, _ = system.token(account, WRITE_SCOPE).split(".")

    response = api.as_(f"{header}.{forged_payload}.{signature}").credit(account, "10.00")

    assert response.status_code == 401
    assert api.postings(account) == []


def test_a_user_cannot_record_even_on_her_own_account(
    api: Api, system: System, account: str
) -> None:
    # GIVEN the account owner's own token, which has no write scope
    owner = api.as_(system.token(account))

    # WHEN she credits her own account
    response = owner.credit(account, "1000000.00")

    # THEN the route's scope check forbids it, and nothing is stored
    assert response.status_code == 403
    assert api.postings(account) == []


def test_the_owner_reads_her_account_and_nobody_else_does(
    api: Api, system: System, account: str
) -> None:
    # GIVEN an account with one credit, recorded by the back office
    assert api.credit(account, "10.00").status_code == 201
    api.balance_at(account, 2)
    owner = api.as_(system.token(account))
    stranger = api.as_(system.token("mallory"))

    for path in ("balance", "events", "statements/2026-01"):
        # THEN the owner gets past the authorization (a statement may not exist)
        assert owner.get(f"/accounts/{account}/{path}").status_code in (200, 404)
        # AND a stranger is forbidden, with the API's error code
        refused = stranger.get(f"/accounts/{account}/{path}")
        assert (refused.status_code, code(refused)) == (403, "forbidden"), path


def test_an_account_listed_in_the_tokens_accounts_claim_is_readable(
    api: Api, system: System, account: str
) -> None:
    assert api.credit(account, "10.00").status_code == 201
    user = api.as_(system.token("user-7", accounts=["joint-elsewhere", account]))

    assert user.get(f"/accounts/{account}/events").status_code == 200


def test_a_back_office_reader_reads_any_account_but_cannot_record(
    api: Api, system: System, account: str
) -> None:
    assert api.credit(account, "10.00").status_code == 201
    support = api.as_(system.token("support", READ_ANY_SCOPE))

    assert support.get(f"/accounts/{account}/events").status_code == 200
    assert support.credit(account, "5.00").status_code == 403
    assert len(api.postings(account)) == 1


def test_an_unknown_route_needs_a_token_too(api: Api) -> None:
    assert api.as_(None).request("GET", "/nowhere").status_code == 401
    assert code(api.request("GET", "/nowhere")) == "not_found"


def raw_request(api: Api, method: str, path: str, body: bytes = b"", **headers: str):
    """The request exactly as written: no client normalises the path or the body."""
    url = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        all_headers = {
            "authorization": f"Bearer {api.token}",
            "content-type": "application/json",
            "content-length": str(len(body)),
            "idempotency-key": new_key(),
            **headers,
        }
        for name, value in all_headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "account_path",
    [
        "..%2Fvictim",
        "victim%2F..%2Fother",
        "%2E%2E",
        "%D0%B0lice",  # a Cyrillic letter that looks like "a"
        "alice%00",
        "alice%20",
        "al%C4%B1ce",  # dotless i
        "x" * 65,
    ],
)
def test_path_tricks_in_account_ids_are_refused_and_store_nothing(
    api: Api, account_path: str
) -> None:
    # WHEN a credit is posted to an account id made of path tricks or look-alikes
    status, body = raw_request(
        api, "POST", f"/accounts/{account_path}/credits", b'{"amount": "1.00"}'
    )

    # THEN it is refused as an invalid account id, and no account was touched
    assert (status, body["error"]["code"]) == (400, "invalid_account_id")
    assert api.events("victim") == []
    assert api.events("alice") == []


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b'{"amount": "1.00", "amount": "9.00"}', "application/json", "invalid_json"),
        (b'{"amount": NaN}', "application/json", "invalid_json"),
        (b'{"amount": 1e400}', "application/json", "invalid_amount"),
        (b'{"amount": -0}', "application/json", "invalid_amount"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "application/json", "invalid_amount"),
        (
            b'{"amount": "1.00", "x": ' + b"[" * 500 + b"]" * 500 + b"}",
            "application/json",
            "invalid_json",
        ),
        (b'{"amount": "1.00", "description": "\xff\xfe"}', "application/json", "invalid_json"),
        (
            b'{"amount": "1.00", "description": "\xff\xfe"}',
            "application/octet-stream",
            "invalid_json",
        ),
        (b'{"amount": "\xd9\xa1"}', "application/json", "invalid_amount"),  # an Arabic-Indic 1
        (b'{"amount": "1.00", "accountId": "other"}', "application/json", "invalid_request"),
    ],
)
def test_hostile_bodies_get_their_code_and_store_nothing(
    api: Api, account: str, body: bytes, content_type: str, error: str
) -> None:
    status, answer = raw_request(
        api, "POST", f"/accounts/{account}/credits", body, **{"content-type": content_type}
    )

    assert (status, answer["error"]["code"]) == (400, error)
    assert api.postings(account) == []


def test_oversized_headers_are_refused_before_any_function(api: Api, account: str) -> None:
    status, _ = raw_request(
        api, "POST", f"/accounts/{account}/credits", b'{"amount": "1.00"}', **{"x-pad": "y" * 11000}
    )

    assert status == 431
    assert api.postings(account) == []


# Issue 15: payments need a key, keys are the caller's, refusals tell a caller only
# what it may read, descriptions show what they say, nothing is cached.


def test_a_payment_without_an_idempotency_key_is_refused_and_stores_nothing(
    api: Api, account: str
) -> None:
    for kind in ("credits", "debits"):
        response = api.post(f"/accounts/{account}/{kind}", {"amount": "1.00"})
        assert (response.status_code, code(response)) == (400, "idempotency_key_required")
    assert api.postings(account) == []


def test_two_back_office_systems_reusing_a_key_and_body_each_store_their_payment(
    api: Api, system: System, account: str
) -> None:
    # GIVEN two systems that happen to send the same key with the same body
    key = {"Idempotency-Key": "invoice-2026-001"}
    payroll = api.as_(system.token("payroll", WRITE_SCOPE))
    shop = api.as_(system.token("shop", WRITE_SCOPE))
    # WHEN both post it
    first, second = (
        payroll.credit(account, "5.00", headers=key),
        shop.credit(account, "5.00", headers=key),
    )
    # THEN both are stored, each once
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["eventId"] != second.json()["eventId"]
    assert payroll.credit(account, "5.00", headers=key).json() == first.json()
    assert len(api.postings(account)) == 2


def test_a_refused_debit_tells_only_a_reader_of_the_account_its_figures(
    api: Api, system: System, account: str
) -> None:
    # GIVEN an account holding 5.00
    assert api.credit(account, "5.00").status_code == 201
    writer = api.as_(system.token("payments", WRITE_SCOPE))
    # WHEN a write-only system and a back office that may read both overdraw it
    blind, seeing = writer.debit(account, "5.01"), api.debit(account, "5.01")
    # THEN both are refused; only the reader sees the balance and the limit
    assert (blind.status_code, code(blind)) == (422, "insufficient_funds")
    assert "details" not in blind.json()["error"]
    assert "5.00" not in blind.text
    assert (seeing.status_code, code(seeing)) == (422, "insufficient_funds")
    assert seeing.json()["error"]["details"] == {
        "accountId": account,
        "currency": "EUR",
        "balance": "5.00",
        "availableBalance": "5.00",
        "overdraftLimit": "0.00",
        "debit": "5.01",
    }
    assert len(api.postings(account)) == 1


@pytest.mark.parametrize("text", ["pay\u202emoc.evil", "a\u200bb", "a\u2029b", "\ue000"])
def test_a_description_hiding_or_reordering_text_is_refused(
    api: Api, account: str, text: str
) -> None:
    response = api.post(
        f"/accounts/{account}/credits",
        {"amount": "1.00", "description": text},
        headers={"Idempotency-Key": new_key()},
    )
    assert (response.status_code, code(response)) == (400, "invalid_request")
    assert api.postings(account) == []


def test_no_answer_may_be_cached(api: Api, account: str) -> None:
    answers = [
        api.credit(account, "1.00"),
        api.get(f"/accounts/{account}/events"),
        api.debit(account, "99.00"),
        api.request("GET", "/nowhere"),
    ]
    assert [a.status_code for a in answers] == [201, 200, 422, 404]
    assert all(a.headers.get("cache-control") == "no-store" for a in answers)

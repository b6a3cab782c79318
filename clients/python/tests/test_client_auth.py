"""Token providers: client credentials (Cognito) and the local system's issuer."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes import Sleeps

from ledger_client import (
    ClientCredentialsTokenProvider,
    LocalIssuerTokenProvider,
    TokenRequestFailed,
)

TOKEN_URL = "https://ledger-dev.auth.eu-west-1.amazoncognito.com/oauth2/token"


class TokenEndpoint:
    """Cognito's token endpoint: a numbered token per request, valid ``expires_in`` s."""

    def __init__(self, expires_in: int = 3600, delay: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.expires_in = expires_in
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay)
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
        body = {"access_token": f"token-{number}", "expires_in": self.expires_in}
        return httpx.Response(200, json={**body, "token_type": "Bearer"})


def provider(endpoint: TokenEndpoint, sleeps: Sleeps) -> ClientCredentialsTokenProvider:
    return ClientCredentialsTokenProvider(
        TOKEN_URL,
        "client-id",
        "client-secret",
        scopes=["ledger/transactions.write", "ledger/accounts.read"],
        refresh_before=60,
        transport=httpx.MockTransport(endpoint),
        clock=sleeps.clock,
    )


def test_client_credentials_are_sent_as_cognito_expects() -> None:
    endpoint = TokenEndpoint()

    token = provider(endpoint, Sleeps())()

    request = endpoint.requests[0]
    assert token == "token-1"
    assert (request.method, str(request.url)) == ("POST", TOKEN_URL)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["ledger/transactions.write ledger/accounts.read"],
    }


def test_a_token_is_cached_until_shortly_before_it_expires() -> None:
    # GIVEN a provider whose tokens live an hour and are refreshed a minute early
    endpoint, sleeps = TokenEndpoint(expires_in=3600), Sleeps()
    tokens = provider(endpoint, sleeps)

    # WHEN it is asked over that hour
    first = tokens()
    sleeps.sleep(3539)
    still = tokens()
    sleeps.sleep(1)
    refreshed = tokens()

    # THEN it fetched once until the refresh point, then once more
    assert (first, still, refreshed) == ("token-1", "token-1", "token-2")
    assert len(endpoint.requests) == 2


def test_a_short_lived_token_is_refreshed_at_half_its_life() -> None:
    endpoint, sleeps = TokenEndpoint(expires_in=30), Sleeps()
    tokens = provider(endpoint, sleeps)

    tokens()
    sleeps.sleep(14)
    assert tokens() == "token-1"
    sleeps.sleep(1)
    assert tokens() == "token-2"


def test_invalidate_forces_a_new_token() -> None:
    endpoint = TokenEndpoint()
    tokens = provider(endpoint, Sleeps())

    tokens()
    tokens.invalidate()

    assert tokens() == "token-2"


def test_threads_asking_at_once_share_one_token_request() -> None:
    # GIVEN a slow token endpoint
    endpoint = TokenEndpoint(delay=0.05)
    tokens = provider(endpoint, Sleeps())
    seen: list[str] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        seen.append(tokens())

    # WHEN eight threads ask for a token at the same moment
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN one request was made and every thread got its token
    assert len(endpoint.requests) == 1
    assert seen == ["token-1"] * 8


def test_a_refused_token_request_raises_with_the_oauth_error() -> None:
    answer = {"error": "invalid_client", "error_description": "bad secret"}
    transport = httpx.MockTransport(lambda _: httpx.Response(400, json=answer))
    tokens = ClientCredentialsTokenProvider(TOKEN_URL, "id", "wrong", transport=transport)

    with pytest.raises(TokenRequestFailed) as raised:
        tokens()

    assert (raised.value.code, raised.value.message, raised.value.status) == (
        "invalid_client",
        "bad secret",
        400,
    )


def _issuer_state(state: Path, *kids: str) -> dict[str, rsa.RSAPrivateKey]:
    """The files a running local issuer leaves in its state directory."""
    (state / "issuer" / "keys").mkdir(parents=True)
    issuer = {"issuer": "http://127.0.0.1:4321", "audience": "ledger-local"}
    (state / "issuer" / "issuer.json").write_text(json.dumps(issuer))
    keys = {}
    for kid in kids:
        keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = keys[kid].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (state / "issuer" / "keys" / f"{kid}.pem").write_bytes(pem)
    return keys


def test_the_local_issuer_provider_signs_with_the_newest_key(tmp_path: Path) -> None:
    # GIVEN a local issuer's state with a rotated key
    keys = _issuer_state(tmp_path, "20261101T000000-aaaa", "20261201T000000-bbbb")

    # WHEN a token is minted for a back office
    token = LocalIssuerTokenProvider(
        "payments",
        scopes=["ledger/transactions.write"],
        accounts=["acc-1"],
        state_dir=tmp_path,
        ttl=600,
    )()

    # THEN the newest key signed it, with the claims the authorizer checks
    assert jwt.get_unverified_header(token)["kid"] == "20261201T000000-bbbb"
    claims = jwt.decode(
        token,
        keys["20261201T000000-bbbb"].public_key(),
        algorithms=["RS256"],
        audience="ledger-local",
        issuer="http://127.0.0.1:4321",
    )
    assert claims["sub"] == "payments"
    assert claims["scope"] == "ledger/transactions.write"
    assert claims["ledger:accounts"] == ["acc-1"]
    assert claims["exp"] - claims["iat"] == 600


def test_the_local_issuer_provider_caches_its_token(tmp_path: Path) -> None:
    _issuer_state(tmp_path, "20261201T000000-bbbb")
    sleeps = Sleeps()
    tokens = LocalIssuerTokenProvider("alice", state_dir=tmp_path, ttl=600, clock=sleeps.clock)

    first = tokens()
    sleeps.sleep(500)
    assert tokens() == first
    sleeps.sleep(100)
    assert tokens() != first


def test_the_local_issuer_provider_says_when_no_system_is_running(tmp_path: Path) -> None:
    with pytest.raises(TokenRequestFailed) as raised:
        LocalIssuerTokenProvider("alice", state_dir=tmp_path)()

    assert raised.value.code == "local_issuer_not_running"
    assert "make up" in raised.value.message

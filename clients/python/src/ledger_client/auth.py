"""Where the bearer token comes from. A token provider is any callable returning a token;
the client calls it before every attempt, so it must be cheap: the providers here cache
the token and fetch a new one only shortly before it expires (one thread fetches, the
others wait for its result)."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from ledger_client.errors import NoResponse, TokenRequestFailed


class TokenProvider(Protocol):
    def __call__(self) -> str: ...


class CachingTokenProvider(ABC):
    """A token kept until ``refresh_before`` seconds before it expires (or half its life,
    for a short-lived one), then fetched anew; safe to share between threads."""

    def __init__(self, *, refresh_before: float = 60.0, clock: Callable[[], float]) -> None:
        self._refresh_before = refresh_before
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                fetched_at = self._clock()
                token, lifetime = self._fetch()
                margin = min(self._refresh_before, lifetime / 2)
                self._token, self._refresh_at = token, fetched_at + lifetime - margin
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after a 401): the next call fetches one."""
        with self._lock:
            self._token = None

    @abstractmethod
    def _fetch(self) -> tuple[str, float]:
        """A new token and how many seconds it is valid."""


class ClientCredentialsTokenProvider(CachingTokenProvider):
    """OAuth 2.0 client credentials (RFC 6749 §4.4), as Cognito's token endpoint
    (``https://<domain>.auth.<region>.amazoncognito.com/oauth2/token``) serves them: the
    client id and secret in HTTP Basic, ``grant_type`` and ``scope`` form-encoded."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: Sequence[str] = (),
        refresh_before: float = 60.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(refresh_before=refresh_before, clock=clock)
        self._token_url = token_url
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._scopes = " ".join(scopes)
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = self._scopes
        try:
            response = self._http.post(self._token_url, data=form, auth=self._auth)
        except httpx.TransportError as error:
            raise NoResponse(f"token endpoint {self._token_url}: {error}") from error
        body = _json_object(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            code = body.get("error")
            raise TokenRequestFailed(
                str(body.get("error_description") or f"token endpoint answered {response}"),
                code=code if isinstance(code, str) else None,
                status=response.status_code,
            )
        expires_in = body.get("expires_in", 3600)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise TokenRequestFailed("expires_in is not a number", status=response.status_code)
        return body["access_token"], float(expires_in)


class LocalIssuerTokenProvider(CachingTokenProvider):
    """Tokens of the local system's issuer (`make up`), minted as `make token` mints them:
    signed with the newest key in ``<state>/issuer/keys/`` for the issuer and audience the
    running system wrote to ``<state>/issuer/issuer.json``. The issuer serves only its
    public keys, so a token is signed here; it needs the ``local`` extra (PyJWT).

    ``state_dir`` defaults to ``$LEDGER_LOCAL_DIR`` or ``.local`` (the repository's)."""

    def __init__(
        self,
        subject: str,
        *,
        scopes: Sequence[str] = (),
        accounts: Sequence[str] = (),
        state_dir: Path | str | None = None,
        ttl: int = 3600,
        refresh_before: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(refresh_before=refresh_before, clock=clock)
        self._subject = subject
        self._scopes = tuple(scopes)
        self._accounts = tuple(accounts)
        self._state_dir = Path(state_dir or os.environ.get("LEDGER_LOCAL_DIR", ".local"))
        self._ttl = ttl

    def _fetch(self) -> tuple[str, float]:
        try:
            import jwt
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise ImportError("LocalIssuerTokenProvider needs `ledger-client[local]`") from error
        directory = self._state_dir / "issuer"
        try:
            running = json.loads((directory / "issuer.json").read_text())
        except FileNotFoundError as error:
            raise TokenRequestFailed(
                f"no local issuer running for {self._state_dir} (`make up` starts one)",
                code="local_issuer_not_running",
            ) from error
        keys = sorted((directory / "keys").glob("*.pem"))
        if not keys:
            raise TokenRequestFailed(f"no signing key in {directory / 'keys'}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": running["issuer"],
            "aud": running["audience"],
            "sub": self._subject,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_hex(8),
        }
        if self._scopes:
            claims["scope"] = " ".join(self._scopes)
        if self._accounts:
            claims["ledger:accounts"] = list(self._accounts)
        key = keys[-1]  # key ids sort by age: the newest signs
        token = jwt.encode(claims, key.read_bytes(), algorithm="RS256", headers={"kid": key.stem})
        return token, float(self._ttl)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

"""The HTTP API's JWT authorizer, as API Gateway runs it before invoking a route's function.

The token is taken from the identity source (the Authorization header, with or without
"Bearer "); its signing key is found by ``kid`` in the JWKS that the issuer's
``/.well-known/openid-configuration`` points to; the signature (RSA), ``iss`` (exactly
the authorizer's issuer), ``aud`` (one of its audiences; ``client_id`` when the token
has no ``aud``, as Cognito access tokens), ``exp``, ``nbf`` and ``iat`` are checked.
A route with authorization scopes needs a token holding at least one of them (``scope``
or ``scp``). No token or a bad one: 401 ``{"message":"Unauthorized"}``; a valid token
without a route's scope: 403 ``{"message":"Forbidden"}``. Otherwise the function gets
``requestContext.authorizer.jwt`` = ``{claims, scopes}`` as payload format 2.0 has it:
every claim a string (an array as ``"[a b]"``), scopes only on a route that has some.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from scripts.local.wiring import JwtAuthorizer, Route

ALGORITHMS = ["RS256", "RS384", "RS512"]
DISCOVERY_TIMEOUT_S = 5


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 to go on, else what API Gateway answers
    context: dict[str, Any] | None = None  # requestContext.authorizer when allowed
    reason: str = ""  # for the runtime's log, never for the client

    @property
    def allowed(self) -> bool:
        return self.status == 200


UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}


class Authorizers:
    """One key cache per issuer, shared by the routes (and threads) that use it."""

    def __init__(self) -> None:
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def check(self, route: Route, headers: Mapping[str, str]) -> Verdict:
        if route.authorization_type == "NONE":
            return Verdict(200)
        if route.authorizer is None:
            return Verdict(401, reason=f"{route.authorization_type} authorizers are not emulated")
        token = _token(route.authorizer, headers)
        if token is None:
            return Verdict(401, reason="no token in the identity source")
        try:
            claims = self._verified_claims(route.authorizer, token)
        except (
            jwt.PyJWTError,
            _Rejected,
            requests.RequestException,
            KeyError,
            ValueError,
        ) as error:
            return Verdict(401, reason=f"{type(error).__name__}: {error}")
        scopes = _scopes(claims)
        if route.authorization_scopes and not set(route.authorization_scopes) & set(scopes):
            return Verdict(403, reason=f"the token has none of {list(route.authorization_scopes)}")
        return Verdict(
            200,
            context={
                "jwt": {
                    "claims": _rendered(claims),
                    "scopes": scopes if route.authorization_scopes else None,
                }
            },
        )

    def _verified_claims(self, authorizer: JwtAuthorizer, token: str) -> dict[str, Any]:
        signing_key = self._client(authorizer.issuer).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=ALGORITHMS,
            issuer=authorizer.issuer,
            options={"require": ["exp", "iss"], "verify_aud": False, "verify_iat": True},
        )
        audience = claims.get("aud") or claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(authorizer.audience):
            raise _Rejected(f"audience {audience!r} is not one of {list(authorizer.audience)}")
        return claims

    def _client(self, issuer: str) -> jwt.PyJWKClient:
        with self._lock:
            if issuer not in self._clients:
                discovery = requests.get(
                    f"{issuer.rstrip('/')}/.well-known/openid-configuration",
                    timeout=DISCOVERY_TIMEOUT_S,
                )
                discovery.raise_for_status()
                # An unknown kid refetches the set at once (no cooldown: the issuer is on
                # loopback), so a rotated key is picked up by the next request.
                self._clients[issuer] = jwt.PyJWKClient(
                    discovery.json()["jwks_uri"],
                    lifespan=300,
                    timeout=DISCOVERY_TIMEOUT_S,
                    cooldown_duration=0,
                )
            return self._clients[issuer]


class _Rejected(Exception):
    pass


def _token(authorizer: JwtAuthorizer, headers: Mapping[str, str]) -> str | None:
    for source in authorizer.identity_sources:
        if not source.startswith("$request.header."):
            continue
        value = headers.get(source.removeprefix("$request.header.").lower(), "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if value:
            return value
    return None


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    raw = claims.get("scp", claims.get("scope"))
    if isinstance(raw, list):
        return [str(scope) for scope in raw]
    return str(raw).split() if raw else []


def _rendered(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway passes them: strings, arrays as "[a b]", nulls left out."""

    def render(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + " ".join(render(item) for item in value) + "]"
        if isinstance(value, dict):
            return json.dumps(value)
        return str(value)

    return {name: render(value) for name, value in claims.items() if value is not None}

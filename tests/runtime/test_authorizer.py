"""The HTTP API's JWT authorizer, read from moto and enforced by the runtime against the
local issuer's keys: 401 without a valid token, 403 without a route's scope, and the
verified claims handed to the function as payload format 2.0 does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from scripts.local.issuer import Issuer, KeyRing, sign
from tests.runtime.conftest import Bench

pytestmark = pytest.mark.runtime

AUDIENCE = "ledger-test"
WRITE = "ledger/transactions.write"
ECHO = (
    "import json\n"
    "def lambda_handler(event, context):\n"
    "    return {'statusCode': 200, 'body': json.dumps(event['requestContext'])}\n"
)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    issuer = Issuer(tmp_path / "issuer", AUDIENCE)
    issuer.start()
    try:
        yield issuer
    finally:
        issuer.stop()


class Api:
    def __init__(self, url: str, issuer: Issuer) -> None:
        self.url = url
        self.issuer = issuer

    def get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(f"{self.url}{path}", headers=headers, timeout=10)


@pytest.fixture
def api(bench: Bench, issuer: Issuer) -> Api:
    """GET /open (no authorizer), GET /read (any valid token), GET /write (the write scope)."""
    function_arn = bench.function("echo", {"handler.py": ECHO})
    gateway = bench.moto.client("apigatewayv2")
    api_id = gateway.create_api(Name="test", ProtocolType="HTTP")["ApiId"]
    bench.allow("echo", "apigateway.amazonaws.com", f"arn:aws:execute-api:*:*:{api_id}/*/*")
    authorizer_id = gateway.create_authorizer(
        ApiId=api_id,
        Name="jwt",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": [AUDIENCE, "client-42"]},
    )["AuthorizerId"]
    target = (
        "integrations/"
        + gateway.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_arn,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
    )
    gateway.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
    jwt_route: dict[str, Any] = {
        "ApiId": api_id,
        "Target": target,
        "AuthorizationType": "JWT",
        "AuthorizerId": authorizer_id,
    }
    gateway.create_route(RouteKey="GET /read", **jwt_route)
    gateway.create_route(RouteKey="GET /write", AuthorizationScopes=[WRITE], **jwt_route)
    server = bench.start().api_server
    assert server is not None
    return Api(f"http://127.0.0.1:{server.port}", issuer)


def test_a_valid_token_hands_its_claims_to_the_function_as_strings(api: Api) -> None:
    # GIVEN a user's token listing the accounts it owns
    token = api.issuer.token("alice", accounts=["joint-1", "joint-2"])

    # WHEN it calls a route that needs any valid token
    response = api.get("/read", token)

    # THEN the function gets the verified claims, as API Gateway renders them
    assert response.status_code == 200, response.text
    authorizer = response.json()["authorizer"]
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["iss"] == api.issuer.url
    assert claims["ledger:accounts"] == "[joint-1 joint-2]"
    assert isinstance(claims["exp"], str)
    # AND a route without scopes passes none
    assert authorizer["jwt"]["scopes"] is None


def test_an_id_token_passes_the_authorizer_with_its_token_use_as_api_gateway_lets_it(
    api: Api,
) -> None:
    # GIVEN a Cognito-style ID token: signed by the issuer, for an accepted audience
    token = api.issuer.token("alice", claims={"token_use": "id"})

    # WHEN it calls a route that needs any valid token
    response = api.get("/read", token)

    # THEN, as API Gateway's JWT authorizer (which knows no token_use), the runtime lets
    # it through with the claim, for the function to refuse (banking.entrypoints.auth)
    assert response.status_code == 200, response.text
    assert response.json()["authorizer"]["jwt"]["claims"]["token_use"] == "id"


def test_the_local_issuer_mints_access_tokens(api: Api) -> None:
    claims = jwt.decode(api.issuer.token("alice"), options={"verify_signature": False})

    assert claims["token_use"] == "access"


def test_a_route_with_scopes_passes_the_tokens_scopes_on(api: Api) -> None:
    token = api.issuer.token("payments", scopes=[WRITE, "other"])

    response = api.get("/write", token)

    assert response.status_code == 200, response.text
    assert response.json()["authorizer"]["jwt"]["scopes"] == [WRITE, "other"]


def test_a_valid_token_without_the_routes_scope_is_forbidden(api: Api) -> None:
    response = api.get("/write", api.issuer.token("alice", scopes=["ledger/accounts.read"]))

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_a_route_without_authorizer_takes_no_token_and_passes_no_claims(api: Api) -> None:
    response = api.get("/open")

    assert response.status_code == 200
    assert "authorizer" not in response.json()


def test_the_token_is_accepted_with_or_without_the_bearer_prefix(api: Api) -> None:
    token = api.issuer.token("alice")

    assert api.get("/read", Authorization=token).status_code == 200
    assert api.get("/read", Authorization=f"bearer {token}").status_code == 200


def a_foreign_key_ring(tmp_path: Path) -> KeyRing:
    keys = KeyRing(tmp_path / "foreign")
    keys.rotate()
    return keys


def forged(issuer: Issuer, algorithm: str) -> str:
    """A token PyJWT would refuse to make: unsigned (alg none), or the algorithm-confusion
    attack, HS256 keyed with the issuer's RSA public key (which anyone can fetch)."""
    kid, key = issuer.keys.signing_key()
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": "alice", "aud": AUDIENCE, "exp": now + 60}
    header = {"alg": algorithm, "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    if algorithm == "none":
        return f"{signing_input.decode()}."
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signature = hmac.new(public, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda issuer, tmp: None, id="no token"),
        pytest.param(lambda issuer, tmp: "not.a.jwt", id="garbage"),
        pytest.param(lambda issuer, tmp: issuer.token("alice", ttl_s=-10), id="expired"),
        pytest.param(
            lambda issuer, tmp: issuer.token("alice", claims={"nbf": int(time.time()) + 600}),
            id="not yet valid",
        ),
        pytest.param(
            lambda issuer, tmp: issuer.token("alice", claims={"aud": "someone-else"}),
            id="another audience",
        ),
        pytest.param(
            lambda issuer, tmp: issuer.token("alice", claims={"iss": "http://evil.example"}),
            id="another issuer",
        ),
        pytest.param(
            lambda issuer, tmp: sign(a_foreign_key_ring(tmp), issuer.url, AUDIENCE, "alice"),
            id="signed by another key",
        ),
        pytest.param(lambda issuer, tmp: forged(issuer, "none"), id="alg none"),
        pytest.param(lambda issuer, tmp: forged(issuer, "HS256"), id="alg confusion"),
    ],
)
def test_a_missing_or_invalid_token_is_unauthorized(api: Api, tmp_path: Path, make_token) -> None:
    # WHEN a request carries no token or a bad one
    response = api.get("/read", make_token(api.issuer, tmp_path))

    # THEN API Gateway's 401 answers it and the function never runs
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


def test_a_token_without_aud_is_checked_by_its_client_id_as_cognito_access_tokens_are(
    api: Api,
) -> None:
    without_aud = api.issuer.token("svc", claims={"aud": None, "client_id": "client-42"})
    other_client = api.issuer.token("svc", claims={"aud": None, "client_id": "client-9"})

    assert api.get("/read", without_aud).status_code == 200
    assert api.get("/read", other_client).status_code == 401


def test_tokens_of_a_rotated_key_and_of_the_new_one_are_both_accepted(api: Api) -> None:
    # GIVEN a token signed before the issuer's key is rotated
    before = api.issuer.token("alice")
    assert api.get("/read", before).status_code == 200

    # WHEN the key is rotated and a new token signed with the new key
    api.issuer.keys.rotate()
    after = api.issuer.token("alice")

    # THEN both pass: the authorizer refetches the keys for an unknown kid
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    assert api.get("/read", after).status_code == 200
    assert api.get("/read", before).status_code == 200


def test_the_issuers_private_key_is_readable_by_its_owner_only(issuer: Issuer) -> None:
    kid, key = issuer.keys.signing_key()
    (path,) = (issuer.directory / "keys").glob(f"{kid}.pem")

    assert isinstance(key, rsa.RSAPrivateKey)
    assert path.stat().st_mode & 0o077 == 0

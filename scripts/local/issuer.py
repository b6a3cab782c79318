"""The local token issuer: what Cognito (or any OpenID provider) is to the HTTP API's JWT
authorizer on AWS, on one machine.

Its RSA signing keys live in ``<state>/issuer/keys/<kid>.pem`` (owner-only), generated
on first use and kept across runs; the newest signs, and every key kept is published,
so a rotation (``rotate``) never invalidates tokens already handed out. It serves, on a
loopback port, ``/.well-known/openid-configuration`` and the JWKS it points to: the
authorizer discovers the keys there, exactly as API Gateway does from an issuer URL.

    python -m scripts.local.issuer token --sub alice [--scopes "ledger/transactions.write"]
        [--accounts "acc-1 acc-2"] [--ttl 3600]      (what `make token` runs)
    python -m scripts.local.issuer rotate            (a new signing key; the previous stays)

``token`` signs with the key on disk for the issuer of the running system
(``<state>/issuer/issuer.json``, written when `make up`/`make run` starts it).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

REPO = Path(__file__).resolve().parents[2]
ALGORITHM = "RS256"
DEFAULT_TTL_S = 3600
# Keys kept (and published): the one signing, and the one before it, whose tokens may
# still be live after a rotation.
KEYS_KEPT = 2
ACCOUNTS_CLAIM = "ledger:accounts"


class KeyRing:
    """The issuer's signing keys, one PEM file per key id; ids sort by age."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _paths(self) -> list[Path]:
        return sorted(self._directory.glob("*.pem"))

    def rotate(self) -> str:
        """Add a new signing key, drop the ones older than the previous; its key id."""
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self._directory / f"{kid}.pem"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        for old in self._paths()[:-KEYS_KEPT]:
            old.unlink()
        return kid

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        paths = self._paths()
        if not paths:
            self.rotate()
            paths = self._paths()
        return paths[-1].stem, _load(paths[-1])

    def jwks(self) -> dict[str, Any]:
        keys = []
        for path in self._paths():
            jwk = RSAAlgorithm.to_jwk(_load(path).public_key(), as_dict=True)
            keys.append({**jwk, "kid": path.stem, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}


def _load(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign(
    keys: KeyRing,
    issuer: str,
    audience: str,
    subject: str,
    *,
    scopes: Sequence[str] = (),
    accounts: Sequence[str] = (),
    ttl_s: int = DEFAULT_TTL_S,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """An access token as Cognito issues it (``token_use`` is ``access``): scopes
    space-separated in ``scope``, the accounts a user owns besides its subject in
    ``ledger:accounts``."""
    kid, key = keys.signing_key()
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
        "jti": secrets.token_hex(8),
        "token_use": "access",
    }
    if scopes:
        payload["scope"] = " ".join(scopes)
    if accounts:
        payload[ACCOUNTS_CLAIM] = list(accounts)
    payload.update(claims or {})
    # A claim given as None is left out (a test's way to drop one).
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid})


class Issuer:
    """The keys, served over HTTP on 127.0.0.1 for the authorizer to discover."""

    def __init__(self, directory: Path, audience: str) -> None:
        self.directory = directory
        self.audience = audience
        self.keys = KeyRing(directory / "keys")
        self.keys.signing_key()  # generated now, not on the first request
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()
        (self.directory / "issuer.json").write_text(
            json.dumps({"issuer": self.url, "audience": self.audience}) + "\n"
        )

    def token(self, subject: str, **options: Any) -> str:
        return sign(self.keys, self.url, self.audience, subject, **options)

    def request_stop(self) -> None:
        self.stop()

    def stop(self) -> None:
        (self.directory / "issuer.json").unlink(missing_ok=True)
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents = {
                    "/.well-known/openid-configuration": lambda: {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/.well-known/jwks.json",
                        "id_token_signing_alg_values_supported": [ALGORITHM],
                        "response_types_supported": ["token"],
                        "subject_types_supported": ["public"],
                    },
                    "/.well-known/jwks.json": issuer.keys.jwks,
                }
                document = documents.get(self.path.split("?")[0])
                body = json.dumps(document() if document else {"message": "Not Found"})
                self.send_response(200 if document else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class NoIssuerRunning(RuntimeError):
    pass


def token_for(state_dir: Path, subject: str, **options: Any) -> str:
    """A token of the issuer of the local system whose state is ``state_dir``."""
    directory = state_dir / "issuer"
    path = directory / "issuer.json"
    if not path.exists():
        raise NoIssuerRunning(f"no local issuer running for {state_dir} (`make up` starts one)")
    running = json.loads(path.read_text())
    return sign(
        KeyRing(directory / "keys"), running["issuer"], running["audience"], subject, **options
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.local.issuer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    minting = commands.add_parser("token", help="print an access token of the running issuer")
    minting.add_argument("--sub", required=True, help="the subject: a user's account id, a client")
    minting.add_argument("--scopes", default="", help="space-separated scopes")
    minting.add_argument("--accounts", default="", help=f"space-separated ids for {ACCOUNTS_CLAIM}")
    minting.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds it is valid")
    commands.add_parser("rotate", help="a new signing key; the previous one stays published")
    args = parser.parse_args(argv)
    state_dir = Path(os.environ.get("LEDGER_LOCAL_DIR", REPO / ".local")).resolve()
    if args.command == "rotate":
        print(f"signing with {KeyRing(state_dir / 'issuer' / 'keys').rotate()}")
        return 0
    try:
        token = token_for(
            state_dir,
            args.sub,
            scopes=args.scopes.split(),
            accounts=args.accounts.split(),
            ttl_s=args.ttl,
        )
    except NoIssuerRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())

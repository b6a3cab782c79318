"""The console's HTTP server: GET only, on 127.0.0.1 only.

Routing is data (`ROUTES`: a pattern and the function answering it). Every other
method answers 405: there is no write route, so nothing the page (or anything else on
this machine) sends can change the ledger. A request whose Host is not this server's
loopback address is refused, so a web page elsewhere cannot read the console through
DNS rebinding.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import yaml
from attrs import frozen
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # no stubs

from banking.domain.errors import AccountNotFound as NoAccountYet
from banking.domain.errors import InvalidAccountId, InvalidRequest
from banking.entrypoints.instants import parse_instant
from banking.serialization import converter
from scripts.console.reader import MAX_PAGE, AccountNotFound, Console

STATIC = Path(__file__).resolve().parent / "static"
REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "docs" / "openapi.yaml"
VIEWER_OPENAPI_VERSION = "3.0.3"
# Only what the API reference page loads, from the pinned Swagger UI (no CDN).
SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
PROXY_TIMEOUT_S = 30
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Scripts and styles from this server only; Swagger UI sets inline style attributes.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
}
# The proxy passes these on to the API; nothing else of the browser's request.
PROXIED_HEADERS = ("authorization", "x-correlation-id", "accept")
LOG = logging.getLogger("ledger.console")
CORRELATION_ID = re.compile(r"\A[\x21-\x7e]{1,128}\Z")


class BadRequest(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@frozen
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


@frozen
class Request:
    query: Mapping[str, str]
    headers: Mapping[str, str]


@frozen
class Settings:
    environment: str
    api_url: str | None
    # Mints a token of the local issuer (sub, scopes); None where there is no such issuer.
    token: Callable[[str, list[str]], str] | None = None


def _json(value: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(converter.unstructure(value)).encode())


def _error(status: int, code: str, message: str) -> Answer:
    return _json({"error": {"code": code, "message": message}}, status)


def _limit(request: Request, default: int = 25) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise BadRequest("invalid_request", f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _after_version(request: Request) -> int:
    text = request.query.get("after", "0")
    if not text.isdigit() or len(text) > 12:
        raise BadRequest("invalid_request", "after must be a version (a whole number)")
    return int(text)


class Routes:
    def __init__(self, console: Console, settings: Settings) -> None:
        self._console = console
        self._settings = settings
        self.table: list[tuple[re.Pattern[str], Callable[..., Answer]]] = [
            (re.compile(r"/"), lambda r: self._file(STATIC / "index.html")),
            (re.compile(r"/api\.html"), lambda r: self._file(STATIC / "api.html")),
            (re.compile(r"/static/([a-z]+\.(?:js|css))"), lambda r, n: self._file(STATIC / n)),
            (re.compile(r"/swagger/([a-z-]+\.(?:js|css))"), self._swagger),
            (re.compile(r"/openapi\.json"), self._openapi),
            (re.compile(r"/api/config"), self._config),
            (re.compile(r"/api/accounts"), self._accounts),
            (re.compile(r"/api/accounts/([^/]+)"), self._account),
            (re.compile(r"/api/accounts/([^/]+)/balance"), self._balance_at),
            (re.compile(r"/api/pipeline"), lambda r: _json(self._console.pipeline())),
            (re.compile(r"/api/journey/([^/]+)"), self._journey),
            (re.compile(r"/api/token"), self._token),
            (re.compile(r"/try(/accounts/.*)"), self._try),
        ]

    def answer(self, path: str, request: Request) -> Answer:
        for pattern, handler in self.table:
            match = pattern.fullmatch(path)
            if match:
                try:
                    return handler(request, *match.groups())
                except BadRequest as error:
                    return _error(error.status, error.code, str(error))
                except (InvalidAccountId, InvalidRequest) as error:
                    return _error(400, error.code, str(error))
                except AccountNotFound as error:
                    return _error(404, "account_not_found", f"no events (yet) for {error}")
                except NoAccountYet as error:
                    return _error(404, error.code, str(error))
        return _error(404, "not_found", f"no page at {path}")

    def _file(self, path: Path) -> Answer:
        if not path.is_file():
            return _error(404, "not_found", f"no file {path.name}")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Answer(200, path.read_bytes(), f"{kind}; charset=utf-8")

    def _swagger(self, request: Request, name: str) -> Answer:
        if name not in SWAGGER_FILES:
            return _error(404, "not_found", f"no file {name}")
        return self._file(Path(swagger_ui_path) / name)

    def _openapi(self, request: Request) -> Answer:
        """The API's reference, its requests sent through this console's read-only proxy."""
        document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
        # The pinned viewer (Swagger UI 4.15.5, the newest on PyPI) renders OpenAPI 3.0 and
        # refuses a 3.1 document outright; it shows every route and schema of ours all the
        # same, ignoring the 3.1 keywords (propertyNames, type lists) it does not know.
        document["openapi"] = VIEWER_OPENAPI_VERSION
        if self._settings.api_url:
            document["servers"] = [
                {"url": "/try", "description": f"{self._settings.api_url}, GET only"}
            ]
        return Answer(200, json.dumps(document).encode())

    def _config(self, request: Request) -> Answer:
        return _json(
            {
                "environment": self._settings.environment,
                "apiUrl": self._settings.api_url,
                "tokens": self._settings.token is not None,
            }
        )

    def _accounts(self, request: Request) -> Answer:
        after = request.query.get("after") or None
        if after is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", after):
            raise BadRequest("invalid_request", "after must be an account id")
        return _json(self._console.accounts(after=after, limit=_limit(request)))

    def _account(self, request: Request, account_id: str) -> Answer:
        view = self._console.account(
            unquote(account_id), after=_after_version(request), limit=_limit(request)
        )
        return _json(view)

    def _balance_at(self, request: Request, account_id: str) -> Answer:
        """The balances at the instant `at`, parsed as the API parses it."""
        at = request.query.get("at")
        if at is None:
            raise BadRequest("invalid_request", "at (an RFC 3339 date-time) is required")
        return _json(self._console.balance_at(unquote(account_id), parse_instant("at", at)))

    def _journey(self, request: Request, correlation_id: str) -> Answer:
        correlation_id = unquote(correlation_id)
        if not CORRELATION_ID.match(correlation_id):
            raise BadRequest(
                "invalid_correlation_id", "a correlation id is 1 to 128 printable ASCII characters"
            )
        return _json(self._console.journey(correlation_id))

    def _token(self, request: Request) -> Answer:
        if self._settings.token is None:
            raise BadRequest("no_issuer", "tokens come from the local issuer only", 404)
        subject = request.query.get("sub", "")
        if not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,128}", subject):
            raise BadRequest("invalid_request", "sub must be 1 to 128 of A-Z a-z 0-9 _ . : @ -")
        scopes = request.query.get("scopes", "").split()
        return _json({"token": self._settings.token(subject, scopes)})

    def _try(self, request: Request, path: str) -> Answer:
        """A GET of the API, as the API reference's "try it" sends it (the API has no
        CORS: the page cannot call it from this origin itself)."""
        if self._settings.api_url is None:
            raise BadRequest("no_api", "this console was started without --api-url", 404)
        response = requests.get(
            self._settings.api_url + path,
            params=dict(request.query),
            headers={k: v for k, v in request.headers.items() if k.lower() in PROXIED_HEADERS},
            timeout=PROXY_TIMEOUT_S,
        )
        kind = response.headers.get("content-type", "application/json")
        return Answer(response.status_code, response.content, kind)


class ConsoleServer:
    """The routes, served on 127.0.0.1 (port 0: any free one) in a thread."""

    def __init__(self, routes: Routes, port: int) -> None:
        self._routes = routes
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "ledger-console"
            sys_version = ""

            def do_GET(self) -> None:
                self._send(self._answer(), with_body=True)

            def do_HEAD(self) -> None:
                self._send(self._answer(), with_body=False)

            def _answer(self) -> Answer:
                if self.headers.get("host") not in {
                    f"127.0.0.1:{server.port}",
                    f"localhost:{server.port}",
                }:
                    return _error(403, "forbidden_host", "the console answers on 127.0.0.1 only")
                url = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                request = Request(query, dict(self.headers.items()))
                try:
                    return server._routes.answer(url.path, request)
                except Exception:
                    # A failed read (a throttle, expired credentials) is the operator's
                    # to see in the console's log; the page gets its code only.
                    LOG.exception("GET %s failed", url.path)
                    return _error(502, "read_failed", "reading the ledger failed: see the log")

            def _refuse(self) -> None:
                answer = _error(
                    405, "method_not_allowed", "the console is read-only: GET (and HEAD) only"
                )
                self._send(answer, with_body=True, allow=True)

            def __getattr__(self, name: str) -> Any:
                # Any other method, known or not, is refused the same way (instead of
                # the 501 the standard library answers a method it has no do_ for).
                if name.startswith("do_"):
                    return self._refuse
                raise AttributeError(name)

            def _send(self, answer: Answer, *, with_body: bool, allow: bool = False) -> None:
                self.send_response(answer.status)
                for name, value in HEADERS.items():
                    self.send_header(name, value)
                if allow:
                    self.send_header("Allow", "GET, HEAD")
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

"""API Gateway's HTTP API data plane: route matching and payload format 2.0, both ways."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from scripts.local.authorizer import FORBIDDEN, UNAUTHORIZED, Authorizers
from scripts.local.wiring import HttpApi, Route
from scripts.local.workers import Outcome

ACCOUNT_ID = "123456789012"
INTERNAL_ERROR = {"message": "Internal Server Error"}
NOT_FOUND = {"message": "Not Found"}
BAD_REQUEST = {"message": "Bad Request"}
# API Gateway's HTTP API quotas: a 10 MB payload, 10 KB of request line and headers.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_HEADER_BYTES = 10 * 1024
TOO_LARGE = {"message": "Request Entity Too Large"}
HEADERS_TOO_LARGE = {"message": "Request Header Fields Too Large"}
# An HTTP method is any token (RFC 9110): API Gateway routes TRACE, PROPFIND or BREW
# like GET, to their route or $default, where http.server would answer an HTML 501.
METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Content types API Gateway passes as text; every other body (and a body without a
# content type) reaches the function base64-encoded with isBase64Encoded true.
TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-javascript|[^;]*\+json|[^;]*\+xml))\s*(;.*)?$",
    re.IGNORECASE,
)

Invoke = Callable[[str, dict[str, Any]], Outcome]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    method: str
    pattern: re.Pattern[str]
    rank: tuple[int, int, int, int]


def _compile(route: Route) -> _CompiledRoute | None:
    if route.route_key == "$default":
        return None
    method, _, path = route.route_key.partition(" ")
    regex, variables, greedy = "", 0, 0
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
            greedy += 1
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
            variables += 1
        else:
            regex += re.escape(part)
    # API Gateway prefers the most specific route: literal paths over path variables
    # over greedy variables, and an explicit method over ANY.
    rank = (greedy, variables, int(method == "ANY"), -len(path))
    return _CompiledRoute(route, method, re.compile(f"^{regex}$"), rank)


class Router:
    def __init__(self, api: HttpApi) -> None:
        compiled = [c for c in map(_compile, api.routes) if c is not None]
        self._routes = sorted(compiled, key=lambda c: c.rank)
        self._default = next((r for r in api.routes if r.route_key == "$default"), None)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate in self._routes:
            if candidate.method not in (method, "ANY"):
                continue
            found = candidate.pattern.match(path)
            if found:
                return candidate.route, {k: unquote(v) for k, v in found.groupdict().items()}
        if self._default is not None:
            return self._default, {}
        return None


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query string, as on the request line
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


def build_event(
    api: HttpApi,
    route: Route,
    path_parameters: dict[str, str],
    request: HttpRequest,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for this request."""
    url = urlsplit(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api.api_id,
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": headers.get("host", "localhost").split(".")[0],
            "http": {
                "method": request.method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("="),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if request.body:
        if TEXT_TYPES.match(headers.get("content-type", "")) and _is_utf8(request.body):
            event["body"] = request.body.decode("utf-8")
        else:
            # Bytes that are not UTF-8 are passed on exactly, never "repaired" into text.
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def source_arn(event: dict[str, Any], region: str) -> str:
    """The execute-api ARN API Gateway invokes the function on behalf of, which the
    function's resource policy (aws_lambda_permission) must allow."""
    context = event["requestContext"]
    route_key = str(event["routeKey"])
    resource = route_key if route_key == "$default" else route_key.replace(" ", "", 1)
    return (
        f"arn:aws:execute-api:{region}:{context['accountId']}:{context['apiId']}"
        f"/{context['stage']}/{resource}"
    )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(
        status, [("content-type", "application/json")], json.dumps(payload).encode()
    )


def to_http_response(outcome: Outcome) -> HttpResponse:
    """Map the function's answer as API Gateway does for payload format 2.0."""
    if outcome.failed:
        return _json_response(500, INTERNAL_ERROR)
    result = outcome.result
    if not (isinstance(result, dict) and "statusCode" in result):
        # Format 2.0 infers a response from any JSON that has no statusCode.
        return _json_response(200, result)
    try:
        status = int(result["statusCode"])
        HTTPStatus(status)
        headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
        raw = result.get("body")
        body = raw if isinstance(raw, str) else ("" if raw is None else json.dumps(raw))
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    except (TypeError, ValueError, AttributeError):
        return _json_response(500, INTERNAL_ERROR)
    return HttpResponse(status, headers, data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 resets bursts of concurrent clients.
    request_queue_size = 128


class HttpApiServer:
    """A threaded HTTP server serving one HTTP API on 127.0.0.1:<port>."""

    def __init__(
        self, api: HttpApi, port: int, invoke: Invoke, log: Callable[[str], None] = print
    ) -> None:
        self._api = api
        self._router = Router(api)
        self._invoke = invoke
        self._authorizers = Authorizers()
        self._log = log
        self._server = _Server(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.target).path
        matched = self._router.match(request.method, path)
        if matched is None:
            return _json_response(404, NOT_FOUND)
        route, path_parameters = matched
        headers = {name.lower(): value for name, value in request.headers}
        verdict = self._authorizers.check(route, headers)
        if not verdict.allowed:
            # The reason goes to the runtime's log only, as API Gateway tells clients nothing.
            self._log(f"authorizer: {verdict.status} on {route.route_key}: {verdict.reason}")
            return _json_response(
                verdict.status, FORBIDDEN if verdict.status == 403 else UNAUTHORIZED
            )
        event = build_event(self._api, route, path_parameters, request, verdict.context)
        response = to_http_response(self._invoke(route.function_arn, event))
        return HttpResponse(
            response.status,
            [*response.headers, ("apigw-requestid", event["requestContext"]["requestId"])],
            response.body,
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api_server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: with Nagle's algorithm
            # the body waits for the client's delayed acknowledgement (up to 40 ms).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                refused = self._refusal()
                if refused is not None:
                    self.close_connection = True  # an unread body must not become a request
                    response = _json_response(*refused)
                else:
                    length = int(self.headers.get("content-length") or 0)
                    request = HttpRequest(
                        method=self.command,
                        target=self.path,
                        headers=list(self.headers.items()),
                        body=self.rfile.read(length) if length else b"",
                        source_ip=self.client_address[0],
                    )
                    response = api_server.handle(request)
                self._send(response)

            def _refusal(self) -> tuple[int, dict[str, str]] | None:
                """What API Gateway refuses before any route: limits and malformed framing."""
                size = len(self.requestline) + sum(
                    len(name) + len(value) for name, value in self.headers.items()
                )
                if size > MAX_HEADER_BYTES:
                    return 431, HEADERS_TOO_LARGE
                length = self.headers.get("content-length") or "0"
                if not (length.isascii() and length.isdigit()):
                    return 400, BAD_REQUEST
                if int(length) > MAX_BODY_BYTES:
                    return 413, TOO_LARGE
                return None

            def _send(self, response: HttpResponse) -> None:
                self.send_response(response.status)
                for name, value in response.headers:
                    if name not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(response.body)))
                if self.close_connection:
                    self.send_header("connection", "close")
                self.end_headers()
                if self.command != "HEAD":  # a HEAD answer has headers only
                    self.wfile.write(response.body)

            def __getattr__(self, name: str) -> Any:
                # http.server looks up do_<METHOD>: every method is served.
                if name.startswith("do_") and METHOD.fullmatch(name[3:]):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the functions' own logs say what happened

        return Handler

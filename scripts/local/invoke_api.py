"""Lambda's Invoke API for the local runtime's functions.

moto answers `Invoke` without running code (it wants Docker), so operator tools that
invoke a function synchronously (`ledger replay`) talk to this endpoint instead:
`boto3.client("lambda", endpoint_url=<it>).invoke(FunctionName=..., Payload=...)`
behaves as on AWS, running the function's zip in the runtime's workers. Its URL is
written to `<state dir>/lambda-url`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from scripts.local.workers import Outcome

_INVOCATIONS = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

Invoke = Callable[[str, Any], Outcome]


class InvokeApiServer:
    def __init__(self, invoke: Invoke, port: int = 0) -> None:
        self._invoke = invoke
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="invoke-api", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._server.shutdown()

    def stop(self) -> None:
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        invoke = self._invoke

        class Handler(BaseHTTPRequestHandler):
            # Headers and body are two writes; see scripts.local.http_api.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                found = _INVOCATIONS.match(self.path.split("?", 1)[0])
                if found is None:
                    self._answer(HTTPStatus.NOT_FOUND, {"message": f"no route {self.path}"})
                    return
                if self.headers.get("X-Amz-Invocation-Type", "RequestResponse") != (
                    "RequestResponse"
                ):
                    # Asynchronous invocations arrive through the bus and the stream.
                    self._answer(
                        HTTPStatus.BAD_REQUEST,
                        {"Type": "User", "message": "only RequestResponse is served"},
                    )
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    event = json.loads(raw) if raw else {}
                except ValueError:
                    self._answer(HTTPStatus.BAD_REQUEST, {"Type": "User", "message": "bad JSON"})
                    return
                try:
                    outcome = invoke(unquote(found.group("name")), event)
                except KeyError as error:
                    self._answer(
                        HTTPStatus.NOT_FOUND,
                        {"Type": "User", "message": str(error)},
                        error_type="ResourceNotFoundException",
                    )
                    return
                headers = {"X-Amz-Executed-Version": "$LATEST"}
                if outcome.failed:
                    # As Lambda does: 200, with the error as the payload and a header.
                    headers["X-Amz-Function-Error"] = "Unhandled"
                    self._answer(HTTPStatus.OK, outcome.error, headers=headers)
                else:
                    self._answer(HTTPStatus.OK, outcome.result, headers=headers)

            def _answer(
                self,
                status: HTTPStatus,
                body: Any,
                *,
                headers: dict[str, str] | None = None,
                error_type: str | None = None,
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("X-Amzn-ErrorType", error_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

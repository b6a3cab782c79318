"""Our moto server: moto's own server, minus what the local runtime does instead, plus
fixes for what Terraform needs from it (scripts.local.moto_patches).

Run as ``python -m scripts.local.moto_server --port 0``; it prints ``MOTO_PORT=<port>``
once it listens on 127.0.0.1, then serves until killed. It refuses to start, with one
line saying why, on a moto other than the pinned one. A variant (bench.moto_server)
calls ``serve`` with a WSGI wrapper of its own around moto's application.

With ``LEDGER_MOTO_PLAIN=1`` in its environment it serves every request the way moto's
own server does (no direct route, none of the per-request savings of
``moto_patches.SPEED_PATCHES``): the same answers, at moto's cost; the tests and the
bench compare the two (tests/runtime/test_moto_direct.py, bench/moto_cpu.py).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import flask
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.events.responses import EventsHandler
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.settings import DISABLE_GLOBAL_CORS
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from scripts.local.moto_patches import (
    BUS_EVENTS,
    STREAM_RECORDS,
    MotoVersionError,
    apply_patches,
)

PLAIN_ENV = "LEDGER_MOTO_PLAIN"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, keeping connections alive and sending small answers at once.

    werkzeug closes every connection after its answer (http.server cannot skip a body
    the application left unread before the next request line), so every AWS call paid
    a new TCP connection and a new server thread. Here a request's body is read whole
    before the application runs, so nothing of it can be left on the connection, and
    the connection stays open as HTTP/1.1 allows. werkzeug writes an answer's headers
    and its body separately: on a kept-alive connection, Nagle's algorithm would hold
    the body for the client's delayed acknowledgement of the headers (about 40 ms).
    """

    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if (
            self.headers.get("Transfer-Encoding")
            # The client sends the body only once werkzeug has answered 100 Continue.
            or self.headers.get("Expect", "").lower() == "100-continue"
            or not (length or "0").isdigit()
        ):
            self._keep_alive = False
            super().run_wsgi()
            return
        self._keep_alive = True
        connection = self.rfile
        self.rfile = io.BytesIO(connection.read(int(length or 0)))
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The access line is dropped by the logger's level (serve) only after werkzeug
        # has formatted it: 3% of the server's time under load, for nothing.
        return

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "transfer-encoding":
            self._keep_alive = False  # werkzeug closes after a chunked answer: say so
        if getattr(self, "_keep_alive", False) and keyword.lower() == "connection":
            return  # werkzeug's "close"; http.server honours the client's own
        super().send_header(keyword, value)


STREAM_RECORDS_PATH = "/_local/stream-records"
BUS_EVENTS_PATH = "/_local/bus-events"
# The longest a stream poller's wait may hold a server thread.
MAX_WAIT_S = 5.0


def with_local_routes(app: WsgiApp) -> WsgiApp:
    """moto's application plus the runtime's own routes, which are not AWS:

    - ``GET /_local/stream-records?after=<n>&timeout=<s>`` answers ``{"count": <m>}``,
      the number of stream records written so far, as soon as it is other than ``n``
      (more records; or fewer, from a server started since) or after ``timeout``
      seconds (at most MAX_WAIT_S) whatever it is;
    - ``GET /_local/bus-events?bus=<name>&after=<n>&timeout=<s>&limit=<k>`` answers
      ``{"last": <m>, "events": [...]}``: up to ``k`` of the events the runtime's tap
      rule matched on that bus after number ``n`` (waiting up to ``timeout`` seconds for
      one), each a JSON text as EventBridge sends it to a target, and the number to ask
      after next. Asking after ``n`` acknowledges every event up to ``n``.

    A bad query is a 400 with ``"code": "bad_query"``.
    """

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path not in (STREAM_RECORDS_PATH, BUS_EVENTS_PATH):
            return app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            after = int(query.get("after", ["-1" if path == STREAM_RECORDS_PATH else "0"])[0])
            timeout_s = min(max(float(query.get("timeout", ["0"])[0]), 0.0), MAX_WAIT_S)
            limit = int(query.get("limit", ["10"])[0])
            bus = query.get("bus", [""])[0]
            if path == BUS_EVENTS_PATH and (not bus or after < 0 or limit < 1):
                raise ValueError(bus)
        except ValueError:
            status = "400 Bad Request"
            body = json.dumps(
                {
                    "code": "bad_query",
                    "message": "bus: a name; after: an integer; timeout: seconds; "
                    "limit: a positive integer",
                }
            ).encode()
        else:
            status = "200 OK"
            if path == STREAM_RECORDS_PATH:
                body = json.dumps({"count": STREAM_RECORDS.wait(after, timeout_s)}).encode()
            else:
                last, events = BUS_EVENTS.read(bus, after, timeout_s, limit)
                # Each event is already JSON text: joined, not decoded and encoded again.
                body = b'{"last": %d, "events": [%s]}' % (last, ",".join(events).encode())
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return application


# moto's application for each of these services (as DomainDispatcherApplication picks
# it, from the request's signature and X-Amz-Target) routes every path to one handler;
# they are the AWS JSON protocols the pipeline speaks on every command.
DIRECT_HANDLERS: dict[str, Callable[[Any, str, dict[str, str]], Any]] = {
    "dynamodb": DynamoHandler.dispatch,
    "dynamodbstreams": DynamoDBStreamsHandler.dispatch,
    "events": EventsHandler.dispatch,
}


class _DirectRequest(Request):
    """The request as moto's handler reads it: werkzeug's, as flask.Request is outside
    an application (flask's own looks for the current application on every form or
    size lookup, in vain here: 3% of a request). Not named werkzeug's, so moto treats
    it as Flask's (``BaseResponse.setup_class`` tells the two apart by the class's
    name)."""


def with_direct_route(dispatcher: DomainDispatcherApplication) -> WsgiApp:
    """moto's application, calling moto's own handler directly for a plain request to
    DIRECT_HANDLERS' services instead of going through Flask.

    For those requests, Flask's part (a request context, URL routing to the one view,
    moto's view wrapper, the after-request hooks) was about 6% of the server's time
    under load and changed nothing in the answer: here the handler gets the request,
    URL and headers the view wrapper gives it, and its answer becomes the same
    Response. Anything Flask's hooks act on (a compressed body, a CORS Origin), any
    other path or method, and every other service still go through moto's Flask
    application (tests/runtime/test_moto_direct.py compares both, answer by answer).
    """

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        app = dispatcher.get_application(environ)
        handler = DIRECT_HANDLERS.get(getattr(app, "service", ""))
        if (
            handler is None
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
            or "HTTP_ORIGIN" in environ
            or "HTTP_CONTENT_ENCODING" in environ
        ):
            return app(environ, start_response)
        request = _DirectRequest(environ)
        # What moto's view wrapper (moto.core.utils.convert_to_flask_response) does.
        recorder._record_request(request)
        try:
            result = handler(request, request.url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = flask.Response(response=content, status=status, headers=headers)
        if not DISABLE_GLOBAL_CORS:
            # What flask_cors's hook on moto's application adds when no Origin is sent.
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response(environ, start_response)

    return application


def serve(description: str, wrap: Callable[[WsgiApp], WsgiApp] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    plain = os.environ.get(PLAIN_ENV) == "1"
    try:
        apply_patches(speed=not plain)
    except MotoVersionError as exc:
        sys.exit(f"moto server: {exc}")
    # One access-log line per AWS call drowns the functions' logs; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    app: WsgiApp = dispatcher if plain else with_direct_route(dispatcher)
    server = make_server(
        "127.0.0.1",
        args.port,
        with_local_routes(wrap(app) if wrap else app),
        threaded=True,
        request_handler=_RequestHandler,
    )
    print(f"MOTO_PORT={server.server_port}", flush=True)
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C in `make run` reaches the whole process group; moto must outlive the
    # runtime's orderly stop, which ends this server last (with SIGTERM).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop.wait()
    server.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    serve(__doc__ or "")

"""Our moto server: moto's own server, minus what the local runtime does instead, plus
fixes for what Terraform needs from it (scripts.local.moto_patches).

Run as ``python -m scripts.local.moto_server --port 0``; it prints ``MOTO_PORT=<port>``
once it listens on 127.0.0.1, then serves until killed. It refuses to start, with one
line saying why, on a moto other than the pinned one. A variant (bench.moto_server)
calls ``serve`` with a WSGI wrapper of its own around moto's application.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from scripts.local.moto_patches import MotoVersionError, apply_patches

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _RequestHandler(WSGIRequestHandler):
    # werkzeug sends a response's headers and its body in two writes. With Nagle's
    # algorithm on, the body waits for the client to acknowledge the headers, which it
    # delays by up to 40 ms: every AWS call cost about 40 ms on an idle server.
    disable_nagle_algorithm = True


def serve(description: str, wrap: Callable[[WsgiApp], WsgiApp] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    try:
        apply_patches()
    except MotoVersionError as exc:
        sys.exit(f"moto server: {exc}")
    # One access-log line per AWS call drowns the functions' logs; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        args.port,
        wrap(app) if wrap else app,
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

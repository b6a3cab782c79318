"""`scripts/ledger console`: a read-only web console of one environment's ledger.

    scripts/ledger console                      the local system (`make up` starts one too)
    scripts/ledger console --environment dev    a deployed one, with operator credentials

It reads with the operator's credentials, exactly what `ledger status` reads with, and
serves on 127.0.0.1 only. See docs/console.md.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import threading
from typing import Any

from scripts.console.logs import CloudWatchLogs, LocalLogs, LogSource
from scripts.console.reader import Console
from scripts.console.server import ConsoleServer, Routes, Settings
from scripts.local.issuer import token_for
from scripts.ops.aws import LOCAL_DIR, Ledger, SetupError

DEFAULT_PORT = 8081


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "console", help="a read-only web console: accounts, pipeline, API, event journeys"
    )
    # Also after the subcommand (`ledger console --environment dev`); absent, the
    # top-level option's value stands.
    parser.add_argument("--environment", default=argparse.SUPPRESS, help="local, dev or prod")
    parser.add_argument("--endpoint-url", default=argparse.SUPPRESS, help="any other endpoint")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)",
    )
    parser.add_argument(
        "--api-url",
        help="the HTTP API, for the reference's 'try it' (default: the local system's)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s console %(message)s")
    ledger = Ledger.from_args(args)
    # Fails here, in one line (scripts.ops explains it), when credentials or the
    # deployment are missing, rather than on the first page view.
    ledger.client("dynamodb").describe_table(TableName=ledger.events_table)
    local = ledger.environment == "local"
    api_url = args.api_url
    if api_url is None and local and (LOCAL_DIR / "api-url").exists():
        api_url = (LOCAL_DIR / "api-url").read_text().strip()
    settings = Settings(
        environment=ledger.environment,
        api_url=api_url,
        token=(lambda sub, scopes: token_for(LOCAL_DIR, sub, scopes=scopes)) if local else None,
    )
    try:
        server = ConsoleServer(Routes(Console(ledger, log_source(ledger)), settings), args.port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise SetupError(
            f"port {args.port} on 127.0.0.1 is in use: choose another (--port)"
        ) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    # The first line on stdout, for whoever started it (the local system reads it).
    print(f"CONSOLE_URL={server.url}", flush=True)
    stop.wait()
    server.stop()
    return 0


def log_source(ledger: Ledger) -> LogSource:
    """The local runtime's files for the local system, CloudWatch Logs anywhere else."""
    if ledger.environment == "local":
        return LocalLogs(LOCAL_DIR / "logs", ledger.prefix)
    return CloudWatchLogs(ledger.client("logs"), ledger.prefix)

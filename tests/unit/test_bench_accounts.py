"""The bench opens its load's accounts a few at a time, against a fake API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import open_accounts


class Accounts:
    def __init__(self, refused: str | None = None) -> None:
        self.lock = threading.Lock()
        self.opened: list[str] = []
        self.authorizations: set[str] = set()
        self.refused = refused


def _serve(accounts: Accounts) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            account = body["accountId"]
            status = 409 if account == accounts.refused else 201
            with accounts.lock:
                accounts.authorizations.add(self.headers.get("authorization", ""))
                if status == 201:
                    accounts.opened.append(account)
            data = json.dumps({"accountId": account}).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def accounts() -> Iterator[tuple[str, Accounts]]:
    state = Accounts()
    for url in _serve(state):
        yield url, state


@pytest.fixture
def refusing() -> Iterator[tuple[str, Accounts]]:
    state = Accounts(refused="load-3")
    for url in _serve(state):
        yield url, state


def test_every_account_is_opened_once_with_the_token(accounts: tuple[str, Accounts]) -> None:
    # GIVEN an API that opens accounts
    url, state = accounts
    names = [f"load-{i}" for i in range(24)]

    # WHEN the bench opens 24, four at a time
    open_accounts(url, names, {"authorization": "Bearer t"}, concurrency=4)

    # THEN each was opened once, with the bench's token
    assert sorted(state.opened) == sorted(names)
    assert state.authorizations == {"Bearer t"}


def test_an_account_the_api_refuses_to_open_stops_the_bench_naming_it(
    refusing: tuple[str, Accounts],
) -> None:
    # GIVEN an API that refuses one of the accounts
    url, _ = refusing

    # WHEN the bench opens them
    # THEN it fails, naming the account and the answer
    with pytest.raises(RuntimeError, match="opening load-3 answered 409"):
        open_accounts(url, [f"load-{i}" for i in range(8)], {}, concurrency=4)

"""The console's HTTP side (scripts/console/server.py): GET only, loopback only, errors
with a machine-readable code, the API reference served from the pinned viewer."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

import scripts.console as console_command
from banking.domain.money import Money
from scripts.console.chart import Point, balance_chart
from scripts.console.logs import LocalLogs
from scripts.console.reader import Console
from scripts.console.server import ConsoleServer, Routes, Settings
from scripts.local.__main__ import _settings as local_settings
from scripts.local.__main__ import _try_this as try_this
from scripts.local.__main__ import up
from scripts.local.child import ChildProcess
from scripts.local.system import Settings as LocalSettings
from scripts.local.system import free_port
from scripts.ops.__main__ import main
from scripts.ops.aws import Ledger
from tests.conftest import REGION
from tests.integration.test_console import credit, record

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE")


class FakeApi(BaseHTTPRequestHandler):
    """The HTTP API, as far as the proxy can tell: it echoes what it was sent."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"path": self.path, "authorization": self.headers.get("authorization")}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def start(console: Console, settings: Settings) -> ConsoleServer:
    server = ConsoleServer(Routes(console, settings), 0)
    server.start()
    return server


@pytest.fixture
def served(aws: dict[str, Any], tmp_path: Path, api_url: str) -> Iterator[str]:
    ledger = Ledger("test", None, REGION)
    console = Console(ledger, LocalLogs(tmp_path, ledger.prefix))
    settings = Settings("test", api_url, token=lambda sub, scopes: f"token-of-{sub}-{scopes}")
    server = start(console, settings)
    yield server.url
    server.stop()


def test_every_method_but_get_is_refused_and_stores_nothing(aws, served):
    for path in ("/", "/api/accounts", "/api/accounts/alice", "/try/accounts/alice/credits"):
        for method in WRITE_METHODS:
            # GIVEN the console  WHEN anything but a GET is sent, with a body
            response = requests.request(method, served + path, json={"amount": "1.00"}, timeout=10)
            # THEN 405, saying what is allowed, with a machine-readable code
            assert response.status_code == 405, (method, path)
            assert response.headers["Allow"] == "GET, HEAD"
            assert response.json()["error"]["code"] == "method_not_allowed"
    # AND the tables hold nothing
    assert aws["dynamodb"].scan(TableName=aws["tables"]["events"])["Items"] == []


def test_a_request_for_another_host_is_refused(served):
    # GIVEN a page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding)
    response = requests.get(
        served + "/api/accounts", headers={"Host": "evil.example:80"}, timeout=10
    )
    # THEN the console does not answer it
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_host"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/accounts/not%20an%20id", 400, "invalid_account_id"),
        ("/api/accounts/alice?limit=0", 400, "invalid_request"),
        ("/api/accounts/alice?limit=101", 400, "invalid_request"),
        ("/api/accounts/alice?after=-1", 400, "invalid_request"),
        ("/api/accounts?after=a%20b", 400, "invalid_request"),
        ("/api/accounts/nobody", 404, "account_not_found"),
        ("/api/journey/%7F", 400, "invalid_correlation_id"),
        ("/api/accounts/alice/balance", 400, "invalid_request"),
        ("/api/accounts/alice/balance?at=yesterday", 400, "invalid_request"),
        ("/api/accounts/alice/balance?at=2026-11-30T09:00:00", 400, "invalid_request"),
        ("/api/accounts/alice/balance?at=2999-01-01T00:00:00Z", 400, "invalid_request"),
        ("/api/accounts/not%20an%20id/balance?at=2026-11-30T09:00:00Z", 400, "invalid_account_id"),
        ("/api/accounts/nobody/balance?at=2026-11-30T09:00:00Z", 404, "account_not_found"),
        ("/api/token?sub=", 400, "invalid_request"),
        ("/static/..%2Fserver.py", 404, "not_found"),
        ("/swagger/index.css", 404, "not_found"),
        ("/nothing-here", 404, "not_found"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_code(served, path, status, code):
    response = requests.get(served + path, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_an_account_is_served_as_json(aws, served):
    # GIVEN an account with one event  WHEN the page asks for it
    record(aws, "alice", credit("alice", "12.34"))
    response = requests.get(served + "/api/accounts/alice", timeout=10)
    # THEN its history, read-only and never cached
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    opened, credited = response.json()["events"]
    assert (opened["type"], credited["amount"]) == ("AccountOpened", "12.34")


def test_a_past_balance_is_served_as_json(aws, served):
    # GIVEN an account credited at 09:01 and 09:02 (tests.integration.test_console's minutes)
    record(aws, "alice", credit("alice", "10.00"), credit("alice", "5.00"))
    # WHEN the page asks for its balances as of 09:01:30 (an offset as the API allows)
    response = requests.get(
        served + "/api/accounts/alice/balance",
        params={"at": "2026-11-30T10:01:30+01:00"},
        timeout=10,
    )
    # THEN they are those after the first credit
    assert response.status_code == 200, response.text
    assert response.json() == {
        "version": 2,
        "currency": "EUR",
        "totalBalance": "10.00",
        "heldBalance": "0.00",
        "availableBalance": "10.00",
        "at": "2026-11-30T09:01:30.000000Z",
    }


def test_the_page_and_the_pinned_api_viewer_are_served_locally(served):
    page = requests.get(served + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ("/static/console.js", "/static/console.css", "/api.html", "/static/api.js"):
        assert requests.get(served + path, timeout=10).status_code == 200, path
    viewer = requests.get(served + "/swagger/swagger-ui-bundle.js", timeout=10)
    assert viewer.status_code == 200
    assert "SwaggerUIBundle" in viewer.text


def test_the_api_reference_sends_its_requests_through_the_console(served):
    # WHEN the page loads the OpenAPI document
    document = requests.get(served + "/openapi.json", timeout=10).json()
    # THEN it is docs/openapi.yaml, its server the console's read-only proxy
    assert "/accounts/{accountId}/balance" in document["paths"]
    assert document["servers"][0]["url"] == "/try"


def test_try_it_forwards_a_get_with_its_token_to_the_api(served):
    response = requests.get(
        served + "/try/accounts/alice/events?limit=3",
        headers={"Authorization": "Bearer abc", "Cookie": "not-forwarded"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {
        "path": "/accounts/alice/events?limit=3",
        "authorization": "Bearer abc",
    }


def test_tokens_come_from_the_local_issuer_only(aws, tmp_path, served):
    # GIVEN the local console  THEN it mints a token for the reference's "try it"
    minted = requests.get(served + "/api/token?sub=ops&scopes=a+b", timeout=10).json()
    assert minted == {"token": "token-of-ops-['a', 'b']"}
    # GIVEN a console of a deployed environment (no local issuer)  THEN none
    ledger = Ledger("test", None, REGION)
    deployed = start(Console(ledger, LocalLogs(tmp_path, ledger.prefix)), Settings("dev", None))
    try:
        response = requests.get(deployed.url + "/api/token?sub=ops", timeout=10)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "no_issuer"
        assert requests.get(deployed.url + "/api/config", timeout=10).json() == {
            "environment": "dev",
            "apiUrl": None,
            "tokens": False,
        }
    finally:
        deployed.stop()


def point(minutes: int, balance: str, version: int) -> Point:
    start = datetime(2026, 11, 30, tzinfo=UTC)
    return Point(version, start + timedelta(minutes=minutes), Money.of(balance))


def test_the_chart_steps_to_each_balance_and_keeps_zero_in_view():
    # GIVEN a balance that goes below zero
    chart = balance_chart(
        [point(0, "10.00", 1), point(10, "-5.00", 2), point(20, "0.01", 3)], title="<b>&"
    )
    # THEN the line steps (each change is drawn flat, then vertical): 2 points per event after the first
    polyline = chart.split('points="')[1].split('"')[0].split()
    assert len(polyline) == 5
    assert polyline[1].split(",")[1] == polyline[0].split(",")[1]
    # AND the zero line, the range and the title (escaped) are there
    assert 'class="zero"' in chart
    assert "lowest -5.00, highest 10.00" in chart
    assert "&lt;b&gt;&amp;" in chart
    assert "<b>" not in chart


def test_events_of_one_instant_are_spread_by_version():
    chart = balance_chart([point(0, "1.00", 1), point(0, "2.00", 2)], title="t")
    xs = {pair.split(",")[0] for pair in chart.split('points="')[1].split('"')[0].split()}
    assert len(xs) == 2


def test_no_event_no_chart():
    assert balance_chart([], title="t") == ""


def test_ledger_console_takes_the_environment_before_or_after_it(monkeypatch):
    # GIVEN the operators' command line, whose console would serve what it is given
    seen: list[tuple[str, int]] = []

    def serve(args: Any) -> int:
        seen.append((args.environment, args.port))
        return 0

    monkeypatch.setattr(console_command, "run", serve)
    # WHEN the environment comes after `console`, before it, or not at all
    assert main(["console", "--environment", "dev", "--port", "0"]) == 0
    assert main(["--environment", "prod", "console"]) == 0
    assert main(["console"]) == 0
    # THEN each is the one used (the local system by default, on port 8081)
    assert seen == [("dev", 0), ("prod", 8081), ("local", 8081)]


def test_make_up_refuses_a_taken_console_port_before_starting_anything(tmp_path, capsys):
    # GIVEN the console's port taken by another program
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # WHEN the local system is brought up with its console there
        started = up(LocalSettings(state_dir=tmp_path, port=free_port(), console_port=port))
    # THEN it says which setting to change, and nothing was started
    assert started == 1
    assert "LEDGER_CONSOLE_PORT" in capsys.readouterr().err
    assert not (tmp_path / "local.pid").exists()


@pytest.mark.parametrize(("value", "port"), [(None, 8081), ("9191", 9191), ("0", 0), ("off", None)])
def test_the_console_port_of_make_run_comes_from_ledger_console_port(monkeypatch, value, port):
    if value is None:
        monkeypatch.delenv("LEDGER_CONSOLE_PORT", raising=False)
    else:
        monkeypatch.setenv("LEDGER_CONSOLE_PORT", value)
    assert local_settings().console_port == port


def test_make_up_prints_the_console_url_beside_the_api_url():
    lines = try_this("http://127.0.0.1:8080", "http://127.0.0.1:8081").splitlines()
    assert lines[:2] == ["API_URL=http://127.0.0.1:8080", "CONSOLE_URL=http://127.0.0.1:8081"]
    assert "CONSOLE_URL" not in try_this("http://127.0.0.1:8080", None)


def test_a_child_process_that_does_not_announce_itself_is_stopped_and_said_so(tmp_path):
    # GIVEN a command whose first line is not the announcement (the console and moto
    # share this launcher)
    command = [sys.executable, "-c", "import sys, time; print('oops', flush=True); time.sleep(60)"]
    # WHEN it is started  THEN it fails, naming the log
    with pytest.raises(RuntimeError, match=r"did not start; see .*child\.log"):
        ChildProcess(command, tmp_path / "logs" / "child.log", "CONSOLE_URL=")


def test_a_child_process_answers_what_it_announced(tmp_path):
    # GIVEN a command that announces its URL  WHEN it is started  THEN its value is the URL
    command = [sys.executable, "-c", "print('CONSOLE_URL=http://127.0.0.1:1', flush=True)"]
    child = ChildProcess(command, tmp_path / "child.log", "CONSOLE_URL=")
    child.stop()
    assert child.value == "http://127.0.0.1:1"

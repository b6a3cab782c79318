"""``python -m scripts.local run|up|down`` (what ``make run``, ``make up``, ``make down`` call).

- run: start moto, apply terraform/environments/local to it, run the local runtime in
  the foreground until Ctrl-C, then stop everything.
- up: the same, detached in its own process group; returns once the API answers,
  prints API_URL=... and CONSOLE_URL=... and writes <state>/api-url and <state>/local.pid.
- down: stops the process group ``up`` started, and nothing else.
- redeploy: deploys dist/'s zips to the running system (Terraform applied again); the
  runtime runs each function's new code from its next invoke (scripts.local.redeploy).

The state directory is ``.local`` (or LEDGER_LOCAL_DIR), the port LEDGER_PORT (8080),
the web console's LEDGER_CONSOLE_PORT (8081; ``off``: no console; docs/console.md), the
workers per function LEDGER_LOCAL_CONCURRENCY (10).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from scripts.local import redeploy as redeploy_module
from scripts.local.system import REPO, LocalSystem, PortTakenError, Settings, check_port_free
from scripts.local.workers import DEFAULT_CONCURRENCY

UP_TIMEOUT_S = 300
DEFAULT_CONSOLE_PORT = 8081
CONCURRENCY_ENV = "LEDGER_LOCAL_CONCURRENCY"


def _settings() -> Settings:
    state_dir = Path(os.environ.get("LEDGER_LOCAL_DIR", REPO / ".local")).resolve()
    console = os.environ.get("LEDGER_CONSOLE_PORT", str(DEFAULT_CONSOLE_PORT))
    return Settings(
        state_dir=state_dir,
        port=int(os.environ.get("LEDGER_PORT", "8080")),
        console_port=None if console == "off" else int(console),
        concurrency=_concurrency(os.environ.get(CONCURRENCY_ENV)),
    )


def _concurrency(text: str | None) -> int:
    if text is None:
        return DEFAULT_CONCURRENCY
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SystemExit(f"error: {CONCURRENCY_ENV} must be a whole number of at least 1: {text!r}")
    return int(text)


def _try_this(api_url: str, console_url: str | None) -> str:
    account = "acc-123"
    auth = '-H "authorization: Bearer $TOKEN"'
    return "\n".join(
        [
            f"API_URL={api_url}",
            *([f"CONSOLE_URL={console_url}"] if console_url else []),
            "Try this (every request needs a token of the local issuer, docs/security.md):",
            '  TOKEN=$(make -s token SUB=payments SCOPES="ledger/transactions.write")',
            f"  curl -s -X POST {api_url}/accounts/{account}/credits {auth} "
            "-H 'content-type: application/json' -H 'Idempotency-Key: credit-1' "
            '-d \'{"amount": "100.00"}\'',
            f"  curl -s -X POST {api_url}/accounts/{account}/debits {auth} "
            "-H 'content-type: application/json' -H 'Idempotency-Key: debit-1' "
            '-d \'{"amount": "12.34", "description": "coffee"}\'',
            f"  TOKEN=$(make -s token SUB={account})",
            f"  curl -s {api_url}/accounts/{account}/balance {auth}",
            f"  curl -s '{api_url}/accounts/{account}/events?limit=10' {auth}",
        ]
    )


def run(settings: Settings) -> int:
    system = LocalSystem(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        system.start()
        console_url = system.console.url if system.console else None
        print(_try_this(system.api_url, console_url), flush=True)
        print(
            "Logs: " + str(settings.state_dir / "logs") + "  (Ctrl-C stops everything)", flush=True
        )
        stop.wait()
    except RuntimeError as exc:  # a taken port, a failed apply, a missing zip: say which
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        system.stop()
    return 0


def _pid_file(settings: Settings) -> Path:
    return settings.state_dir / "local.pid"


def up(settings: Settings) -> int:
    pid_file = _pid_file(settings)
    if pid_file.exists() and _group_alive(int(pid_file.read_text())):
        print(f"error: already up (see {pid_file}); `make down` first", file=sys.stderr)
        return 1
    try:
        check_port_free(settings.port)
    except PortTakenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if settings.console_port:
            check_port_free(settings.console_port)
    except PortTakenError:
        print(
            f"error: the console's port {settings.console_port} is in use: choose another with "
            "LEDGER_CONSOLE_PORT=<port> (or LEDGER_CONSOLE_PORT=off)",
            file=sys.stderr,
        )
        return 1
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / "local.log"
    with log_path.open("w", encoding="utf-8") as log:
        # Its own session: `down` stops this whole process group (runtime, moto,
        # terraform, function workers) and nothing else.
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.local", "run"],
            cwd=REPO,
            env={
                **os.environ,
                "LEDGER_LOCAL_DIR": str(settings.state_dir),
                "LEDGER_PORT": str(settings.port),
                "LEDGER_CONSOLE_PORT": "off"
                if settings.console_port is None
                else str(settings.console_port),
            },
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file(settings).write_text(f"{process.pid}\n")
    api_url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file(settings).unlink(missing_ok=True)
            print(f"error: the local system exited (code {process.returncode}):", file=sys.stderr)
            print(log_path.read_text()[-4000:], file=sys.stderr)
            return 1
        # The pointers for operator tools are written once the API already answers.
        console_pointer = settings.state_dir / "console-url"
        if (
            _answers(api_url)
            and (settings.state_dir / "lambda-url").exists()
            and (settings.console_port is None or console_pointer.exists())
        ):
            (settings.state_dir / "api-url").write_text(api_url + "\n")
            console_url = (
                console_pointer.read_text().strip() if settings.console_port is not None else None
            )
            print(_try_this(api_url, console_url))
            print(f"Logs: {settings.state_dir / 'logs'} and {log_path}; `make down` stops it.")
            return 0
        time.sleep(0.5)
    print(f"error: the API did not answer within {UP_TIMEOUT_S}s; see {log_path}", file=sys.stderr)
    down(settings)
    return 1


def _answers(api_url: str) -> bool:
    try:
        requests.get(f"{api_url}/", timeout=2)
    except requests.RequestException:
        return False
    return True


# How long `down` lets the processes stop on SIGTERM before it kills them.
STOP_GRACE_S = 20.0


def down(settings: Settings) -> int:
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        print("nothing to stop (no local system started by `make up`)")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)  # the session `up` created: pgid == its pid
    except ProcessLookupError:
        pass
    else:
        if not _gone_within(pid, STOP_GRACE_S):
            os.killpg(pid, signal.SIGKILL)
            # Killed processes are gone only once the kernel has torn them down and
            # their parents reaped them: answer when they are, as the caller may check.
            _gone_within(pid, 10)
    pid_file.unlink(missing_ok=True)
    (settings.state_dir / "api-url").unlink(missing_ok=True)
    print("stopped")
    return 0


def _gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _group_alive(pgid: int) -> bool:
    # When `up` ran in this very process (the e2e tests), its exited leader stays a
    # zombie, still counted in the group, until reaped here.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def redeploy(settings: Settings) -> int:
    try:
        changed = redeploy_module.redeploy(settings)
    except RuntimeError as exc:  # nothing up, no zips, a failed apply: say which
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not changed:
        print("no function's code changed")
    for name, sha256 in sorted(changed.items()):
        print(f"{name}: now runs code {sha256}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["run", "up", "down", "redeploy"])
    args = parser.parse_args(argv)
    commands = {"run": run, "up": up, "down": down, "redeploy": redeploy}
    return commands[args.command](_settings())


if __name__ == "__main__":
    sys.exit(main())

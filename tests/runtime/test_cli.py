"""`python -m scripts.local up|down|redeploy` behaviour that needs no running system."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.local.__main__ import _settings, down, redeploy, up
from scripts.local.system import Settings

pytestmark = pytest.mark.runtime


def test_up_on_a_taken_port_fails_clearly_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert up(Settings(state_dir=tmp_path, port=port)) == 1

    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    assert not (tmp_path / "local.pid").exists()


def test_down_without_up_stops_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert down(Settings(state_dir=tmp_path)) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_redeploy_without_up_fails_clearly_and_applies_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert redeploy(Settings(state_dir=tmp_path)) == 1
    assert f"no local system is up in {tmp_path}: `make up` first" in capsys.readouterr().err
    assert not (tmp_path / "terraform.tfstate").exists()


def test_down_kills_what_ignores_sigterm_and_returns_once_it_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a system's process group whose leader ignores SIGTERM (a process too busy to
    # stop in time, as a moto server holding a 10,000-command run's data was)
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    assert stubborn.stdout.readline() == b"ready\n"
    settings = Settings(state_dir=tmp_path)
    (tmp_path / "local.pid").write_text(str(stubborn.pid))
    monkeypatch.setattr("scripts.local.__main__.STOP_GRACE_S", 0.5)

    # WHEN it is stopped
    assert down(settings) == 0

    # THEN the group is gone by the time `down` answers
    with pytest.raises(ProcessLookupError):
        os.killpg(stubborn.pid, 0)


def test_the_workers_per_function_are_set_by_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEDGER_LOCAL_CONCURRENCY", raising=False)
    assert _settings().concurrency == 10

    monkeypatch.setenv("LEDGER_LOCAL_CONCURRENCY", "24")
    assert _settings().concurrency == 24

    for wrong in ("0", "-3", "ten", "", "²"):
        monkeypatch.setenv("LEDGER_LOCAL_CONCURRENCY", wrong)
        with pytest.raises(SystemExit, match="LEDGER_LOCAL_CONCURRENCY must be a whole number"):
            _settings()

"""`python -m scripts.local up|down` behaviour that needs no running system."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from scripts.local.__main__ import down, up
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

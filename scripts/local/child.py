"""A child process of the local system that announces itself on its first line of
stdout (``MOTO_PORT=…``, ``CONSOLE_URL=…``): started, waited for, and stopped the same
way whichever it is."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ChildProcess:
    """Runs `command` from the repository, its stderr appended to `log_path`; `value` is
    what follows `announce` on its first line (it is stopped, and this raises, when the
    line is anything else)."""

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        announce: str,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            list(command),
            cwd=REPO,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith(announce):
            self.stop()
            raise RuntimeError(f"{' '.join(command)} did not start; see {log_path}")
        self.value = line.removeprefix(announce)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

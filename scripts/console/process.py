"""The console as the local system runs it: `scripts/ledger console` in a process of
its own (a slow page never holds up the runtime), started once the system's pointers
are written and stopped with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
URL_LINE = "CONSOLE_URL="


class ConsoleProcess:
    def __init__(self, state_dir: Path, port: int, api_url: str) -> None:
        log_path = state_dir / "logs" / "console.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "scripts.ops", "--environment", "local", "console"),
                *("--port", str(port), "--api-url", api_url),
            ],
            cwd=REPO,
            env={**os.environ, "LEDGER_LOCAL_DIR": str(state_dir)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith(URL_LINE):
            self.stop()
            raise RuntimeError(f"the console did not start on port {port}; see {log_path}")
        self.url = line.removeprefix(URL_LINE)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

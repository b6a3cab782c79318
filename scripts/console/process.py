"""The console as the local system runs it: `scripts/ledger console` in a process of
its own (a slow page never holds up the runtime), started once the system's pointers
are written and stopped with it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from scripts.local.child import ChildProcess


class ConsoleProcess(ChildProcess):
    def __init__(self, state_dir: Path, port: int, api_url: str) -> None:
        command = [
            *(sys.executable, "-m", "scripts.ops", "--environment", "local", "console"),
            *("--port", str(port), "--api-url", api_url),
        ]
        super().__init__(
            command,
            state_dir / "logs" / "console.log",
            "CONSOLE_URL=",
            env={**os.environ, "LEDGER_LOCAL_DIR": str(state_dir)},
        )
        self.url = self.value

"""Function logs: each line to the console, prefixed with the function's name, and to
``<state dir>/logs/<function>.log``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO


class Logs:
    def __init__(self, directory: Path, console: TextIO | None = sys.stdout) -> None:
        self._directory = directory
        self._console = console
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, source: str) -> Path:
        return self._directory / f"{source}.log"

    def write(self, source: str, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            with self.path(source).open("a", encoding="utf-8") as file:
                file.write(line + "\n")
            if self._console is not None:
                self._console.write(f"[{source}] {line}\n")
                self._console.flush()

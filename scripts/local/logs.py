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
        # Kept open: under load a function logs thousands of lines a second.
        self._files: dict[str, TextIO] = {}
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, source: str) -> Path:
        return self._directory / f"{source}.log"

    def write(self, source: str, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            file = self._files.get(source)
            if file is None:
                file = self._files[source] = self.path(source).open(
                    "a", encoding="utf-8", buffering=1
                )
            file.write(line + "\n")
            if self._console is not None:
                self._console.write(f"[{source}] {line}\n")
                self._console.flush()

    def close(self) -> None:
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files.clear()

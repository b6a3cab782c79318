"""Daemon threads that work until told to stop: the runtime's pollers (bus, streams)
and the bench's load clients share this start/stop pattern."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# How long stopping waits for a thread that is inside a request.
JOIN_TIMEOUT_S = 5.0


class Workers:
    """Threads started one by one, stopped together: ``stopped`` is the event they poll."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, target: Callable[..., Any], *args: Any, name: str | None = None) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        thread.start()
        self._threads.append(thread)

    def request_stop(self) -> None:
        self.stopped.set()

    def stop(self, timeout_s: float | None = JOIN_TIMEOUT_S) -> None:
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    def run_for(self, seconds: float, target: Callable[[int], Any], count: int) -> None:
        """``target(0)`` … ``target(count - 1)``, each in its thread, for ``seconds``;
        then stop them and wait for each to finish what it is doing."""
        for index in range(count):
            self.start(target, index)
        self.stopped.wait(seconds)
        self.stop(timeout_s=None)

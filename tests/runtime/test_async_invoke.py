"""Lambda's asynchronous queue, one per function: a function at its concurrency limit backs
up its own events only."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from scripts.local.async_invoke import AsyncInvoker
from scripts.local.destinations import Destinations
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import Outcome

pytestmark = pytest.mark.runtime

CONCURRENCY = 3


def _function(name: str) -> Function:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return Function(name, arn, "handler.lambda_handler", "python3.11", 30, 128, {}, "sha")


class _Functions:
    """An invoke that holds every `busy` invocation until released and counts how many
    run at once; `idle` invocations return at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.idle_invoked = threading.Event()
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def invoke(self, function_arn: str, event: Any) -> Outcome:
        if function_arn.endswith(":idle"):
            self.idle_invoked.set()
            return Outcome("idle")
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.release.wait(30)
        with self._lock:
            self.running -= 1
        return Outcome("busy")


def test_a_function_at_its_concurrency_backs_up_its_own_queue_and_no_other(
    tmp_path: Path,
) -> None:
    # GIVEN a function whose invocations all hang, with far more events queued for it
    # than the invoker had threads in all when its queue was shared by every function
    functions = _Functions()
    invoker = AsyncInvoker(
        functions.invoke,
        cast(Destinations, None),  # nothing fails here, so nothing is sent anywhere
        Logs(tmp_path, console=None),
        concurrency=CONCURRENCY,
    )
    busy, idle = _function("busy"), _function("idle")
    try:
        for n in range(100):
            invoker.submit(busy, {"n": n})

        # WHEN another function's event is handed over behind them
        invoker.submit(idle, {"n": "other"})

        # THEN it is invoked while the first function's backlog still waits
        assert functions.idle_invoked.wait(5), "the other function's event waited its turn"
        assert not functions.release.is_set()
        # AND the first function runs as many invocations at once as its concurrency
        deadline = time.monotonic() + 5
        while functions.running < CONCURRENCY and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert functions.most_at_once == CONCURRENCY
    finally:
        functions.release.set()
        invoker.stop()

"""Lambda's asynchronous invocation: an internal queue per function, retries on function
errors, then the function's on-failure destination or dead-letter queue, as Lambda does for
events that EventBridge (or anything invoking with InvocationType=Event) hands over.

Each function's queue is drained by as many threads as the function has workers, as
Lambda's pollers invoke a function up to its concurrency: a function at its limit backs up
its own queue only, never another function's (docs/local-runtime.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scripts.local.destinations import Destinations, now_iso
from scripts.local.faults import ASYNC_RETRY, DEAD_LETTERED, Faults
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import DEFAULT_CONCURRENCY, Outcome

Invoke = Callable[[str, Any], Outcome]


class AsyncInvoker:
    """``retry_delays_s`` are the waits before each retry; AWS waits about 1 then 2
    minutes, shortened here so a developer sees the outcome while still watching."""

    def __init__(
        self,
        invoke: Invoke,
        destinations: Destinations,
        logs: Logs,
        retry_delays_s: tuple[float, ...] = (1.0, 2.0),
        faults: Faults | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._invoke = invoke
        self._faults = faults or Faults.off()
        self._destinations = destinations
        self._logs = logs
        self._retry_delays_s = retry_delays_s
        self._concurrency = concurrency
        self._queues: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def submit(self, function: Function, event: Any) -> None:
        self._queue(function).submit(self._attempt, function, event, time.time(), 1)

    def _queue(self, function: Function) -> ThreadPoolExecutor:
        with self._lock:
            queue = self._queues.get(function.arn)
            if queue is None:
                queue = self._queues[function.arn] = ThreadPoolExecutor(
                    max_workers=self._concurrency, thread_name_prefix=f"async-{function.name}"
                )
            return queue

    def _attempt(self, function: Function, event: Any, queued_at: float, attempt: int) -> None:
        if self._stopped.is_set():
            return
        outcome = self._invoke(function.arn, event)
        if not outcome.failed:
            return
        config = function.async_config
        if attempt > config.max_retry_attempts:
            self._give_up(function, event, outcome, attempt, "RetriesExhausted")
            return
        delay = self._retry_delays_s[min(attempt - 1, len(self._retry_delays_s) - 1)]
        if time.time() + delay - queued_at > config.max_event_age_s:
            self._give_up(function, event, outcome, attempt, "EventAgeExceeded")
            return
        self._logs.write(function.name, f"async invoke failed, retry {attempt} in {delay}s")
        self._faults.note(ASYNC_RETRY, function.name)
        timer = threading.Timer(
            delay,
            lambda: self._resubmit(function, event, queued_at, attempt + 1),
        )
        timer.daemon = True
        timer.start()

    def _resubmit(self, function: Function, event: Any, queued_at: float, attempt: int) -> None:
        if not self._stopped.is_set():
            self._queue(function).submit(self._attempt, function, event, queued_at, attempt)

    def _give_up(
        self, function: Function, event: Any, outcome: Outcome, attempts: int, condition: str
    ) -> None:
        error = outcome.error or {}
        self._faults.note(DEAD_LETTERED, function.name)
        if function.async_config.on_failure_arn:
            record = {
                "version": "1.0",
                "timestamp": now_iso(),
                "requestContext": {
                    "requestId": outcome.request_id,
                    "functionArn": f"{function.arn}:$LATEST",
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": error,
            }
            self._destinations.send(function.async_config.on_failure_arn, record)
        elif function.dead_letter_arn:
            self._destinations.send(
                function.dead_letter_arn,
                event,
                {
                    "RequestID": outcome.request_id,
                    "ErrorCode": "200",
                    "ErrorMessage": str(error.get("errorMessage", "")),
                },
            )
        else:
            self._logs.write(
                function.name, f"async event dropped after {attempts} attempts ({condition})"
            )

    def request_stop(self) -> None:
        self._stopped.set()

    def stop(self) -> None:
        self.request_stop()
        with self._lock:
            queues = list(self._queues.values())
        for queue in queues:
            queue.shutdown(wait=False, cancel_futures=True)

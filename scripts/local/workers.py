"""Warm function "containers": one subprocess per concurrent execution, as Lambda does.

Each function has a pool of up to ``max_concurrency`` worker processes. A worker loads
the handler once (cold start) and serves one invoke at a time; a timed-out worker is
killed and replaced, as Lambda replaces a timed-out execution environment. Separate
processes keep two functions that both have a ``handler`` module apart.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.faults import INVOKE_ERROR, INVOKE_TIMEOUT, Faults
from scripts.local.logs import Logs
from scripts.local.wiring import Function

WORKER_MAIN = Path(__file__).with_name("worker_main.py")
# Lambda allows 10 s for the init phase on a sandbox of its own; here every sandbox
# shares the machine's few CPUs, and a burst of cold starts slows each one down.
INIT_TIMEOUT_S = 30
# Cold starts under way at once per function. A burst of requests is mostly served by
# the warm workers, which free up in milliseconds, rather than by ten slow cold starts.
MAX_CONCURRENT_COLD_STARTS = 2
DEFAULT_CONCURRENCY = 10
PIPE_READ_BYTES = 1 << 16


@dataclass(frozen=True)
class Outcome:
    """What an invoke returned: the function's result, or Lambda's error payload."""

    request_id: str
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def lambda_environment(function: Function, endpoint_url: str, region: str) -> dict[str, str]:
    """The declared variables plus what the Lambda service sets in every environment."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        **FAKE_CREDENTIALS,
        **function.environment,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime or 'python3.11'}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        **logging_environment(function.logging),
        "_HANDLER": function.handler,
        # Not set by AWS: the context's invoked_function_arn, and boto3 pointed at moto.
        "LEDGER_LOCAL_FUNCTION_ARN": function.arn,
        "AWS_ENDPOINT_URL": endpoint_url,
    }


def logging_environment(logging: Mapping[str, str]) -> dict[str, str]:
    """What Lambda sets under the JSON log format (advanced logging controls): the format,
    and the application log level, which powertools Logger takes as its own level."""
    if logging.get("LogFormat") != "JSON":
        return {}
    return {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": logging.get("ApplicationLogLevel", "INFO"),
    }


class PoolClosedError(RuntimeError):
    pass


class _Lines:
    """The newline-ended answers a worker writes on its response pipe, each read by the
    thread waiting for it: ``next`` gives the next line, or None once the pipe is closed
    (the worker is exiting), and raises TimeoutError when none came in time."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._buffer = bytearray()
        self._closed = False

    def next(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        scanned = 0  # the buffer up to here holds no newline
        while (end := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            if self._closed:
                return None  # a last answer without its newline is no answer
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._pipe], [], [], remaining)[0]:
                raise TimeoutError
            chunk = self._pipe.read(PIPE_READ_BYTES)
            if chunk:
                self._buffer += chunk
            else:
                self._closed = True
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line


class _Worker:
    def __init__(
        self, function: Function, code_dir: Path, runtime_dir: Path, env: dict[str, str], logs: Logs
    ) -> None:
        self._function = function
        self._logs = logs
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-u",
                str(WORKER_MAIN),
                str(code_dir),
                str(runtime_dir),
                str(request_read),
                str(response_write),
            ],
            pass_fds=(request_read, response_write),
            env=env,
            cwd=code_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(request_read)
        os.close(response_write)
        self._requests = os.fdopen(request_write, "w", encoding="utf-8")
        # Read by the thread waiting for the answer (one invoke at a time per worker),
        # not pumped by a thread of its own: a thread hop less per invoke.
        self._responses = _Lines(os.fdopen(response_read, "rb", buffering=0))
        self._exited = False
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            threading.Thread(target=self._pump_logs, args=(stream,), daemon=True).start()
        self.init_error = self._await_init()

    def _pump_logs(self, stream: IO[str]) -> None:
        for line in stream:
            self._logs.write(self._function.name, line)

    def _await_init(self) -> dict[str, Any] | None:
        answer = self._next_answer(INIT_TIMEOUT_S)
        if answer is None:
            self.kill()
            return {"errorMessage": "init did not complete", "errorType": "Runtime.InitError"}
        error: dict[str, Any] | None = answer.get("error")
        if error is not None:
            self.kill()
        return error

    def _next_answer(self, timeout_s: float) -> dict[str, Any] | None:
        try:
            line = self._responses.next(timeout_s)
        except TimeoutError:
            return None
        if line is None:
            # The response pipe closed: the process is exiting, even if it is not yet
            # reaped, so it must not go back to the pool as a warm worker.
            self._exited = True
            return {
                "error": {"errorMessage": "the runtime exited", "errorType": "Runtime.ExitError"}
            }
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def alive(self) -> bool:
        return not self._exited and self.process.poll() is None

    def invoke(self, event: Any, request_id: str) -> Outcome:
        timeout_s = self._function.timeout_s
        deadline_ms = int((time.time() + timeout_s) * 1000)
        try:
            self._requests.write(
                json.dumps({"event": event, "requestId": request_id, "deadlineMs": deadline_ms})
                + "\n"
            )
            self._requests.flush()
        except OSError:  # the worker was killed: the runtime is stopping
            self._exited = True
            return Outcome(
                request_id,
                error={"errorMessage": "the runtime exited", "errorType": "Runtime.ExitError"},
            )
        answer = self._next_answer(timeout_s)
        if answer is None:
            self.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            self._logs.write(self._function.name, f"{request_id} {message}")
            return Outcome(
                request_id, error={"errorMessage": message, "errorType": "Sandbox.Timedout"}
            )
        if "error" in answer:
            return Outcome(request_id, error=answer["error"])
        return Outcome(request_id, result=answer.get("result"))

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()


class FunctionPool:
    """Invokes one function, concurrently up to ``max_concurrency`` warm workers."""

    def __init__(
        self,
        function: Function,
        code_dir: Path,
        runtime_dir: Path,
        endpoint_url: str,
        region: str,
        logs: Logs,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        faults: Faults | None = None,
        extra_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.function = function
        self._code_dir = code_dir
        self._runtime_dir = runtime_dir
        self._faults = faults or Faults.off()
        self._env = {
            **lambda_environment(function, endpoint_url, region),
            **self._faults.worker_environment(),
            **(extra_environment or {}),
        }
        self._logs = logs
        self._max = max_concurrency
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._running = 0
        self._starting = 0
        self._closed = False
        self._lock = threading.Condition()

    def invoke(self, event: Any) -> Outcome:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        self._logs.write(self.function.name, f"START RequestId: {request_id} Version: $LATEST")
        try:
            worker = self._acquire()
        except PoolClosedError as exc:
            return Outcome(request_id, error={"errorMessage": str(exc), "errorType": "Stopping"})
        try:
            if worker.init_error is not None:
                outcome = Outcome(request_id, error=worker.init_error)
            else:
                outcome = self._invoke_with_faults(worker, event, request_id)
        finally:
            self._release(worker)
        elapsed_ms = (time.monotonic() - started) * 1000
        self._logs.write(self.function.name, f"END RequestId: {request_id}")
        self._logs.write(
            self.function.name,
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms"
            + (f"\tError: {outcome.error['errorType']}" if outcome.error else ""),
        )
        return outcome

    def _invoke_with_faults(self, worker: _Worker, event: Any, request_id: str) -> Outcome:
        name = self.function.name
        if self._faults.inject(INVOKE_ERROR, name):
            return Outcome(
                request_id,
                error={"errorMessage": "injected fault", "errorType": "Injected.InvokeError"},
            )
        outcome = worker.invoke(event, request_id)
        if not outcome.failed and self._faults.inject(INVOKE_TIMEOUT, name):
            # The work is done but its answer is lost, as when a function times out
            # after its writes: the caller must treat the outcome as unknown.
            worker.kill()
            message = f"Task timed out after {self.function.timeout_s:.2f} seconds (injected)"
            self._logs.write(name, f"{request_id} {message}")
            return Outcome(
                request_id, error={"errorMessage": message, "errorType": "Sandbox.Timedout"}
            )
        return outcome

    def _acquire(self) -> _Worker:
        with self._lock:
            while not (self._idle or self._closed or self._may_start_one()):
                self._lock.wait()
            if self._closed:
                raise PoolClosedError(f"{self.function.name}: the runtime is stopping")
            self._running += 1
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
            self._starting += 1
        try:
            worker = _Worker(
                self.function, self._code_dir, self._runtime_dir, self._env, self._logs
            )
            with self._lock:
                self._busy.add(worker)
            return worker
        except BaseException:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()
            raise
        finally:
            with self._lock:
                self._starting -= 1
                self._lock.notify_all()

    def _may_start_one(self) -> bool:
        return self._running < self._max and self._starting < MAX_CONCURRENT_COLD_STARTS

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._running -= 1
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                worker.kill()
            self._lock.notify_all()

    def close(self) -> None:
        """Kill every worker, busy ones included: their invokes end with an error."""
        with self._lock:
            self._closed = True
            workers, self._idle = [*self._idle, *self._busy], []
            self._lock.notify_all()
        for worker in workers:
            worker.kill()

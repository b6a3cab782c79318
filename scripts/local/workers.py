"""Warm function "containers": one subprocess per concurrent execution, as Lambda does.

Each function has a pool of up to ``max_concurrency`` worker processes. A worker serves
one invoke at a time; a timed-out worker is killed and replaced, as Lambda replaces a
timed-out execution environment. Separate processes keep two functions that both have a
``handler`` module apart.

A function version's init (the handler's import, its SDK clients) runs once, in a
template process, and each worker is forked from it already initialised, as SnapStart
restores each sandbox from a snapshot taken after init: a worker start costs a fork,
not an interpreter's start and the imports (docs/local-runtime.md). LEDGER_LOCAL_FORK=0
starts each worker as an interpreter of its own that runs the init itself, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

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
# LEDGER_LOCAL_FORK=0: every worker an interpreter of its own, running the init itself.
FORK_ENV = "LEDGER_LOCAL_FORK"
# A template answers a fork in milliseconds; one that does not is stuck, and replaced.
FORK_TIMEOUT_S = 10
# A template exits as soon as its control socket closes.
TEMPLATE_STOP_S = 5


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


class _Sandbox(Protocol):
    """A worker's process, however it was started."""

    pid: int

    def exited(self) -> bool: ...

    def kill(self) -> None: ...  # SIGKILL, and return once it is gone


class _Spawned:
    """A worker started as an interpreter of its own: the runtime's child."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self.pid = process.pid

    def exited(self) -> bool:
        return self._process.poll() is not None

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


class _Forked:
    """A worker forked by a template: not the runtime's child, so known by a pidfd,
    which stays this process's however soon its pid is reused."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self._lock = threading.Lock()  # the pool's thread and an invoking one may ask at once

    def _wait(self, timeout_ms: int | None) -> bool:
        """Whether it has exited (a pidfd turns readable then); closes the pidfd if so."""
        if self._pidfd < 0:
            return True
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)
        if not poller.poll(timeout_ms):
            return False
        os.close(self._pidfd)
        self._pidfd = -1
        return True

    def exited(self) -> bool:
        with self._lock:
            return self._wait(0)

    def kill(self) -> None:
        with self._lock:
            if self._pidfd < 0:
                return
            with contextlib.suppress(ProcessLookupError):  # exited and reaped already
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            self._wait(None)


@dataclass(frozen=True)
class _ChildFds:
    """The pipe ends a worker process holds: what it reads requests from, writes
    answers to, and its stdout and stderr (pumped into the function's logs)."""

    request: int
    response: int
    stdout: int
    stderr: int

    def all(self) -> tuple[int, int, int, int]:
        return (self.request, self.response, self.stdout, self.stderr)


# An init error, as Lambda reports it: {"errorMessage", "errorType", ...}.
InitError = dict[str, Any]


def _pump_logs(fd: int, function: str, logs: Logs) -> None:
    """Copy a process's output into the function's logs, line by line, from a thread of
    its own, until the last process holding the pipe's other end is gone."""

    def pump() -> None:
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                logs.write(function, line)

    threading.Thread(target=pump, daemon=True).start()


def _output_pipes(function: str, logs: Logs) -> tuple[int, int]:
    """A stdout and a stderr for a process of the function: their write ends."""
    ends = []
    for _ in range(2):
        read, write = os.pipe()
        _pump_logs(read, function, logs)
        ends.append(write)
    return ends[0], ends[1]


def _python(code_dir: Path, runtime_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-S", "-u", str(WORKER_MAIN), str(code_dir), str(runtime_dir), *args]


class Interpreter:
    """Starts each worker as a fresh interpreter, which runs the function's init itself."""

    def __init__(self, code_dir: Path, runtime_dir: Path, env: Mapping[str, str]) -> None:
        self.code_dir = code_dir
        self._runtime_dir = runtime_dir
        self._env = dict(env)

    def start(self, fds: _ChildFds) -> _Sandbox | InitError:
        process = subprocess.Popen(
            _python(self.code_dir, self._runtime_dir, str(fds.request), str(fds.response)),
            pass_fds=(fds.request, fds.response),
            env=self._env,
            cwd=self.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=fds.stdout,
            stderr=fds.stderr,
        )
        return _Spawned(process)

    def stop(self) -> None:
        pass


class Template:
    """One process per function version that has run the function's init (the faults'
    hooks, the handler's import) and forks each worker from itself: SnapStart's snapshot,
    restored per sandbox. Started on the first worker start, and started again when it
    has died; its init failing fails that worker start as a cold start's would."""

    def __init__(
        self,
        function: Function,
        code_dir: Path,
        runtime_dir: Path,
        env: Mapping[str, str],
        logs: Logs,
    ) -> None:
        self.code_dir = code_dir
        self._function = function
        self._runtime_dir = runtime_dir
        self._env = dict(env)
        self._logs = logs
        self._lock = threading.Lock()  # one request at a time on the control socket
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        # Set when the init left threads running: a fork copies only the thread calling
        # it, so a fork of such a process may hold locks no thread will ever release.
        self._fallback: Interpreter | None = None
        self._stopped = False

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, fds: _ChildFds) -> _Sandbox | InitError:
        with self._lock:
            if self._stopped:  # a start racing the pool's close: no template left behind
                return {"errorMessage": "the runtime is stopping", "errorType": "Stopping"}
            if self._fallback is not None:
                return self._fallback.start(fds)
            for _ in range(2):
                if self._control is None or not self._running():
                    self._stop()
                    error = self._init()
                    if self._fallback is not None:
                        return self._fallback.start(fds)
                    if error is not None:
                        return error
                try:
                    return self._fork(fds)
                except OSError as exc:  # a dead template: another one, once
                    self._logs.write(self._function.name, f"template gone ({exc}); restarting")
                    self._stop()
            return {"errorMessage": "the runtime exited", "errorType": "Runtime.ExitError"}

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _init(self) -> InitError | None:
        runtime_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stdout, stderr = _output_pipes(self._function.name, self._logs)
        try:
            self._process = subprocess.Popen(
                _python(self.code_dir, self._runtime_dir, "template", str(template_end.fileno())),
                pass_fds=(template_end.fileno(),),
                env=self._env,
                cwd=self.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        finally:
            template_end.close()
            os.close(stdout)
            os.close(stderr)
        self._control = runtime_end
        runtime_end.settimeout(INIT_TIMEOUT_S)
        try:
            message = runtime_end.recv(PIPE_READ_BYTES)
        except TimeoutError:
            self._process.kill()  # still in its init: it reads no socket yet
            self._stop()
            return {"errorMessage": "init did not complete", "errorType": "Runtime.InitError"}
        if not message:
            self._stop()
            return {"errorMessage": "the runtime exited", "errorType": "Runtime.ExitError"}
        answer: dict[str, Any] = json.loads(message)
        if "threads" in answer:
            self._logs.write(
                self._function.name,
                f"init left {answer['threads']} threads running: a fork would copy one of "
                "them only, so each worker starts an interpreter of its own",
            )
            self._stop()
            self._fallback = Interpreter(self.code_dir, self._runtime_dir, self._env)
            return None
        error: InitError | None = answer.get("error")
        if error is not None:
            self._stop()
        return error

    def _fork(self, fds: _ChildFds) -> _Forked:
        assert self._control is not None
        self._control.settimeout(FORK_TIMEOUT_S)
        socket.send_fds(self._control, [b"fork"], list(fds.all()))
        message, pidfds, _flags, _address = socket.recv_fds(self._control, PIPE_READ_BYTES, 1)
        if not message or len(pidfds) != 1:
            for fd in pidfds:
                os.close(fd)
            raise ConnectionResetError("the template answered no worker")
        return _Forked(int(json.loads(message)["pid"]), pidfds[0])

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()  # the template's signal to exit
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=TEMPLATE_STOP_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def stop(self) -> None:
        """Stop the template for good; the workers forked from it live on until they
        are killed."""
        with self._lock:
            self._stopped = True
            self._stop()


class Launcher(Protocol):
    code_dir: Path

    def start(self, fds: _ChildFds) -> _Sandbox | InitError: ...

    def stop(self) -> None: ...


def fork_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether workers are forked from a template (the default) rather than each started
    as an interpreter of its own (LEDGER_LOCAL_FORK=0)."""
    return environ.get(FORK_ENV, "1").strip() != "0"


class Worker:
    """One warm "container" of a function, started by ``launcher``, initialised (or
    holding its ``init_error``) once constructed."""

    def __init__(self, function: Function, launcher: Launcher, logs: Logs) -> None:
        self._function = function
        self._logs = logs
        self.launcher = launcher
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        stdout, stderr = _output_pipes(function.name, logs)
        child = _ChildFds(request_read, response_write, stdout, stderr)
        try:
            started = launcher.start(child)
        except BaseException:
            os.close(request_write)
            os.close(response_read)
            raise
        finally:
            # The worker holds its own ends now: the response pipe reads as closed, and
            # the log pumps end, as soon as the worker is gone.
            for fd in child.all():
                os.close(fd)
        self._requests = os.fdopen(request_write, "w", encoding="utf-8")
        # Read by the thread waiting for the answer (one invoke at a time per worker),
        # not pumped by a thread of its own: a thread hop less per invoke.
        self._responses = _Lines(os.fdopen(response_read, "rb", buffering=0))
        if isinstance(started, dict):
            self.process: _Sandbox | None = None
            self._exited = True
            self.init_error: InitError | None = started
        else:
            self.process = started
            self._exited = False
            self.init_error = self._await_init()

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
        return not self._exited and self.process is not None and not self.process.exited()

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
        if self.process is not None:
            self.process.kill()


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
        *,
        fork: bool | None = None,
    ) -> None:
        self.function = function
        self._runtime_dir = runtime_dir
        self._faults = faults or Faults.off()
        # The same for every worker: a forked one inherits its template's.
        self._env = {
            **lambda_environment(function, endpoint_url, region),
            **self._faults.worker_environment(),
            **(extra_environment or {}),
        }
        self._logs = logs
        self._fork = fork_enabled() if fork is None else fork
        self._launcher = self._launcher_for(code_dir)
        self._max = max_concurrency
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
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

    def _invoke_with_faults(self, worker: Worker, event: Any, request_id: str) -> Outcome:
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

    def _acquire(self) -> Worker:
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
            worker = Worker(self.function, self._launcher, self._logs)
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

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._running -= 1
            self._busy.discard(worker)
            if worker.alive and not self._closed and worker.launcher is self._launcher:
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
        self._launcher.stop()

    def _launcher_for(self, code_dir: Path) -> Launcher:
        if self._fork:
            return Template(self.function, code_dir, self._runtime_dir, self._env, self._logs)
        return Interpreter(code_dir, self._runtime_dir, self._env)

    @property
    def template_pid(self) -> int | None:
        """The pid of the function's template process, while one runs."""
        return self._launcher.pid if isinstance(self._launcher, Template) else None

    def use_code(self, code_dir: Path) -> None:
        """Serve the next invokes from a new version of the function's code, as Lambda
        does after UpdateFunctionCode: a template of the new version, the old one
        stopped; warm workers of the old version end as they come back to the pool."""
        with self._lock:
            if code_dir == self._launcher.code_dir:
                return
            old, self._launcher = self._launcher, self._launcher_for(code_dir)
            retired, self._idle = self._idle, []
        for worker in retired:
            worker.kill()
        old.stop()

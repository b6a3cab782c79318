"""The inside of one warm Lambda "container": loads the handler once, then serves invokes.

Started by scripts.local.workers as ``python -S -u worker_main.py <code dir> <runtime
dir> <request fd> <response fd>`` (a worker of its own), or as ``... <code dir> <runtime
dir> template <control fd>``: a template that loads the handler once (Lambda's init
phase) and then forks each worker from itself on request, as SnapStart restores each
sandbox from one snapshot taken after init. ``-S`` keeps the project's virtualenv off sys.path:
the function sees its own zip first, then only what the Lambda Python runtime provides
(boto3 and its dependencies), so a dependency missing from the zip fails here as it
would on AWS. Standard library only: nothing else is importable before sys.path is set.

Protocol: one JSON line per request on the request fd, ``{"event", "requestId",
"deadlineMs"}``; one JSON line per answer on the response fd, ``{"result": ...}`` or
``{"error": {"errorMessage", "errorType", "stackTrace"}}``. The very first line
written is the init outcome. The function's own stdout/stderr go to its logs.

A template talks on its control socket (a SOCK_SEQPACKET socket pair: one message per
record). It first sends its init outcome, ``{"ready": true}``, ``{"error": ...}`` (and
exits), or ``{"threads": n}`` when the init left threads running, which a fork would not
copy (and exits: the runtime starts each worker as its own interpreter instead). Then
each message to it carries, as SCM_RIGHTS, a new worker's request, response, stdout and
stderr fds; it forks a worker onto them and answers ``{"pid": n}`` with a pidfd of the
worker, so the runtime can wait for and kill a process that is not its child without
fearing pid reuse. It reaps its children, and exits when the runtime closes the socket.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

# The fds a forked worker receives, in this order.
WORKER_FDS = ("request", "response", "stdout", "stderr")


class LambdaContext:
    """The attributes and method of the context object the Python runtime passes, read
    from the variables Lambda sets (``env``; handler tests give their own)."""

    def __init__(
        self, request_id: str, deadline_ms: int, env: Mapping[str, str] = os.environ
    ) -> None:
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env["LEDGER_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _install_faults() -> None:
    """With LEDGER_FAULTS set, the DynamoDB faults of scripts/local/faults.py, hooked into
    boto3 before the handler creates its clients. Loaded by path: nothing of the project
    is importable in here."""
    if not os.environ.get("LEDGER_FAULTS"):
        return
    name = "ledger_local_faults"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("faults.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    module.install_in_worker()


def _load_handler() -> Callable[[Any, LambdaContext], Any]:
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    module = importlib.import_module(module_name)
    handler: Callable[[Any, LambdaContext], Any] = getattr(module, function_name)
    return handler


def _answer(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _serve(handler: Callable[[Any, LambdaContext], Any], requests: IO[str], out: IO[str]) -> None:
    for line in requests:
        request = json.loads(line)
        context = LambdaContext(request["requestId"], request["deadlineMs"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - any function error is reported, as Lambda does
            error = _error(exc)
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            traceback.print_exc()
            _answer(out, {"error": error})
            continue
        try:
            _answer(out, {"result": result})
        except (TypeError, ValueError) as exc:
            _answer(out, {"error": _error(exc, "Runtime.MarshalError")})


def _init() -> Callable[[Any, LambdaContext], Any]:
    _install_faults()
    return _load_handler()


def _init_error(exc: Exception) -> dict[str, Any]:
    print(f"[ERROR] Runtime.ImportModuleError: {exc}", file=sys.stderr)
    traceback.print_exc()
    return _error(exc, "Runtime.ImportModuleError")


def _threads() -> int:
    """The threads of this process, native ones included (threading knows only its own).
    Linux only, as pidfds are."""
    return len(os.listdir("/proc/self/task"))


def _send(control: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    socket.send_fds(control, [json.dumps(message).encode()], list(fds))


def _reap(*_: Any) -> None:
    """Reap every child that has exited; the runtime learns of each exit from its pidfd."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _template(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    try:
        handler = _init()
    except Exception as exc:  # noqa: BLE001 - an init failure is reported on every worker start
        _send(control, {"error": _init_error(exc)})
        return
    threads = _threads()
    if threads > 1:
        _send(control, {"threads": threads})
        return
    _send(control, {"ready": True})
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        message, fds, _flags, _address = socket.recv_fds(control, 1024, len(WORKER_FDS))
        if not message:
            _reap()  # what exited meanwhile; the rest, once gone, is its new parent's
            return  # the runtime closed its end: it is stopping, or replaced us
        if len(fds) != len(WORKER_FDS):
            for fd in fds:
                os.close(fd)
            raise RuntimeError(f"a worker start carried {len(fds)} fds, not {len(WORKER_FDS)}")
        _fork_worker(handler, control, fds)


def _fork_worker(
    handler: Callable[[Any, LambdaContext], Any], control: socket.socket, fds: list[int]
) -> None:
    # What is buffered now would be written again by the child.
    sys.stdout.flush()
    sys.stderr.flush()
    # Until the pidfd is open, the child must not be reaped: its pid could be reused.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:
            _worker_after_fork(handler, control, fds)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    try:
        _send(control, {"pid": pid}, (pidfd,))
    finally:
        os.close(pidfd)


def _worker_after_fork(
    handler: Callable[[Any, LambdaContext], Any], control: socket.socket, fds: list[int]
) -> None:
    """The forked worker: on its own pipes, holding nothing of the template's; never
    returns into the template's loop."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        control.close()
        request_fd, response_fd, stdout_fd, stderr_fd = fds
        # Onto fds 1 and 2, which sys.stdout, sys.stderr and every logging handler made
        # at init (powertools' Logger holds sys.stdout) write to: this worker's logs.
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        os.close(stdout_fd)
        os.close(stderr_fd)
        requests = os.fdopen(request_fd, "r", encoding="utf-8")
        out = os.fdopen(response_fd, "w", encoding="utf-8")
        _answer(out, {"ready": True})
        _serve(handler, requests, out)
    except BaseException:  # noqa: BLE001 - whatever ends the worker, the template goes on
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    # Ctrl-C in `make run` reaches the whole process group; the runtime stops us itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_dir, runtime_dir, *fds = sys.argv[1:5]
    sys.path[:0] = [code_dir, runtime_dir]
    os.chdir(code_dir)
    if fds[0] == "template":
        _template(int(fds[1]))
        return
    request_fd, response_fd = fds
    requests = os.fdopen(int(request_fd), "r", encoding="utf-8")
    out = os.fdopen(int(response_fd), "w", encoding="utf-8")
    try:
        handler = _init()
    except Exception as exc:  # noqa: BLE001 - an init failure is reported on every invoke
        _answer(out, {"error": _init_error(exc)})
        return
    _answer(out, {"ready": True})
    _serve(handler, requests, out)


if __name__ == "__main__":
    main()

"""The inside of one warm Lambda "container": loads the handler once, then serves invokes.

Started by scripts.local.workers as ``python -S -u worker_main.py <code dir> <runtime
dir> <request fd> <response fd>``. ``-S`` keeps the project's virtualenv off sys.path:
the function sees its own zip first, then only what the Lambda Python runtime provides
(boto3 and its dependencies), so a dependency missing from the zip fails here as it
would on AWS. Standard library only: nothing else is importable before sys.path is set.

Protocol: one JSON line per request on the request fd, ``{"event", "requestId",
"deadlineMs"}``; one JSON line per answer on the response fd, ``{"result": ...}`` or
``{"error": {"errorMessage", "errorType", "stackTrace"}}``. The very first line
written is the init outcome. The function's own stdout/stderr go to its logs.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any


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


def main() -> None:
    # Ctrl-C in `make run` reaches the whole process group; the runtime stops us itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_dir, runtime_dir, request_fd, response_fd = sys.argv[1:5]
    sys.path[:0] = [code_dir, runtime_dir]
    os.chdir(code_dir)
    requests = os.fdopen(int(request_fd), "r", encoding="utf-8")
    out = os.fdopen(int(response_fd), "w", encoding="utf-8")
    try:
        _install_faults()
        handler = _load_handler()
    except Exception as exc:  # noqa: BLE001 - an init failure is reported on every invoke
        print(f"[ERROR] Runtime.ImportModuleError: {exc}", file=sys.stderr)
        traceback.print_exc()
        _answer(out, {"error": _error(exc, "Runtime.ImportModuleError")})
        return
    _answer(out, {"ready": True})
    _serve(handler, requests, out)


if __name__ == "__main__":
    main()

"""The warm workers' invoke round trip (scripts/local/workers.py), without moto: the
functions here call no AWS API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local.code import CodeStore
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import FunctionPool

HANDLER = """
import os, time

def lambda_handler(event, context):
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep_s"):
        time.sleep(event["sleep_s"])
    return {"echo": event.get("echo"), "padding": "x" * event.get("bytes", 0)}
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "handler.py").write_text(HANDLER)
    function = Function(
        name="echo",
        arn="arn:aws:lambda:eu-west-1:123456789012:function:echo",
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout_s=2,
        memory_mb=128,
        environment={},
        code_sha256="",
    )
    runtime_dir = CodeStore(tmp_path, tmp_path / "state").runtime_dir
    logs = Logs(tmp_path / "logs", console=None)
    pool = FunctionPool(
        function, code, runtime_dir, "http://127.0.0.1:9", "eu-west-1", logs, max_concurrency=2
    )
    try:
        yield pool
    finally:
        pool.close()
        logs.close()


def test_a_warm_worker_answers_each_invoke_with_its_own_result(pool: FunctionPool) -> None:
    # GIVEN a function
    # WHEN it is invoked many times in a row (one warm worker serves them all)
    outcomes = [pool.invoke({"echo": index}) for index in range(30)]

    # THEN each invoke gets its own answer, in turn
    assert [outcome.result["echo"] for outcome in outcomes] == list(range(30))


def test_an_answer_larger_than_a_pipe_holds_arrives_whole(pool: FunctionPool) -> None:
    # GIVEN a function answering 1 MB (a pipe holds 64 KiB)
    # WHEN it is invoked, and then again
    large = pool.invoke({"echo": "large", "bytes": 1_000_000})
    small = pool.invoke({"echo": "small"})

    # THEN the large answer is whole, and the next one is its own
    assert large.result == {"echo": "large", "padding": "x" * 1_000_000}
    assert small.result == {"echo": "small", "padding": ""}


def test_a_worker_that_exits_during_an_invoke_fails_it_and_is_replaced(
    pool: FunctionPool,
) -> None:
    # GIVEN a function whose process exits in the middle of an invoke
    exited = pool.invoke({"exit": True})

    # WHEN it is invoked again
    after = pool.invoke({"echo": "after"})

    # THEN the first invoke failed as Lambda reports an exited runtime, the next succeeds
    assert exited.error is not None
    assert exited.error["errorType"] == "Runtime.ExitError"
    assert after.result == {"echo": "after", "padding": ""}


def test_an_invoke_past_the_timeout_fails_and_the_next_one_gets_a_new_worker(
    pool: FunctionPool,
) -> None:
    # GIVEN a function with a 2 s timeout, invoked with work of 10 s
    late = pool.invoke({"sleep_s": 10})

    # WHEN it is invoked again
    after = pool.invoke({"echo": "after"})

    # THEN the first timed out, and the next is answered
    assert late.error is not None
    assert late.error["errorType"] == "Sandbox.Timedout"
    assert after.result == {"echo": "after", "padding": ""}

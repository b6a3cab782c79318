"""A function deployed again runs its new code (scripts/local/code.py, ``CodeWatcher``):
the runtime follows each function's CodeSha256 as moto reports it and hands its pool the
zip of that content, as Lambda serves the next invokes after UpdateFunctionCode."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local.code import CODE_IN_USE, CodeStore, CodeWatcher, code_sha256, read_code_in_use
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import FunctionPool

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:echo"


def handler_zip(dist: Path, version: int) -> str:
    """dist/echo.zip with a handler answering ``version``; its CodeSha256."""
    path = dist / "echo.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "handler.py", f"def lambda_handler(event, context):\n    return {version}\n"
        )
    return code_sha256(path)


class Deployed:
    """What moto reports as deployed: each function's CodeSha256 by ARN."""

    def __init__(self, sha256: str) -> None:
        self.code = {ARN: sha256, "arn:aws:lambda:eu-west-1:123456789012:function:gone": "x"}

    def __call__(self) -> dict[str, str]:
        return dict(self.code)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "dist").mkdir()
    return tmp_path / "dist"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    made = Logs(tmp_path / "logs", console=None)
    yield made
    made.close()


@pytest.fixture
def pool(tmp_path: Path, dist: Path, logs: Logs) -> Iterator[FunctionPool]:
    sha256 = handler_zip(dist, 1)
    function = Function(
        name="echo",
        arn=ARN,
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout_s=5,
        memory_mb=128,
        environment={},
        code_sha256=sha256,
    )
    store = CodeStore(dist, tmp_path)
    made = FunctionPool(
        function,
        store.code_dir(function),
        store.runtime_dir,
        "http://127.0.0.1:9",
        "eu-west-1",
        logs,
        max_concurrency=1,
    )
    yield made
    made.close()


def test_a_function_deployed_again_runs_its_new_code_from_its_next_invoke(
    tmp_path: Path, dist: Path, logs: Logs, pool: FunctionPool
) -> None:
    # GIVEN a function running version 1, with a warm worker
    deployed = Deployed(pool.function.code_sha256)
    watcher = CodeWatcher(deployed, {ARN: pool}, dist, tmp_path, logs)
    assert pool.invoke({}).result == 1
    assert watcher.check() == []

    # WHEN version 2 is deployed (its zip in dist/, its CodeSha256 in moto)
    new = handler_zip(dist, 2)
    deployed.code[ARN] = new
    switched = watcher.check()

    # THEN the next invoke runs version 2, and the runtime says which code it runs
    assert switched == ["echo"]
    assert pool.invoke({}).result == 2
    assert pool.function.code_sha256 == new
    assert read_code_in_use(tmp_path) == {"echo": new}
    assert f"echo now runs code {new}" in logs.path("runtime").read_text()
    assert watcher.check() == []


def test_a_code_without_its_zip_is_reported_and_not_run(
    tmp_path: Path, dist: Path, logs: Logs, pool: FunctionPool
) -> None:
    # GIVEN code deployed from a zip that is not in dist/
    old = pool.function.code_sha256
    deployed = Deployed(old)
    watcher = CodeWatcher(deployed, {ARN: pool}, dist, tmp_path, logs)
    deployed.code[ARN] = "bm90IGluIGRpc3Q="

    # WHEN the watcher looks, twice
    first, second = watcher.check(), watcher.check()

    # THEN the function keeps its code, and the log says why, once
    assert first == second == []
    assert pool.invoke({}).result == 1
    assert json.loads((tmp_path / CODE_IN_USE).read_text()) == {"echo": old}
    assert logs.path("runtime").read_text().count("echo keeps its code") == 1


def test_the_watcher_follows_the_deployed_code_until_stopped(
    tmp_path: Path, dist: Path, logs: Logs, pool: FunctionPool
) -> None:
    deployed = Deployed(pool.function.code_sha256)
    watcher = CodeWatcher(deployed, {ARN: pool}, dist, tmp_path, logs, interval_s=0.05)
    watcher.start()
    try:
        deployed.code[ARN] = handler_zip(dist, 2)
        deadline = time.monotonic() + 10
        while read_code_in_use(tmp_path)["echo"] != deployed.code[ARN]:
            assert time.monotonic() < deadline, "the watcher did not switch the function"
            time.sleep(0.05)
        assert pool.invoke({}).result == 2
    finally:
        watcher.stop()
    # Stopped: a later deployment is not followed.
    deployed.code[ARN] = handler_zip(dist, 3)
    time.sleep(0.2)
    assert pool.invoke({}).result == 2

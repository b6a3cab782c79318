"""The warm workers (scripts/local/workers.py), without moto: the functions here call no
AWS API (those that draw DynamoDB faults are answered before a request leaves).

The invoke round trip holds on both paths: workers forked from the function's template
(the default) and workers started as interpreters of their own (LEDGER_LOCAL_FORK=0)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scripts.local import workers
from scripts.local.code import CodeStore
from scripts.local.faults import Faults, FaultSettings
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import FunctionPool, Outcome, fork_enabled

HANDLER = """
import os, time

def lambda_handler(event, context):
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep_s"):
        time.sleep(event["sleep_s"])
    return {"echo": event.get("echo"), "padding": "x" * event.get("bytes", 0)}
"""


def code_dir(parent: Path, source: str) -> Path:
    """A function's code: ``source`` as its handler module, in a directory of its own."""
    code = parent / f"code-{len(list(parent.glob('code-*')))}"
    code.mkdir()
    (code / "handler.py").write_text(source)
    return code


class Pools:
    """Makes function pools on throwaway code, and closes them after the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.logs = Logs(tmp_path / "logs", console=None)
        self._runtime_dir = CodeStore(tmp_path, tmp_path / "state").runtime_dir
        self._pools: list[FunctionPool] = []

    def __call__(
        self,
        source: str,
        *,
        fork: bool = True,
        environment: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        timeout_s: int = 2,
    ) -> FunctionPool:
        function = Function(
            name="echo",
            arn="arn:aws:lambda:eu-west-1:123456789012:function:echo",
            handler="handler.lambda_handler",
            runtime="python3.11",
            timeout_s=timeout_s,
            memory_mb=128,
            environment=dict(environment or {}),
            code_sha256="",
        )
        pool = FunctionPool(
            function,
            code_dir(self.tmp_path, source),
            self._runtime_dir,
            "http://127.0.0.1:9",
            "eu-west-1",
            self.logs,
            max_concurrency=2,
            faults=faults,
            fork=fork,
        )
        self._pools.append(pool)
        return pool

    def log(self) -> str:
        return self.logs.path("echo").read_text(encoding="utf-8")

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
        self.logs.close()


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[Pools]:
    made = Pools(tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=[True, False], ids=["forked", "interpreter"])
def pool(pools: Pools, request: pytest.FixtureRequest) -> FunctionPool:
    return pools(HANDLER, fork=request.param)


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


# Workers forked from a template (Lambda SnapStart's init once, restore per sandbox).

PIDS = """
import os, time

def lambda_handler(event, context):
    time.sleep(event.get("sleep_s", 0))
    if event.get("exit"):
        os._exit(3)
    return {"pid": os.getpid(), "parent": os.getppid()}
"""


def at_once(pool: FunctionPool, *events: dict[str, Any]) -> list[Outcome]:
    """Invoke with every event at the same time: each on a worker of its own."""
    with ThreadPoolExecutor(len(events)) as invokers:
        return list(invokers.map(pool.invoke, events))


def eventually(condition: Callable[[], bool], timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_workers_are_forked_from_one_template_that_ran_the_init_once(
    pools: Pools, tmp_path: Path
) -> None:
    # GIVEN a function whose init notes each time it runs
    inits = tmp_path / "inits"
    source = f"open({str(inits)!r}, 'a').write('init\\n')\n" + PIDS
    pool = pools(source)

    # WHEN two invokes run at once, on two workers
    first, second = at_once(pool, {"sleep_s": 0.5}, {"sleep_s": 0.5})

    # THEN both workers are children of the template, and the init ran once
    assert first.result["pid"] != second.result["pid"]
    assert first.result["parent"] == second.result["parent"] == pool.template_pid
    assert inits.read_text().splitlines() == ["init"]


def test_with_forking_off_each_worker_runs_the_init_itself(pools: Pools, tmp_path: Path) -> None:
    # GIVEN a function whose init notes each time it runs, with forking switched off
    inits = tmp_path / "inits"
    source = f"open({str(inits)!r}, 'a').write('init\\n')\n" + PIDS
    pool = pools(source, fork=False)

    # WHEN two invokes run at once, on two workers
    first, second = at_once(pool, {"sleep_s": 0.5}, {"sleep_s": 0.5})

    # THEN each worker is the runtime's own child and ran the init; there is no template
    assert first.result["parent"] == second.result["parent"] == os.getpid()
    assert inits.read_text().splitlines() == ["init", "init"]
    assert pool.template_pid is None


def test_forking_is_on_unless_switched_off() -> None:
    # GIVEN / WHEN / THEN the switch's values
    assert fork_enabled({})
    assert fork_enabled({"LEDGER_LOCAL_FORK": "1"})
    assert not fork_enabled({"LEDGER_LOCAL_FORK": "0"})


FDS = """
import os, time

def lambda_handler(event, context):
    time.sleep(event.get("sleep_s", 0))
    held = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            held[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the directory listing's own fd, closed meanwhile
    return held
"""


def test_a_forked_worker_holds_its_own_pipes_and_nothing_of_the_templates(
    pools: Pools,
) -> None:
    # GIVEN a function reporting the fds its worker holds
    pool = pools(FDS)

    # WHEN two workers answer at once
    first, second = at_once(pool, {"sleep_s": 0.5}, {"sleep_s": 0.5})

    # THEN each holds four pipes (requests, answers, stdout, stderr) and stdin, not the
    # template's control socket, and none of the other's pipes
    def pipes(held: dict[str, str]) -> set[str]:
        assert not [target for target in held.values() if target.startswith("socket:")]
        return {target for target in held.values() if target.startswith("pipe:")}

    assert len(pipes(first.result)) == len(pipes(second.result)) == 4
    assert not pipes(first.result) & pipes(second.result)
    assert first.result["0"] == "/dev/null"


def test_what_a_forked_worker_prints_through_a_logger_made_at_init_reaches_the_log(
    pools: Pools,
) -> None:
    # GIVEN a function whose logger, made at init, holds sys.stdout (as powertools' does)
    source = (
        "import logging, sys\n"
        "logger = logging.getLogger('function')\n"
        "logger.addHandler(logging.StreamHandler(sys.stdout))\n"
        "def lambda_handler(event, context):\n"
        "    logger.warning('logged by %s', context.aws_request_id)\n"
        "    return {}\n"
    )
    pool = pools(source)

    # WHEN it is invoked on a forked worker
    outcome = pool.invoke({})

    # THEN the line is in the function's log
    assert eventually(lambda: f"logged by {outcome.request_id}" in pools.log())


FAULT_DRAWS = """
import os, time
import boto3, botocore.config, botocore.exceptions

client = boto3.client(
    "dynamodb", config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1})
)

def lambda_handler(event, context):
    time.sleep(event.get("sleep_s", 0))
    draws = ""
    for _ in range(16):
        try:
            client.get_item(TableName="t", Key={"id": {"S": "x"}})
        except botocore.exceptions.ClientError:
            draws += "T"  # throttled by the injected fault, before the request left
        except botocore.exceptions.EndpointConnectionError:
            draws += "."  # no fault: the request went to the (closed) endpoint
    return {"pid": os.getpid(), "draws": draws}
"""


def test_two_forked_workers_do_not_draw_the_same_faults(pools: Pools, tmp_path: Path) -> None:
    # GIVEN seeded DynamoDB throttling at one call in two, installed by the template's init
    faults = Faults(FaultSettings(dynamodb_throttle_rate=0.5, seed=7), tmp_path / "faults.jsonl")
    pool = pools(FAULT_DRAWS, faults=faults, timeout_s=30)

    # WHEN two workers forked from it make 16 calls each
    first, second = at_once(pool, {"sleep_s": 0.5}, {"sleep_s": 0.5})

    # THEN each drew faults, and not the same ones
    assert first.result["pid"] != second.result["pid"]
    assert "T" in first.result["draws"]
    assert "T" in second.result["draws"]
    assert first.result["draws"] != second.result["draws"]


def test_killing_a_forked_worker_waits_until_it_is_gone_and_the_template_reaps_it(
    pools: Pools, tmp_path: Path
) -> None:
    # GIVEN a function that notes its worker's pid, then works past its 2 s timeout
    pid_file = tmp_path / "pid"
    source = (
        "import os, time\n"
        "def lambda_handler(event, context):\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(10)\n"
    )
    pool = pools(source)

    # WHEN it is invoked, and times out
    outcome = pool.invoke({})

    # THEN the worker was killed before the invoke returned, and then reaped
    assert outcome.error is not None
    assert outcome.error["errorType"] == "Sandbox.Timedout"
    pid = int(pid_file.read_text())
    assert not running(pid)
    assert eventually(lambda: gone(pid))


def test_an_init_that_fails_fails_every_worker_start_until_it_succeeds(
    pools: Pools, tmp_path: Path
) -> None:
    # GIVEN a function whose init fails while a file exists
    broken = tmp_path / "broken"
    broken.touch()
    source = (
        f"import os\nif os.path.exists({str(broken)!r}):\n"
        "    raise ImportError('no such dependency')\n" + PIDS
    )
    pool = pools(source)

    # WHEN it is invoked twice, then again once the init can succeed
    failed = [pool.invoke({}), pool.invoke({})]
    broken.unlink()
    after = pool.invoke({})

    # THEN each invoke before got the init error, as a cold start reports it; the last
    # was served by a worker of a template started again
    for outcome in failed:
        assert outcome.error is not None
        assert outcome.error["errorType"] == "Runtime.ImportModuleError"
        assert "no such dependency" in outcome.error["errorMessage"]
    assert after.result["parent"] == pool.template_pid


def test_a_template_that_died_is_started_again(pools: Pools) -> None:
    # GIVEN a function served once, whose template is then killed
    pool = pools(PIDS)
    pool.invoke({})
    dead = pool.template_pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)

    # WHEN its worker exits, and the next invoke needs a new one
    exited = pool.invoke({"exit": True})
    after = pool.invoke({})

    # THEN a new template forked it
    assert exited.error is not None
    assert after.result["parent"] == pool.template_pid != dead


def test_an_init_that_leaves_a_thread_running_gets_a_worker_interpreter_each(
    pools: Pools,
) -> None:
    # GIVEN a function whose init starts a thread, which a fork would not copy
    source = (
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n" + PIDS
    )
    pool = pools(source)

    # WHEN it is invoked
    outcome = pool.invoke({})

    # THEN its worker is an interpreter of its own, and the log says why
    assert outcome.result["parent"] == os.getpid()
    assert pool.template_pid is None
    assert "init left 2 threads running" in pools.log()


def test_a_new_code_version_gets_a_new_template_and_the_old_one_stops(pools: Pools) -> None:
    # GIVEN a function served from its first version's template
    pool = pools(PIDS)
    before = pool.invoke({})
    old = pool.template_pid
    assert old is not None

    # WHEN its code changes
    pool.use_code(code_dir(pools.tmp_path, PIDS.replace('"pid"', '"version": 2, "pid"')))
    after = pool.invoke({})

    # THEN the next invoke runs the new code, forked from a new template; the old
    # template is gone, and so is the warm worker of the old code
    assert "version" not in before.result
    assert after.result["version"] == 2
    assert after.result["parent"] == pool.template_pid != old
    assert eventually(lambda: gone(old))
    assert not running(before.result["pid"])


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "interpreter"])
def test_an_init_past_its_timeout_fails_the_worker_start(
    pools: Pools, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    # GIVEN a function whose init takes longer than the init timeout (1 s here)
    monkeypatch.setattr(workers, "INIT_TIMEOUT_S", 1)
    pool = pools("import time\ntime.sleep(30)\n" + PIDS, fork=fork)

    # WHEN it is invoked
    started = time.monotonic()
    outcome = pool.invoke({})

    # THEN the invoke fails as an init that did not complete, without waiting for it
    assert outcome.error is not None
    assert outcome.error["errorType"] == "Runtime.InitError"
    assert time.monotonic() - started < 10
    assert pool.template_pid is None


def test_a_stopped_template_starts_no_worker(pools: Pools) -> None:
    # GIVEN a function's template, stopped (its pool is closing)
    pool = pools(PIDS)
    template = workers.Template(
        pool.function, code_dir(pools.tmp_path, PIDS), Path(), {}, pools.logs
    )
    template.stop()

    # WHEN a worker start reaches it
    worker = workers.Worker(pool.function, template, pools.logs)

    # THEN it starts no process and says the runtime is stopping
    assert worker.init_error is not None
    assert worker.init_error["errorType"] == "Stopping"
    assert worker.process is None
    assert template.pid is None

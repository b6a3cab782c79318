"""Functions run from their zips, isolated, with Lambda's environment and timeout."""

from __future__ import annotations

import threading
import time

import pytest

from tests.runtime.conftest import Bench

pytestmark = pytest.mark.runtime


def test_two_functions_with_same_named_modules_do_not_collide(bench: Bench) -> None:
    # GIVEN two functions whose zips both hold `handler` and `helpers` modules
    handler = "import helpers\ndef lambda_handler(event, context):\n    return helpers.WHO\n"
    first = bench.function("first", {"handler.py": handler, "helpers.py": "WHO = 'first'\n"})
    second = bench.function("second", {"handler.py": handler, "helpers.py": "WHO = 'second'\n"})
    runtime = bench.start()

    # WHEN both are invoked, interleaved
    answers = [runtime.invoke(arn, {}).result for arn in (first, second, first, second)]

    # THEN each ran its own code
    assert answers == ["first", "second", "first", "second"]


def test_a_function_sees_its_variables_and_what_lambda_sets(bench: Bench) -> None:
    handler = (
        "import os, sys\n"
        "def lambda_handler(event, context):\n"
        "    keys = ['GREETING', 'AWS_REGION', 'AWS_LAMBDA_FUNCTION_NAME', '_HANDLER',\n"
        "            'AWS_LAMBDA_FUNCTION_MEMORY_SIZE']\n"
        "    return {'env': {k: os.environ.get(k) for k in keys},\n"
        "            'arn': context.invoked_function_arn, 'memory': context.memory_limit_in_mb,\n"
        "            'request': context.aws_request_id,\n"
        "            'venv_visible': any('.venv' in p for p in sys.path)}\n"
    )
    arn = bench.function("env", {"handler.py": handler}, environment={"GREETING": "hi"})

    outcome = bench.start().invoke(arn, {})

    assert outcome.result["env"] == {
        "GREETING": "hi",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "env",
        "_HANDLER": "handler.lambda_handler",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    }
    assert outcome.result["arn"] == arn
    assert outcome.result["request"] == outcome.request_id
    # Only the zip and the Lambda runtime's packages are importable, not our virtualenv.
    assert outcome.result["venv_visible"] is False


def test_a_package_missing_from_the_zip_fails_as_on_aws(bench: Bench) -> None:
    arn = bench.function(
        "missing", {"handler.py": "import attrs\ndef lambda_handler(e, c):\n    return 1\n"}
    )

    outcome = bench.start().invoke(arn, {})

    assert outcome.error is not None
    assert outcome.error["errorType"] == "Runtime.ImportModuleError"


def test_a_function_running_past_its_timeout_is_stopped_and_replaced(bench: Bench) -> None:
    handler = (
        "import time\n"
        "def lambda_handler(event, context):\n"
        "    time.sleep(event['sleep'])\n"
        "    return 'done'\n"
    )
    arn = bench.function("slow", {"handler.py": handler}, timeout=1)
    runtime = bench.start()

    outcome = runtime.invoke(arn, {"sleep": 5})

    assert outcome.error is not None
    assert outcome.error["errorType"] == "Sandbox.Timedout"
    assert runtime.invoke(arn, {"sleep": 0}).result == "done"


def test_concurrent_invokes_run_in_parallel_workers(bench: Bench) -> None:
    handler = "import time\ndef lambda_handler(event, context):\n    time.sleep(1)\n    return 1\n"
    arn = bench.function("parallel", {"handler.py": handler}, timeout=10)
    runtime = bench.start()
    runtime.invoke(arn, {})  # one warm worker; the others start cold below

    started = time.monotonic()
    threads = [threading.Thread(target=runtime.invoke, args=(arn, {})) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Four one-second invokes on four workers take well under four seconds.
    assert time.monotonic() - started < 3.5

"""Tracing costs the X-Ray SDK's import only where it traces."""

from __future__ import annotations

import subprocess
import sys

import pytest

from banking.entrypoints.observability import tracing_enabled

ON_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        (ON_LAMBDA, True),
        ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_on_lambda_unless_disabled(environment, enabled):
    assert tracing_enabled(environment) is enabled


_PROBE = """
import sys
from banking.entrypoints.observability import traced
def handler(event, context):
    return event
wrapped = traced(handler)
print(wrapped is handler, "aws_xray_sdk" in sys.modules)
"""


@pytest.mark.parametrize(
    ("disabled", "expected"), [("true", "True False"), ("false", "False True")]
)
def test_the_x_ray_sdk_is_imported_only_when_the_handler_is_traced(disabled, expected):
    # GIVEN a fresh interpreter on Lambda, with tracing disabled or not
    environment = {
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": disabled,
        "POWERTOOLS_SERVICE_NAME": "ledger-test",
        "AWS_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    # WHEN a handler is decorated with traced
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it is wrapped, and the SDK imported, only when tracing is on
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == expected

"""What a function pays at import for code it never runs (docs/benchmarks.md, "Session 5"):
each check runs in a fresh interpreter, as a cold start does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# What the module-level wiring reads; the clients it builds are never called here.
_FUNCTION_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "EVENTS_TABLE_NAME": "events",
    "PROJECTIONS_TABLE_NAME": "projections",
    "EVENT_BUS_NAME": "bus",
}


def _modules_after_importing(*modules: str, path: Path | None = None) -> set[str]:
    script = f"import sys; import {', '.join(modules)}; print(' '.join(sys.modules))"
    env = {**os.environ, **_FUNCTION_ENVIRONMENT}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return set(result.stdout.split())


def test_the_event_pipeline_s_functions_do_not_import_the_command_use_cases():
    # GIVEN the wiring and the use cases of the fanout, dispatcher, projectors and replay
    # WHEN a fresh interpreter imports them
    loaded = _modules_after_importing(
        "banking.entrypoints.bootstrap",
        "banking.application.fanout",
        "banking.application.dispatch",
        "banking.application.projection",
        "banking.application.replay",
    )
    # THEN the commands' use cases and the domain's decisions are not among them
    assert "banking.entrypoints.bootstrap" in loaded
    assert "banking.application.commands" not in loaded
    assert "banking.domain.decisions" not in loaded


@pytest.mark.parametrize("function", ["dispatcher", "projectors"])
def test_the_bus_s_targets_do_not_import_powertools_event_data_classes(function):
    # GIVEN a function invoked by an EventBridge rule, which reads the event's detail alone
    # WHEN a fresh interpreter imports its handler
    loaded = _modules_after_importing("handler", path=LAMBDAS / function)
    # THEN powertools' data_classes package (every event source's class) is not loaded
    assert "handler" in loaded
    assert "aws_lambda_powertools.utilities.data_classes" not in loaded

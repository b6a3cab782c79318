"""What a function pays at import for code it never runs (docs/benchmarks.md, "Session 5"):
each check runs in a fresh interpreter, as a cold start does."""

from __future__ import annotations

import subprocess
import sys


def _modules_after_importing(*modules: str) -> set[str]:
    script = f"import sys; import {', '.join(modules)}; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
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

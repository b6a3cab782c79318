"""A local system of its own with faults injected (LEDGER_FAULTS), for the chaos runs.

Its size and faults are settings, so a longer run is one command away:

    LEDGER_CHAOS_REQUESTS=3000 LEDGER_CHAOS_CLIENTS=16 LEDGER_CHAOS_ACCOUNTS=50 \\
        .venv/bin/pytest -m chaos -s

``LEDGER_CHAOS_FAULTS`` replaces the faults below (JSON, as LEDGER_FAULTS takes), and
``LEDGER_CHAOS_REPORT`` names a file to write the run's report to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.chaos.sizes import REQUESTS
from tests.local_system import System, local_system

# The runtime's bench (a moto server and the runtime on it), for the fault kinds' tests.
from tests.runtime.conftest import bench, moto  # noqa: F401

# Every fault on at once, at rates a short run still sees each of many times.
CHAOS_FAULTS = {
    "invoke_error_rate": 0.05,
    "invoke_timeout_rate": 0.02,
    "duplicate_rate": 0.1,
    "delay_rate": 0.2,
    "max_delay_s": 1.0,
    "dynamodb_throttle_rate": 0.05,
    "dynamodb_error_rate": 0.03,
    "crash_after_write_rate": 0.04,
    "projections_throttle_rate": 0.1,
    "put_events_partial_failure_rate": 0.1,
    # Per write request to the events table: a few splits in a small run, ~100 in 10,000.
    "stream_shard_split_rate": 0.01,
    # Failing often enough downstream that some events outlast every retry and are
    # parked, so the run redrives them too.
    "functions": {
        "fanout": {"invoke_error_rate": 0.4},
        "dispatcher": {"invoke_error_rate": 0.25},
        "projectors": {"invoke_error_rate": 0.3},
    },
}
# Above SCALE_REQUESTS (`make chaos`) the rates above parked a tenth of all deliveries
# (1,369 dead letters 5 minutes after the clients of a 2,000-command run stopped), so
# the redrive rounds, not the commands, took the run's time; these still park dozens.
SCALE_REQUESTS = 500
SCALE_FUNCTIONS = {
    "fanout": {"invoke_error_rate": 0.15},
    "dispatcher": {"invoke_error_rate": 0.1},
    "projectors": {"invoke_error_rate": 0.1},
}


CONCURRENCY = "20"


def chaos_faults(requests: int) -> dict[str, object]:
    if requests <= SCALE_REQUESTS:
        return CHAOS_FAULTS
    return {**CHAOS_FAULTS, "functions": SCALE_FUNCTIONS}


@pytest.fixture(scope="session")
def chaos_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    faults = os.environ.get("LEDGER_CHAOS_FAULTS") or json.dumps(chaos_faults(REQUESTS))
    # The expirer every second (as tests/e2e/test_holds.py runs it): the run's holds
    # expire in seconds, and are released without waiting for the minute's schedule.
    environment = {
        "LEDGER_FAULTS": faults,
        "LEDGER_EXPIRER_INTERVAL": "1",
        # Twice the local default of workers per function: these faults keep invocations
        # sleeping in the SDK's backoff (a tenth of projections-table requests throttled),
        # and Lambda would scale out on them; with 10 the projectors bounded the drain
        # (docs/reliability.md, "Chaos at scale").
        "LEDGER_LOCAL_CONCURRENCY": os.environ.get("LEDGER_LOCAL_CONCURRENCY", CONCURRENCY),
    }
    with local_system(tmp_path_factory.mktemp("chaos-system"), environment) as system:
        yield system

"""Where a bench run's time goes: each phase's seconds, printed and reported."""

from __future__ import annotations

import time

from bench.__main__ import Phases
from bench.report import _phases


def test_each_phase_is_timed_and_said_as_it_ends_and_a_repeated_one_adds_up() -> None:
    # GIVEN phases that say what they measure
    said: list[str] = []
    phase = Phases(said.append)

    # WHEN one phase runs twice and another once
    for _ in range(2):
        with phase("drain"):
            time.sleep(0.02)
    with phase("scan"):
        pass

    # THEN each is said as it ends, and the repeated one holds both runs' time
    assert [line.split(":")[0].strip() for line in said] == ["drain", "drain", "scan"]
    assert phase.seconds["drain"] >= 0.04
    assert list(phase.seconds) == ["drain", "scan"]


def test_a_phase_run_beside_the_others_is_kept_apart_from_the_run_s_sum() -> None:
    # GIVEN a phase in a thread of its own beside the start-up, and the start-up's steps
    phase = Phases(lambda _line: None)
    phase.record("cold-start proxies", 40.0, beside=True)
    phase.record("terraform apply", 90.0)
    phase.record("scan", 5.0)

    # WHEN the report lists where a 100 s run went
    table = _phases(
        {"phases_s": phase.seconds, "phases_beside_s": phase.beside_seconds, "seconds": 100.0}
    )

    # THEN the time no phase covers is the run's less its own phases, not less the one beside
    rows = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in table.splitlines()[2:]
    }
    assert rows["between phases"] == "5.0"
    assert rows["the whole run"] == "100.0"
    assert rows["cold-start proxies (beside the others)"] == "40.0"
    assert "cold-start proxies" not in phase.seconds

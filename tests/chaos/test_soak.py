"""The soak's judge of a growth trend, and what it reads from /proc: the soak itself runs
for many minutes (`make soak`), so its verdicts are shown on series made for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.chaos.processes import moto_rss_kib, name_of, sample_group
from scripts.chaos.soak import MEMORY, MOTO_PER_EVENT_KIB, Minute, p99, verdicts
from scripts.chaos.trend import Allowance, judge, slope

MIB = 1024


def test_the_slope_is_the_least_squares_one() -> None:
    assert slope([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    assert slope([5.0, 5.0, 5.0]) == 0.0
    assert slope([0.0, 2.0, 0.0, 2.0]) == pytest.approx(0.4)
    assert slope([7.0]) == 0.0


def test_memory_that_warms_up_then_stays_flat_does_not_grow() -> None:
    # GIVEN memory rising fast in the warm-up half, then flat with noise
    series = [100.0, 300.0, 500.0, 600.0, 602.0, 598.0, 601.0, 600.0, 603.0, 599.0]

    # WHEN it is judged with 10% + 1
    verdict = judge([v * MIB for v in series], MEMORY)

    # THEN only the second half counts, and it is flat
    assert verdict.judged
    assert not verdict.grows


def test_memory_that_keeps_climbing_in_the_second_half_grows() -> None:
    # GIVEN 40 MiB more each minute, from 600 MiB: +160 MiB over the second half
    series = [(600.0 + 40 * minute) * MIB for minute in range(10)]

    verdict = judge(series, MEMORY)

    # THEN +160 MiB is more than the 10% of its ~880 MiB mean plus 32 MiB allowed
    assert verdict.grows
    assert verdict.rise == pytest.approx(160 * MIB)
    assert verdict.allowed == pytest.approx(120 * MIB)


def test_a_slow_climb_within_the_allowance_is_flat_and_just_beyond_it_grows() -> None:
    allowance = Allowance(share=0.0, floor=8)

    assert not judge([10, 10, 10, 10, 11, 12, 13, 14], allowance).grows  # +3 over the half
    assert judge([10, 10, 10, 10, 13, 16, 19, 22], allowance).grows  # +9 over the half


def test_a_series_too_short_to_have_a_second_half_is_not_judged() -> None:
    verdict = judge([1.0, 1000.0, 10**6], MEMORY)

    assert not verdict.judged
    assert not verdict.grows
    assert "not judged" in verdict.describe()


def _minute(number: int, moto_mib: float, fds: int, lag: float | None = 0.5) -> Minute:
    return Minute(number, 100, 100, lag, 0, 0, {"moto": int(moto_mib * MIB)}, {"moto": fds})


def test_the_verdicts_name_each_process_and_series_that_grows() -> None:
    # GIVEN a run whose moto leaks file descriptors but not memory
    minutes = [_minute(n, 500, 20 + 5 * n) for n in range(8)]

    found = verdicts(minutes)

    # THEN the descriptors grow, nothing else does
    assert [name for name, verdict in found.items() if verdict.grows] == ["fds moto"]


def test_a_minute_without_any_lag_measured_counts_as_none() -> None:
    assert p99([]) is None
    assert p99([2.0]) == 2.0
    assert p99([float(n) for n in range(1, 101)]) == pytest.approx(99.01)


def _fake_process(proc: Path, pid: int, pgid: int, cmdline: list[str], rss: int, fds: int) -> None:
    entry = proc / str(pid)
    (entry / "fd").mkdir(parents=True)
    # A command name with a space and a parenthesis, as /proc allows.
    (entry / "stat").write_text(f"{pid} (py thon) S 1 {pgid} {pgid} 0 -1 4194560 0\n")
    (entry / "cmdline").write_bytes(b"\0".join(part.encode() for part in cmdline) + b"\0")
    (entry / "status").write_text(f"Name:\tpython\nVmRSS:\t {rss} kB\nThreads:\t3\n")
    for n in range(fds):
        (entry / "fd" / str(n)).touch()


def test_the_processes_of_one_group_are_sampled_by_name(tmp_path: Path) -> None:
    # GIVEN a moto server and a function worker in group 40, and a stranger in group 7
    _fake_process(tmp_path, 41, 40, ["python", "-m", "scripts.local.moto_server"], 9000, 12)
    code = "/s/functions/ledger-local-fanout/e5827101"
    worker = ["python", "-S", "/r/worker_main.py", code, "/s/rt", "5", "6"]
    _fake_process(tmp_path, 42, 40, worker, 300, 4)
    _fake_process(tmp_path, 70, 7, ["bash"], 100, 1)
    (tmp_path / "self").mkdir()

    samples = sample_group(40, tmp_path)

    # THEN only the group's are read, each with its memory and descriptors
    assert [(s.pid, s.name, s.rss_kib, s.open_fds) for s in samples] == [
        (41, "scripts.local.moto_server", 9000, 12),
        (42, "worker ledger-local-fanout", 300, 4),
    ]
    assert moto_rss_kib(40, tmp_path) == 9000


def test_a_process_name_is_its_module_or_program() -> None:
    assert name_of(["/usr/bin/python3", "-m", "scripts.local", "run"]) == "scripts.local"
    assert name_of(["/usr/bin/terraform", "apply"]) == "terraform"
    assert name_of([]) == "?"


def _moto_minute(number: int, accepted: int, moto_kib: float) -> Minute:
    name = "scripts.local.moto_server"
    return Minute(number, accepted, accepted, 0.5, 0, 0, {name: int(moto_kib)}, {name: 30})


def test_the_moto_server_may_grow_by_the_events_it_stores() -> None:
    # GIVEN 300 credits stored a minute, the server growing 22 KiB for each (its data)
    minutes = [_moto_minute(n, 300, 250 * MIB + 22 * 300 * n) for n in range(30)]

    found = verdicts(minutes)

    # THEN +97 MiB over the second half is the data it holds: not a growth
    assert not found["rss KiB scripts.local.moto_server"].grows
    assert not found["rss KiB, all"].grows


def test_the_moto_server_growing_with_the_requests_it_serves_grows() -> None:
    # GIVEN the same data, and 100 kB more kept for each request served (a leak)
    minutes = [_moto_minute(n, 300, 250 * MIB + (22 + 100) * 300 * n) for n in range(30)]

    found = verdicts(minutes)

    # THEN it grows, beyond the allowance per stored event
    verdict = found["rss KiB scripts.local.moto_server"]
    assert verdict.grows
    assert verdict.allowed == pytest.approx(
        0.10 * (250 * MIB + 122 * 300 * 22) + 32 * MIB + MOTO_PER_EVENT_KIB * 300 * 14, rel=0.01
    )


def test_a_worker_gets_no_allowance_per_stored_event() -> None:
    name = "worker ledger-local-projectors"
    minutes = [
        Minute(n, 300, 300, 0.5, 0, 0, {name: 60 * MIB + 22 * 300 * n}, {name: 9})
        for n in range(30)
    ]

    assert verdicts(minutes)[f"rss KiB {name}"].grows

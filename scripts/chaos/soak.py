"""The soak: a fresh local system under a steady open-loop load for MINUTES, sampled each
minute; it fails on a growth trend, a dead letter, or a read model left behind.

    python -m scripts.chaos.soak --minutes 30 [--rate 4.5] [--accounts 50]

The rate is half the sustained throughput measured at the start (closed-loop clients for
`--measure-s`), unless `--rate` gives one. Each minute is one open-loop run of
bench.load (Poisson arrivals of credits, whatever the answers' pace, while two probers
time how long each accepted command takes to show in its balance), after which it
records: that minute's projection lag p99, each process's resident memory and open file
descriptors (/proc, by process name, summed over the processes of one name), and the
dead-letter depth. At the end the load stops, the system is given time to catch up, and
every read model is checked against the fold of its events.

A series grows when its least-squares slope over the second half of the run carries it
further than its allowance (scripts/chaos/trend.py): memory 10% + 32 MiB, file
descriptors 0% + 8, lag p99 50% + 1 s. The moto server holds the data (every accepted
credit stores an event, its stream record, its idempotency record and its read models),
so its memory is also allowed MOTO_PER_EVENT per event stored over the judged half: it
fails when it grows by more than its data, i.e. with the requests it serves. It prints a
table and exits 1 on failure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from bench.load import commands, open_accounts, open_loop
from scripts.chaos.processes import sample_group
from scripts.chaos.settle import NotQuiet, look, wait_until_quiet
from scripts.chaos.trend import Allowance, Verdict, judge
from scripts.local.__main__ import down, up
from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.issuer import token_for
from scripts.local.system import REPO, Settings, free_port
from scripts.ops.aws import Ledger
from scripts.ops.status import dead_letter_depths
from scripts.ops.verify import verify_accounts

SCOPES = ("ledger/transactions.write", "ledger/accounts.read", "ledger/accounts.manage")
MEMORY = Allowance(share=0.10, floor=32 * 1024)  # KiB
# What one stored event costs the moto server with everything it brings: make bench
# measures 21.8 kB (docs/benchmarks.md); a leak per request served (issue 16 found
# 6 MB) is far beyond it.
MOTO_PER_EVENT_KIB = 32
MOTO_MEMORY = Allowance(share=0.10, floor=32 * 1024, per_item=MOTO_PER_EVENT_KIB)
MOTO = "scripts.local.moto_server"
FILES = Allowance(share=0.0, floor=8)
LAG = Allowance(share=0.5, floor=1.0)  # seconds
SENDERS = 8
PROBERS = 2
CATCH_UP_S = 300
STALLED_S = 30


@dataclass
class Minute:
    number: int
    sent: int
    accepted: int
    lag_p99_s: float | None
    unseen: int
    dead_letters: int
    rss_kib: dict[str, int]
    open_fds: dict[str, int]


@dataclass
class Soak:
    rate: float
    measured_rate: float | None
    minutes: list[Minute] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)


def p99(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def by_name(pgid: int) -> tuple[dict[str, int], dict[str, int]]:
    """Resident KiB and open descriptors of the system's processes, summed per name."""
    rss: dict[str, int] = defaultdict(int)
    fds: dict[str, int] = defaultdict(int)
    for sample in sample_group(pgid):
        rss[sample.name] += sample.rss_kib
        fds[sample.name] += sample.open_fds
    return dict(rss), dict(fds)


def verdicts(minutes: Sequence[Minute]) -> dict[str, Verdict]:
    """Every series of the run, judged: lag, dead letters, and each process's memory and
    descriptors (a process missing from a minute counts 0 there). The moto server's memory
    is judged against the events stored (one per accepted credit)."""
    stored = list(itertools.accumulate(float(m.accepted) for m in minutes))
    found = {
        "lag p99 (s)": judge([m.lag_p99_s or 0.0 for m in minutes], LAG),
        "dead letters": judge([float(m.dead_letters) for m in minutes], FILES),
    }
    names = sorted({name for m in minutes for name in m.rss_kib})
    for name in names:
        rss = [float(m.rss_kib.get(name, 0)) for m in minutes]
        found[f"rss KiB {name}"] = (
            judge(rss, MOTO_MEMORY, stored) if name == MOTO else judge(rss, MEMORY)
        )
        found[f"fds {name}"] = judge([float(m.open_fds.get(name, 0)) for m in minutes], FILES)
    everything = [float(sum(m.rss_kib.values())) for m in minutes]
    found["rss KiB, all"] = judge(everything, MOTO_MEMORY, stored)
    return found


def table(soak: Soak) -> str:
    names = sorted({name for m in soak.minutes for name in m.rss_kib})
    short = [name.rsplit(".", 1)[-1][:22] for name in names]
    header = ["min", "sent", "201", "lag p99 s", "unseen", "DLQ", *[f"{s} MiB/fds" for s in short]]
    rows = [header]
    for m in soak.minutes:
        lag = "-" if m.lag_p99_s is None else f"{m.lag_p99_s:.2f}"
        cells = [f"{m.rss_kib.get(n, 0) / 1024:.0f}/{m.open_fds.get(n, 0)}" for n in names]
        counts = [m.number, m.sent, m.accepted, lag, m.unseen, m.dead_letters]
        rows.append([*map(str, counts), *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("")
    lines += [f"{name}: {verdict.describe()}" for name, verdict in soak.verdicts.items()]
    return "\n".join(lines)


def run(minutes: int, rate: float | None, accounts_count: int, measure_s: float) -> Soak:
    # moto accepts any credentials; the usual chain may have none.
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    state_dir = Path(tempfile.mkdtemp(prefix="soak-", dir=REPO / ".local"))
    settings = Settings(state_dir=state_dir, port=free_port(), console=False)
    if up(settings) != 0:
        raise SystemExit(f"the local system did not come up; see {state_dir / 'local.log'}")
    try:
        return _soak(settings, minutes, rate, accounts_count, measure_s)
    finally:
        down(settings)


def _soak(
    settings: Settings, minutes: int, rate: float | None, accounts_count: int, measure_s: float
) -> Soak:
    state_dir = settings.state_dir
    pgid = int((state_dir / "local.pid").read_text())
    api_url = (state_dir / "api-url").read_text().strip()
    ledger = Ledger(
        "local",
        (state_dir / "moto-url").read_text().strip(),
        (state_dir / "region").read_text().strip(),
        (state_dir / "lambda-url").read_text().strip(),
    )
    token = token_for(state_dir, "soak", scopes=SCOPES, ttl_s=24 * 3600)
    headers = {"authorization": f"Bearer {token}"}
    run_id = uuid.uuid4().hex[:6]
    accounts = [f"soak-{run_id}-{n:03d}" for n in range(accounts_count)]
    open_accounts(api_url, accounts, headers)

    measured = None
    if rate is None:
        sustained = commands(api_url, accounts, SENDERS, measure_s, headers)
        measured = sustained["accepted"] / sustained["seconds"]
        rate = max(0.5, measured / 2)
        print(f"sustained {measured:.1f} commands/s closed-loop: soaking at {rate:.1f}/s")
    soak = Soak(rate, measured)
    for number in range(1, minutes + 1):
        load = open_loop(api_url, accounts, rate, 60, SENDERS, PROBERS, headers)
        rss, fds = by_name(pgid)
        minute = Minute(
            number,
            load["scheduled"],
            load["accepted"],
            p99(load["lags_s"]),
            len(load["unseen"]),
            sum(dead_letter_depths(ledger).values()),
            rss,
            fds,
        )
        soak.minutes.append(minute)
        print(json.dumps(minute.__dict__), flush=True)

    soak.verdicts = verdicts(soak.minutes)
    soak.failures += [f"{name} {v.describe()}" for name, v in soak.verdicts.items() if v.grows]
    try:
        settled = wait_until_quiet(lambda: look(ledger, accounts), CATCH_UP_S, STALLED_S)
    except NotQuiet as error:
        soak.failures.append(str(error))
    else:
        if settled.dead_letters:
            soak.failures.append(f"{settled.dead_letters} dead letter(s) at the end")
        if settled.behind:
            soak.failures.append(f"read models left behind: {settled.behind}")
    if any(m.dead_letters for m in soak.minutes):
        soak.failures.append("a dead letter was parked during the run")
    store = DynamoDBEventStore(ledger.client("dynamodb"), ledger.events_table)
    projections = DynamoDBProjectionStore(ledger.client("dynamodb"), ledger.projections_table)
    wrong = verify_accounts(accounts, store, projections.load, ZoneInfo("UTC"))
    if wrong:
        soak.failures.append(f"{len(wrong)} read model(s) differ from their events' fold")
    return soak


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=None, help="commands/s (default: half)")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--report", type=Path, default=REPO / ".local" / "soak-report.json")
    args = parser.parse_args(argv)
    (REPO / ".local").mkdir(exist_ok=True)
    started = time.monotonic()
    soak = run(args.minutes, args.rate, args.accounts, args.measure_s)
    print(table(soak))
    report: dict[str, Any] = {
        "rate": soak.rate,
        "measured_rate": soak.measured_rate,
        "minutes": [m.__dict__ for m in soak.minutes],
        "verdicts": {name: v.describe() for name, v in soak.verdicts.items()},
        "failures": soak.failures,
        "seconds": round(time.monotonic() - started),
    }
    args.report.write_text(json.dumps(report, indent=2))
    for failure in soak.failures:
        print(f"FAIL: {failure}")
    print("soak: " + ("FAILED" if soak.failures else "passed") + f" (report: {args.report})")
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())

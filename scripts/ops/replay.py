"""`ledger replay`: re-publish stored events so the projectors rebuild their read models.

`--all` splits the events table into `--segments` parallel-scan segments and runs
each segment in the replay function (`ledger-<env>-replay`), invoked again from where
it stopped until the segment is done; `--in-process` runs the same code here
instead. Replayed events carry the source `ledger.replay`: only projections get them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from attrs import evolve

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.adapters.eventbridge import EventBridgePublisher
from banking.application.replay import (
    ReplayJob,
    ReplayOptions,
    ReplayResult,
    result_from_payload,
    run_job,
)
from banking.domain.read_models import PROJECTIONS
from scripts.ops.aws import Ledger

Runner = Callable[[ReplayJob], ReplayResult]
# In-process work is cut into slices of this many items, so progress shows as it
# goes. (Not of a duration: a slow scan page would then end every slice after one item.)
IN_PROCESS_SLICE_ITEMS = 5_000


class ReplayFunctionFailed(Exception):
    pass


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="re-publish stored events to the projections")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--account", help="replay one account")
    which.add_argument("--all", action="store_true", help="replay every account")
    add_replay_arguments(parser)
    parser.add_argument(
        "--read-model",
        action="append",
        choices=sorted(PROJECTIONS),
        dest="read_models",
        help="only this read model (repeatable; default: all)",
    )
    parser.add_argument(
        "--every-event",
        action="store_true",
        help="publish every event, not only the last of each account-month",
    )
    parser.add_argument("--dry-run", action="store_true", help="scan and count, publish nothing")
    parser.set_defaults(run=run)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--segments", type=int, default=4, help="parallel scan segments (default 4)"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="EVENTS_PER_SEC",
        help="at most this many published events per second, over all segments",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the segments here instead of in the replay function",
    )


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_args(args)
    options = ReplayOptions(
        read_models=tuple(args.read_models) if args.read_models else None,
        every_event=args.every_event,
        dry_run=args.dry_run,
    )
    jobs = (
        [ReplayJob(account_id=args.account, options=options)]
        if args.account
        else segment_jobs(args.segments, options)
    )
    print(
        f"replaying {'account ' + args.account if args.account else 'every account'} "
        f"of {ledger.environment}{' (dry run)' if args.dry_run else ''}"
    )
    result = run_jobs(jobs, runner(ledger, in_process=args.in_process), rate_limit=args.rate_limit)
    return 1 if result.failures else 0


def segment_jobs(segments: int, options: ReplayOptions) -> list[ReplayJob]:
    if segments < 1:
        raise SystemExit("--segments must be at least 1")
    return [ReplayJob(segment=s, total_segments=segments, options=options) for s in range(segments)]


def runner(ledger: Ledger, *, in_process: bool) -> Runner:
    return in_process_runner(ledger) if in_process else function_runner(ledger)


def function_runner(ledger: Ledger) -> Runner:
    client = ledger.client("lambda")
    name = f"{ledger.prefix}-replay"

    def invoke(job: ReplayJob) -> ReplayResult:
        response = client.invoke(
            FunctionName=name,
            InvocationType="RequestResponse",
            Payload=json.dumps(job.to_payload()).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError") or not isinstance(payload, dict):
            raise ReplayFunctionFailed(f"{name} failed on segment {job.segment}: {payload}")
        return result_from_payload(payload)

    return invoke


def in_process_runner(ledger: Ledger) -> Runner:
    dynamodb, events = ledger.client("dynamodb"), ledger.client("events")
    store = DynamoDBEventStore(dynamodb, ledger.events_table, legacy=ledger.legacy_terms)
    bus = EventBridgePublisher(events, ledger.prefix)

    def run_here(job: ReplayJob) -> ReplayResult:
        items = itertools.count(1)
        return run_job(job, store, bus, should_stop=lambda: next(items) >= IN_PROCESS_SLICE_ITEMS)

    return run_here


def run_jobs(
    jobs: Iterable[ReplayJob],
    run_one: Runner,
    *,
    rate_limit: float | None = None,
    out: TextIO | None = None,
) -> ReplayResult:
    """Run every job to its end, in parallel, each continued from its cursor; shows
    progress and prints a summary."""
    jobs = list(jobs)
    per_job = rate_limit / len(jobs) if rate_limit else None
    progress = Progress(len(jobs), out or sys.stdout)

    def drive(job: ReplayJob) -> None:
        job = evolve(job, options=evolve(job.options, rate_limit=per_job))
        while True:
            result = run_one(job)
            progress.add(result)
            if result.cursor is None:
                progress.segment_done()
                return
            job = job.then(result.cursor)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(drive, job) for job in jobs]:
            future.result()
    return progress.finish()


class Progress:
    """Counts and rate on one line, rewritten in place on a terminal."""

    def __init__(self, segments: int, out: TextIO, every: float = 0.5) -> None:
        self._lock = threading.Lock()
        self._out = out
        self._segments = segments
        self._done = 0
        self._every = every if out.isatty() else 5.0
        self._started = self._shown = time.monotonic()
        self.total = ReplayResult()

    def add(self, result: ReplayResult) -> None:
        with self._lock:
            self.total.add(result)
            if time.monotonic() - self._shown >= self._every:
                self._show(end="\r" if self._out.isatty() else "\n")

    def segment_done(self) -> None:
        with self._lock:
            self._done += 1

    def finish(self) -> ReplayResult:
        with self._lock:
            self._show(end="\n")
            for failure in self.total.failures[:20]:
                print(f"  failed: {failure}", file=self._out)
            if len(self.total.failures) > 20:
                print(f"  … and {len(self.total.failures) - 20} more", file=self._out)
            return self.total

    def _show(self, *, end: str) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        print(
            f"read {self.total.read} events ({self.total.read / elapsed:,.0f}/s), "
            f"published {self.total.published}, failed {len(self.total.failures)}, "
            f"segments {self._done}/{self._segments}, {elapsed:.1f}s",
            end=end,
            file=self._out,
            flush=True,
        )
        self._shown = time.monotonic()

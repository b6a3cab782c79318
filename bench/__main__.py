"""python -m bench [--quick]: run every benchmark in one run, print the table and write
bench/results.json. See docs/benchmarks.md for what each figure means."""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from bench import coldstart, load, report, work
from bench.prices import PRICES_AS_OF, Prices, billed_gb_seconds, gb_second_price
from bench.system import REPO, BenchSystem
from scripts.local.tables import EVENTS_KEY, create_table

RESULTS = Path(__file__).with_name("results.json")


@frozen
class Plan:
    sizes: tuple[int, ...]
    repetitions: int
    reference_repetitions: int
    load_clients: int
    load_accounts: int
    load_seconds: float
    raw_seconds: float
    import_repetitions: int
    # The steady open-loop run: this fraction of the sustained rate, long enough for
    # steady_commands commands (at least steady_seconds, at most 120 s), from `senders`.
    steady_fraction: float
    steady_seconds: float
    steady_commands: int
    senders: int
    probers: int
    # The hot account: each count of writers for hot_seconds, on an account of its own.
    hot_seconds: float
    # Requests storing nothing, to see what each costs the moto server in memory.
    nothing_repetitions: int
    hot_writers: tuple[int, ...] = (1, 4, 8)
    # Requests storing nothing sent before measuring, to grow moto's pools and caches.
    nothing_warm_up: int = 20
    # The raw Scan's items/s from at most this many items (None: the whole table).
    scan_items: int | None = None


FULL = Plan((10, 1_000, 10_000), 5, 3, 6, 200, 30.0, 10.0, 5, 0.5, 45.0, 150, 6, 1, 15.0, 500)
# Checks that every figure is still printed, in under 3 minutes: one measured transaction
# per cell (after the first, not counted), 24 load accounts (opened one request at a
# time), and a Scan's rate from 1,000 items.
QUICK = Plan(
    sizes=(10, 100, 1_000),
    repetitions=1,
    reference_repetitions=1,
    load_clients=3,
    load_accounts=24,
    load_seconds=5.0,
    raw_seconds=3.0,
    import_repetitions=1,
    steady_fraction=0.5,
    steady_seconds=8.0,
    steady_commands=0,
    senders=3,
    probers=1,
    hot_seconds=2.0,
    nothing_repetitions=60,
    nothing_warm_up=10,
    scan_items=1_000,
)


_SAY = functools.partial(print, flush=True)


class Phases:
    """Each phase's wall-clock seconds, printed as it ends: where a run's time goes.
    A phase run `beside` the others (in a thread of its own) is kept apart, so the
    others still add up to the run's time."""

    def __init__(self, say: Callable[[str], object] = _SAY) -> None:
        self.seconds: dict[str, float] = {}
        self.beside_seconds: dict[str, float] = {}
        self._say = say

    @contextmanager
    def __call__(self, name: str, *, beside: bool = False) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - started, beside=beside)

    def record(self, name: str, seconds: float, *, beside: bool = False) -> None:
        kept = self.beside_seconds if beside else self.seconds
        # A phase entered more than once adds up: the total is its cost.
        kept[name] = kept.get(name, 0.0) + seconds
        self._say(f"  {name}: {seconds:.1f}s" + (" (beside the others)" if beside else ""))


def _in_process(function: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_work(system: BenchSystem, plan: Plan, phase: Phases) -> dict[str, Any]:
    bench = work.WorkBench(system)
    with phase("seeding histories"):
        seeded_s = bench.seed(plan.sizes)
    runtime = system.runtime
    assert runtime is not None
    # Every command carries an Idempotency-Key (the API requires one), so each is a
    # TransactWriteItems, which moto runs by deep-copying every table it writes to.
    # A transfer is measured like a credit: one request, until both accounts' read
    # models hold their legs.
    kinds = ("credit", "transfer")
    with phase("transactions, first of each (not counted)"):
        for size in plan.sizes:  # creates the read models and starts every worker
            for kind in kinds:
                bench.transaction(size, idempotency_key=True, kind=kind)
    cells: dict[tuple[int, str], list[work.Transaction]] = {}
    with phase("transactions, measured"):
        for _ in range(plan.repetitions):
            for size in plan.sizes:  # side by side: every size in every repetition
                for kind in kinds:
                    cells.setdefault((size, kind), []).append(
                        bench.transaction(size, idempotency_key=True, kind=kind)
                    )
    memory = runtime.memory_mb()
    architectures = work.architectures(system)
    billed_ms = work.pooled_durations([t for ts in cells.values() for t in ts])
    summary = {
        f"{size}+key" if kind == "credit" else f"{size}+{kind}": {
            "history": size,
            "idempotency_key": True,
            "kind": kind,
            **work.summarize(transactions, memory, billed_ms, architectures=architectures),
        }
        for (size, kind), transactions in cells.items()
    }
    reference: dict[str, Any] = {}
    prices = Prices()
    for size in plan.sizes:
        ours = summary[f"{size}+key"]
        for variant in ("partition", "window"):
            with phase("the seed's dispatcher reads"):
                runs = [
                    bench.seed_dispatcher(size, variant) for _ in range(plan.reference_repetitions)
                ]
            medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            # Our transaction with the dispatcher's one GetItem swapped for the seed's
            # reads, and its extra time (measured here, outside a Lambda) billed too.
            extra_ms = max(0.0, medians["ms"] - billed_ms["dispatcher"])
            swapped = ours["cost_per_million"] + 1e6 * (
                (medians["read_units"] - 1) * prices.dynamodb_read_request_unit
                + billed_gb_seconds(extra_ms, memory["dispatcher"])
                * gb_second_price(architectures.get("dispatcher"), prices)
            )
            reference[f"{size}/{variant}"] = {
                "history": size,
                "variant": variant,
                **medians,
                "ours_items_read": ours["requests_by_function_operation"].get(
                    "dispatcher dynamodb:GetItem", 0.0
                ),
                "ours_cost_per_million_tx": ours["cost_per_million"],
                "seed_cost_per_million_tx": swapped,
            }
    # Issue 14: a balance as of a past moment, from the snapshot of the event then,
    # found through the events table's time index: the same reads at every size.
    with phase("past balances"):
        past_balances = {str(size): bench.past_balance(size) for size in plan.sizes}
    return {
        "seed_seconds": seeded_s,
        "memory_mb": memory,
        "architectures": architectures,
        "transactions": summary,
        "seed_dispatcher": reference,
        "past_balances": past_balances,
    }


def load_accounts(plan: Plan) -> list[str]:
    """The accounts the load runs credit (measure_load opens them)."""
    return [f"load-{i}" for i in range(plan.load_accounts)]


def measure_load(system: BenchSystem, plan: Plan, phase: Phases) -> dict[str, Any]:
    dynamodb = work.client(system, "dynamodb", "bench")
    # The events table's key, without its stream: what a bare conditional put costs.
    create_table(dynamodb, "bench-raw", EVENTS_KEY)
    with phase("raw conditional puts"):
        raw = _in_process(
            load.raw_puts,
            system.endpoint_url,
            system.region,
            "bench-raw",
            plan.load_clients,
            plan.raw_seconds,
        )
    accounts = load_accounts(plan)
    with phase("opening the load's accounts"):
        load.open_accounts(system.api_url, accounts, system.http_headers)
    projectors_log = system.log_path("projectors")
    # One more warm worker per step: a burst of simultaneous cold starts on a small
    # machine outlasts the runtime's 10 s init limit, which no Lambda sandbox shares.
    with phase("warming workers"):
        warm_up = _in_process(
            load.ramp,
            system.api_url,
            accounts,
            max(plan.load_clients, plan.senders) + 1,
            system.http_headers,
        )
    # 1. Saturation: closed-loop clients for the window, then the drain until every
    # account's read model holds its last accepted version. The pipeline keeps up with
    # what it both accepted and projected over window + drain.
    log_offset = _size(projectors_log)
    meter_before, runtime = system.meter(), system.runtime
    calls_before = {name: len(values) for name, values in runtime.durations_ms.items()}
    with phase("saturation"):
        saturated = _in_process(
            load.commands,
            system.api_url,
            accounts,
            plan.load_clients,
            plan.load_seconds,
            system.http_headers,
        )
    bench = work.WorkBench(system)
    with phase("saturation's drain"):
        drain_s, pending = _drain(bench, saturated.pop("heads"))
    profile = hops(
        meter_before, system.meter(), runtime.durations_ms, calls_before, saturated["accepted"]
    )
    saturated_lags = projection_lags(projectors_log, log_offset)
    sustained = saturated["accepted"] / (saturated["seconds"] + drain_s)
    time.sleep(2)  # the last projector invocations finish
    # 2. Steady: open loop at a fraction of that, every accepted command probed.
    rate = max(0.5, plan.steady_fraction * sustained)
    seconds = min(120.0, max(plan.steady_seconds, plan.steady_commands / rate))
    log_offset = _size(projectors_log)
    with phase("steady open loop"):
        steady = _in_process(
            load.open_loop,
            system.api_url,
            accounts,
            rate,
            seconds,
            plan.senders,
            plan.probers,
            system.http_headers,
        )
    # The steady run's own drain: its last commands projected (the metric covers them).
    with phase("steady run's drain"):
        steady_drain_s, steady_pending = _drain(bench, steady.pop("heads"))
    steady_metric = projection_lags(projectors_log, log_offset)
    lags = steady.pop("lags_s")
    late = steady.pop("late_s")
    command_s = steady.pop("command_s")
    raw_rate = raw["writes"] / raw["seconds"]
    accepted_rate = saturated["accepted"] / saturated["seconds"]
    return {
        "warm_up": warm_up,
        "accounts": plan.load_accounts,
        "raw_conditional_puts_per_s": raw_rate,
        "raw": raw,
        "saturation": {
            "clients": plan.load_clients,
            **saturated,
            "accepted_per_s": accepted_rate,
            "drain_s": drain_s,
            "not_projected_after_drain": len(pending),
            "sustained_per_s": sustained,
            "metric_lag_samples": len(saturated_lags),
            "metric_lag_p50_s": percentile(saturated_lags, 0.50),
            "metric_lag_max_s": max(saturated_lags, default=float("nan")),
        },
        "profile": profile,
        "sustained_per_s": sustained,
        "sustained_vs_raw_puts": sustained / raw_rate,
        "accepted_vs_raw_puts": accepted_rate / raw_rate,
        "steady": {
            **steady,
            "fraction_of_sustained": rate / sustained if sustained else float("nan"),
            "senders": plan.senders,
            "accepted_per_s": steady["accepted"] / steady["seconds"],
            "unseen": len(steady["unseen"]),
            "drain_s": steady_drain_s,
            "not_projected_after_drain": len(steady_pending),
            "late_p50_s": percentile(late, 0.50),
            "late_p99_s": percentile(late, 0.99),
            "command_p50_s": percentile(command_s, 0.50),
            "command_p99_s": percentile(command_s, 0.99),
            "lag_samples": len(lags),
            "lag_p50_s": percentile(lags, 0.50),
            "lag_p95_s": percentile(lags, 0.95),
            "lag_p99_s": percentile(lags, 0.99),
            "lag_max_s": max(lags, default=float("nan")),
            "metric_lag_samples": len(steady_metric),
            "metric_lag_p50_s": percentile(steady_metric, 0.50),
            "metric_lag_p95_s": percentile(steady_metric, 0.95),
            "metric_lag_p99_s": percentile(steady_metric, 0.99),
        },
    }


def hops(
    meter_before: list[dict[str, Any]],
    meter_after: list[dict[str, Any]],
    durations_ms: dict[str, list[float]],
    calls_before: dict[str, int],
    accepted: int,
) -> dict[str, Any]:
    """Where the saturation run's time went, per accepted command: each function's
    invocations and their time (as the runtime saw it: worker hop and moto calls
    included), and the time moto spent on each caller's requests (its lock's queue
    included)."""
    before = {(r["caller"], r["service"], r["operation"]): r for r in meter_before}
    moto: dict[str, float] = defaultdict(float)
    requests_: dict[str, float] = defaultdict(float)
    for row in meter_after:
        old = before.get((row["caller"], row["service"], row["operation"]), {})
        name = f"{row['caller']} {row['service']}:{row['operation']}"
        moto[name] += row.get("server_s", 0.0) - old.get("server_s", 0.0)
        requests_[name] += row["requests"] - old.get("requests", 0.0)
    per = max(accepted, 1)
    functions = {}
    for name, values in durations_ms.items():
        new = values[calls_before.get(name, 0) :]
        if new:
            functions[name] = {
                "invocations_per_accepted": len(new) / per,
                "ms_per_accepted": sum(new) / per,
                "median_ms": statistics.median(new),
            }
    return {
        "accepted": accepted,
        "functions": functions,
        "moto_ms_per_accepted": {
            name: 1000 * seconds / per
            for name, seconds in sorted(moto.items(), key=lambda item: -item[1])
            if seconds > 0
        },
        "moto_requests_per_accepted": {name: n / per for name, n in requests_.items() if n},
        "moto_busy_s": sum(moto.values()),
    }


def measure_hot(
    system: BenchSystem, plan: Plan, warm_accounts: list[str], *, round_: int = 0
) -> dict[str, Any]:
    """Writers on one account: accepted/s, the commands' version conflicts (each one a
    retry inside the function) and DynamoDB requests per accepted command, 409s and
    latency. Each `round_` credits accounts of its own."""
    # A credit to an account never opened is refused (404): open them first.
    suffix = f"-r{round_}" if round_ else ""
    hot = [f"hot-{writers}{suffix}" for writers in plan.hot_writers]
    load.open_accounts(system.api_url, hot, system.http_headers)
    # Warm a worker per writer first: simultaneous cold starts are a machine limit. On
    # accounts of their own (`warm_accounts`, already open): concurrent credits to one
    # account would conflict and retry, and the warm-up would measure that instead.
    _in_process(
        load.ramp, system.api_url, warm_accounts, max(plan.hot_writers) + 1, system.http_headers
    )
    cases: dict[str, Any] = {}
    for writers, account in zip(plan.hot_writers, hot, strict=True):
        before = _conflicts(system.meter()), _commands_requests(system.meter())
        run = _in_process(
            load.hot_account,
            system.api_url,
            account,
            writers,
            plan.hot_seconds,
            system.http_headers,
        )
        conflicts = _conflicts(system.meter()) - before[0]
        requests = _commands_requests(system.meter()) - before[1]
        latencies = run.pop("latency_s")
        accepted = run["accepted"]
        cases[str(writers)] = {
            **run,
            "accepted_per_s": accepted / run["seconds"],
            "conflicts": conflicts,
            "retries_per_accepted": conflicts / accepted if accepted else float("nan"),
            "dynamodb_requests_per_accepted": requests / accepted if accepted else float("nan"),
            "answers_409": run["statuses"].get("409", 0),
            "latency_p50_s": percentile(latencies, 0.50),
            "latency_p99_s": percentile(latencies, 0.99),
        }
    return cases


def _conflicts(meter: list[dict[str, Any]]) -> float:
    """The commands function's refused writes so far (cancelled transactions: a version
    conflict, or a key another request holds)."""
    return sum(
        float(row.get("errors", 0.0))
        for row in meter
        if row["caller"] == "commands" and row["operation"] in ("TransactWriteItems", "PutItem")
    )


def _commands_requests(meter: list[dict[str, Any]]) -> float:
    """The commands function's DynamoDB requests so far (reads and writes)."""
    return sum(
        float(row.get("requests", 0.0))
        for row in meter
        if row["caller"] == "commands" and row["service"] == "dynamodb"
    )


def hot_only(system: BenchSystem, plan: Plan, rounds: int) -> dict[str, Any]:
    """`--hot-only`: the hot-account case alone, `rounds` times on one running system
    (each round on fresh accounts), without the phases before it."""
    warm = load_accounts(plan)
    load.open_accounts(system.api_url, warm, system.http_headers)
    return {
        "hot_rounds": [
            measure_hot(system, plan, warm, round_=round_) for round_ in range(1, rounds + 1)
        ]
    }


def memory_growth(
    before: dict[str, Any], after: dict[str, Any], events_table: str
) -> dict[str, Any]:
    """What a phase added to the moto server: resident bytes, requests, events."""
    grown = after["rss_bytes"] - before["rss_bytes"]
    requests_ = after["requests"] - before["requests"]
    events = after["items"].get(events_table, 0) - before["items"].get(events_table, 0)
    return {
        "rss_bytes": grown,
        "requests": requests_,
        "events": events,
        "items": sum(after["items"].values()) - sum(before["items"].values()),
        "stream_records": after["stream_records"] - before["stream_records"],
        "bytes_per_event": grown / events if events else float("nan"),
        "bytes_per_request": grown / requests_ if requests_ else float("nan"),
    }


def measure_nothing(system: BenchSystem, plan: Plan) -> dict[str, Any]:
    """The moto server's memory over requests that store nothing."""
    events_table = system.environment("commands")["EVENTS_TABLE_NAME"]
    # A first round grows the allocator's pools and the caches once.
    _in_process(
        load.storing_nothing, system.api_url, "idle", plan.nothing_warm_up, system.http_headers
    )
    before = system.memory()
    run = _in_process(
        load.storing_nothing,
        system.api_url,
        "idle",
        plan.nothing_repetitions,
        system.http_headers,
    )
    return {**run, **memory_growth(before, system.memory(), events_table)}


def _startup_phases(phase: Phases, timings: dict[str, float]) -> None:
    """The launcher's steps as phases of their own (its timings run from its start)."""
    init = timings.get("terraform_init_s", 0.0)
    apply = timings.get("terraform_apply_s", init)
    phase.record("moto server, issuer and terraform init, side by side", init)
    phase.record("terraform apply", apply - init)
    phase.record("the runtime's start", timings.get("up_s", apply) - apply)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _drain(bench: work.WorkBench, heads: dict[str, int]) -> tuple[float, dict[str, int]]:
    """Seconds until every account's read model holds its head (at most 120 s), and
    the accounts still behind then."""
    started = time.perf_counter()
    pending = dict(heads)
    # One account at a time (a read of every account per pass would load the moto
    # that the pipeline is draining through): wait for it, then the next.
    for account, version in list(pending.items()):
        while time.perf_counter() - started < 120:
            if bench._read_model_version(account) >= version:
                del pending[account]
                break
            time.sleep(0.1)
    return time.perf_counter() - started, pending


def projection_lags(log: Path, offset: int) -> list[float]:
    """The projectors' own ProjectionLag metric (EMF lines in their log), in seconds:
    from the command storing the event to the read model write, for every event."""
    lags: list[float] = []
    with log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            if b'"ProjectionLag"' not in line:
                continue
            try:
                value = json.loads(line)["ProjectionLag"]
            except (ValueError, KeyError):
                continue
            for one in value if isinstance(value, list) else [value]:
                lags.append(float(one) / 1000)
    return lags


def measure_scan(system: BenchSystem, max_items: int | None = None) -> dict[str, Any]:
    """Items per second of a raw Scan of the events table, whole or (max_items) its
    first pages: moto scans at a steady rate, so a part gives the rate in less time."""
    dynamodb = work.client(system, "dynamodb", "bench-scan")
    table = system.environment("commands")["EVENTS_TABLE_NAME"]
    started, items = time.perf_counter(), 0
    request: dict[str, Any] = {"TableName": table}
    if max_items is not None:
        request["Limit"] = max_items
    while True:
        page = dynamodb.scan(**request)
        items += page["Count"]
        if "LastEvaluatedKey" not in page or (max_items is not None and items >= max_items):
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    seconds = time.perf_counter() - started
    return {"items": items, "seconds": seconds, "items_per_s": items / seconds}


_REPLAY_SUMMARY = re.compile(r"read (\d+) events .*published (\d+), failed (\d+)")


def measure_replay(system: BenchSystem, *extra: str) -> dict[str, Any]:
    """`ledger replay --all` (scripts.ops) as an operator runs it: each segment in the
    replay function, run by the bench's runtime behind its Lambda Invoke API."""
    command = [sys.executable, "-m", "scripts.ops", "--environment", "local"]
    command += ["replay", "--all", *extra]
    env = {**os.environ, "LEDGER_LOCAL_DIR": str(system.state_dir)}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        return {"measured": False, "reason": "not measured: ledger replay ran over 600 s"}
    seconds = time.perf_counter() - started
    summary = _REPLAY_SUMMARY.findall(done.stdout)
    if done.returncode != 0 or not summary:
        return {
            "measured": False,
            "reason": f"not measured: ledger replay failed (exit {done.returncode})",
            "output": (done.stdout + done.stderr)[-2000:],
        }
    read, published, failed = map(int, summary[-1])
    return {
        "measured": True,
        "command": " ".join(["ledger", *command[3:]]),
        "events_read": read,
        "published": published,
        "failed": failed,
        "seconds": seconds,
        "events_per_s": read / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same table")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--hot-only",
        type=int,
        metavar="ROUNDS",
        help="only the hot-account case, ROUNDS times on one system (prints its table)",
    )
    parser.add_argument(
        "--dist", type=Path, default=REPO / "dist", help="the zips to run (default: dist/)"
    )
    parser.add_argument(
        "--every-event",
        action="store_true",
        help="also time `ledger replay --all --every-event` (600 s limit; did not finish)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    state_dir = REPO / ".local" / "bench"
    state_dir.mkdir(parents=True, exist_ok=True)
    # The zips the run applies and runs, safe from a rebuild of dist/ meanwhile.
    dist = state_dir / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    shutil.copytree(args.dist, dist)
    results: dict[str, Any] = {
        "quick": args.quick,
        "prices_as_of": PRICES_AS_OF,
        "prices": Prices().table(),
    }
    results["plan"] = attrs.asdict(plan)
    # Function logs from an earlier run would only make the deltas slower to read.
    shutil.rmtree(state_dir / "logs", ignore_errors=True)
    system = BenchSystem(state_dir, dist)
    phase = Phases()
    results["phases_s"] = phase.seconds
    results["phases_beside_s"] = phase.beside_seconds
    if args.hot_only:
        return _hot_only(args, plan, system, results, started)
    try:
        if args.quick:
            # Only checking that it runs: overlap the imports with terraform's apply,
            # which spends most of its time asleep in the AWS provider's waits.
            cold: dict[str, Any] = {}

            def cold_starts() -> None:
                with phase("cold-start proxies", beside=True):
                    cold.update(coldstart.measure(dist, state_dir, plan.import_repetitions))

            thread = threading.Thread(target=cold_starts)
            thread.start()
        else:
            print("cold-start proxies ...", flush=True)
            with phase("cold-start proxies"):
                results["cold_start"] = coldstart.measure(dist, state_dir, plan.import_repetitions)
        print("starting the local runtime on a metered moto ...", flush=True)
        system.start()
        _startup_phases(phase, system.timings)
        if args.quick:
            with phase("waiting for the cold-start proxies"):
                thread.join()
            results["cold_start"] = {**cold, "overlapped_with_startup": True}
        results["startup"] = system.timings
        events_table = system.environment("commands")["EVENTS_TABLE_NAME"]
        memory = [system.memory()]
        print("work per transaction ...", flush=True)
        results["work"] = measure_work(system, plan, phase)
        memory.append(system.memory())
        print("throughput and lag ...", flush=True)
        results["load"] = measure_load(system, plan, phase)
        memory.append(system.memory())
        print("hot account ...", flush=True)
        with phase("hot account"):
            results["hot"] = measure_hot(system, plan, load_accounts(plan))
        print("memory of requests storing nothing ...", flush=True)
        with phase("requests storing nothing"):
            nothing = measure_nothing(system, plan)
        results["memory"] = {
            "seeded_histories": memory_growth(memory[0], memory[1], events_table),
            "load": memory_growth(memory[1], memory[2], events_table),
            "storing_nothing": nothing,
            "at_end": system.memory(),
        }
        print("scan ...", flush=True)
        with phase("scan"):
            results["scan"] = measure_scan(system, plan.scan_items)
        print("replay ...", flush=True)
        with phase("replay"):
            results["replay"] = measure_replay(system)
        if args.every_event:  # publishes every event: over 10 minutes on moto
            with phase("replay, every event"):
                results["replay_every_event"] = measure_replay(system, "--every-event")
    finally:
        with phase("stopping the system"):
            system.stop()
    results["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(report.render(results))
    print(f"\nwrote {args.out} in {results['seconds']:.0f}s")
    return 0


def _hot_only(
    args: argparse.Namespace,
    plan: Plan,
    system: BenchSystem,
    results: dict[str, Any],
    started: float,
) -> int:
    print("starting the local runtime on a metered moto ...", flush=True)
    system.start()
    try:
        print(f"hot account, {args.hot_only} rounds ...", flush=True)
        results.update(hot_only(system, plan, args.hot_only))
    finally:
        system.stop()
    results["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for number, hot in enumerate(results["hot_rounds"], start=1):
        print(f"\n== Hot account, round {number} ==\n{report.hot_table(hot)}")
    print(f"\nwrote {args.out} in {results['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Work per transaction: every AWS request, capacity unit, bus entry, invocation and log
byte that one accepted command causes, from the HTTP request until the read models
hold its version; and, on the same accounts, the seed's dispatcher for comparison."""

from __future__ import annotations

import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from attrs import frozen
from botocore.config import Config

from bench.history import HISTORY_SPAN, history_items
from bench.prices import LIST_PRICES, Prices, Work, cost_breakdown
from bench.seed_dispatcher import seed_aggregate
from bench.system import BenchSystem, short_name
from scripts.local.aws import fake_session

PIPELINE = ("commands", "fanout", "dispatcher", "projectors")
TIMEOUT_S = 60


@frozen
class Transaction:
    history: int
    idempotency_key: bool
    kind: str  # "credit", or "transfer" (one posting: a debit leg and a credit leg)
    requests: dict[str, dict[str, float]]  # function -> operation -> requests
    read_units: float
    write_units: float
    items_read: float
    bus_entries: float
    invocations: dict[str, int]
    durations_ms: dict[str, list[float]]
    log_bytes: int
    lag_s: float

    @property
    def aws_requests(self) -> float:
        return sum(sum(ops.values()) for ops in self.requests.values())


def client(system: BenchSystem, service: str, app_id: str) -> Any:
    return fake_session(system.region).client(  # type: ignore[call-overload]
        service,
        endpoint_url=system.endpoint_url,
        config=Config(user_agent_extra=f"app/{app_id}", retries={"mode": "standard"}),
    )


def architectures(system: BenchSystem) -> dict[str, str]:
    """Each function's instruction set, as Terraform applied it (priced per GB-second)."""
    found: dict[str, str] = {}
    for page in client(system, "lambda", "bench").get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            found[short_name(config["FunctionName"])] = (config.get("Architectures") or ["x86_64"])[
                0
            ]
    return found


class WorkBench:
    def __init__(self, system: BenchSystem) -> None:
        self.system = system
        env = system.environment("commands")
        self.events_table = env["EVENTS_TABLE_NAME"]
        self.projections_table = system.environment("projectors")["PROJECTIONS_TABLE_NAME"]
        self.dynamodb = client(system, "dynamodb", "bench")
        self.http = requests.Session()
        self.http.headers.update(system.http_headers)
        self.accounts: dict[int, str] = {}
        # Each account's transfer counterparty, with a history as long as its own.
        self.counterparts: dict[int, str] = {}
        # True right after a settle, with nothing sent since: the next transaction's own
        # settle would only wait another quiet period (0.4 s of each of the quick run's
        # 18 transactions).
        self._settled = False

    def seed(self, sizes: Sequence[int]) -> dict[int, float]:
        seconds: dict[int, float] = {}
        for size in sizes:
            started = time.perf_counter()
            account = self.accounts[size] = f"bench-{size}-{uuid.uuid4().hex[:8]}"
            other = self.counterparts[size] = f"bench-{size}-to-{uuid.uuid4().hex[:8]}"
            for name in (account, other):
                self.system.seed(self.events_table, history_items(name, size, table="t"))
            seconds[size] = time.perf_counter() - started
        return seconds

    def _read_model_version(self, account: str) -> int:
        item = self.dynamodb.get_item(
            TableName=self.projections_table,
            Key={"accountId": {"S": account}, "readModel": {"S": "TotalBalanceForProfile"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["lastKnownVersion"]["N"]) if item else 0

    def transaction(self, size: int, *, idempotency_key: bool, kind: str = "credit") -> Transaction:
        runtime = self.system.runtime
        assert runtime is not None
        account = self.accounts[size]
        if not self._settled:
            self._settle()
        self._settled = False
        self.system.reset_meter()
        invocations_before = runtime.invocation_counts()
        logs_before = self.system.log_bytes()
        if not idempotency_key:
            raise ValueError("the API refuses a command without an Idempotency-Key")
        headers = {"content-type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        versions = self._post(kind, account, self.counterparts[size], headers)
        accepted = time.perf_counter()
        for name, version in versions.items():
            while self._read_model_version(name) < version:
                if time.perf_counter() - started > TIMEOUT_S:
                    raise RuntimeError(f"{name} v{version} not projected in {TIMEOUT_S}s")
                # Every poll is a GetItem on the moto server the pipeline runs on.
                time.sleep(0.05)
        lag = time.perf_counter() - accepted
        self._settle()
        self._settled = True
        counts = runtime.invocation_counts()
        invocations = {
            name: counts.get(name, 0) - invocations_before.get(name, 0) for name in PIPELINE
        }
        durations = {
            name: runtime.durations_ms[name][-count:] if count else []
            for name, count in invocations.items()
        }
        logs_after = self.system.log_bytes()
        log_bytes = sum(logs_after.get(n, 0) - logs_before.get(n, 0) for n in PIPELINE)
        per_function: dict[str, dict[str, float]] = defaultdict(dict)
        totals: dict[str, float] = defaultdict(float)
        for row in self.system.meter():
            if row["caller"] not in PIPELINE:
                continue
            per_function[row["caller"]][f"{row['service']}:{row['operation']}"] = row["requests"]
            for name in ("rcu", "wcu", "items_read", "bus_entries"):
                totals[name] += float(row.get(name, 0.0))
        return Transaction(
            history=size,
            idempotency_key=idempotency_key,
            kind=kind,
            requests=dict(per_function),
            read_units=totals["rcu"],
            write_units=totals["wcu"],
            items_read=totals["items_read"],
            bus_entries=totals["bus_entries"],
            invocations=invocations,
            durations_ms=durations,
            log_bytes=log_bytes,
            lag_s=lag,
        )

    def _post(
        self, kind: str, account: str, counterpart: str, headers: dict[str, str]
    ) -> dict[str, int]:
        """Send one credit to `account`, or one transfer from it to `counterpart`;
        the version each account's read models must reach."""
        if kind == "credit":
            path, body = f"/accounts/{account}/credits", {"amount": "1.00", "description": "bench"}
        else:
            path, body = "/transfers", {"from": account, "to": counterpart, "amount": "1.00"}
        response = self.http.post(
            f"{self.system.api_url}{path}", json=body, headers=headers, timeout=30
        )
        if response.status_code != 201:
            raise RuntimeError(f"{kind} answered {response.status_code}: {response.text}")
        answer = response.json()
        if kind == "credit":
            return {account: int(answer["version"])}
        return {leg["accountId"]: int(leg["version"]) for leg in answer["legs"]}

    def _settle(self, quiet_s: float = 0.4) -> None:
        """Wait until no function has been invoked for `quiet_s`."""
        runtime = self.system.runtime
        assert runtime is not None
        deadline = time.monotonic() + TIMEOUT_S
        last = runtime.invocation_counts()
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = runtime.invocation_counts()
            if now == last:
                return
            last = now

    def past_balance(self, size: int) -> dict[str, Any]:
        """One GET of the account's balance as of the middle of its history (issue 14):
        every request the queries function makes for it, and the items it reads."""
        account = self.accounts[size]
        moment = datetime.now(UTC) - HISTORY_SPAN / 2
        self.system.reset_meter()
        response = self.http.get(
            f"{self.system.api_url}/accounts/{account}/balance",
            params={"at": moment.isoformat()},
            timeout=30,
        )
        if response.status_code != 200:
            raise RuntimeError(f"balance at answered {response.status_code}: {response.text}")
        rows = [r for r in self.system.meter() if r["caller"] == "queries"]
        return {
            "history": size,
            "version": int(response.json()["version"]),
            "requests": float(sum(r["requests"] for r in rows)),
            "requests_by_operation": {
                f"{r['service']}:{r['operation']}": float(r["requests"]) for r in rows
            },
            "items_read": float(sum(r.get("items_read", 0.0) for r in rows)),
            "read_units": float(sum(r.get("rcu", 0.0) for r in rows)),
        }

    def seed_dispatcher(self, size: int, variant: str) -> dict[str, float]:
        account = self.accounts[size]
        version = self._read_model_version(account)
        reference = client(self.system, "dynamodb", f"seed-dispatcher-{variant}")
        self.system.reset_meter()
        started = time.perf_counter()
        aggregate = seed_aggregate(reference, self.events_table, account, version, variant=variant)
        elapsed_ms = (time.perf_counter() - started) * 1000
        rows = [r for r in self.system.meter() if r["caller"] == f"seed-dispatcher-{variant}"]
        return {
            "items_read": float(aggregate.items_read),
            "events_in_window": float(aggregate.events_in_window),
            "requests": float(sum(r["requests"] for r in rows)),
            "read_units": float(sum(r.get("rcu", 0.0) for r in rows)),
            "ms": elapsed_ms,
        }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def pooled_durations(transactions: Sequence[Transaction]) -> dict[str, float]:
    """Each function's median invocation time over the transactions. Every command has
    an idempotency key, so the commands' time is mostly moto's: its TransactWriteItems
    deep-copies every table it writes to (for rollback), so it grows with the table,
    which DynamoDB's does not."""
    return {
        name: median([d for t in transactions for d in t.durations_ms.get(name, [])])
        for name in PIPELINE
    }


def summarize(
    transactions: Sequence[Transaction],
    memory_mb: dict[str, int],
    billed_ms: dict[str, float],
    prices: Prices = LIST_PRICES,
    architectures: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Medians over repetitions of one (history, idempotency key) cell; Lambda duration
    is billed at `billed_ms`, the same for every cell of a run (local timings are noise
    to a flatness ratio, and moto's are not DynamoDB's)."""
    requests_by_op: dict[str, list[float]] = defaultdict(list)
    for transaction in transactions:
        for function, ops in transaction.requests.items():
            for op, count in ops.items():
                requests_by_op[f"{function} {op}"].append(count)
    invocations = {
        name: median([t.invocations.get(name, 0) for t in transactions]) for name in PIPELINE
    }
    measured_ms = {
        name: median([d for t in transactions for d in t.durations_ms.get(name, [])])
        for name in PIPELINE
    }
    work = Work(
        http_requests=1.0,
        invocations=invocations,
        billed_ms=billed_ms,
        memory_mb=memory_mb,
        read_units=median([t.read_units for t in transactions]),
        write_units=median([t.write_units for t in transactions]),
        bus_entries=median([t.bus_entries for t in transactions]),
        log_bytes=median([t.log_bytes for t in transactions]),
        architectures=architectures or {},
    )
    breakdown = cost_breakdown(work, prices)
    return {
        "repetitions": len(transactions),
        "aws_requests": median([t.aws_requests for t in transactions]),
        "requests_by_function_operation": {
            key: median(values + [0.0] * (len(transactions) - len(values)))
            for key, values in sorted(requests_by_op.items())
        },
        "read_units": work.read_units,
        "write_units": work.write_units,
        "items_read": median([t.items_read for t in transactions]),
        "bus_entries": work.bus_entries,
        "http_requests": work.http_requests,
        "invocations": invocations,
        "invocation_ms_measured": measured_ms,
        "invocation_ms_billed": billed_ms,
        "log_bytes": work.log_bytes,
        "memory_mb": dict(memory_mb),
        "architectures": dict(work.architectures),
        "lag_s": median([t.lag_s for t in transactions]),
        "cost_breakdown_per_million": {k: v * 1e6 for k, v in breakdown.items()},
        "cost_per_million": sum(breakdown.values()) * 1e6,
    }

"""The local system as the bench runs it: the one launcher (scripts.local.system) with
the metered moto server (bench.moto_server) and a Runtime that records which function
makes each AWS request and how long each invocation takes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from bench.cost import LogFilter, LogMeter, deployed_log_sample_rate
from scripts.local.supervisor import Runtime
from scripts.local.system import LocalSystem, Settings, free_port
from scripts.local.wiring import Function
from scripts.local.workers import Outcome

REPO = Path(__file__).resolve().parents[1]
FUNCTION_PREFIX = "ledger-local-"
# A back-office token: may open accounts, write credits and read any account.
TOKEN_SCOPES = ("ledger/transactions.write", "ledger/accounts.read", "ledger/accounts.manage")


def short_name(function_name: str) -> str:
    return function_name.removeprefix(FUNCTION_PREFIX)


class MeteredRuntime(Runtime):
    """The local runtime, recording every invocation's function and duration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.durations_ms: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)

    def function_environment(self, function: Function) -> Mapping[str, str]:
        # Each function's SDK clients carry its name in their User-Agent, which is how
        # the metered moto attributes requests. They log at DEBUG as often as deployed
        # on AWS, not on every invocation as the local environment has them.
        return {
            "AWS_SDK_UA_APP_ID": short_name(function.name),
            "POWERTOOLS_LOGGER_SAMPLE_RATE": deployed_log_sample_rate(),
        }

    def invoke(self, function_arn: str, event: Any) -> Outcome:
        started = time.perf_counter()
        outcome = super().invoke(function_arn, event)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert self.wiring is not None
        name = short_name(self.wiring.function(function_arn).name)
        with self._lock:
            self.durations_ms[name].append(elapsed_ms)
            if outcome.failed:
                self.failures[name] += 1
        return outcome

    def invocation_counts(self) -> dict[str, int]:
        with self._lock:
            return {name: len(values) for name, values in self.durations_ms.items()}

    def memory_mb(self) -> dict[str, int]:
        assert self.wiring is not None
        return {short_name(f.name): f.memory_mb for f in self.wiring.functions.values()}


class BenchSystem:
    def __init__(self, state_dir: Path, dist_dir: Path = REPO / "dist") -> None:
        self.state_dir = state_dir
        self._system = LocalSystem(
            Settings(
                state_dir=state_dir,
                port=free_port(),
                dist_dir=dist_dir,
                console=False,
                moto_server="bench.moto_server",
            ),
            runtime_class=MeteredRuntime,
        )
        # Sent with every HTTP request of the bench: a back-office bearer token.
        self.http_headers: dict[str, str] = {}
        self._log_meter = LogMeter(LogFilter.deployed())

    @property
    def api_url(self) -> str:
        return self._system.api_url

    @property
    def runtime(self) -> MeteredRuntime:
        assert isinstance(self._system.runtime, MeteredRuntime)
        return self._system.runtime

    @property
    def endpoint_url(self) -> str:
        assert self._system.moto is not None
        return self._system.moto.endpoint_url

    @property
    def region(self) -> str:
        assert self._system.moto is not None
        return self._system.moto.region

    @property
    def outputs(self) -> dict[str, Any]:
        return self._system.outputs

    @property
    def timings(self) -> dict[str, float]:
        return self._system.timings

    def start(self) -> None:
        self._system.start()
        assert self._system.issuer is not None
        token = self._system.issuer.token("bench", scopes=TOKEN_SCOPES, ttl_s=6 * 3600)
        self.http_headers = {"authorization": f"Bearer {token}"}

    def stop(self) -> None:
        self._system.stop()

    def environment(self, name: str) -> dict[str, str]:
        """The environment Terraform gave a function (table and bus names)."""
        assert self.runtime.wiring is not None
        for function in self.runtime.wiring.functions.values():
            if short_name(function.name) == name:
                return dict(function.environment)
        raise KeyError(name)

    def meter(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = requests.get(
            f"{self.endpoint_url}/_bench/meter", timeout=30
        ).json()
        return rows

    def memory(self) -> dict[str, Any]:
        """The moto server's resident bytes, requests served and items held."""
        answer: dict[str, Any] = requests.get(
            f"{self.endpoint_url}/_bench/memory", timeout=60
        ).json()
        return answer

    def reset_meter(self) -> None:
        requests.post(f"{self.endpoint_url}/_bench/meter/reset", timeout=30)

    def seed(self, table: str, items: list[dict[str, Any]], chunk: int = 2000) -> None:
        for start in range(0, len(items), chunk):
            response = requests.post(
                f"{self.endpoint_url}/_bench/seed",
                data=json.dumps(
                    {"region": self.region, "table": table, "items": items[start : start + chunk]}
                ),
                timeout=300,
            )
            response.raise_for_status()

    def log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{FUNCTION_PREFIX}{name}.log"

    def log_bytes(self) -> dict[str, int]:
        """Bytes each function has logged so far that CloudWatch Logs would ingest, under
        the logging config every environment but local deploys (bench.cost)."""
        sizes: dict[str, int] = {}
        for path in (self.state_dir / "logs").glob(f"{FUNCTION_PREFIX}*.log"):
            sizes[short_name(path.stem)] = self._log_meter.sent_bytes(path)
        return sizes

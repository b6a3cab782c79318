"""The local runtime, started by the bench on its metered moto server.

The same parts as ``python -m scripts.local up`` (scripts.local.system): a fresh moto
server, terraform/environments/local applied to it, and scripts.local's Runtime running
the dist/ zips; but moto is bench.moto_server, and the Runtime is told which function
makes each AWS request and how long each invocation takes.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests

from scripts.local import wiring
from scripts.local.aws import Moto
from scripts.local.logs import Logs
from scripts.local.supervisor import Runtime
from scripts.local.system import free_port, write_pointers
from scripts.local.terraform import Terraform
from scripts.local.workers import Outcome

REPO = Path(__file__).resolve().parents[1]
FUNCTION_PREFIX = "ledger-local-"
TERRAFORM_DIR = REPO / "terraform" / "environments" / "local"
AUDIENCE = "ledger-local"
# A back-office token: may write credits and read any account.
TOKEN_SCOPES = ("ledger/transactions.write", "ledger/accounts.read")


def short_name(function_name: str) -> str:
    return function_name.removeprefix(FUNCTION_PREFIX)


class MeteredRuntime(Runtime):
    """The local runtime, recording every invocation's function and duration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.durations_ms: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)

    def start(self) -> None:
        super().start()
        # Workers start lazily, so each function's SDK clients will carry its name in
        # their User-Agent, which is how the metered moto attributes requests.
        for pool in self._pools.values():
            pool._env["AWS_SDK_UA_APP_ID"] = short_name(pool.function.name)

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
        self.dist_dir = dist_dir
        self.port = free_port()
        self.moto_process: subprocess.Popen[str] | None = None
        self.runtime: MeteredRuntime | None = None
        self.endpoint_url = ""
        self.region = ""
        self.outputs: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.issuer: Any = None
        # Sent with every HTTP request of the bench (a bearer token when the API has a
        # JWT authorizer).
        self.http_headers: dict[str, str] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logs_dir = self.state_dir / "logs"
        logs_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("terraform.tfstate", "terraform.tfstate.backup"):
            (self.state_dir / stale).unlink(missing_ok=True)
        started = time.monotonic()
        moto_log = (logs_dir / "moto.log").open("a", encoding="utf-8")
        self.moto_process = subprocess.Popen(
            [sys.executable, "-m", "bench.moto_server", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=moto_log,
            text=True,
        )
        assert self.moto_process.stdout is not None
        line = self.moto_process.stdout.readline().strip()
        if not line.startswith("MOTO_PORT="):
            raise RuntimeError(f"the metered moto server did not start; see {logs_dir}")
        self.endpoint_url = f"http://127.0.0.1:{line.removeprefix('MOTO_PORT=')}"
        terraform = Terraform(TERRAFORM_DIR, self.state_dir, logs_dir / "terraform.log")
        variables = {"endpoint_url": self.endpoint_url, "dist_dir": str(self.dist_dir)}
        variables.update(self._start_issuer())
        terraform.init()
        self.timings["terraform_init_s"] = time.monotonic() - started
        terraform.apply(variables)
        self.timings["terraform_apply_s"] = time.monotonic() - started
        self.outputs = terraform.outputs()
        self.region = _region(self.state_dir / "terraform.tfstate")
        moto = Moto(self.endpoint_url, self.region)
        self.runtime = MeteredRuntime(
            moto,
            self.dist_dir,
            self.state_dir,
            self.port,
            Logs(logs_dir, None),
            async_overrides=wiring.async_overrides_from_outputs(self.outputs),
        )
        self.runtime.start()
        write_pointers(self.state_dir, moto, self.runtime)
        self.timings["up_s"] = time.monotonic() - started

    def _start_issuer(self) -> dict[str, str]:
        """The local token issuer, if the environment has a JWT authorizer: its URL and
        audience for Terraform, and a token for the bench's requests."""
        declared = "jwt_issuer" in "".join(path.read_text() for path in TERRAFORM_DIR.glob("*.tf"))
        if not declared:
            return {}
        issuer_module = importlib.import_module("scripts.local.issuer")
        self.issuer = issuer_module.Issuer(self.state_dir / "issuer", AUDIENCE)
        self.issuer.start()
        token = self.issuer.token("bench", scopes=TOKEN_SCOPES, ttl_s=6 * 3600)
        self.http_headers = {"authorization": f"Bearer {token}"}
        return {"jwt_issuer": self.issuer.url, "jwt_audience": json.dumps([AUDIENCE])}

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.moto_process is not None and self.moto_process.poll() is None:
            self.moto_process.terminate()
            try:
                self.moto_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.moto_process.kill()
                self.moto_process.wait()
        if self.issuer is not None:
            self.issuer.stop()

    def environment(self, name: str) -> dict[str, str]:
        """The environment Terraform gave a function (table and bus names)."""
        assert self.runtime is not None
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
        """Bytes each function has logged so far (what CloudWatch Logs would ingest)."""
        sizes: dict[str, int] = {}
        for path in (self.state_dir / "logs").glob(f"{FUNCTION_PREFIX}*.log"):
            sizes[short_name(path.stem)] = path.stat().st_size
        return sizes


def _region(state_file: Path) -> str:
    state: dict[str, Any] = json.loads(state_file.read_text())
    for resource in state.get("resources", []):
        for instance in resource.get("instances", []):
            parts = str(instance.get("attributes", {}).get("arn") or "").split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
    raise RuntimeError(f"no regional resource in {state_file}")

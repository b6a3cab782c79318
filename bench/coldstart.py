"""Cold-start proxies: each zip's size, and how long its handler module takes to import
in a fresh interpreter, next to importing boto3 alone.

Each import runs as the local runtime's workers run a function: ``python -S`` with the
unpacked zip first on sys.path, then only the packages the Lambda Python runtime
provides (scripts.local.code's runtime directory). The environment names the tables
and the bus, and points the SDK at a closed local port, so the module-level clients
build exactly as on AWS and nothing is called.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.code import CodeStore

_PROBE = """
import sys, time
sys.path[:0] = sys.argv[2:]
started = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - started)
"""

_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    **FAKE_CREDENTIALS,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "EVENTS_TABLE_NAME": "ledger-bench-events",
    "IDEMPOTENCY_TABLE_NAME": "ledger-bench-idempotency",
    "PROJECTIONS_TABLE_NAME": "ledger-bench-projections",
    "TRANSFERS_TABLE_NAME": "ledger-bench-transfers",
    "EVENT_BUS_NAME": "ledger-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Ledger",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "ledger-bench",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def import_seconds(
    module: str, paths: list[Path], *, service: str, bytecode: bool = False
) -> float:
    env = {**_ENVIRONMENT, "POWERTOOLS_SERVICE_NAME": f"ledger-{service}"}
    if bytecode:  # may write and then use __pycache__ next to the sources
        del env["PYTHONDONTWRITEBYTECODE"]
    result = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, module, *map(str, paths)],
        env=env,
        cwd=paths[0],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} from {paths[0]} failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def measure(dist_dir: Path, state_dir: Path, repetitions: int = 5) -> dict[str, Any]:
    runtime_dir = CodeStore(dist_dir, state_dir).runtime_dir
    zips = sorted(dist_dir.glob("*.zip"))
    samples: dict[str, list[float]] = {"boto3": []}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        # Two copies of each zip: as shipped (no bytecode, and Lambda's code directory is
        # read-only, so every cold start compiles it), and with a bytecode cache.
        code_dirs: dict[str, Path] = {}
        for path in zips:
            for flavour in ("", "+pyc"):
                code_dirs[path.stem + flavour] = Path(scratch) / (path.stem + flavour)
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(code_dirs[path.stem + flavour])
        for name, code_dir in code_dirs.items():
            samples[name] = []
            if name.endswith("+pyc"):
                import_seconds("handler", [code_dir, runtime_dir], service="warm", bytecode=True)
        # Interleaved, so a noisy moment hits every module alike.
        for _ in range(repetitions):
            samples["boto3"].append(
                import_seconds("boto3", [runtime_dir, Path(scratch)], service="boto3")
            )
            for name, code_dir in code_dirs.items():
                samples[name].append(
                    import_seconds(
                        "handler",
                        [code_dir, runtime_dir],
                        service=name.removesuffix("+pyc"),
                        bytecode=name.endswith("+pyc"),
                    )
                )
    boto3_ms = statistics.median(samples["boto3"]) * 1000
    results: dict[str, Any] = {
        "repetitions": repetitions,
        "boto3_import_ms": boto3_ms,
        "functions": {},
    }
    for path in zips:
        ms = statistics.median(samples[path.stem]) * 1000
        compiled_ms = statistics.median(samples[path.stem + "+pyc"]) * 1000
        results["functions"][path.stem] = {
            "zip_bytes": os.path.getsize(path),
            "import_ms": ms,
            "import_ms_with_bytecode": compiled_ms,
            "import_vs_boto3": ms / boto3_ms,
        }
    return results

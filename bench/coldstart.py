"""Cold-start proxies: each zip's size, how long its handler module takes to import in a
fresh interpreter, next to importing boto3 alone, and the interpreter's peak resident
memory once it has (what the function needs before its first request).

Each import runs as the local runtime's workers run a function: ``python -S`` with the
unpacked zip first on sys.path, then only the packages the Lambda Python runtime
provides (scripts.local.code's runtime directory). The environment is Lambda's as
Terraform deploys it: the task root set (so powertools knows it is on Lambda), the tables
and the bus named, the SDK pointed at a closed local port, so the module-level clients
build exactly as on AWS and nothing is called. Tracing by the X-Ray SDK is off as
deployed (``tracing_sdk_enabled``, docs/infrastructure.md) and measured apart with it on.
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

from attrs import frozen

from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.code import CodeStore

# The peak resident set is the kernel's VmHWM: getrusage's ru_maxrss survives exec, so
# it would report the bench's own peak whenever that is higher.
_PROBE = """
import sys, time
sys.path[:0] = sys.argv[2:]
started, cpu = time.perf_counter(), time.process_time()
__import__(sys.argv[1])
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
with open("/proc/self/status") as status:
    peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(elapsed, cpu, peak_kb)
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
    "HOLDS_TABLE_NAME": "ledger-bench-holds",
    "EVENT_BUS_NAME": "ledger-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Ledger",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "ledger-bench",
    "PYTHONDONTWRITEBYTECODE": "1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@frozen
class Sample:
    seconds: float  # wall clock
    cpu_seconds: float  # the interpreter's own CPU time: what a loaded machine inflates least
    peak_kb: int  # resident set at its peak, once imported


def import_seconds(module: str, paths: list[Path], *, service: str, xray: bool = False) -> Sample:
    """How long importing `module` takes, and the memory it needs."""
    env = {
        **_ENVIRONMENT,
        "POWERTOOLS_SERVICE_NAME": f"ledger-{service}",
        "LAMBDA_TASK_ROOT": str(paths[0]),
    }
    if xray:
        env["POWERTOOLS_TRACE_DISABLED"] = "false"
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
    seconds, cpu_seconds, peak_kb = result.stdout.strip().splitlines()[-1].split()
    return Sample(float(seconds), float(cpu_seconds), int(peak_kb))


def measure(dist_dir: Path, state_dir: Path, repetitions: int = 5) -> dict[str, Any]:
    runtime_dir = CodeStore(dist_dir, state_dir).runtime_dir
    zips = sorted(dist_dir.glob("*.zip"))
    samples: dict[str, list[Sample]] = {"boto3": []}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        code_dirs: dict[str, Path] = {}
        for path in zips:
            code_dirs[path.stem] = Path(scratch) / path.stem
            with zipfile.ZipFile(path) as archive:
                archive.extractall(code_dirs[path.stem])
        # Each zip as deployed, and with the X-Ray SDK tracing ("+xray").
        flavours = [
            (name, code_dir, xray) for name, code_dir in code_dirs.items() for xray in (False, True)
        ]
        # Interleaved, so a noisy moment hits every module alike.
        for _ in range(repetitions):
            samples["boto3"].append(
                import_seconds("boto3", [runtime_dir, Path(scratch)], service="boto3")
            )
            for name, code_dir, xray in flavours:
                samples.setdefault(name + "+xray" * xray, []).append(
                    import_seconds("handler", [code_dir, runtime_dir], service=name, xray=xray)
                )

    def median_ms(name: str, cpu: bool = False) -> float:
        return statistics.median(x.cpu_seconds if cpu else x.seconds for x in samples[name]) * 1000

    boto3_ms, boto3_cpu_ms = median_ms("boto3"), median_ms("boto3", cpu=True)
    results: dict[str, Any] = {
        "repetitions": repetitions,
        "boto3_import_ms": boto3_ms,
        "boto3_import_cpu_ms": boto3_cpu_ms,
        "boto3_peak_rss_mb": max(x.peak_kb for x in samples["boto3"]) / 1024,
        "functions": {},
    }
    for path in zips:
        ms, xray_ms = median_ms(path.stem), median_ms(path.stem + "+xray")
        cpu_ms = median_ms(path.stem, cpu=True)
        results["functions"][path.stem] = {
            "zip_bytes": os.path.getsize(path),
            "import_ms": ms,
            "import_cpu_ms": cpu_ms,
            "import_ms_with_xray_sdk": xray_ms,
            "import_vs_boto3": ms / boto3_ms,
            "import_cpu_vs_boto3": cpu_ms / boto3_cpu_ms,
            "import_with_xray_sdk_vs_boto3": xray_ms / boto3_ms,
            "peak_rss_mb": max(x.peak_kb for x in samples[path.stem]) / 1024,
        }
    return results

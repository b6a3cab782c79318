"""python -m bench.worker_start [--starts N] [dist dir]: what a new warm worker of the
local runtime costs, forked from its function's template (the default) and started as an
interpreter of its own (LEDGER_LOCAL_FORK=0), for each zip in dist/ (`make package`).

A worker start is what the runtime pays when an invoke finds no idle worker: the first
of a function, and every replacement of one killed by a timeout or a crash. Each start
is measured from the runtime's side until the worker answers that its init is done: the
wall time, and the CPU it took, the worker's own (read from /proc before it is killed),
the template's share (its CPU across the start) and the runtime's. The template's own
init, paid once per function version, is reported apart. The functions' environment is
the cold-start bench's (bench/coldstart.py): their SDK clients pointed at a closed port,
so nothing is called.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.coldstart import _ENVIRONMENT as FUNCTION_ENVIRONMENT
from scripts.local.code import CodeStore
from scripts.local.logs import Logs
from scripts.local.wiring import Function
from scripts.local.workers import Interpreter, Launcher, Template, Worker, lambda_environment

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """The CPU seconds a live process has used (user + system)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


def _function(name: str) -> Function:
    return Function(
        name=f"ledger-bench-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:ledger-bench-{name}",
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout_s=30,
        memory_mb=512,
        environment=dict(FUNCTION_ENVIRONMENT),
        code_sha256="",
    )


def _start(function: Function, launcher: Launcher, logs: Logs) -> dict[str, float]:
    template = launcher.pid if isinstance(launcher, Template) else None
    template_before = cpu_s(template) if template else 0.0
    runtime_before = time.process_time()
    started = time.perf_counter()
    worker = Worker(function, launcher, logs)
    wall = time.perf_counter() - started
    if worker.init_error is not None or worker.process is None:
        raise RuntimeError(f"{function.name}: {worker.init_error}")
    try:
        cpu = cpu_s(worker.process.pid) + time.process_time() - runtime_before
        if template:
            cpu += cpu_s(template) - template_before
    finally:
        worker.kill()
    return {"wall_s": wall, "cpu_s": cpu}


def measure(code_dir: Path, runtime_dir: Path, name: str, starts: int) -> dict[str, Any]:
    function = _function(name)
    env = lambda_environment(function, "http://127.0.0.1:9", "us-east-1")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-worker-start-") as scratch:
        logs = Logs(Path(scratch), console=None)
        template = Template(function, code_dir, runtime_dir, env, logs)
        interpreter = Interpreter(code_dir, runtime_dir, env)
        try:
            started = time.perf_counter()
            first = _start(function, template, logs)  # runs the template's init
            assert template.pid is not None
            results["template_init"] = {
                "wall_ms": (time.perf_counter() - started) * 1000,
                "cpu_ms": (first["cpu_s"] + cpu_s(template.pid)) * 1000,
            }
            samples: dict[str, list[dict[str, float]]] = {"forked": [], "interpreter": []}
            # Interleaved, so a noisy moment hits both alike.
            for _ in range(starts):
                samples["forked"].append(_start(function, template, logs))
                samples["interpreter"].append(_start(function, interpreter, logs))
        finally:
            template.stop()
            logs.close()
    for path, figures in samples.items():
        results[path] = {
            "starts": len(figures),
            "wall_ms_median": statistics.median(x["wall_s"] for x in figures) * 1000,
            "cpu_ms_median": statistics.median(x["cpu_s"] for x in figures) * 1000,
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_start", description=__doc__)
    parser.add_argument("dist", nargs="?", type=Path, default=Path("dist"))
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args(argv)
    zips = sorted(args.dist.glob("*.zip"))
    if not zips:
        print(f"no zips in {args.dist}: run `make package` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-worker-start-") as scratch:
        runtime_dir = CodeStore(args.dist, Path(scratch) / "state").runtime_dir
        results = {}
        for path in zips:
            code_dir = Path(scratch) / path.stem
            with zipfile.ZipFile(path) as archive:
                archive.extractall(code_dir)
            results[path.stem] = measure(code_dir, runtime_dir, path.stem, args.starts)
            figures = results[path.stem]
            print(
                f"{path.stem:12} template init {figures['template_init']['cpu_ms']:6.0f} ms CPU"
                f" | forked start {figures['forked']['wall_ms_median']:6.1f} ms,"
                f" {figures['forked']['cpu_ms_median']:6.1f} ms CPU"
                f" | interpreter start {figures['interpreter']['wall_ms_median']:6.0f} ms,"
                f" {figures['interpreter']['cpu_ms_median']:6.0f} ms CPU",
                flush=True,
            )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cold-start proxies: each zip's size, how long its handler module takes to import in a
fresh interpreter, next to importing boto3 alone, the CPU of that import and of the
function's first invocation together (its representative event, AWS answered by a stub:
work moved from the import into the first request shows there), and the interpreter's
peak resident memory.

Each import runs as the local runtime's workers run a function: ``python -S`` with the
unpacked zip first on sys.path, then only the packages the Lambda Python runtime
provides (scripts.local.code's runtime directory). The environment is Lambda's as
Terraform deploys it: the task root set (so powertools knows it is on Lambda), the tables
and the bus named, the SDK pointed at a closed local port, so the module-level clients
build exactly as on AWS and nothing is called. Tracing by the X-Ray SDK is off as
deployed (``tracing_sdk_enabled``, docs/infrastructure.md) and measured apart with it on.
"""

from __future__ import annotations

import argparse
import json
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
#
# With an invocation (a JSON file: the event, and the item a read answers), the handler is
# then called once with that event, its AWS calls answered in-process: a stub on
# botocore's `before-send` event (what moto's own mock uses) answers each call as a
# table holding that one item would, and PutEvents as a bus accepting every entry. So
# the second figure counts what the first request builds lazily (cattrs hooks, the SDK's
# first call), and moving work out of the import cannot improve it. The stub is
# registered before the handler's import, on botocore's handlers, which the handler
# would import anyway.
_PROBE = """
import json, sys, time
module, invocation_path, *paths = sys.argv[1:]
sys.path[:0] = paths
started, cpu = time.perf_counter(), time.process_time()
if invocation_path != "-":
    with open(invocation_path) as file:
        invocation = json.load(file)
    from botocore import handlers
    from botocore.awsrequest import AWSResponse

    class Body:
        def __init__(self, content):
            self.content = content

        def stream(self, **_):
            yield self.content

    def answer(request, **_):
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        sent = json.loads(request.body or b"{}")
        if operation == "GetItem":
            found = {"Item": invocation["item"]} if invocation["item"] else {}
        elif operation in ("Query", "Scan"):
            items = invocation["items"]
            found = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        elif operation == "PutEvents":
            entries = sent["Entries"]
            invocation.setdefault("published", []).extend(entries)
            ids = [{"EventId": str(number)} for number in range(len(entries))]
            found = {"FailedEntryCount": 0, "Entries": ids}
        else:
            found = {}
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, headers, Body(json.dumps(found).encode()))

    handlers.BUILTIN_HANDLERS.append(("before-send", answer))
imported = __import__(module)
import_elapsed, import_cpu = time.perf_counter() - started, time.process_time() - cpu
if invocation_path != "-":
    class Context:
        function_name = "ledger-bench"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ledger-bench"
        memory_limit_in_mb = 256
        aws_request_id = "cold-start-probe"
        log_group_name = "/aws/lambda/ledger-bench"
        log_stream_name = "probe"

        def get_remaining_time_in_millis(self):
            return 30_000

    answered = imported.lambda_handler(invocation["event"], Context())
    first_cpu = time.process_time() - cpu
with open("/proc/self/status") as status:
    peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
figures = {"seconds": import_elapsed, "cpu_seconds": import_cpu, "peak_kb": int(peak_kb)}
if "boto3" in sys.modules and sys.modules["boto3"].DEFAULT_SESSION is not None:
    # Where the clients' botocore data came from: the zip's copy, or botocore's own.
    loader = sys.modules["boto3"].DEFAULT_SESSION._session.get_component("data_loader")
    figures["sdk_data"] = loader.BUILTIN_DATA_PATH
if invocation_path != "-":
    published = invocation.get("published", [])
    figures.update(first_cpu_seconds=first_cpu, answer=answered, published=published)
print(json.dumps(figures, default=str))
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


FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "events"


@frozen
class Sample:
    seconds: float  # wall clock
    cpu_seconds: float  # the interpreter's own CPU time: what a loaded machine inflates least
    peak_kb: int  # resident set at its peak, once imported (and invoked, with an invocation)
    # The CPU of the import and of the first invocation together, with an invocation.
    first_invocation_cpu_seconds: float | None = None
    # The data directory the SDK's clients loaded from (None: no client was built).
    sdk_data: str | None = None


def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def _http(method: str, route: str, path: str, claims: dict[str, str]) -> dict[str, Any]:
    """The recorded HTTP API credit request, turned into `method` `path`, as the JWT
    authorizer hands it over with `claims`."""
    event = _fixture("apigw_http_post_credit.json")
    account = path.split("/")[2]
    event.update(routeKey=f"{method} {route}", rawPath=path, pathParameters={"accountId": account})
    event["requestContext"].update(
        routeKey=event["routeKey"], authorizer={"jwt": {"claims": claims, "scopes": None}}
    )
    event["requestContext"]["http"].update(method=method, path=path)
    if method == "GET":
        del event["body"]
    return event


def representative_invocations() -> dict[str, dict[str, Any]]:
    """Per function, the event of its most common request and the one stored event its
    reads find (alice's first credit, as the recorded stream record holds it)."""
    stream = _fixture("dynamodb_stream_insert.json")
    stored = stream["Records"][0]["dynamodb"]["NewImage"]
    access = {"sub": "alice", "token_use": "access"}
    writer = {**access, "scope": "ledger/transactions.write"}
    credit = _http("POST", "/accounts/{accountId}/credits", "/accounts/alice/credits", writer)
    credit["headers"]["idempotency-key"] = "cold-start-probe-1"
    events = _http("GET", "/accounts/{accountId}/events", "/accounts/alice/events", access)
    # What a read finds: the event when it asks for the events, nothing otherwise (no
    # idempotency record, generation pointer or due hold).
    history: dict[str, Any] = {"item": stored, "items": [stored]}
    nothing: dict[str, Any] = {"item": None, "items": []}
    return {
        "commands": {"event": credit, "item": None, "items": [stored]},
        "queries": {"event": events, **history},
        "fanout": {"event": stream, **nothing},
        "dispatcher": {"event": _fixture("eventbridge_event_stored.json"), **history},
        "projectors": {"event": _fixture("eventbridge_credit_event.json"), **nothing},
        "replay": {"event": {"segment": 0, "totalSegments": 1}, **history},
        # The schedule's event.
        "expirer": {"event": {"source": "aws.scheduler"}, **nothing},
    }


def _check_answer(module: str, figures: dict[str, Any]) -> None:
    """A first invocation measured is a served one: an error path would cost less."""
    answer = figures.get("answer")
    failed = isinstance(answer, dict) and bool(
        int(answer.get("statusCode", 200)) >= 400
        or answer.get("batchItemFailures")
        or answer.get("failures")
    )
    if failed:
        raise RuntimeError(f"the first invocation of {module} was not served: {answer}")


def import_seconds(
    module: str,
    paths: list[Path],
    *,
    service: str,
    xray: bool = False,
    invocation: dict[str, Any] | None = None,
) -> Sample:
    """How long importing `module` takes, and the memory it needs; with an `invocation`
    ({"event", "item", "items"}), also the CPU of its handler's first call."""
    env = {
        **_ENVIRONMENT,
        "POWERTOOLS_SERVICE_NAME": f"ledger-{service}",
        "LAMBDA_TASK_ROOT": str(paths[0]),
    }
    if xray:
        env["POWERTOOLS_TRACE_DISABLED"] = "false"
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="invocation-") as file:
        if invocation is not None:
            json.dump(invocation, file)
            file.flush()
        invocation_path = file.name if invocation is not None else "-"
        result = subprocess.run(
            [sys.executable, "-S", "-c", _PROBE, module, invocation_path, *map(str, paths)],
            env=env,
            cwd=paths[0],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} from {paths[0]} failed:\n{result.stderr[-2000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    _check_answer(service, figures)
    return Sample(
        figures["seconds"],
        figures["cpu_seconds"],
        figures["peak_kb"],
        figures.get("first_cpu_seconds"),
        figures.get("sdk_data"),
    )


def measure(dist_dir: Path, state_dir: Path, repetitions: int = 5) -> dict[str, Any]:
    runtime_dir = CodeStore(dist_dir, state_dir).runtime_dir
    zips = sorted(dist_dir.glob("*.zip"))
    invocations = representative_invocations()
    samples: dict[str, list[Sample]] = {"boto3": []}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        code_dirs: dict[str, Path] = {}
        for path in zips:
            code_dirs[path.stem] = Path(scratch) / path.stem
            with zipfile.ZipFile(path) as archive:
                archive.extractall(code_dirs[path.stem])
        # Each zip as deployed, imported and invoked once, and with the X-Ray SDK
        # tracing ("+xray"), imported.
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
                    import_seconds(
                        "handler",
                        [code_dir, runtime_dir],
                        service=name,
                        xray=xray,
                        invocation=None if xray else invocations.get(name),
                    )
                )

    def first_cpu_ms(name: str) -> float | None:
        figures = [x.first_invocation_cpu_seconds for x in samples[name]]
        known = [x for x in figures if x is not None]
        return statistics.median(known) * 1000 if known else None

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
        cpu_ms, first_ms = median_ms(path.stem, cpu=True), first_cpu_ms(path.stem)
        results["functions"][path.stem] = {
            "zip_bytes": os.path.getsize(path),
            "import_ms": ms,
            "import_cpu_ms": cpu_ms,
            "import_ms_with_xray_sdk": xray_ms,
            "import_vs_boto3": ms / boto3_ms,
            "import_cpu_vs_boto3": cpu_ms / boto3_cpu_ms,
            "import_with_xray_sdk_vs_boto3": xray_ms / boto3_ms,
            # Imported and invoked once with its representative event (None for a
            # function the bench has no event for).
            "first_invocation_cpu_ms": first_ms,
            "first_invocation_cpu_vs_boto3": first_ms / boto3_cpu_ms if first_ms else None,
            "peak_rss_mb": max(x.peak_kb for x in samples[path.stem]) / 1024,
            # Whether its clients loaded from the botocore data its zip ships (docs/
            # infrastructure.md): a runtime botocore older than that data keeps its own.
            "sdk_data_shipped": all(
                x.sdk_data is not None and x.sdk_data.startswith(str(code_dirs[path.stem]))
                for x in samples[path.stem]
            ),
        }
    return results


def compare(dists: dict[str, Path], state_dir: Path, repetitions: int = 5) -> dict[str, Any]:
    """The zips of several builds side by side (e.g. {"before": ..., "after": ...}): in
    every repetition, `import boto3` and then each function of each build, imported and
    invoked once, interleaved, so a noisy moment on a loaded machine hits them alike.
    Medians per function and build, and each against `import boto3`'s median CPU."""
    runtime_dir = CodeStore(next(iter(dists.values())), state_dir).runtime_dir
    invocations = representative_invocations()
    boto3_samples: list[Sample] = []
    samples: dict[tuple[str, str], list[Sample]] = {}
    sizes: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        code_dirs: dict[tuple[str, str], Path] = {}
        for label, dist_dir in dists.items():
            for path in sorted(dist_dir.glob("*.zip")):
                code_dirs[(path.stem, label)] = Path(scratch) / label / path.stem
                sizes[(path.stem, label)] = path.stat().st_size
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(code_dirs[(path.stem, label)])
        order = sorted(code_dirs)
        for _ in range(repetitions):
            boto3_samples.append(
                import_seconds("boto3", [runtime_dir, Path(scratch)], service="boto3")
            )
            for name, label in order:
                sample = import_seconds(
                    "handler",
                    [code_dirs[(name, label)], runtime_dir],
                    service=name,
                    invocation=invocations.get(name),
                )
                samples.setdefault((name, label), []).append(sample)
    boto3_cpu_ms = statistics.median(x.cpu_seconds for x in boto3_samples) * 1000
    functions: dict[str, dict[str, dict[str, Any]]] = {}
    for name, label in sorted(samples, key=lambda key: (key[0], list(dists).index(key[1]))):
        taken = samples[(name, label)]
        cpu_ms = statistics.median(x.cpu_seconds for x in taken) * 1000
        firsts = [x.first_invocation_cpu_seconds for x in taken]
        known = [x for x in firsts if x is not None]
        first_ms = statistics.median(known) * 1000 if known else None
        code = str(code_dirs[(name, label)])
        functions.setdefault(name, {})[label] = {
            "zip_bytes": sizes[(name, label)],
            "import_cpu_ms": cpu_ms,
            "import_cpu_vs_boto3": cpu_ms / boto3_cpu_ms,
            "first_invocation_cpu_ms": first_ms,
            "first_invocation_cpu_vs_boto3": first_ms / boto3_cpu_ms if first_ms else None,
            "sdk_data_shipped": all(x.sdk_data and x.sdk_data.startswith(code) for x in taken),
        }
    return {"repetitions": repetitions, "boto3_import_cpu_ms": boto3_cpu_ms, "functions": functions}


def compare_table(compared: dict[str, Any]) -> str:
    """`compare`'s figures as a Markdown table, a row per function and build."""
    lines = [
        "| function | build | zip | import CPU ms | vs boto3 | + first ms | vs boto3 | SDK data |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, builds in compared["functions"].items():
        for label, figures in builds.items():
            first, first_ratio = (
                figures["first_invocation_cpu_ms"],
                figures["first_invocation_cpu_vs_boto3"],
            )
            lines.append(
                f"| {name} | {label} | {figures['zip_bytes'] / 1_048_576:.2f} MB"
                f" | {figures['import_cpu_ms']:.0f} | {figures['import_cpu_vs_boto3']:.2f}x"
                f" | {'-' if first is None else f'{first:.0f}'}"
                f" | {'-' if first_ratio is None else f'{first_ratio:.2f}x'}"
                f" | {'shipped' if figures['sdk_data_shipped'] else 'botocore'} |"
            )
    lines.append(
        f"| `import boto3` alone | | | {compared['boto3_import_cpu_ms']:.0f} | 1.0x | | | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compare the cold-start proxy of several builds' zips, interleaved "
        "(e.g. python -m bench.coldstart before=/tmp/before/dist after=dist)."
    )
    parser.add_argument("builds", nargs="+", help="LABEL=DIST_DIR, in the order to show them")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args(argv)
    dists = {}
    for build in args.builds:
        label, separator, directory = build.partition("=")
        if not separator or not any(Path(directory).glob("*.zip")):
            parser.error(f"{build}: expected LABEL=DIST_DIR, a directory holding zips")
        dists[label] = Path(directory)
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-state-") as state:
        compared = compare(dists, Path(state), args.repetitions)
    print(compare_table(compared))
    print(json.dumps(compared, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fault injection: the local runtime failing on purpose, to show nothing is lost when
AWS misbehaves the ways it is allowed to.

Off unless ``LEDGER_FAULTS`` is set, to a JSON object or to the path of a file holding
one (``up``/``run`` pass it on to the runtime; the runtime passes it on to the function
workers). Every key is optional; a rate is a probability per occasion, 0 to 1:

- ``invoke_error_rate``: an invocation fails before the handler runs (runtime).
- ``invoke_timeout_rate``: the handler runs, then the invocation times out: its answer
  is lost and the worker killed (runtime).
- ``duplicate_rate``: a stream batch or a bus event is delivered twice (poller, bus).
- ``delay_rate``, ``max_delay_s``: a bus event is held back up to ``max_delay_s``
  (default 2 s), so events reach their targets out of order (bus).
- ``dynamodb_throttle_rate``: a DynamoDB call is answered
  ``ProvisionedThroughputExceededException`` without reaching the table (a botocore
  hook in the functions' clients).
- ``dynamodb_error_rate``: a DynamoDB call is answered 500 ``InternalServerError``
  without reaching the table (same).
- ``crash_after_write_rate``: the function's process dies right after a ``PutItem`` or
  ``TransactWriteItems`` succeeded, before it answers (same).
- ``projections_throttle_rate``: a write to the projections table (the table named by
  the function's ``PROJECTIONS_TABLE_NAME``) is answered
  ``ProvisionedThroughputExceededException`` or ``ThrottlingException`` (alternately)
  without reaching it: a projector's table throttled, as on-demand tables are when
  their traffic doubles suddenly (same hook).
- ``stream_shard_split_rate``: before a write request to a table with a stream, the
  stream's open shard is closed and the records continue on a child shard naming it as
  its parent (the moto server, moto_patches.py); the poller finishes the parent, then
  follows the child (stream_poller.py), and journals the split.
- ``put_events_partial_failure_rate``: a ``PutEvents`` call publishes only some of its
  entries; the others are answered ``InternalFailure`` in their positions with
  ``FailedEntryCount`` set, as EventBridge does (botocore hooks in the functions'
  clients).
- ``functions``: rates for some functions only, by name or directory name, e.g.
  ``{"projectors": {"invoke_error_rate": 0.3}}``; what it leaves out is as above.
- ``seed``: seeds the random draws (each worker process adds its pid).

Every fault injected, and every redelivery it causes, is one JSON line in
``<state dir>/faults.jsonl`` (``{"kind", "function"}``), which ``summary`` counts.

Standard library only at import time: function workers load this file by path before
anything else of theirs is importable (see worker_main).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, cast

ENV = "LEDGER_FAULTS"
JOURNAL_ENV = "LEDGER_FAULTS_JOURNAL"
JOURNAL_NAME = "faults.jsonl"
WRITE_OPERATIONS = ("PutItem", "TransactWriteItems")
CRASH_EXIT_CODE = 137

# What each kind of fault draws against.
INVOKE_ERROR = "invoke_error"
INVOKE_TIMEOUT = "invoke_timeout"
DUPLICATE = "duplicate_delivery"
DELAY = "delayed_delivery"
DYNAMODB_THROTTLE = "dynamodb_throttle"
DYNAMODB_ERROR = "dynamodb_error"
CRASH_AFTER_WRITE = "crash_after_write"
PROJECTIONS_THROTTLE = "projections_throttle"
PUT_EVENTS_PARTIAL_FAILURE = "put_events_partial_failure"
# Split in the moto server (moto_patches.py), journalled by the poller that follows it.
SHARD_SPLIT = "stream_shard_split"
# What the runtime does about them, noted for the report.
STREAM_RETRY = "stream_batch_retried"
ASYNC_RETRY = "async_invoke_retried"
DEAD_LETTERED = "dead_lettered"


class FaultSettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class FaultSettings:
    invoke_error_rate: float = 0.0
    invoke_timeout_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_rate: float = 0.0
    max_delay_s: float = 2.0
    dynamodb_throttle_rate: float = 0.0
    dynamodb_error_rate: float = 0.0
    crash_after_write_rate: float = 0.0
    projections_throttle_rate: float = 0.0
    put_events_partial_failure_rate: float = 0.0
    stream_shard_split_rate: float = 0.0
    seed: int | None = None
    functions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> FaultSettings:
        """A JSON object, or the path of a file holding one."""
        text = value.strip()
        if not text.startswith("{"):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as error:
                raise FaultSettingsError(f"{ENV}: not JSON, nor a readable file: {error}") from None
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise FaultSettingsError(f"{ENV}: not JSON: {error}") from None
        if not isinstance(raw, dict):
            raise FaultSettingsError(f"{ENV}: expected a JSON object")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FaultSettingsError(f"{ENV}: unknown setting(s) {unknown}; known: {sorted(known)}")
        settings = cls(**raw)
        for function, override in settings.functions.items():
            if not isinstance(override, Mapping) or {"seed", "functions"} & set(override):
                raise FaultSettingsError(f"{ENV}: functions.{function} must hold rates only")
            cls.from_dict({**asdict(settings), "functions": {}, **override})
        for name, rate in asdict(settings).items():
            if name.endswith("_rate") and not (
                isinstance(rate, int | float) and 0 <= float(rate) <= 1
            ):
                raise FaultSettingsError(f"{ENV}: {name} must be between 0 and 1, not {rate!r}")
        if settings.max_delay_s < 0:
            raise FaultSettingsError(f"{ENV}: max_delay_s must not be negative")
        return settings

    @property
    def enabled(self) -> bool:
        rates = [v for n, v in asdict(self).items() if n.endswith("_rate")]
        rates += [v for o in self.functions.values() for n, v in o.items() if n.endswith("_rate")]
        return any(rates)

    def for_function(self, function: str) -> FaultSettings:
        """The settings of one function: its overrides, if any, on the others."""
        for name, override in self.functions.items():
            if function == name or function.endswith(f"-{name}"):
                rates: dict[str, Any] = dict(override)
                return replace(self, functions={}, **rates)
        return self

    def rate(self, kind: str) -> float:
        return float(
            {
                INVOKE_ERROR: self.invoke_error_rate,
                INVOKE_TIMEOUT: self.invoke_timeout_rate,
                DUPLICATE: self.duplicate_rate,
                DELAY: self.delay_rate,
                DYNAMODB_THROTTLE: self.dynamodb_throttle_rate,
                DYNAMODB_ERROR: self.dynamodb_error_rate,
                CRASH_AFTER_WRITE: self.crash_after_write_rate,
                PROJECTIONS_THROTTLE: self.projections_throttle_rate,
                PUT_EVENTS_PARTIAL_FAILURE: self.put_events_partial_failure_rate,
            }[kind]
        )

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})


class Faults:
    """Draws faults for the runtime and journals them; inert when nothing is switched on."""

    def __init__(self, settings: FaultSettings, journal: Path | None, *, salt: int = 0) -> None:
        self.settings = settings
        self.journal = journal
        self._random = random.Random(None if settings.seed is None else settings.seed + salt)
        self._lock = threading.Lock()
        self._by_function: dict[str, FaultSettings] = {}

    @classmethod
    def off(cls) -> Faults:
        return cls(FaultSettings(), None)

    @classmethod
    def from_env(cls, state_dir: Path, environ: Mapping[str, str] = os.environ) -> Faults:
        value = environ.get(ENV, "")
        if not value.strip():
            return cls.off()
        settings = FaultSettings.parse(value)
        return cls(settings, state_dir / JOURNAL_NAME) if settings.enabled else cls.off()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def reseed(self, salt: int) -> None:
        """Draw anew, as a ``Faults(..., salt=salt)`` would."""
        with self._lock:
            self._random.seed(None if self.settings.seed is None else self.settings.seed + salt)

    def inject(self, kind: str, function: str) -> bool:
        """Whether this occasion gets the fault ``kind``; a fault injected is journalled."""
        settings = self._by_function.get(function)
        if settings is None:
            settings = self._by_function[function] = self.settings.for_function(function)
        rate = settings.rate(kind)
        if rate <= 0:
            return False
        with self._lock:
            hit = self._random.random() < rate
        if hit:
            self.note(kind, function)
        return hit

    def failed_positions(self, count: int) -> list[int]:
        """Which of ``count`` entries fail in a partial failure: at least one, and one
        at least left to succeed when there are two or more."""
        with self._lock:
            failing = self._random.randint(1, max(1, count - 1))
            return sorted(self._random.sample(range(count), failing))

    def delay_s(self, function: str) -> float:
        """How long to hold a delivery back: 0 mostly, up to max_delay_s at delay_rate."""
        if not self.inject(DELAY, function):
            return 0.0
        with self._lock:
            return self._random.uniform(0, self.settings.for_function(function).max_delay_s)

    def start_journal(self) -> None:
        """An empty journal: `make up` reuses its state directory."""
        if self.journal is not None and self.enabled:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self.journal.write_text("", encoding="utf-8")

    def note(self, kind: str, function: str) -> None:
        """Journal something that happened (a fault, or a redelivery it caused)."""
        if self.journal is None or not self.enabled:
            return
        line = json.dumps({"kind": kind, "function": function}) + "\n"
        # One small O_APPEND write per line: runtime threads and function workers
        # append to the same journal without tearing each other's lines.
        with self.journal.open("a", encoding="utf-8") as journal:
            journal.write(line)

    def worker_environment(self) -> dict[str, str]:
        """What a function worker needs to inject its own faults (botocore hooks)."""
        if not self.enabled or self.journal is None:
            return {}
        return {ENV: self.settings.to_json(), JOURNAL_ENV: str(self.journal)}


def summary(journal: Path) -> Counter[tuple[str, str]]:
    """(kind, function) → how many times, from a journal."""
    counts: Counter[tuple[str, str]] = Counter()
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                counts[(str(entry["kind"]), str(entry["function"]))] += 1
    return counts


def totals(counts: Iterable[tuple[tuple[str, str], int]]) -> Counter[str]:
    """Kind → how many times, over every function."""
    by_kind: Counter[str] = Counter()
    for (kind, _), count in counts:
        by_kind[kind] += count
    return by_kind


# Inside a function worker: botocore hooks on the clients the handler creates.


class _Body:
    """The raw body botocore reads an AWSResponse's content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


def _dynamodb_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "injected-fault"}
    return status, headers, body.encode()


def install_in_worker(environ: Mapping[str, str] = os.environ) -> Faults:
    """Register the DynamoDB faults on boto3's default session, which every client the
    handler creates afterwards copies. Call before the handler module is imported."""
    value = environ.get(ENV, "")
    journal = environ.get(JOURNAL_ENV)
    if not value.strip() or not journal:
        return Faults.off()
    faults = Faults(FaultSettings.parse(value), Path(journal), salt=os.getpid())
    # A worker forked from an initialised template (scripts/local/workers.py) would
    # otherwise draw the very faults its siblings draw.
    os.register_at_fork(after_in_child=lambda: faults.reseed(os.getpid()))
    function = environ.get("AWS_LAMBDA_FUNCTION_NAME", "?")

    import boto3  # the Lambda runtime's, importable once worker_main has set sys.path
    from botocore.awsrequest import AWSResponse

    projections = environ.get("PROJECTIONS_TABLE_NAME")
    throttles = itertools.cycle(("ProvisionedThroughputExceededException", "ThrottlingException"))

    def before_send(request: Any, **_: Any) -> Any:
        # Answered without reaching the table: standard retry mode retries both, and
        # what outlasts its attempts surfaces as the function's error.
        if _writes_to(request, projections) and faults.inject(PROJECTIONS_THROTTLE, function):
            status, headers, body = _dynamodb_error(400, next(throttles), "injected throttling")
        elif faults.inject(DYNAMODB_THROTTLE, function):
            status, headers, body = _dynamodb_error(
                400, "ProvisionedThroughputExceededException", "injected throttling"
            )
        elif faults.inject(DYNAMODB_ERROR, function):
            status, headers, body = _dynamodb_error(500, "InternalServerError", "injected error")
        else:
            return None
        # botocore wraps any mapping of headers; its stubs ask for http.client's class.
        return AWSResponse(request.url, status, cast(Any, headers), _Body(body))

    def after_write(http_response: Any, **_: Any) -> None:
        # The write is stored; the caller never hears so (its client sees a 500).
        if http_response.status_code == 200 and faults.inject(CRASH_AFTER_WRITE, function):
            os._exit(CRASH_EXIT_CODE)

    session = _default_session(boto3)
    events = session.events
    events.register("before-send.dynamodb", before_send)
    for operation in WRITE_OPERATIONS:
        events.register(f"after-call.dynamodb.{operation}", after_write)
    _install_put_events_partial_failure(events, faults, function)
    return faults


def _default_session(boto3: Any) -> Any:
    """boto3's default session as the function's own wiring sets it up (on the SDK data
    its zip ships, banking.entrypoints.sdk), so the faults are registered on the very
    session its clients are built on; a zip without that module gets boto3's own."""
    try:
        from banking.entrypoints.sdk import default_session
    except ImportError:
        boto3.setup_default_session()
        return boto3.DEFAULT_SESSION
    return default_session()


def _writes_to(request: Any, table: str | None) -> bool:
    """Whether a DynamoDB request writes to ``table`` (its target names the operation;
    its JSON body the table, or each item of a transaction)."""
    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else str(target)
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    return (
        table is not None
        and target.rsplit(".", 1)[-1] in TABLE_WRITES
        and f'"{table}"'.encode() in body
    )


TABLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
PARTIAL_FAILURE_KEY = "ledger_failed_entries"


def _install_put_events_partial_failure(events: Any, faults: Faults, function: str) -> None:
    from botocore.awsrequest import AWSResponse

    """A PutEvents call publishing only some of its entries: the failing ones are taken
    out of the request before it is sent, and put back into the answer, in their
    positions, as EventBridge reports an entry it did not publish. A call of one entry
    fails whole, and is not sent at all (a request of no entries is invalid)."""

    def drop_entries(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        entries = list(params.get("Entries") or [])
        if not entries or not faults.inject(PUT_EVENTS_PARTIAL_FAILURE, function):
            return
        failing = faults.failed_positions(len(entries))
        context[PARTIAL_FAILURE_KEY] = (len(entries), failing)
        if len(failing) < len(entries):
            params["Entries"] = [e for i, e in enumerate(entries) if i not in failing]

    def none_sent(context: dict[str, Any], **_: Any) -> Any:
        count, failing = context.get(PARTIAL_FAILURE_KEY, (0, []))
        if not count or len(failing) < count:
            return None
        answer = AWSResponse("", 200, cast(Any, {}), _Body(b"{}"))
        return answer, {"Entries": [], "FailedEntryCount": 0}

    def restore_positions(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if PARTIAL_FAILURE_KEY not in context:
            return
        count, failing = context.pop(PARTIAL_FAILURE_KEY)
        published = iter(parsed.get("Entries") or [])
        failure = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected partial failure"}
        parsed["Entries"] = [
            dict(failure) if i in failing else next(published) for i in range(count)
        ]
        parsed["FailedEntryCount"] = int(parsed.get("FailedEntryCount") or 0) + len(failing)

    events.register("before-parameter-build.events.PutEvents", drop_entries)
    events.register("before-call.events.PutEvents", none_sent)
    events.register("after-call.events.PutEvents", restore_positions)

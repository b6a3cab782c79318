"""What the functions logged: the local runtime's files (`.local/logs/<function>.log`)
or CloudWatch Logs (`/aws/lambda/<function>`), read the same way.

Every function logs one JSON object per line (powertools Logger), carrying the request's
correlation id, and its metrics in the embedded metric format. The console reads two
things from them: the hops of one correlation id, and the projectors' `ProjectionLag`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from attrs import frozen

# How far back CloudWatch Logs is searched; the local files are read whole.
LOOK_BACK = timedelta(hours=24)
LAG_LOOK_BACK = timedelta(hours=1)
# The newest projector lines a lag distribution is made of (locally: the file's tail).
LAG_SAMPLES = 2000
TAIL_BYTES = 4 * 1024 * 1024
# Upper bounds (ms) of the lag histogram's buckets; the last bucket is everything above.
LAG_BUCKETS_MS = (100, 250, 500, 1000, 2500, 5000, 10000)
# What each function's log line says a hop is, by its message.
HOPS = {
    "recorded": "stored",
    "published": "fanned out",
    "dispatched": "dispatched",
    "projected": "projected",
}
LAG_METRIC = "ProjectionLag"


@frozen
class LogLine:
    function: str
    record: dict[str, Any]


class LogSource(Protocol):
    def matching(self, text: str) -> Iterable[LogLine]:
        """Every JSON line of every function of the ledger that contains `text`."""

    def lag_samples(self) -> Sequence[float]:
        """The newest `ProjectionLag` values (milliseconds) the projectors emitted."""


class LocalLogs:
    """The local runtime's files: `<directory>/<prefix>-<function>.log`."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self._directory = directory
        self._prefix = prefix

    def _files(self) -> list[Path]:
        return sorted(self._directory.glob(f"{self._prefix}-*.log"))

    def matching(self, text: str) -> Iterator[LogLine]:
        for path in self._files():
            function = path.stem
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    if text in line:
                        record = _json(line)
                        if record is not None:
                            yield LogLine(function, record)

    def lag_samples(self) -> list[float]:
        path = self._directory / f"{self._prefix}-projectors.log"
        if not path.exists():
            return []
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - TAIL_BYTES))
            tail = file.read().decode("utf-8", errors="replace")
        return _lags(_json(line) for line in tail.splitlines() if LAG_METRIC in line)[-LAG_SAMPLES:]


class CloudWatchLogs:
    """The functions' log groups in CloudWatch Logs (`/aws/lambda/<prefix>-<function>`)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _groups(self) -> list[str]:
        pages = self._client.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=f"/aws/lambda/{self._prefix}-"
        )
        return [group["logGroupName"] for page in pages for group in page["logGroups"]]

    def _events(self, group: str, pattern: str, since: timedelta, limit: int) -> Iterator[str]:
        start = int((datetime.now(UTC) - since).timestamp() * 1000)
        pages = self._client.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            filterPattern=pattern,
            startTime=start,
            PaginationConfig={"MaxItems": limit},
        )
        for page in pages:
            for event in page.get("events", []):
                yield str(event["message"])

    def matching(self, text: str) -> Iterator[LogLine]:
        # A quoted term matches it exactly, whatever characters a correlation id holds.
        pattern = json.dumps(text)
        for group in self._groups():
            for message in self._events(group, pattern, LOOK_BACK, 1000):
                record = _json(message)
                if record is not None:
                    yield LogLine(group.removeprefix("/aws/lambda/"), record)

    def lag_samples(self) -> list[float]:
        group = f"/aws/lambda/{self._prefix}-projectors"
        messages = self._events(group, json.dumps(LAG_METRIC), LAG_LOOK_BACK, LAG_SAMPLES)
        return _lags(_json(message) for message in messages)


def _json(line: str) -> dict[str, Any] | None:
    # A function's stdout also holds START/END lines and tracebacks: not records.
    start = line.find("{")
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _lags(records: Iterable[dict[str, Any] | None]) -> list[float]:
    lags: list[float] = []
    for record in records:
        value = (record or {}).get(LAG_METRIC)
        values = value if isinstance(value, list) else [value]
        lags += [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return lags


@frozen
class Hop:
    hop: str
    function: str
    at: datetime | None
    account_id: str | None
    version: int | None
    message: str
    level: str | None


def hops(lines: Iterable[LogLine], correlation_id: str) -> list[Hop]:
    """The lines whose correlation id is exactly `correlation_id` (a substring match
    also finds longer ids), as hops in time order."""
    found = [
        Hop(
            hop=HOPS.get(str(line.record.get("message")), str(line.record.get("message"))),
            function=line.function,
            at=log_time(line.record.get("timestamp")),
            account_id=_text(line.record.get("accountId")),
            version=_whole(line.record.get("version")),
            message=str(line.record.get("message")),
            level=_text(line.record.get("level")),
        )
        for line in lines
        if line.record.get("correlation_id") == correlation_id
    ]
    return sorted(found, key=lambda hop: hop.at or datetime.min.replace(tzinfo=UTC))


def log_time(value: Any) -> datetime | None:
    """Powertools' timestamp (`2026-12-01 22:50:01,123+0000`), or an ISO 8601 one."""
    if not isinstance(value, str):
        return None
    for parse in (
        lambda text: datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f%z"),
        datetime.fromisoformat,
    ):
        try:
            moment = parse(value)
        except ValueError:
            continue
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@frozen
class LagBucket:
    up_to_ms: int | None
    count: int


@frozen
class LagDistribution:
    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    buckets: list[LagBucket]


def lag_distribution(samples: Sequence[float]) -> LagDistribution:
    ordered = sorted(samples)

    def percentile(share: float) -> float | None:
        if not ordered:
            return None
        # Nearest rank: a value that was actually observed.
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)

    counts = [0] * (len(LAG_BUCKETS_MS) + 1)
    for sample in ordered:
        index = next((i for i, bound in enumerate(LAG_BUCKETS_MS) if sample <= bound), -1)
        counts[index] += 1
    bounds: list[int | None] = [*LAG_BUCKETS_MS, None]
    return LagDistribution(
        count=len(ordered),
        p50_ms=percentile(0.5),
        p90_ms=percentile(0.9),
        p99_ms=percentile(0.99),
        max_ms=round(ordered[-1], 1) if ordered else None,
        buckets=[LagBucket(bound, count) for bound, count in zip(bounds, counts, strict=True)],
    )

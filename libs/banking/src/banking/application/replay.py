"""Replay: re-publish stored events so projections can be rebuilt or backfilled.

Every stored item carries the account state after it, so a replayed event becomes a
state-carried event directly, with no fold and no read beyond the scan. Replayed
events go out with the source `ledger.replay` (and `replay: true`): the projectors'
rule accepts them, a consumer with side effects matches `ledger.dispatcher` only and
never sees them.

Only the last event of each (account, month) is published by default: it carries
everything the read models keyed by account or by (account, month) hold, so a read
model jumps straight to its final value instead of walking through every version (a
backfilled statement is never seen half-summed), and the bus carries a fraction of
the events. `every_event` publishes them all, for a read model keyed per event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import define, evolve, field, frozen
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from banking.application.dispatch import bus_entry
from banking.application.ports import (
    BusEntry,
    Cursor,
    EventScanner,
    Publisher,
    Scanned,
    StoredEvent,
    Unreadable,
)
from banking.domain.read_models import StateCarriedEvent
from banking.serialization import converter, register_camel_case

REPLAY_SOURCE = "ledger.replay"
MAX_ENTRIES_PER_PUBLISH = 10
PUBLISH_ATTEMPTS = 3


@frozen
class ReplayOptions:
    # The read models to rebuild (None: all). Projectors leave the others alone.
    read_models: tuple[str, ...] | None = None
    every_event: bool = False
    dry_run: bool = False
    # Events published per second by this replayer (None: as fast as the bus takes them).
    rate_limit: float | None = None


@define
class ReplayResult:
    read: int = 0
    published: int = 0
    failures: list[str] = field(factory=list)
    # Where to continue (None: the scan is finished).
    cursor: Cursor | None = None

    def add(self, other: ReplayResult) -> None:
        self.read += other.read
        self.published += other.published
        self.failures.extend(other.failures)


class RateLimiter:
    """A token bucket: at most `rate` events per second, in bursts of one batch."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._available = float(MAX_ENTRIES_PER_PUBLISH)
        self._last = clock()

    def acquire(self, count: int) -> None:
        if self._rate is None:
            return
        now = self._clock()
        capacity = max(float(MAX_ENTRIES_PER_PUBLISH), self._rate)
        self._available = min(capacity, self._available + (now - self._last) * self._rate)
        self._last = now
        if self._available < count:
            wait = (count - self._available) / self._rate
            self._sleep(wait)
            self._last += wait
            self._available = float(count)
        self._available -= count


def replay_entry(stored: StoredEvent, read_models: Sequence[str] | None) -> BusEntry:
    carried = StateCarriedEvent.of(stored.event, stored.state)
    entry = bus_entry(carried, correlation_id=stored.correlation_id, replay=True)
    if read_models is not None:
        entry = evolve(entry, detail={**entry.detail, "readModels": list(read_models)})
    return evolve(entry, source=REPLAY_SOURCE)


def replay(
    items: Iterable[Scanned],
    publisher: Publisher,
    options: ReplayOptions,
    *,
    start: Cursor | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    limiter: RateLimiter | None = None,
) -> ReplayResult:
    """Publish the items (the last of each account-month unless `every_event`), until
    they run out or `should_stop()`; the result's cursor says where to resume."""
    sender = _Sender(publisher, options, limiter or RateLimiter(options.rate_limit))
    pending: StoredEvent | None = None
    before_pending, last_key = start, start
    stopped = False
    for item in items:
        sender.result.read += 1
        key = _key(item)
        if isinstance(item, Unreadable):
            sender.result.failures.append(f"{item.account_id} v{item.version}: {item.error}")
        else:
            if pending is not None and (options.every_event or _closes_group(pending, item)):
                sender.send(pending)
            pending, before_pending = item, last_key
        last_key = key
        if should_stop():
            stopped = True
            break
    if not stopped or pending is None:
        if pending is not None:
            sender.send(pending)
        sender.flush()
        sender.result.cursor = last_key if stopped else None
        return sender.result
    # The last item read may not be the last of its month: resume just before it, so
    # the next run reads it again with what follows it. Always make progress, though.
    if before_pending == start:
        sender.send(pending)
        before_pending = _key(pending)
    sender.flush()
    sender.result.cursor = before_pending
    return sender.result


class _Sender:
    def __init__(self, publisher: Publisher, options: ReplayOptions, limiter: RateLimiter) -> None:
        self._publisher = publisher
        self._options = options
        self._limiter = limiter
        self._batch: list[BusEntry] = []
        self.result = ReplayResult()

    def send(self, stored: StoredEvent) -> None:
        self._batch.append(replay_entry(stored, self._options.read_models))
        if len(self._batch) == MAX_ENTRIES_PER_PUBLISH:
            self.flush()

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        self._limiter.acquire(len(batch))
        if self._options.dry_run:
            self.result.published += len(batch)
            return
        for attempt in range(PUBLISH_ATTEMPTS):
            failed = self._publisher.publish(batch)
            self.result.published += len(batch) - len(failed)
            batch = [batch[index] for index in failed]
            if not batch:
                return
            time.sleep(0.1 * 2**attempt)  # throttled: give the bus a moment
        self.result.failures.extend(
            f"{entry.detail['accountId']} v{entry.detail['version']}: the bus rejected it"
            for entry in batch
        )


def _closes_group(pending: StoredEvent, following: StoredEvent) -> bool:
    # An account's events before its first posting (its opening, say) have no month:
    # the next event of the account carries all they carry.
    return following.event.account_id != pending.event.account_id or (
        pending.state.month is not None and following.state.month != pending.state.month
    )


def _key(item: Scanned) -> Cursor:
    if isinstance(item, Unreadable):
        return Cursor(item.account_id, item.version)
    return Cursor(item.event.account_id, item.event.version)


@frozen
class ReplayJob:
    """One unit of replay work: a scan segment (or one account), from a cursor. The
    payload of the replay function, so a long segment continues across invocations."""

    segment: int = 0
    total_segments: int = 1
    account_id: str | None = None
    start: Cursor | None = None
    options: ReplayOptions = ReplayOptions()

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = converter.unstructure(self)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ReplayJob:
        job: ReplayJob = converter.structure(payload, cls)
        if not (1 <= job.total_segments <= 1_000_000 and 0 <= job.segment < job.total_segments):
            raise ValueError(
                f"segment {job.segment} of {job.total_segments} is not a parallel scan segment"
            )
        return job

    def then(self, cursor: Cursor | None) -> ReplayJob:
        return evolve(self, start=cursor)


def run_job(
    job: ReplayJob,
    scanner: EventScanner,
    publisher: Publisher,
    *,
    should_stop: Callable[[], bool] = lambda: False,
) -> ReplayResult:
    items = (
        scanner.scan_account(job.account_id, after=job.start)
        if job.account_id is not None
        else scanner.scan(segment=job.segment, total_segments=job.total_segments, after=job.start)
    )
    return replay(items, publisher, job.options, start=job.start, should_stop=should_stop)


def result_to_payload(result: ReplayResult) -> dict[str, Any]:
    payload: dict[str, Any] = converter.unstructure(result)
    return payload


def result_from_payload(payload: dict[str, Any]) -> ReplayResult:
    result: ReplayResult = converter.structure(payload, ReplayResult)
    return result


# The replay function's payload and answer. A job's options sit beside its segment
# and cursor, not nested; a missing, empty or zero option means "none".
register_camel_case(
    ReplayOptions,
    read_models=override(
        rename="target", struct_hook=lambda names, _: tuple(map(str, names)) if names else None
    ),
    rate_limit=override(
        rename="rateLimit", struct_hook=lambda rate, _: float(rate) if rate else None
    ),
)
register_camel_case(ReplayResult, cursor=override(rename="lastEvaluatedKey"))
_JOB_FIELDS: dict[str, Any] = {
    "total_segments": override(rename="totalSegments"),
    "account_id": override(rename="accountId", omit_if_default=True),
    "start": override(rename="startKey"),
    "options": override(omit=True),
}
_job_fields = make_dict_unstructure_fn(ReplayJob, converter, **_JOB_FIELDS)
_job_from_fields = make_dict_structure_fn(ReplayJob, converter, **_JOB_FIELDS)
converter.register_unstructure_hook(
    ReplayJob, lambda job: {**_job_fields(job), **converter.unstructure(job.options)}
)
converter.register_structure_hook(
    ReplayJob,
    lambda payload, _: evolve(
        _job_from_fields(payload, ReplayJob), options=converter.structure(payload, ReplayOptions)
    ),
)

"""The changes our moto server makes to moto, in one place.

Each patch replaces a private method of moto and so depends on that method's
signature and behaviour in one moto release: it says which (``written_for``). The
server refuses to start on any other moto version (``check_moto_version``): a moto
upgrade means re-reading every patch below against the new source, then moving the pin
in requirements-dev.txt and the ``written_for`` of each patch together.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import moto.sqs.models
from moto.awslambda.models import EventInvokeConfig, LambdaBackend
from moto.core.utils import unix_time_millis
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import Rule

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements-dev.txt"


def _send_dynamodb_items_disabled(*_args: Any, **_kwargs: Any) -> None:
    """Stand-in for ``LambdaBackend.send_dynamodb_items``.

    With an event source mapping on a table, moto calls it on every write to invoke the
    function itself (which needs Docker) and, when that returns truthy, *clears the
    shard's records*, so nobody could read the stream any more. Returning None keeps
    every record in the shard for the local runtime's poller, which reads the stream
    with the dynamodbstreams API like Lambda's own poller does.
    """
    return


def _without_lambda_targets(send_to_targets: Any) -> Any:
    """Wrap ``Rule.send_to_targets`` so moto skips the rule's Lambda targets.

    moto raises NotImplementedError for a Lambda target, which fails the whole
    PutEvents call. The local runtime delivers to Lambda targets itself (scripts.local.bus);
    moto keeps delivering to the other targets (SQS, logs, ...), the runtime's tap queue
    among them.
    """

    # moto's server is threaded: the lock keeps two PutEvents from swapping one rule's
    # targets at once (the second would restore the already-filtered list).
    lock = threading.Lock()

    def send(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        with lock:
            every_target = self.targets
            self.targets = [t for t in every_target if ":lambda:" not in t["Arn"]]
            try:
                send_to_targets(self, original_event, transform_input)
            finally:
                self.targets = every_target

    return send


def _event_invoke_config_response(self: EventInvokeConfig) -> dict[str, Any]:
    """``EventInvokeConfig.response`` with LastModified as AWS sends it, epoch seconds.

    moto sends the function's ISO date string, which the Terraform AWS provider cannot
    decode, so ``aws_lambda_function_event_invoke_config`` could not be applied.
    """
    # moto's dates look like 2026-01-02T03:04:05.123456000Z; seconds are precise enough.
    parsed = datetime.fromisoformat(self.last_modified[:19]).replace(tzinfo=UTC)
    return {"FunctionArn": self.arn, "LastModified": parsed.timestamp(), **self.config}


def _put_event_invoke_config(
    self: LambdaBackend, function_name: str, config: dict[str, Any]
) -> dict[str, Any]:
    """Put *replaces* a function's async config on AWS; moto appends and keeps reading
    the first one, so an update would never take effect."""
    function = self.get_function(function_name)
    # moto's validation also fails with a KeyError when no destination is given.
    config = {"DestinationConfig": {}, **config}
    function.event_invoke_config = [
        EventInvokeConfig(function.function_arn, function.last_modified, config)
    ]
    return function.event_invoke_config[0].response()


def atomic(call_action: Any) -> Any:
    """Make every DynamoDB request atomic, as the service's are.

    moto's server is threaded and moto takes no lock: a write's condition is checked,
    then applied, so two conditional puts of one version could both pass the check
    (the ledger's optimistic concurrency rests on it); and readers see a write half
    done: an UpdateItem of a new item first stores the bare key, then sets the
    attributes (a rebuild's scan found a statement with no `lastKnownVersion`), and a
    cancelled transaction is undone after it was visible. So each DynamoDB request,
    its answer written out included, holds one lock (moto's server is bound to one
    CPU anyway).
    """
    lock = threading.RLock()

    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return call_action(*args, **kwargs)

    return locked


def _streams_kept_on_cancel(transact: Any) -> Any:
    """A cancelled TransactWriteItems leaves the tables' streams as they were.

    moto undoes a cancelled transaction by putting back deep copies of the tables taken
    before it began. Each copy has a stream shard of its own, so the runtime's poller,
    whose shard iterator holds the old shard, would never see another record (a version
    conflict between two keyed commands silently stopped the whole pipeline); and the
    records of the cancelled writes would stay in the old shard. The old shard goes back
    on the restored table, without them. Runs under the request lock (`atomic`):
    nothing else appends.
    """

    def transact_write_items(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        shards = {
            name: (table, table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if table.stream_shard is not None
        }
        try:
            return transact(self, *args, **kwargs)
        except Exception:
            for name, (table, shard, length) in shards.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    del shard.items[length:]
                    shard.table = restored
                    restored.stream_shard = shard
            raise

    return transact_write_items


def _scan_by_partition(scan: Any) -> Any:
    """A Scan page costs about what it returns, as on DynamoDB.

    For every page, moto lists and sorts the whole table, hashes every item's key to
    pick a parallel-scan segment and compares every item with the start key: a replay
    of 100,000 events (a few dozen 1 MB pages per segment) spent its time there, holding
    the server for seconds per page. This walks the partitions in the same order (hash
    key, then range key), skips whole partitions before the start key or outside the
    segment, and gives the same pages and answers. Index scans and the legacy
    ScanFilter still go to moto's own (tests/integration/test_moto_scan.py compares both).
    """

    def scan_by_partition(
        self: Table,
        filters: dict[str, Any],
        limit: int | None,
        exclusive_start_key: dict[str, Any] | None,
        filter_expression: Any = None,
        index_name: str | None = None,
        consistent_read: bool = False,
        projection_expression: Any = None,
        segments: tuple[Any, Any] = (None, None),
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        if index_name or filters:
            return scan(  # type: ignore[no-any-return]
                self,
                filters,
                limit,
                exclusive_start_key,
                filter_expression,
                index_name,
                consistent_read,
                projection_expression,
                segments,
            )
        start: tuple[DynamoType, DynamoType | None] | None = None
        if exclusive_start_key is not None:
            start_range = exclusive_start_key.get(self.range_key_attr or "")
            start = (
                DynamoType(exclusive_start_key[self.hash_key_attr]),
                DynamoType(start_range) if start_range is not None else None,
            )
        results: list[Item] = []
        size = 0
        last_evaluated_key = None
        for hash_key in sorted(self.items):
            if start is not None and hash_key < start[0]:
                continue
            partition: Any = self.items[hash_key]
            items = (
                [partition[r] for r in sorted(partition)] if self.range_key_attr else [partition]
            )
            if not items or not items[0].is_within_segment(segments):
                continue
            for item in items:
                if start is not None and hash_key == start[0] and not _after(item, start[1]):
                    continue
                if len(results) == limit or size + item.size() > RESULT_SIZE_LIMIT:
                    last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                    break
                results.append(copy.deepcopy(item))
                size += item.size()
            if last_evaluated_key is not None:
                break
        scanned_count = len(results)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expression:
            results = [item.project(projection_expression) for item in results]
        return results, scanned_count, last_evaluated_key

    return scan_by_partition


def _query_by_partition(query: Any) -> Any:
    """A Query reads its partition only, as on DynamoDB.

    For a Query of the table itself, moto lists and sorts the whole table, then keeps
    the items of the one partition asked for: every command (which loads its account
    with a Query) cost in proportion to the whole ledger's history, not the account's.
    This runs moto's own Query on a view of the table that holds that one partition.
    Index queries still go to moto's unchanged (tests/integration/test_moto_scan.py).
    """

    def query_by_partition(
        self: Table,
        hash_key: DynamoType,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        table = self
        if not index_name:
            table = copy.copy(self)  # shares everything but the `items` attribute
            partition = self.items.get(hash_key)
            table.items = {hash_key: partition} if partition is not None else {}  # type: ignore[assignment]
        return query(
            table,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            **filter_kwargs,
        )

    return query_by_partition


def _after(item: Item, start_range: DynamoType | None) -> bool:
    """Whether an item of the start key's partition comes after the start key."""
    return start_range is not None and item.range_key is not None and item.range_key > start_range


def _sqs_clock(dt: datetime | None = None) -> float:
    """moto's SQS clock, in milliseconds since the epoch, read cheaply.

    moto's SQS checks every message of a queue against the clock on each send, receive
    and attributes call (through datetime arithmetic, a few microseconds each): with a
    backlog of a few hundred events in the runtime's bus tap, that arithmetic was most
    of the server's time and the backlog grew. Same value, from time.time().
    """
    return time.time() * 1000.0 if dt is None else unix_time_millis(dt)


@dataclass(frozen=True)
class Patch:
    """``owner.attribute`` replaced by ``replace(original)``, checked against moto
    ``written_for``."""

    owner: Any
    attribute: str
    replace: Callable[[Any], Any]
    written_for: str

    @property
    def name(self) -> str:
        return f"{getattr(self.owner, '__name__', self.owner)}.{self.attribute}"


def _ignore_original(replacement: Any) -> Callable[[Any], Any]:
    return lambda _original: replacement


PATCHES = (
    Patch(DynamoDBBackend, "transact_write_items", _streams_kept_on_cancel, "5.1.17"),
    Patch(DynamoHandler, "call_action", atomic, "5.1.17"),
    Patch(Table, "scan", _scan_by_partition, "5.1.17"),
    Patch(Table, "query", _query_by_partition, "5.1.17"),
    Patch(moto.sqs.models, "unix_time_millis", _ignore_original(_sqs_clock), "5.1.17"),
    Patch(
        LambdaBackend,
        "send_dynamodb_items",
        _ignore_original(_send_dynamodb_items_disabled),
        "5.1.17",
    ),
    Patch(EventInvokeConfig, "response", _ignore_original(_event_invoke_config_response), "5.1.17"),
    Patch(
        LambdaBackend,
        "put_function_event_invoke_config",
        _ignore_original(_put_event_invoke_config),
        "5.1.17",
    ),
    Patch(
        LambdaBackend,
        "update_function_event_invoke_config",
        _ignore_original(_put_event_invoke_config),
        "5.1.17",
    ),
    Patch(Rule, "send_to_targets", _without_lambda_targets, "5.1.17"),
)


class MotoVersionError(RuntimeError):
    pass


def pinned_moto_version(requirements: Path = REQUIREMENTS) -> str:
    """The moto version requirements-dev.txt pins (``moto[server]==X``)."""
    for line in requirements.read_text().splitlines():
        name, separator, version = line.partition("==")
        if separator and name.split("[")[0].strip().lower() == "moto":
            return version.split(";")[0].strip()
    raise MotoVersionError(f"{requirements} pins no moto version (moto[server]==...)")


def check_moto_version(installed: str, pinned: str) -> None:
    """Refuse a moto the patches were not written for, naming what to do about it."""
    stale = [patch.name for patch in PATCHES if patch.written_for != pinned]
    if stale:
        raise MotoVersionError(
            f"requirements-dev.txt pins moto {pinned} but these patches of "
            f"scripts/local/moto_patches.py were written for another version: "
            f"{', '.join(stale)}; re-check them against moto {pinned} and update written_for"
        )
    if installed != pinned:
        raise MotoVersionError(
            f"moto {installed} is installed but our moto server patches moto {pinned} "
            "(scripts/local/moto_patches.py): run `make install` to get the pinned version"
        )


def installed_moto_version() -> str:
    return metadata.version("moto")


def apply_patches() -> None:
    """Check the installed moto against the pin, then patch it (once per process)."""
    check_moto_version(installed_moto_version(), pinned_moto_version())
    for patch in PATCHES:
        original = getattr(patch.owner, patch.attribute)
        setattr(patch.owner, patch.attribute, patch.replace(original))

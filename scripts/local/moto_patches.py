"""The changes our moto server makes to moto, in one place.

Each patch replaces a private method of moto and so depends on that method's
signature and behaviour in one moto release: it says which (``written_for``). The
server refuses to start on any other moto version (``check_moto_version``): a moto
upgrade means re-reading every patch below against the new source, then moving the pin
in requirements-dev.txt and the ``written_for`` of each patch together.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import itertools
import json
import os
import random
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonpath_ng.ext
import moto.core.responses
import moto.sqs.models
from moto.awslambda.models import EventInvokeConfig, LambdaBackend, LambdaFunction
from moto.awslambda.policy import Policy
from moto.core.common_models import BaseModel
from moto.core.serialize import AttributePickerContext, XFormedAttributePicker
from moto.core.utils import (
    iso_8601_datetime_without_milliseconds,
    unix_time_millis,
    utcfromtimestamp,
)
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, StreamShard, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
    DepthFirstTraverser,  # mypy skips the module: moto marks it `# type: ignore`
    Expression,
    Node,
    UpdateExpressionFunction,
)
from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
    UpdateExpressionParser,  # mypy skips the module: moto marks it `# type: ignore`
)
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.events.models import Rule
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from sortedcontainers import SortedDict

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


# The rule the runtime puts on each bus (scripts.local.bus): what it matches goes to the
# bus's event log (BUS_EVENTS), read by the runtime, not to a target.
TAP_RULE = "ledger-local-runtime-tap"


class BusEventLog:
    """The events each bus's tap rule matched, as EventBridge would send them to a
    target, each kept until its reader has read past it: the runtime reads them with a
    cursor (``read``), and a read acknowledges everything up to its cursor, so an event
    is handed out again until a later read shows it was taken (at least once)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._logs: dict[str, collections.deque[tuple[int, str]]] = {}
        self._last: dict[str, int] = {}  # each bus's last event number (from 1)

    def append(self, bus: str, event: str) -> None:
        with self._changed:
            number = self._last[bus] = self._last.get(bus, 0) + 1
            self._logs.setdefault(bus, collections.deque()).append((number, event))
            self._changed.notify_all()

    def read(self, bus: str, after: int, timeout_s: float, limit: int) -> tuple[int, list[str]]:
        """Up to `limit` events after number `after`, waiting up to `timeout_s` for one;
        and the number to read after next time. Events up to `after` are dropped."""
        with self._changed:
            if after > self._last.get(bus, 0):
                after = 0  # a cursor from before this server started
            log = self._logs.setdefault(bus, collections.deque())
            while log and log[0][0] <= after:
                log.popleft()
            self._changed.wait_for(lambda: self._last.get(bus, 0) > after, timeout=timeout_s)
            taken = list(itertools.islice(log, limit))
            return (taken[-1][0] if taken else after), [event for _, event in taken]


BUS_EVENTS = BusEventLog()


def _as_sent_to_a_target(event: dict[str, Any]) -> str:
    """The event as moto sends it to an SQS target (the time as ISO 8601)."""
    sent = dict(event)
    # moto passes a float, as here, where its signature says int.
    moment = utcfromtimestamp(float(event["time"]))  # type: ignore[arg-type]
    sent["time"] = iso_8601_datetime_without_milliseconds(moment)
    return json.dumps(sent)


def _without_lambda_targets(send_to_targets: Any) -> Any:
    """Wrap ``Rule.send_to_targets`` so moto skips the rule's Lambda targets, and the
    runtime's tap rule logs what it matches.

    moto raises NotImplementedError for a Lambda target, which fails the whole
    PutEvents call. The local runtime delivers to Lambda targets itself (scripts.local.bus);
    moto keeps delivering to the other targets (SQS, logs, ...). What the tap rule
    (TAP_RULE) matches goes to BUS_EVENTS, which the runtime reads
    (scripts.local.moto_server's /_local/bus-events): an SQS queue in between cost moto
    a send, a receive and a delete per event.
    """

    # moto's server is threaded: the lock keeps two PutEvents from swapping one rule's
    # targets at once (the second would restore the already-filtered list).
    lock = threading.Lock()

    def send(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if self.name == TAP_RULE:
            if self.event_pattern.matches_event(original_event):
                BUS_EVENTS.append(self.event_bus_name, _as_sent_to_a_target(original_event))
            return
        if all(":lambda:" in target["Arn"] for target in self.targets):
            return  # nothing for moto to deliver (the ledger's rules): no match, no lock
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


def logging_config(function_name: str, requested: dict[str, Any] | None) -> dict[str, Any]:
    """A function's LoggingConfig as Lambda answers it: Text to the function's own log
    group unless told otherwise, and with JSON both levels INFO unless told otherwise."""
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}", **(requested or {})}
    if config["LogFormat"] == "JSON":
        return {"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **config}
    return {key: config[key] for key in ("LogFormat", "LogGroup")}


def _with_logging_config(init: Any) -> Any:
    """moto ignores a function's LoggingConfig, so the Terraform AWS provider would plan
    to set ``logging_config`` again on every plan, and the local runtime could not see
    the levels it must give the functions (AWS_LAMBDA_LOG_LEVEL): keep it."""

    # `self` is a LambdaFunction, typed Any for the attribute this adds to it.
    @functools.wraps(init)
    def create(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        init(self, account_id, spec, *args, **kwargs)
        self.logging_config = logging_config(spec["FunctionName"], spec.get("LoggingConfig"))

    return create


def _configuration_with_logging(get_configuration: Any) -> Any:
    @functools.wraps(get_configuration)
    def configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = get_configuration(self, *args, **kwargs)
        answer["LoggingConfig"] = self.logging_config
        return answer

    return configuration


def _update_logging_config(update_configuration: Any) -> Any:
    @functools.wraps(update_configuration)
    def update(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            # An update names what changes; the rest of the configuration stays.
            self.logging_config = logging_config(
                self.function_name, {**self.logging_config, **config_updates["LoggingConfig"]}
            )
        answer: dict[str, Any] = update_configuration(self, config_updates)
        return answer

    return update


_POLICY_LOCK = threading.Lock()


def _one_policy_change_at_a_time(change: Any) -> Any:
    """A function's resource policy is changed by one request at a time.

    moto's server answers requests on threads, and ``Policy.del_statement`` removes from
    the list it is walking: two RemovePermission calls on one function at once (Terraform
    deletes a function's permissions in parallel) can make one of them step over its
    statement, answer 404 and leave it in place; Terraform then waits for it to go until
    it times out (a destroy in tests/infra/test_local_environment.py did).
    """

    @functools.wraps(change)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _POLICY_LOCK:
            return change(*args, **kwargs)

    return locked


def atomic(call_action: Any) -> Any:
    """Make every DynamoDB request atomic, as the service's are.

    moto's server is threaded and moto takes no lock: a write's condition is checked,
    then applied, so two conditional puts of one version could both pass the check
    (the ledger's optimistic concurrency rests on it); and readers see a write half
    done: an UpdateItem of a new item first stores the bare key, then sets the
    attributes (a rebuild's scan found a statement with no `lastKnownVersion`), and a
    cancelled transaction is undone after it was visible. So each DynamoDB request,
    its answer written out included, holds one lock (moto's server is bound to one
    CPU anyway). The streams API takes the same lock: a `GetRecords` between a
    cancelled transaction's stream records and their undoing would hand a poller records
    that never were, and move its iterator past the sequence numbers the next real
    write reuses (found by the chaos run with holds, whose captures racing the expirer
    cancel transactions often: read models left a version behind, nothing parked).
    """

    def locked(*args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return call_action(*args, **kwargs)

    return locked


# One lock for every DynamoDB and DynamoDB Streams request of the server (`atomic`).
DYNAMODB_LOCK = threading.RLock()


class _Undo:
    """What a transaction changed so far, to put back if it is cancelled: each item it
    wrote as it was before (a copy: moto's UpdateItem changes the stored item in place)
    and the length of each stream it wrote to."""

    def __init__(self) -> None:
        self._items: list[tuple[Table, DynamoType, DynamoType | None, Item | None, bool]] = []
        self._streams: dict[int, tuple[StreamShard, int]] = {}

    def keep(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        shard = table.stream_shard
        if shard is not None:
            self._streams.setdefault(id(shard), (shard, len(shard.items)))
        # Read before get_item: moto's items are a defaultdict, which a lookup of an
        # unknown partition fills with an empty one.
        partition_existed = hash_key in table.items
        before = table.get_item(hash_key, range_key)
        self._items.append((table, hash_key, range_key, copy.deepcopy(before), partition_existed))

    def undo(self) -> None:
        for table, hash_key, range_key, before, partition_existed in reversed(self._items):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before  # type: ignore[assignment]
            elif before is not None:
                table.items[hash_key][range_key] = before
            else:
                table.items.get(hash_key, {}).pop(range_key, None)
                if not partition_existed:
                    table.items.pop(hash_key, None)
        # Records of cancelled writes never reach a reader, as on DynamoDB.
        for shard, length in self._streams.values():
            del shard.items[length:]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """``DynamoDBBackend.transact_write_items`` at the cost of the items it touches.

    moto's deep-copies every table the transaction names before it begins, to put the
    copies back if it is cancelled: a keyed command (a TransactWriteItems of 2 items)
    cost in proportion to the whole events table, 0.3 s on a small table and seconds on
    a 10,000-event one, and every copy stayed in memory (moto tracks every model
    instance it creates, copies included: see ``_tracked_weakly``). Each copy also had
    a stream shard of its own, so a cancelled transaction left the runtime's poller
    reading a shard nothing wrote to any more (the pipeline stopped, commit 191cd05).
    This is moto's loop unchanged (same checks in the same order, same cancellation
    reasons), undoing a cancelled transaction from a copy of each item it wrote instead
    (tests/runtime/test_moto_transactions.py plays the same requests on both).
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                target = (str(table_name), str(key))
                if target in target_items:
                    raise MultipleTransactionsException()
                target_items.add(target)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition = get_filter_expression(condition_expression, names, values)
                    if not condition.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                if op_type != "ConditionCheck":
                    table = self.get_table(table_name)
                    undo.keep(table, *self.get_keys_value(table, key))
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))
            except Exception as error:  # noqa: BLE001 moto reports any failure as a reason
                errors.append((type(error).__name__, str(error), original_item))
    except BaseException:
        undo.undo()
        raise
    if any(code is not None for code, _, _ in errors):
        undo.undo()
        raise TransactionCanceledException(errors)


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
            "ClientRequestToken was used with different parameters in the last 10 minutes",
        )


# How long DynamoDB remembers a transaction's ClientRequestToken.
TOKEN_TTL_S = 600.0


def _idempotent_transactions(transact: Any, clock: Callable[[], float] = time.monotonic) -> Any:
    """Wrap ``DynamoHandler.transact_write_items`` to honour ``ClientRequestToken``.

    DynamoDB answers a TransactWriteItems that repeats a token of the last 10 minutes
    with the first one's success, writing nothing again, and refuses the token with
    other parameters; moto ignores the token. botocore resends the same token when it
    retries a transaction whose answer timed out, so on moto that retry failed both its
    conditions against its own first attempt (docs/benchmarks.md, "the stall"). Only
    successes are remembered, so a cancelled transaction can be retried. Runs under the
    request lock (``atomic``); the tokens kept are those of the last 10 minutes, so
    memory follows the request rate, not the requests served.
    """
    answers: OrderedDict[tuple[str, str, str], tuple[str, str, float]] = OrderedDict()

    def transact_write_items(self: DynamoHandler) -> str:
        token = self.body.get("ClientRequestToken")
        if token is None:
            return transact(self)  # type: ignore[no-any-return]
        now = clock()
        while answers and next(iter(answers.values()))[2] < now - TOKEN_TTL_S:
            answers.popitem(last=False)
        request = json.dumps(
            {name: value for name, value in self.body.items() if name != "ClientRequestToken"},
            sort_keys=True,
        )
        key = (self.current_account, self.region, str(token))
        if key in answers:
            first_request, first_answer, _ = answers[key]
            if first_request != request:
                raise IdempotentParameterMismatch()
            return first_answer
        answer: str = transact(self)
        answers[key] = (request, answer, now)
        return answer

    return transact_write_items


class _WeakInstances:
    """moto's per-class list of live instances (``instances_tracked``), held weakly.

    moto appends every model instance it ever creates to a list on its class, for its
    dashboard (/moto-api/data.json) and S3's reset, and never removes one: every SQS
    message ever sent, every item copy, every table moto deep-copied for a transaction
    stayed in memory (about 6 MB per request in a chaos run). Here an instance leaves
    the list when nothing else holds it; the dashboard still lists what is live.
    """

    def __init__(self) -> None:
        self._live: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

    def append(self, instance: Any) -> None:
        # A class with __slots__ and no __weakref__ cannot be tracked: it is left out.
        with contextlib.suppress(TypeError):
            self._live[id(instance)] = instance

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._live.values()))

    def __len__(self) -> int:
        return len(self._live)


def _new_tracked_weakly(cls: type[BaseModel], *_args: Any, **_kwargs: Any) -> BaseModel:
    """``BaseModel.__new__``, tracking the instance in a ``_WeakInstances``."""
    instance = super(BaseModel, cls).__new__(cls)  # as moto's own: the next class in line
    tracked = cls.__dict__.get("instances_tracked")
    if not isinstance(tracked, _WeakInstances):
        # moto's reset (reset_model_data) puts back a plain list: replace it again.
        tracked = _WeakInstances()
        cls.instances_tracked = tracked  # type: ignore[attr-defined]
    tracked.append(instance)
    return instance


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
    This runs moto's own Query on a view of the table that holds that one partition, or,
    where the partition keeps its items in order (``_sorted_partitions``), only the part
    of it the Query can reach (``_reachable``). Index queries still go to moto's
    unchanged (tests/integration/test_moto_scan.py).
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
            if isinstance(partition, SortedDict) and not filter_kwargs:
                keys = _reachable(
                    partition,
                    self.hash_key_attr,
                    self.range_key_attr,
                    hash_key,
                    range_comparison,
                    range_objs,
                    limit,
                    exclusive_start_key,
                    scan_index_forward is not False,
                )
                if keys is not None:
                    partition = {key: partition[key] for key in keys}
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


def _sorted_partitions(init: Any) -> Any:
    """Each partition keeps its items in range-key order, as DynamoDB stores them.

    moto keeps a partition as a dict and sorts it for every Query: a command loads its
    account with a Query for the few events after its snapshot, and that cost grew with
    the account's whole history (0.9 ms at 100 events, 3.6 ms at 2,000, under the lock
    every request takes), so a 30-minute soak's projection lag grew with it. In a
    SortedDict, ``_reachable`` finds a Query's items by bisection instead.
    """

    def init_sorted(self: Table, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.range_key_attr:
            self.items = collections.defaultdict(SortedDict)

    return init_sorted


def _reachable(
    partition: SortedDict,
    hash_key_attr: str,
    range_key_attr: str | None,
    hash_key: DynamoType,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
) -> list[DynamoType] | None:
    """The range keys of the items moto's Query would look at, in a partition kept in
    order; None where that is not worked out here (moto then looks at them all).

    moto walks the partition in order (reversed if backwards) from after the start key;
    items outside the key condition are passed over, the matching ones are taken until
    ``limit``, and the first item after the last one taken, matching or not, is what
    makes it answer with a LastEvaluatedKey. So it needs the matching items after the
    start key, at most ``limit`` of them, and the one item after those. (moto also ends
    a page at 1 MB on an item outside the condition, as DynamoDB, which never reads
    those, does not: here only the one after can.)
    """
    if limit is not None and limit < 1:
        return None
    bounds = _key_condition_bounds(partition, range_comparison, range_objs)
    if bounds is None:
        return None
    first, end = bounds
    if exclusive_start_key is not None:
        start_hash = exclusive_start_key.get(hash_key_attr)
        start_range = exclusive_start_key.get(range_key_attr or "")
        if start_hash is None or DynamoType(start_hash) != hash_key or start_range is None:
            return None
        start = DynamoType(start_range)
        if forward:
            first = max(first, partition.bisect_right(start))
        else:
            end = min(end, partition.bisect_left(start))
    keys = partition.keys()
    if forward:
        end = max(end, first)
        stop = end if limit is None else min(end, first + limit)
        return list(keys[first : stop + 1])  # the one after: matching or not
    first = min(first, end)
    start_at = first if limit is None else max(first, end - limit)
    return list(keys[max(start_at - 1, 0) : end])


def _key_condition_bounds(
    partition: SortedDict, range_comparison: str | None, range_objs: list[DynamoType]
) -> tuple[int, int] | None:
    """Where the items matching a key condition on the range key start and end, as
    positions in the partition's order; None for a condition not worked out here."""
    if range_comparison is None:
        return 0, len(partition)
    value = range_objs[0]
    if range_comparison in ("EQ", "="):
        return partition.bisect_left(value), partition.bisect_right(value)
    if range_comparison in ("LT", "<"):
        return 0, partition.bisect_left(value)
    if range_comparison in ("LE", "<="):
        return 0, partition.bisect_right(value)
    if range_comparison in ("GT", ">"):
        return partition.bisect_right(value), len(partition)
    if range_comparison in ("GE", ">="):
        return partition.bisect_left(value), len(partition)
    if range_comparison == "BETWEEN":
        first = partition.bisect_left(value)
        return first, max(first, partition.bisect_right(range_objs[1]))
    if range_comparison == "BEGINS_WITH" and value.type == "S":
        # Strings beginning with the prefix come together, first among those not below it.
        keys = partition.keys()
        first = low = partition.bisect_left(value)
        high = len(partition)
        while low < high:
            middle = (low + high) // 2
            if keys[middle].value.startswith(value.value):
                low = middle + 1
            else:
                high = middle
        return first, low
    return None


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


def _remembered(parse: Any) -> Any:
    """``jsonpath_ng.ext.parse``, remembering what it parsed.

    moto renders every event it sends to a queue target (the runtime's bus tap) through
    eight JSONPath expressions, and jsonpath_ng builds a new yacc parser for every
    expression it parses: that was 7% of the server's time under load. The same text
    gives the same expression, which ``find`` does not change, so one parse is enough.
    """
    return functools.lru_cache(maxsize=256)(parse)


# The ledger sends a few dozen distinct update expressions (one per read model's shape).
_UPDATE_EXPRESSION_CACHE_SIZE = 512


def _update_expression_remembered(make: Any) -> Any:
    """``UpdateExpressionParser.make``, remembering each expression's syntax tree.

    moto parses an UpdateItem's expression twice per request (to list the names and
    values it uses, then to validate and run it): 15% of a projector's UpdateItem
    in-process. The tree depends on the text alone (names and values are placeholders
    in it), and no caller changes it: the handler only lists its clauses, and the
    validator works on a deep copy of its own. A text that does not parse raises
    again each time (lru_cache keeps no exceptions), with the same error.
    """
    return staticmethod(functools.lru_cache(maxsize=_UPDATE_EXPRESSION_CACHE_SIZE)(make))


# Hosts are a region's service endpoints: a few dozen at most.
_BACKEND_CACHE_SIZE = 512


def _keep(cache: dict[Any, Any], lock: threading.Lock, key: Any, value: Any, size: int) -> None:
    """Remember ``value`` under ``key`` in a cache emptied whenever it is full: its keys
    are few in practice, and the bound only stops a stray caller from growing it."""
    with lock:
        if len(cache) >= size:
            cache.clear()
        cache[key] = value


def _backend_remembered(get_backend_for_host: Any) -> Any:
    """``DomainDispatcherApplication.get_backend_for_host``, remembering each host's answer.

    moto finds a request's backend by trying its few hundred services' URL patterns in
    turn, for every request, inside a lock every request takes: 7% of the server's time
    under load. The patterns never change while the server runs, so neither does the
    answer for a host.
    """
    found: dict[str | None, Any] = {}
    lock = threading.Lock()

    def lookup(self: DomainDispatcherApplication, host: str | None) -> Any:
        with lock:
            if host in found:
                return found[host]
        backend = get_backend_for_host(self, host)
        _keep(found, lock, host, backend, _BACKEND_CACHE_SIZE)
        return backend

    return lookup


class StreamRecordCount:
    """How many stream records every table of the server has appended so far, and a
    wait for more: the runtime's stream pollers wait here instead of sleeping between
    empty polls, so a record reaches its function as soon as it is written, as an event
    source mapping with no batching window sends it (and an idle poller asks nothing)."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def added(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait(self, after: int, timeout_s: float) -> int:
        """The count once it is other than `after` (more records, or a count from before
        a restart of the server), or after `timeout_s` whatever it is."""
        with self._changed:
            self._changed.wait_for(lambda: self._count != after, timeout=timeout_s)
            return self._count


STREAM_RECORDS = StreamRecordCount()


def _counting_stream_records(add: Any) -> Any:
    def add_and_count(self: StreamShard, old: Item | None, new: Item | None) -> None:
        add(self, old, new)
        STREAM_RECORDS.added()

    return add_and_count


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


PATCHES: tuple[Patch, ...] = (
    Patch(
        DynamoDBBackend,
        "transact_write_items",
        _ignore_original(_transact_write_items),
        "5.1.17",
    ),
    Patch(DynamoHandler, "call_action", atomic, "5.1.17"),
    Patch(DynamoDBStreamsHandler, "call_action", atomic, "5.1.17"),
    Patch(DynamoHandler, "transact_write_items", _idempotent_transactions, "5.1.17"),
    Patch(BaseModel, "__new__", _ignore_original(staticmethod(_new_tracked_weakly)), "5.1.17"),
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
    Patch(Policy, "add_statement", _one_policy_change_at_a_time, "5.1.17"),
    Patch(Policy, "del_statement", _one_policy_change_at_a_time, "5.1.17"),
    Patch(LambdaFunction, "__init__", _with_logging_config, "5.1.17"),
    Patch(LambdaFunction, "get_configuration", _configuration_with_logging, "5.1.17"),
    Patch(LambdaFunction, "update_configuration", _update_logging_config, "5.1.17"),
    Patch(Rule, "send_to_targets", _without_lambda_targets, "5.1.17"),
    Patch(jsonpath_ng.ext, "parse", _remembered, "5.1.17"),
    Patch(DomainDispatcherApplication, "get_backend_for_host", _backend_remembered, "5.1.17"),
    Patch(UpdateExpressionParser, "make", _update_expression_remembered, "5.1.17"),
    Patch(StreamShard, "add", _counting_stream_records, "5.1.17"),
)


# --- Stream shard splits (LEDGER_FAULTS' stream_shard_split_rate): the chaos run's fault,
# kept apart from the patches above. DynamoDB splits a stream's shard as a table grows:
# the shard is closed, and the records after it continue on a child shard naming it as
# its parent; a reader must finish the parent before it reads the child (per account,
# records are in order only so). moto has one shard per table, forever: these patches
# give it the rest: a split before a write request (inside its lock, so never inside a
# transaction), every shard in DescribeStream, iterators on any of them, and a closed
# shard's last page without a NextShardIterator, as on DynamoDB.


def _split_rate(environ: Any = None) -> float:
    # The fault settings come the same way as the runtime's (faults.py imports only the
    # standard library); the moto server inherits the runtime's environment.
    from scripts.local.faults import ENV, FaultSettings

    value = (environ if environ is not None else os.environ).get(ENV, "")
    return FaultSettings.parse(value).stream_shard_split_rate if value.strip() else 0.0


_SPLIT_RANDOM = random.Random()


def split_stream(table: Table) -> StreamShard | None:
    """Close the table's open shard and continue its stream on a child shard."""
    parent = table.stream_shard
    if parent is None:
        return None
    child = StreamShard(parent.account_id, table)
    child.id = f"shardId-{int(time.time() * 1000):020d}-{uuid.uuid4().hex[:8]}"
    child.starting_sequence_number = parent.starting_sequence_number + len(parent.items)
    child.parent_shard_id = parent.id  # type: ignore[attr-defined]
    parent.ending_sequence_number = child.starting_sequence_number - 1  # type: ignore[attr-defined]
    closed: list[StreamShard] = table.__dict__.setdefault("closed_stream_shards", [])
    closed.append(parent)
    table.stream_shard = child
    return child


def _shards(table: Table) -> list[StreamShard]:
    closed: list[StreamShard] = table.__dict__.get("closed_stream_shards", [])
    return [*closed, *([table.stream_shard] if table.stream_shard else [])]


def _shard_json(to_json: Any) -> Any:
    def with_lineage(self: StreamShard) -> dict[str, Any]:
        described: dict[str, Any] = to_json(self)
        parent = self.__dict__.get("parent_shard_id")
        if parent:
            described["ParentShardId"] = parent
        ending = self.__dict__.get("ending_sequence_number")
        if ending is not None:
            described["SequenceNumberRange"]["EndingSequenceNumber"] = str(ending)
        return described

    return with_lineage


def _describe_every_shard(describe_stream: Any) -> Any:
    def describe(self: DynamoDBStreamsBackend, arn: str) -> dict[str, Any]:
        stream: dict[str, Any] = describe_stream(self, arn)
        stream["Shards"] = [shard.to_json() for shard in _shards(self._get_table_from_arn(arn))]
        return stream

    return describe


def _iterator_on_any_shard(
    self: DynamoDBStreamsBackend,
    arn: str,
    shard_id: str,
    shard_iterator_type: str,
    sequence_number: str | None = None,
) -> ShardIterator:
    """``get_shard_iterator`` on whichever shard of the table is named, open or closed."""
    shards = {shard.id: shard for shard in _shards(self._get_table_from_arn(arn))}
    if shard_id not in shards:
        raise ValueError(f"no shard {shard_id} in {arn}")
    number = int(sequence_number) if sequence_number is not None else None
    iterator = ShardIterator(self, shards[shard_id], shard_iterator_type, number)
    self.shard_iterators[iterator.arn] = iterator
    return iterator


def _closed_shard_ends(get: Any) -> Any:
    def records(self: ShardIterator, limit: int = 1000) -> dict[str, Any]:
        page: dict[str, Any] = get(self, limit)
        ending = self.stream_shard.__dict__.get("ending_sequence_number")
        following = self.streams_backend.shard_iterators[page["NextShardIterator"]]
        if ending is not None and following.sequence_number > ending:
            page.pop("NextShardIterator")  # the shard is closed and read to its end
        return page

    return records


def _splitting(handle: Any, tables_of: Callable[[dict[str, Any]], list[str]]) -> Any:
    """Wrap a DynamoHandler write action: before it, each table it writes that has a
    stream has its shard split at the configured rate."""
    rate = _split_rate()

    def split_then_handle(self: DynamoHandler) -> Any:
        if rate > 0:
            body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
            for name in tables_of(body):
                table = self.dynamodb_backend.get_table(name)
                if table.stream_shard is not None and _SPLIT_RANDOM.random() < rate:
                    split_stream(table)
        return handle(self)

    return split_then_handle


def _put_item_table(body: dict[str, Any]) -> list[str]:
    return [str(body["TableName"])]


def _transaction_tables(body: dict[str, Any]) -> list[str]:
    return sorted(
        {str(op["TableName"]) for item in body.get("TransactItems", []) for op in item.values()}
    )


SHARD_SPLIT_PATCHES = (
    Patch(StreamShard, "to_json", _shard_json, "5.1.17"),
    Patch(DynamoDBStreamsBackend, "describe_stream", _describe_every_shard, "5.1.17"),
    Patch(
        DynamoDBStreamsBackend,
        "get_shard_iterator",
        _ignore_original(_iterator_on_any_shard),
        "5.1.17",
    ),
    Patch(ShardIterator, "get", _closed_shard_ends, "5.1.17"),
    Patch(DynamoHandler, "put_item", lambda h: _splitting(h, _put_item_table), "5.1.17"),
    Patch(
        DynamoHandler,
        "transact_write_items",
        lambda h: _splitting(h, _transaction_tables),
        "5.1.17",
    ),
)
PATCHES += SHARD_SPLIT_PATCHES


def _method_names_remembered(method_names_from_class: Any) -> Any:
    """``moto.core.utils.method_names_from_class``, once per response class.

    moto lists a response class's functions (``inspect.getmembers``, a few hundred
    attributes for DynamoHandler) on every request, only to check that the action
    names one of them: 2.4% of the server's time under load. The patches are applied
    before the first request, and nothing adds a method to a class afterwards, so the
    list of a class stays what it first was. A frozenset answers the same ``in``.
    """
    return functools.lru_cache(maxsize=None)(
        lambda clazz: frozenset(method_names_from_class(clazz))
    )


def _processing_map_once(self: Any) -> tuple[tuple[type, ...], tuple[tuple[type, Any], ...]]:
    """A traverser's node classes and their processors, built on first use: each
    traverser is made for one expression and its ``_processing_map`` gives the same
    classes and bound methods every time (it reads no state of the traversal)."""
    cached = self.__dict__.get("_ledger_processing_map")
    if cached is None:
        processing = self._processing_map()
        cached = self.__dict__["_ledger_processing_map"] = (
            tuple(processing),
            tuple(processing.items()),
        )
    return cached  # type: ignore[no-any-return]


def _nodes_to_be_processed(_original: Any) -> Any:
    """``DepthFirstTraverser.nodes_to_be_processed`` without a new map per node.

    moto's UpdateItem validates its expression with ten traversals of its syntax tree,
    and each asks every node whether it is to be processed by building the traverser's
    map of processors anew (and again to process it): the largest part of an
    UpdateItem's time. The answer is the map's classes, as moto's, built once.
    """

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        return _processing_map_once(self)[0]

    return nodes_to_be_processed


def _process(_original: Any) -> Any:
    """``DepthFirstTraverser.process`` on the map built once (_nodes_to_be_processed):
    the first class the node is an instance of, in the map's order, as moto's."""

    def process(self: Any, node: Any) -> Any:
        for class_key, processor in _processing_map_once(self)[1]:
            if isinstance(node, class_key):
                return processor(node)
        return None

    return process


# Node classes by the class tuples asked of them: a few dozen of each, a bounded set.
_SUBCLASSES: dict[tuple[type, type | tuple[type, ...]], bool] = {}


def _subclass(cls: type, classes: type | tuple[type, ...]) -> bool:
    answer = _SUBCLASSES.get((cls, classes))
    if answer is None:
        answer = _SUBCLASSES[cls, classes] = issubclass(cls, classes)
    return answer


def _find_clauses(_original: Any) -> Any:
    """``Node.find_clauses``, moto's search with its class checks answered once per
    node class (as _traverse_node_recursively): moto's validators and handler search an
    UpdateItem's tree five times per request."""

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            cls = type(child)
            if cls in clause_types:
                clauses.append(child)
            elif _subclass(cls, Expression) or _subclass(cls, UpdateExpressionFunction):
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    return find_clauses


def _traverse_node_recursively(_original: Any) -> Any:
    """``DepthFirstTraverser.traverse_node_recursively``, moto's walk with each of its
    two class checks answered once per node class.

    moto's syntax-tree classes are abstract base classes, whose ``isinstance`` goes
    through a Python-level hook: two checks per node per traversal, ten traversals
    per validation. A node's class answers them (no node class overrides
    ``__class__``, and none is registered as a virtual subclass later).
    """

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        if _subclass(type(node), Node):
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            if _subclass(type(node), self.nodes_to_be_processed()):
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    return traverse_node_recursively


# Pairs of a key and a shape of botocore's models of the few services served: hundreds.
_POSSIBLE_KEYS_CACHE_SIZE = 4096


def _possible_keys_remembered(get_possible_keys: Any) -> Any:
    """``XFormedAttributePicker.get_possible_keys``, remembered for a dict's keys.

    moto's response serializer looks up each member of each shape in the answer under
    every name it may have (an alias provider built per member, each name also in
    snake_case): for a GetRecords answer, every attribute value of every image is a
    structure of ten members, each looked up so. For a plain dict the names depend
    only on the key, the shape and the providers (no provider reads anything else of a
    dict but its class), and botocore's shapes live as long as moto's cached service
    models: the same names, worked out once. The names are listed whole where moto's
    generator stops at the first one found: one that cannot be listed (a provider
    raising) is left to moto's generator, uncached.
    """
    remembered: dict[tuple[Any, ...], tuple[str, ...]] = {}
    lock = threading.Lock()

    def possible_keys(
        self: XFormedAttributePicker, context: AttributePickerContext
    ) -> Iterator[str] | tuple[str, ...]:
        if type(context.obj) is not dict:
            return get_possible_keys(self, context)  # type: ignore[no-any-return]
        # The shape itself is kept in the key: its id is not reused while it is held.
        key = (tuple(self.alias_providers), context.key, context.shape, id(context.shape))
        names = remembered.get(key)
        if names is None:
            try:
                names = tuple(get_possible_keys(self, context))
            except Exception:  # noqa: BLE001 moto's generator raises it when it gets there
                return get_possible_keys(self, context)  # type: ignore[no-any-return]
            _keep(remembered, lock, key, names, _POSSIBLE_KEYS_CACHE_SIZE)
        return names

    return possible_keys


# The ledger sends a few dozen distinct condition expressions.
_CONDITION_TOKENS_CACHE_SIZE = 512


def _condition_tokens_remembered(lex: Any) -> Any:
    """``ConditionExpressionParser._lex_condition_expression``, remembering the tokens
    of each expression text.

    moto splits a condition into tokens on every parse (compiling its patterns again
    for every token), and parses an UpdateItem's condition twice: 5% of an UpdateItem.
    The tokens depend on the text alone (names and values are looked up by the next
    step); each parse gets its own deque of its own nodes, as moto's, since the steps
    after it consume the deque. A text that does not split raises again each time.
    """

    @functools.lru_cache(maxsize=_CONDITION_TOKENS_CACHE_SIZE)
    def tokens(text: str) -> tuple[Any, ...]:
        return tuple(lex(ConditionExpressionParser(text, None, None)))

    def lex_condition_expression(self: ConditionExpressionParser) -> collections.deque[Any]:
        if not isinstance(self.condition_expression, str):
            return lex(self)  # type: ignore[no-any-return]
        return collections.deque(
            node._replace(children=list(node.children))
            for node in tokens(self.condition_expression)
        )

    return lex_condition_expression


# moto's own limit of an item's size (LimitedSizeDict.__setitem__).
_ITEM_SIZE_LIMIT = 405_000


def _size(attrs: LimitedSizeDict) -> int:
    """An item's size as LimitedSizeDict.__setitem__ adds it up."""
    return sum(
        item.size() if type(item) is DynamoType else bytesize(str(item))
        for item in (*attrs.keys(), *attrs.values())
    )


def _limited_size_dict_deepcopy(self: LimitedSizeDict, memo: dict[int, Any]) -> LimitedSizeDict:
    """``copy.deepcopy`` of an item's attributes, checking their size once.

    moto deep-copies an item two or three times per UpdateItem (to answer ALL_OLD, for
    the stream's old image) and deepcopy fills the copy key by key through
    ``__setitem__``, which adds up the size of everything already in it every time:
    quadratic in the attributes, 7% of an UpdateItem. This is deepcopy's own copy
    (a new instance, its ``__dict__`` and each key and value deep-copied, in order)
    with the check made once on the whole; an item over the limit is copied by
    deepcopy's way, which raises ItemSizeTooLarge as before.
    """
    if _size(self) > _ITEM_SIZE_LIMIT:
        reductor = self.__reduce_ex__(4)
        return copy._reconstruct(self, memo, *reductor)  # type: ignore[attr-defined,no-any-return]
    clone = type(self).__new__(type(self))
    memo[id(self)] = clone
    if self.__dict__:
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
    for key, value in self.items():
        dict.__setitem__(clone, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
    return clone


_ATOMIC = (str, int, float, bool, type(None))


def _node_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of a node of an update expression's syntax tree, directly.

    moto's validator deep-copies the expression's tree for every UpdateItem (twice for
    a new item), by deepcopy's general way for each node (its reduction, then a copy
    of its ``__dict__`` as a dict): 16% of an UpdateItem. This makes the same copy (a
    new instance of the node's class, each attribute deep-copied, the parent through
    the same memo, so the copied tree links to itself only) without the detours;
    strings and numbers are kept, as deepcopy keeps them.
    """
    cls: Any = type(self)
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    attributes = clone.__dict__
    for name, value in self.__dict__.items():
        attributes[name] = value if type(value) in _ATOMIC else copy.deepcopy(value, memo)
    return clone


# What only saves moto's time per request, the answers unchanged: the server applies
# them unless told to serve as moto does (scripts.local.moto_server's PLAIN_ENV), which
# tests/runtime/test_moto_direct.py and bench/moto_cpu.py compare with.
SPEED_PATCHES: tuple[Patch, ...] = (
    Patch(Table, "__init__", _sorted_partitions, "5.1.17"),
    Patch(
        moto.core.responses,
        "method_names_from_class",
        _method_names_remembered,
        "5.1.17",
    ),
    Patch(DepthFirstTraverser, "nodes_to_be_processed", _nodes_to_be_processed, "5.1.17"),
    Patch(DepthFirstTraverser, "process", _process, "5.1.17"),
    Patch(Node, "find_clauses", _find_clauses, "5.1.17"),
    Patch(
        DepthFirstTraverser,
        "traverse_node_recursively",
        _traverse_node_recursively,
        "5.1.17",
    ),
    Patch(XFormedAttributePicker, "get_possible_keys", _possible_keys_remembered, "5.1.17"),
    Patch(Node, "__deepcopy__", _ignore_original(_node_deepcopy), "5.1.17"),
    Patch(
        LimitedSizeDict,
        "__deepcopy__",
        _ignore_original(_limited_size_dict_deepcopy),
        "5.1.17",
    ),
    Patch(
        ConditionExpressionParser,
        "_lex_condition_expression",
        _condition_tokens_remembered,
        "5.1.17",
    ),
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
    stale = [patch.name for patch in PATCHES + SPEED_PATCHES if patch.written_for != pinned]
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


def apply_patches(*, speed: bool = True) -> None:
    """Check the installed moto against the pin, then patch it (once per process): the
    PATCHES always, the SPEED_PATCHES unless `speed` is false (moto's own cost, to
    compare with)."""
    check_moto_version(installed_moto_version(), pinned_moto_version())
    for patch in PATCHES + (SPEED_PATCHES if speed else ()):
        original = getattr(patch.owner, patch.attribute, None)  # None: a method moto lacks
        setattr(patch.owner, patch.attribute, patch.replace(original))

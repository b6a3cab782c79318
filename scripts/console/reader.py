"""What the console shows, read through the same adapters as the operators' CLI: the
tables through `DynamoDBEventStore` / `DynamoDBProjectionStore` and `scripts.ops.status`,
the queues as `ledger status` and `ledger redrive` read them, the logs through
`scripts.console.logs`. Nothing here writes.

Events are shown generically: every field of an event's stored form (plus its
correlation id), so a field or an event type added to the domain appears without a
change here; so do the fields of the account state stored with each event. A posting
that was reversed also names its reversal (`reversedBy`), as the reversal names it.

Balances, holds and a past balance come from the application layer's functions, the
ones the API answers with (`holds_of`, `state_at`), so the console never disagrees
with the API about them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from attrs import define, field, frozen

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.history import state_at
from banking.application.holds import holds_of
from banking.application.ports import (
    Cursor,
    EventNotFound,
    HoldRecord,
    HoldStatus,
    StoredEvent,
    Unreadable,
)
from banking.domain.account import Account
from banking.domain.events import EventRef, PostingEvent
from banking.domain.identifiers import validate_account_id
from banking.domain.read_models import (
    MONTHLY_STATEMENT,
    PROJECTIONS,
    READ_MODEL_NAMES,
    ReadModel,
)
from banking.entrypoints.responses import hold_body
from banking.serialization import (
    converter,
    event_to_dict,
    format_time,
    register_camel_case,
    snapshot_of,
)
from scripts.console.chart import Point, balance_chart
from scripts.console.logs import (
    Hop,
    LagBucket,
    LagDistribution,
    LogSource,
    hops,
    lag_distribution,
)
from scripts.ops.aws import Ledger, dead_letter_queue_urls
from scripts.ops.redrive import StreamBatch, Unrecognised, parse
from scripts.ops.status import AccountStatus, dead_letter_depths

MAX_PAGE = 100
# The chart covers at most this many of the newest events: bounded work per page view.
CHART_EVENTS = 1000
# Messages peeked per dead-letter queue to find its oldest (SQS keeps no order).
PEEKED = 10
# An account page lists at most this many pending holds, and of the others at most this
# many among the account's first holds (the API's holds list pages through them all).
HOLDS_SHOWN = 50
# Events table keys read per pipeline refresh: the page sweeps the table a slice at a
# time instead of scanning all of it every few seconds.
SWEEP_ITEMS = 1000
# Accounts behind whose read models are looked at again per refresh, and among which the
# oldest unprojected event is looked for (the most behind).
RECHECKED = 100


class AccountNotFound(Exception):
    pass


@frozen
class AccountPage:
    accounts: list[str]
    next_after: str | None


@frozen
class ReadModelView:
    name: str
    version: int
    fields: dict[str, Any]


@frozen
class Balances:
    """An account's booked, held and available money at one version of it."""

    version: int
    currency: str
    total_balance: str
    held_balance: str
    available_balance: str
    # The instant asked for, for a past balance; None for the current one.
    at: str | None = None

    @classmethod
    def of(cls, state: Account, at: datetime | None = None) -> Balances:
        return cls(
            version=state.version,
            currency=state.currency.code,
            total_balance=str(state.balance),
            held_balance=str(state.held),
            available_balance=str(state.available),
            at=format_time(at) if at is not None else None,
        )


@frozen
class HoldsView:
    # Pending first (soonest to expire first), then what became of the others.
    pending: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    # Whether the account has holds beyond those shown.
    more: bool


@frozen
class AccountView:
    account_id: str
    version: int
    state: dict[str, Any]
    balances: Balances
    holds: HoldsView
    read_models: list[ReadModelView]
    events: list[dict[str, Any]]
    next_after: int | None
    chart: str


@frozen
class Unprojected:
    account_id: str
    version: int
    recorded_at: datetime
    age_s: float


@frozen
class ReadModelLag:
    name: str
    accounts: int
    accounts_behind: int
    events_behind: int
    oldest_unprojected: Unprojected | None
    # (account, head version, read model version) of the accounts most behind.
    most_behind: list[tuple[str, int, int]] = field(factory=list)


@frozen
class DeadLetterQueue:
    name: str
    depth: int
    oldest_sent_at: datetime | None
    oldest: str | None


@frozen
class Rebuild:
    read_model: str
    active: int
    building: int
    items_behind: int


@frozen
class Sweep:
    """How far the pipeline page's sweep of the events table has come."""

    # Whether every account has been seen at least once (before: the counts are partial).
    complete: bool
    # Keys read from the events table by this refresh (at most SWEEP_ITEMS).
    items_read: int


@frozen
class PipelineView:
    at: datetime
    accounts: int
    events: int
    sweep: Sweep
    read_models: list[ReadModelLag]
    lag: LagDistribution
    dead_letters: list[DeadLetterQueue]
    rebuilds: list[Rebuild]


@frozen
class JourneyView:
    correlation_id: str
    hops: list[Hop]
    stored: dict[str, Any] | None
    projected: list[ReadModelView]


for _view in (
    Hop,
    LagBucket,
    LagDistribution,
    AccountPage,
    ReadModelView,
    Balances,
    HoldsView,
    AccountView,
    Sweep,
    Unprojected,
    ReadModelLag,
    DeadLetterQueue,
    Rebuild,
    PipelineView,
    JourneyView,
):
    # The console's own shapes: JSON in camelCase like every other the ledger answers.
    register_camel_case(_view)


class Console:
    def __init__(self, ledger: Ledger, logs: LogSource) -> None:
        self._ledger = ledger
        self._dynamodb = ledger.client("dynamodb")
        self._sqs = ledger.client("sqs")
        self._events = DynamoDBEventStore(
            self._dynamodb,
            ledger.events_table,
            ledger.idempotency_table,
            holds_table=ledger.holds_table,
        )
        self._projections = DynamoDBProjectionStore(self._dynamodb, ledger.projections_table)
        self._logs = logs
        self._sweep = _SweepState()
        # One pipeline refresh at a time: the sweep's state is shared by the server's threads.
        self._sweep_lock = threading.Lock()

    # Accounts

    def accounts(self, *, after: str | None, limit: int) -> AccountPage:
        """Accounts in the events table's scan order: each has exactly one version 1."""
        request: dict[str, Any] = {
            "TableName": self._ledger.events_table,
            "ProjectionExpression": "accountId",
            "FilterExpression": "version = :first",
            "ExpressionAttributeValues": {":first": {"N": "1"}},
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"accountId": {"S": after}, "version": {"N": "1"}}
        found: list[str] = []
        while True:
            response = self._dynamodb.scan(**request, Limit=MAX_PAGE)
            for item in response["Items"]:
                found.append(str(item["accountId"]["S"]))
                if len(found) == limit:
                    more = "LastEvaluatedKey" in response or item is not response["Items"][-1]
                    return AccountPage(found, found[-1] if more else None)
            if "LastEvaluatedKey" not in response:
                return AccountPage(found, None)
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def account(self, account_id: str, *, after: int, limit: int) -> AccountView:
        validate_account_id(account_id)
        state = self._events.load(account_id)
        if state.version == 0:
            raise AccountNotFound(account_id)
        page = list(itertools.islice(self._stored(account_id, after), limit + 1))
        shown = page[:limit]
        chart_from = max(0, state.version - CHART_EVENTS)
        points = [
            Point(scanned.event.version, scanned.event.recorded_at, scanned.state.balance)
            for scanned in self._stored(account_id, chart_from)
            if isinstance(scanned, StoredEvent)
        ]
        return AccountView(
            account_id=account_id,
            version=state.version,
            state=snapshot_of(state),
            balances=Balances.of(state),
            holds=self.holds(account_id),
            read_models=[_read_model_view(model) for model in self._projections.load(account_id)],
            events=[self._event_view(scanned) for scanned in shown],
            next_after=_version_of(shown[-1]) if len(page) > limit else None,
            chart=balance_chart(points, title=f"Balance of {account_id} over time"),
        )

    def holds(self, account_id: str) -> HoldsView:
        """The pending holds, soonest to expire first, then the others of the account's
        first holds in the order they were placed, each with what became of it."""
        pending = holds_of(
            account_id, self._events, status=HoldStatus.PENDING, after=0, limit=HOLDS_SHOWN
        )
        every = holds_of(account_id, self._events, status=None, after=0, limit=HOLDS_SHOWN)
        resolved = [hold for hold in every.holds if hold.status is not HoldStatus.PENDING]
        return HoldsView(
            pending=[hold_body(hold) for hold in sorted(pending.holds, key=_expiry)],
            resolved=[hold_body(hold) for hold in resolved],
            more=pending.next_after is not None or every.next_after is not None,
        )

    def balance_at(self, account_id: str, moment: datetime) -> Balances:
        """The balances as they stood at `moment`: what `GET /accounts/{id}/balance?at=`
        answers, from the same function. Raises banking's AccountNotFound before the
        account's first event and InvalidRequest for a moment still to come."""
        validate_account_id(account_id)
        return Balances.of(state_at(account_id, moment, self._events, clock=_now), moment)

    def _event_view(self, scanned: StoredEvent | Unreadable) -> dict[str, Any]:
        view = _event_view(scanned)
        if isinstance(scanned, StoredEvent) and isinstance(scanned.event, PostingEvent):
            # One read per posting shown (a page is bounded): the marker the reversal
            # wrote in its own transaction, so the entry points to it as it points back.
            event = scanned.event
            marker = self._events.reversal(EventRef(event.account_id, event.version))
            if marker is not None:
                view["reversedBy"] = converter.unstructure(marker.reversed_by)
        return view

    def _stored(self, account_id: str, after: int) -> Iterator[StoredEvent | Unreadable]:
        cursor = Cursor(account_id, after) if after else None
        return iter(self._events.scan_account(account_id, after=cursor))

    # Pipeline

    def pipeline(self) -> PipelineView:
        """The read models against the events table, from a sweep that reads at most
        SWEEP_ITEMS keys of the events table per refresh (resuming where the previous
        refresh stopped, round and round) and queries the projections only of the
        accounts it saw move and of those still behind: bounded work however large the
        table, the counts at most one sweep old."""
        now = datetime.now(UTC)
        with self._sweep_lock:
            sweep = self._sweep
            moved, read = self._sweep_slice(sweep)
            # Behind as `ledger status` counts it (a statement only once there is one).
            behind_by = {
                account: AccountStatus(account, head, sweep.versions[account]).behind
                for account, head in sweep.heads.items()
                if account not in moved
            }
            behind = sorted(
                (account for account, events in behind_by.items() if events > 0),
                key=lambda account: -behind_by[account],
            )[:RECHECKED]
            for account in [*moved, *behind]:
                sweep.versions[account] = self._versions(account)
            heads = dict(sweep.heads)
            versions = {account: dict(found) for account, found in sweep.versions.items()}
            complete = sweep.complete
        read_models = [
            self._read_model_lag(name, heads, versions, now) for name in sorted(PROJECTIONS)
        ]
        return PipelineView(
            at=now,
            accounts=len(heads),
            events=sum(heads.values()),
            sweep=Sweep(complete, read),
            read_models=read_models,
            lag=lag_distribution(self._logs.lag_samples()),
            dead_letters=self._dead_letters(),
            rebuilds=self._rebuilds(),
        )

    def _sweep_slice(self, sweep: _SweepState) -> tuple[set[str], int]:
        """Reads the next slice of the events table's keys into `sweep.heads`: the
        accounts whose head moved, and how many keys were read."""
        moved: set[str] = set()
        read = 0
        while read < SWEEP_ITEMS:
            request: dict[str, Any] = {
                "TableName": self._ledger.events_table,
                "ProjectionExpression": "accountId, version",
                "Limit": SWEEP_ITEMS - read,
            }
            if sweep.cursor is not None:
                request["ExclusiveStartKey"] = sweep.cursor
            response = self._dynamodb.scan(**request)
            for item in response["Items"]:
                account, version = str(item["accountId"]["S"]), int(item["version"]["N"])
                if version > sweep.heads.get(account, 0):
                    sweep.heads[account] = version
                    moved.add(account)
            read += len(response["Items"])
            sweep.cursor = response.get("LastEvaluatedKey")
            if sweep.cursor is None:
                # The end of the table: the next slice starts a new round.
                sweep.complete = True
                break
        for account in moved:
            sweep.versions.setdefault(account, {})
        return moved, read

    def _versions(self, account_id: str) -> dict[str, int]:
        """Each read model's version for the account (statements: the newest month's)."""
        versions: dict[str, int] = {}
        for model in self._projections.load(account_id):
            name = READ_MODEL_NAMES[type(model)]
            versions[name] = max(versions.get(name, 0), model.version)
        return versions

    def _read_model_lag(
        self,
        name: str,
        heads: dict[str, int],
        versions: dict[str, dict[str, int]],
        now: datetime,
    ) -> ReadModelLag:
        behind = sorted(
            (
                (account, head, versions[account].get(name, 0))
                for account, head in heads.items()
                if versions[account].get(name, 0) < head
                # An account has a statement only once it had a posting (as `ledger status`).
                and (name != MONTHLY_STATEMENT or name in versions[account])
            ),
            key=lambda row: row[2] - row[1],
        )
        oldest: Unprojected | None = None
        # One read per account: of the most behind only, so a backlog across many
        # accounts still costs a bounded refresh.
        for account, _, version in behind[:RECHECKED]:
            try:
                recorded_at = self._events.get(account, version + 1).event.recorded_at
            except EventNotFound:
                continue
            if oldest is None or recorded_at < oldest.recorded_at:
                age = (now - recorded_at).total_seconds()
                oldest = Unprojected(account, version + 1, recorded_at, round(age, 1))
        return ReadModelLag(
            name=name,
            accounts=len(heads),
            accounts_behind=len(behind),
            events_behind=sum(head - version for _, head, version in behind),
            oldest_unprojected=oldest,
            most_behind=[(account, head, version) for account, head, version in behind[:10]],
        )

    def _dead_letters(self) -> list[DeadLetterQueue]:
        depths = dead_letter_depths(self._ledger)
        return [
            self._dead_letter_queue(url, depths[url.rsplit("/", 1)[-1]])
            for url in dead_letter_queue_urls(self._ledger)
        ]

    def _dead_letter_queue(self, url: str, depth: int) -> DeadLetterQueue:
        name = url.rsplit("/", 1)[-1]
        oldest: tuple[datetime, str] | None = None
        if depth:
            # A peek: visible again at once, so a redrive or another look finds it.
            messages = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=PEEKED,
                VisibilityTimeout=0,
                AttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            for message in messages:
                sent = datetime.fromtimestamp(
                    int(message["Attributes"]["SentTimestamp"]) / 1000, UTC
                )
                if oldest is None or sent < oldest[0]:
                    oldest = (sent, _describe(message["Body"]))
        return DeadLetterQueue(name, depth, *(oldest or (None, None)))

    def _rebuilds(self) -> list[Rebuild]:
        rebuilds = []
        for name in sorted(PROJECTIONS):
            pointer = self._projections.generations(name)
            if pointer.building is not None:
                behind = len(self._projections.lagging(name, pointer.building))
                rebuilds.append(Rebuild(name, pointer.active, pointer.building, behind))
        return rebuilds

    # An event's journey

    def journey(self, correlation_id: str) -> JourneyView:
        found = hops(self._logs.matching(correlation_id), correlation_id)
        stored = next(
            (
                (hop.account_id, hop.version)
                for hop in found
                if hop.hop == "stored" and hop.account_id and hop.version
            ),
            None,
        ) or self._stored_by_scan(correlation_id)
        if stored is None:
            return JourneyView(correlation_id, found, None, [])
        account_id, version = stored
        try:
            event = _event_view(self._events.get(account_id, version))
        except EventNotFound:
            event = None
        projected = [
            view
            for view in map(_read_model_view, self._projections.load(account_id))
            if view.version >= version
        ]
        return JourneyView(correlation_id, found, event, projected)

    def _stored_by_scan(self, correlation_id: str) -> tuple[str, int] | None:
        """The event of a correlation id whose logs are gone: a filtered scan of the
        events table (an operator's look, not a hot path)."""
        pages = self._dynamodb.get_paginator("scan").paginate(
            TableName=self._ledger.events_table,
            ProjectionExpression="accountId, version",
            FilterExpression="correlationId = :c",
            ExpressionAttributeValues={":c": {"S": correlation_id}},
        )
        for page in pages:
            for item in page["Items"]:
                return str(item["accountId"]["S"]), int(item["version"]["N"])
        return None


@define
class _SweepState:
    """What the pipeline's sweeps have seen so far (kept between refreshes)."""

    heads: dict[str, int] = field(factory=dict)
    # Each read model's version per account seen, as of the last look at it.
    versions: dict[str, dict[str, int]] = field(factory=dict)
    cursor: dict[str, Any] | None = None
    complete: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _expiry(hold: HoldRecord) -> datetime:
    return hold.expires_at


def _describe(body: str) -> str:
    parked = parse(body)
    if isinstance(parked, Unrecognised):
        return f"unrecognised: {parked.reason}"
    if isinstance(parked, StreamBatch):
        return f"stream batch {parked.shard_id} {parked.start}..{parked.end}"
    detail = parked.entry.detail
    return (
        f"{parked.entry.detail_type} from {parked.entry.source}: "
        f"{detail.get('accountId')} v{detail.get('version')}"
    )


def _event_view(scanned: StoredEvent | Unreadable) -> dict[str, Any]:
    if isinstance(scanned, Unreadable):
        return {"version": scanned.version, "unreadable": scanned.error}
    return {
        **event_to_dict(scanned.event),
        "correlationId": scanned.correlation_id,
        "balanceAfter": str(scanned.state.balance),
    }


def _version_of(scanned: StoredEvent | Unreadable) -> int:
    return scanned.version if isinstance(scanned, Unreadable) else scanned.event.version


def _read_model_view(model: ReadModel) -> ReadModelView:
    fields: dict[str, Any] = converter.unstructure(model)
    version = int(fields.pop("lastKnownVersion"))
    # A field the model did not carry yet when it was written (`held` before holds).
    shown = {name: value for name, value in fields.items() if value is not None}
    return ReadModelView(READ_MODEL_NAMES[type(model)], version, shown)

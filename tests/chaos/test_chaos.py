"""Chaos: many clients, many accounts, every fault at once; then nothing is lost.

Concurrent clients send credits and debits (each with its Idempotency-Key, as the API
requires, retried with the same key after a 5xx or a lost answer, some sent again after
they succeeded) to a
system whose functions fail, time out, crash after writing, get throttled, and whose
deliveries are duplicated, delayed and reordered. Every request's outcome is recorded
(acknowledged, rejected, unknown). Once the system is quiet and its dead letters are
redriven, the stored events, the read models and the history are checked offline.
"""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore, from_item
from banking.domain.read_models import READ_MODEL_NAMES
from scripts.local.faults import (
    ASYNC_RETRY,
    DEAD_LETTERED,
    DUPLICATE,
    JOURNAL_NAME,
    STREAM_RETRY,
    summary,
    totals,
)
from scripts.ops.aws import Ledger
from scripts.ops.redrive import QueueResult, redrive_queues
from scripts.ops.status import AccountStatus, dead_letter_depths
from scripts.ops.verify import verify_accounts
from tests.e2e.conftest import BACK_OFFICE, WRITE_SCOPE, Api
from tests.local_system import System

pytestmark = [pytest.mark.chaos, pytest.mark.xdist_group("chaos")]

REQUESTS = int(os.environ.get("LEDGER_CHAOS_REQUESTS", "160"))
CLIENTS = int(os.environ.get("LEDGER_CHAOS_CLIENTS", "8"))
ACCOUNTS = int(os.environ.get("LEDGER_CHAOS_ACCOUNTS", "10"))
RESEND_SHARE = 0.25  # acknowledged requests sent once more, as a client retry would
ATTEMPTS = 5  # per request, on a 5xx or a lost answer
QUIET_DEADLINE_S = 180
STALLED_S = 10  # longer than any retry chain: nothing moves, what is left is parked
REDRIVE_ROUNDS = 5

ACKNOWLEDGED, REJECTED, UNKNOWN = "acknowledged", "rejected", "unknown"


@dataclass
class Request:
    number: int
    account: str
    kind: str  # credits or debits
    amount: str
    key: str
    description: str
    outcome: str = UNKNOWN
    code: str | int | None = None
    event_id: str | None = None
    attempts: int = 0
    resent: int = 0
    violations: list[str] = field(default_factory=list)


def planned_requests(run: str, rng: random.Random) -> list[Request]:
    accounts = [f"chaos-{run}-{n:03d}" for n in range(ACCOUNTS)]
    return [
        Request(
            number=n,
            account=rng.choice(accounts),
            kind="credits" if rng.random() < 0.65 else "debits",
            amount=f"{rng.randint(1, 5000) / 100:.2f}",
            key=f"k-{run}-{n}",
            description=f"chaos {run} request {n}",
        )
        for n in range(REQUESTS)
    ]


def send(api: Api, request: Request, rng: random.Random) -> None:
    """Send until acknowledged or rejected; its key makes every request safe to send again."""
    body = {"amount": request.amount, "description": request.description}
    headers = {"Idempotency-Key": request.key}
    path = f"/accounts/{request.account}/{request.kind}"
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(rng.uniform(0, 0.05 * 2**attempt))
        request.attempts += 1
        try:
            response = api.post(path, body, headers=headers)
        except requests.RequestException:
            continue  # no answer: unknown, as after a 5xx
        if response.status_code == 201:
            request.outcome, request.event_id = ACKNOWLEDGED, response.json()["eventId"]
            break
        if 400 <= response.status_code < 500:
            error = response.json().get("error") or {}
            request.outcome, request.code = REJECTED, error.get("code", response.status_code)
            return
    if request.outcome == ACKNOWLEDGED and rng.random() < RESEND_SHARE:
        request.resent += 1
        try:
            again = api.post(path, body, headers=headers)
        except requests.RequestException:
            return
        if again.status_code == 201 and again.json()["eventId"] != request.event_id:
            request.violations.append(f"a resent key answered {again.json()['eventId']}")
        elif again.status_code < 500 and again.status_code != 201:
            request.violations.append(f"a resent key answered {again.status_code}")


@dataclass
class Settled:
    accounts: list[AccountStatus]
    dead_letters: int

    @property
    def caught_up(self) -> bool:
        return all(account.behind == 0 for account in self.accounts)


def look(ledger: Ledger, accounts: Iterable[str]) -> Settled:
    """What `ledger status` shows for these accounts: heads, read models, dead letters."""
    dynamodb = ledger.client("dynamodb")
    projections = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    statuses = []
    for account in sorted(accounts):
        items = dynamodb.query(
            TableName=ledger.events_table,
            KeyConditionExpression="accountId = :a",
            ExpressionAttributeValues={":a": {"S": account}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        head = int(items[0]["version"]["N"]) if items else 0
        models = {READ_MODEL_NAMES[type(m)]: m.version for m in projections.load(account)}
        statuses.append(AccountStatus(account, head, models))
    return Settled(statuses, sum(dead_letter_depths(ledger).values()))


def wait_until_quiet(probe: Callable[[], Settled]) -> Settled:
    """Until every read model is at its head and nothing is parked, or nothing has moved
    for STALLED_S (what is left is parked); a deadline, no fixed sleep."""
    deadline = time.monotonic() + QUIET_DEADLINE_S
    last, since = None, time.monotonic()
    while True:
        settled = probe()
        if settled.caught_up and settled.dead_letters == 0:
            return settled
        if settled != last:
            last, since = settled, time.monotonic()
        elif time.monotonic() - since > STALLED_S:
            return settled
        if time.monotonic() > deadline:
            behind = [a for a in settled.accounts if a.behind]
            raise AssertionError(f"not quiet after {QUIET_DEADLINE_S}s: {behind}")
        time.sleep(0.5)


def stored_events(ledger: Ledger, accounts: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    dynamodb = ledger.client("dynamodb")
    stored: dict[str, list[dict[str, Any]]] = {}
    for account in accounts:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": ledger.events_table,
            "KeyConditionExpression": "accountId = :a",
            "ExpressionAttributeValues": {":a": {"S": account}},
            "ConsistentRead": True,
        }
        while True:
            page = dynamodb.query(**request)
            items += [from_item(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        stored[account] = items
    return stored


def test_under_faults_every_acknowledged_command_is_stored_once_and_every_read_model_converges(
    chaos_system: System,
) -> None:
    run = uuid.uuid4().hex[:6]
    seed = int(os.environ.get("LEDGER_CHAOS_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    print(f"chaos run {run}: LEDGER_CHAOS_SEED={seed} replays its requests")
    api = Api(chaos_system.api_url, chaos_system.token(BACK_OFFICE, WRITE_SCOPE))
    ledger = chaos_system.ledger()
    started = time.monotonic()

    # GIVEN a planned stream of credits and debits over many accounts
    planned = planned_requests(run, rng)
    accounts = {request.account for request in planned}

    # WHEN concurrent clients send them all while every fault is injected
    lock = threading.Lock()
    seeds = iter(rng.randrange(2**32) for _ in planned)

    def client(request: Request) -> None:
        with lock:
            own = random.Random(next(seeds))
        send(api, request, own)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client, planned))
    sent_s = time.monotonic() - started

    # AND the system goes quiet, its dead letters redriven until none is left
    settled = wait_until_quiet(lambda: look(ledger, accounts))
    redriven: list[QueueResult] = []
    for _ in range(REDRIVE_ROUNDS):
        if settled.dead_letters == 0 and settled.caught_up:
            break
        redriven += redrive_queues(ledger, out=io.StringIO())
        settled = wait_until_quiet(lambda: look(ledger, accounts))

    # THEN nothing is left behind
    assert settled.dead_letters == 0, "dead letters still parked after redriving"
    assert settled.caught_up, [a for a in settled.accounts if a.behind]
    assert [left for result in redriven for left in result.left] == []

    # AND offline: each account's versions run 1..n with no gap, never below zero
    stored = stored_events(ledger, accounts)
    for account, items in stored.items():
        assert [int(item["version"]) for item in items] == list(range(1, len(items) + 1))
        assert all(Decimal(item["snapshot"]["balance"]) >= 0 for item in items), account
    by_description: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for items in stored.values():
        for item in items:
            by_description[str(item.get("description"))].append(item)

    # AND every stored event is one a client sent
    sent = {request.description for request in planned}
    assert set(by_description) <= sent, set(by_description) - sent

    # AND acknowledged: stored exactly once, as answered; rejected: not stored;
    # unknown: stored at most once
    for request in planned:
        copies = by_description.get(request.description, [])
        assert not request.violations, (request, request.violations)
        if request.outcome == ACKNOWLEDGED:
            assert [item["eventId"] for item in copies] == [request.event_id], request
            assert copies[0]["accountId"] == request.account
            assert copies[0]["amount"] == request.amount
        elif request.outcome == REJECTED:
            assert copies == [], request
        else:
            assert len(copies) <= 1, request

    # AND everything parked in a dead-letter queue was a stored event
    keys = {(a, int(i["version"])) for a, items in stored.items() for i in items}
    parked = [key for result in redriven for key in result.events]
    assert set(parked) <= keys, set(parked) - keys

    # AND every read model equals the fold of the stored events
    store = DynamoDBEventStore(ledger.client("dynamodb"), ledger.events_table)
    projections = DynamoDBProjectionStore(ledger.client("dynamodb"), ledger.projections_table)
    assert verify_accounts(sorted(accounts), store, projections.load, ZoneInfo("UTC")) == []

    # AND the faults really happened
    injected = totals(summary(chaos_system.state_dir / JOURNAL_NAME).items())
    assert sum(injected.values()) > 0
    report = _report(planned, stored, injected, redriven, seed, sent_s, started)
    _publish(report, chaos_system)


def _report(
    planned: list[Request],
    stored: dict[str, list[dict[str, Any]]],
    injected: Counter[str],
    redriven: list[QueueResult],
    seed: int,
    sent_s: float,
    started: float,
) -> dict[str, Any]:
    outcomes = Counter(request.outcome for request in planned)
    unknown = [r for r in planned if r.outcome == UNKNOWN]
    stored_descriptions = {str(i.get("description")) for items in stored.values() for i in items}
    redeliveries = {kind: injected.pop(kind, 0) for kind in (STREAM_RETRY, ASYNC_RETRY)}
    return {
        "settings": {
            "requests": REQUESTS,
            "clients": CLIENTS,
            "accounts": ACCOUNTS,
            "seed": seed,
        },
        "requests": {
            "acknowledged": outcomes[ACKNOWLEDGED],
            "rejected": dict(Counter(r.code for r in planned if r.outcome == REJECTED)),
            "unknown": len(unknown),
            "unknown_and_stored": sum(r.description in stored_descriptions for r in unknown),
            "http_attempts": sum(r.attempts for r in planned),
            "retries_after_5xx_or_no_answer": sum(r.attempts - 1 for r in planned),
            "resent_after_success": sum(r.resent for r in planned),
        },
        "faults_injected": {k: v for k, v in injected.items() if k != DEAD_LETTERED},
        "duplicate_deliveries": injected.get(DUPLICATE, 0),
        "redeliveries": redeliveries,
        "dead_lettered": injected.get(DEAD_LETTERED, 0),
        "redriven": {
            "messages": dict(sum((Counter({r.name: r.redriven}) for r in redriven), Counter())),
            "events": sum(r.events_sent for r in redriven),
        },
        "stored_events": sum(len(items) for items in stored.values()),
        "seconds": {"sending": round(sent_s, 1), "total": round(time.monotonic() - started, 1)},
    }


def _publish(report: dict[str, Any], system: System) -> None:
    text = json.dumps(report, indent=2)
    (system.state_dir / "chaos-report.json").write_text(text)
    target = os.environ.get("LEDGER_CHAOS_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)
    print(f"chaos run: {text}")

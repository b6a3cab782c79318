"""Chaos: many clients, many accounts, every fault at once; then nothing is lost and no
money was made or lost.

Accounts (in two currencies, some with an overdraft limit) are opened before the run.
Concurrent clients then send credits, debits, transfers and multi-posting transfers over
the same accounts in every direction; place holds that expire in a few seconds and
then capture them (in part, whole, or into another account), void them or leave them to
the expirer (on a 1 s interval here); and reverse postings and transfers they made, some
twice (each with its Idempotency-Key, as the API requires, retried with the same key
after a 5xx or a lost answer, some sent again after they succeeded; a second capture,
void or reversal under a new key must be refused) to a system whose functions fail, time
out, crash after writing, get throttled, and whose deliveries are duplicated, delayed and
reordered. Two callers (tokens of
two subjects) send the same idempotency keys, each its own requests. Every request's
outcome is recorded (acknowledged, rejected, unknown). Once the system is quiet and its
dead letters are redriven, the stored events, the transfers, the read models and the
history are checked offline (`checks.py` lists the invariants). The figures are
published (printed, and written to LEDGER_CHAOS_REPORT) before anything is asserted, so
a failed run says what failed; `make chaos N=... CLIENTS=...` runs it at scale.
"""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore, from_item
from banking.application.ports import StoredEvent, TransferRecord
from banking.domain.events import Credited, Debited, Event, HoldExpired, HoldPlaced, HoldVoided
from banking.serialization import converter
from scripts.chaos.processes import moto_rss_kib
from scripts.chaos.settle import Settled, look, wait_until_quiet
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
from scripts.ops.verify import verify_accounts
from tests.chaos.checks import (
    ACKNOWLEDGED,
    CAPTURES,
    CREDITS,
    DEBITS,
    EXPIRY_GRACE,
    HOLDS,
    REJECTED,
    REVERSALS,
    TRANSFERS,
    UNKNOWN,
    VOIDS,
    Request,
    Run,
    sent,
    violations_by_invariant,
)
from tests.chaos.sizes import ACCOUNTS, CLIENTS, REQUESTS
from tests.e2e.conftest import BACK_OFFICE, MANAGE_SCOPE, WRITE_SCOPE, Api
from tests.local_system import System

pytestmark = [pytest.mark.chaos, pytest.mark.xdist_group("chaos")]

RESEND_SHARE = 0.25  # acknowledged requests sent once more, as a client retry would
ATTEMPTS = 5  # per request, on a 5xx or a lost answer
# The pipeline may still be working through a large run's backlog when the clients end.
QUIET_DEADLINE_S = int(os.environ.get("LEDGER_CHAOS_QUIET_S", max(180, REQUESTS // 5)))
STALLED_S = 10  # longer than any retry chain: nothing moves, what is left is parked
REDRIVE_ROUNDS = 5
# Of the requests: credits, then debits, then one-posting transfers; the rest are
# transfers of 2 or 3 postings.
MIX = ((0.35, CREDITS), (0.55, DEBITS), (0.85, TRANSFERS))
# Request n is sent by CALLERS[n % 2] with the key of request n - 1 or n + 1 of the
# other caller: keys are per caller, so each must store its own request.
CALLERS = ("chaos-caller-a", "chaos-caller-b")
# Of the jobs: a hold and what becomes of it, a posting or transfer and its reversal;
# the rest one request each (MIX).
HOLD_SHARE, REVERSAL_SHARE = 0.2, 0.15
# A hold expires in a few seconds; its capture or void is sent within HOLD_WAIT_S of its
# placement (and retried), so some meet their expiry first and are refused as expired.
HOLD_EXPIRIES_S = (3, 4, 5)
HOLD_WAIT_S = 1.0
# What becomes of a hold: captured in part, whole, or into another account; voided; or
# left to the expirer ("").
HOLD_ENDS = ("part", "whole", "into", VOIDS, "")
SECOND_TRY_SHARE = 0.4  # a resolved hold or a reversal asked for again, under a new key


@dataclass(frozen=True)
class Opening:
    account: str
    currency: str
    overdraft_limit: str

    def body(self) -> dict[str, Any]:
        return {
            "accountId": self.account,
            "currency": self.currency,
            "overdraftLimit": self.overdraft_limit,
            "owners": [self.account],
        }


def planned_accounts(run: str) -> list[Opening]:
    """Most in EUR, every fifth in USD (conservation is per currency); every third may
    go 30.00 below zero (the overdraft invariant has a limit other than zero to hold)."""
    return [
        Opening(
            f"chaos-{run}-{n:03d}",
            "USD" if n % 5 == 4 else "EUR",
            "30.00" if n % 3 == 0 else "0",
        )
        for n in range(ACCOUNTS)
    ]


def _amount(rng: random.Random, most: int) -> str:
    return f"{rng.randint(1, most) / 100:.2f}"


def _posting(rng: random.Random, accounts: list[Opening]) -> tuple[str, str, str]:
    """Mostly between two accounts of one currency; now and then across currencies,
    which the ledger must refuse."""
    source = rng.choice(accounts)
    same = [a for a in accounts if a.currency == source.currency and a != source]
    others = [a for a in accounts if a != source]
    target = rng.choice(same if same and rng.random() < 0.9 else others)
    return source.account, target.account, _amount(rng, 3000)


def planned_requests(run: str, accounts: list[Opening], rng: random.Random) -> list[Request]:
    planned = []
    for n in range(REQUESTS):
        draw = rng.random()
        kind = next((kind for bound, kind in MIX if draw < bound), TRANSFERS)
        request = Request(
            n,
            kind,
            key=f"k-{run}-{n // 2}",
            description=f"chaos {run} request {n}",
            caller=CALLERS[n % 2],
        )
        if kind != TRANSFERS:
            request.account, request.amount = rng.choice(accounts).account, _amount(rng, 5000)
        else:
            count = 1 if draw < MIX[-1][0] else rng.choice((2, 3))
            request.postings = [_posting(rng, accounts) for _ in range(count)]
        planned.append(request)
    return planned


@dataclass
class Job:
    """What one client does in turn: its first request, then the requests that follow
    from its answer (a hold's capture or void; a posting's or transfer's reversal), whose
    hold or target is filled in once it is known."""

    first: Request
    then: Request | None = None
    wait_s: float = 0.0
    second_try: bool = False

    @property
    def requests(self) -> list[Request]:
        return [self.first] if self.then is None else [self.first, self.then]


def _follower(run: str, first: Request, kind: str, step: str) -> Request:
    number = first.number
    return Request(
        number,
        kind,
        key=f"k-{run}-{number}-{step}",
        description=f"chaos {run} request {number} {step}",
        caller=first.caller,
    )


def planned_jobs(run: str, accounts: list[Opening], rng: random.Random) -> list[Job]:
    """The requests of `planned_requests`, some of them made the first of a job: a
    credit becomes a hold and its end, a posting or transfer gets its reversal."""
    jobs = []
    for request in planned_requests(run, accounts, rng):
        draw = rng.random()
        job = Job(request, second_try=rng.random() < SECOND_TRY_SHARE)
        if draw < HOLD_SHARE:
            request.kind, request.key = HOLDS, f"k-{run}-{request.number}-hold"
            request.account, request.postings = rng.choice(accounts).account, []
            request.amount = _amount(rng, 3000)
            request.expires_in = rng.choice(HOLD_EXPIRIES_S)
            end = rng.choice(HOLD_ENDS)
            if end:
                job.then = _follower(run, request, VOIDS if end == VOIDS else CAPTURES, end)
                job.wait_s = rng.uniform(0, HOLD_WAIT_S)
                same = [
                    a.account
                    for a in accounts
                    if a.account != request.account
                    and a.currency == _currency(accounts, request.account)
                ]
                if end == "part":
                    job.then.amount = _amount(rng, int(Decimal(request.amount) * 100))
                elif end == "into" and same:
                    job.then.to = rng.choice(same)
        elif draw < HOLD_SHARE + REVERSAL_SHARE:
            job.then = _follower(run, request, REVERSALS, "reversal")
        jobs.append(job)
    return jobs


def _currency(accounts: list[Opening], account: str) -> str:
    return next(a.currency for a in accounts if a.account == account)


def run_job(api: Api, job: Job, rng: random.Random) -> None:
    send(api, job.first, rng)
    follower = job.then
    if follower is None or job.first.outcome != ACKNOWLEDGED:
        return
    first = job.first
    if follower.kind == REVERSALS:
        follower.target = (
            f"transfers/{first.answered}"
            if first.kind == TRANSFERS
            else f"accounts/{first.account}/events/{first.version}"
        )
        follower.postings = [(to, source, amount) for source, to, amount in sent(first)]
    else:
        follower.hold, follower.account, follower.held = (
            first.answered or "",
            first.account,
            first.amount,
        )
        time.sleep(job.wait_s)
    send(api, follower, rng)
    if job.second_try and follower.outcome == ACKNOWLEDGED:
        _asked_again(api, follower, rng)


def _asked_again(api: Api, request: Request, rng: random.Random) -> None:
    """A hold resolved or a posting reversed is asked for once more, under a new key:
    refused (409, or 422 once the hold expired), never done twice."""
    body = request.body() if request.kind != CAPTURES else {}
    path = request.path if request.kind != VOIDS else request.path.replace("/void", "/capture")
    headers = {"Idempotency-Key": f"{request.key}-again"}
    request.asked_again += 1
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(rng.uniform(0, 0.05 * 2**attempt))
        try:
            response = api.post(path, body, headers=headers)
        except requests.RequestException:
            continue
        if response.status_code < 500:
            if response.status_code not in (409, 422):
                request.violations.append(
                    f"asked again under a new key, answered {response.status_code}"
                )
            return


def open_accounts(api: Api, accounts: list[Opening], run: str) -> None:
    """Open every account before the run, each retried with its key through the faults."""
    for opening in accounts:
        headers = {"Idempotency-Key": f"open-{run}-{opening.account}"}
        for attempt in range(ATTEMPTS * 2):
            if attempt:
                time.sleep(0.05 * 2 ** min(attempt, 5))
            try:
                response = api.post("/accounts", opening.body(), headers=headers)
            except requests.RequestException:
                continue
            if response.status_code == 201:
                break
            assert response.status_code >= 500, response.text
        else:
            pytest.fail(f"{opening.account} could not be opened through the faults")


def _answered(request: Request, response: requests.Response) -> str:
    body = response.json()
    if request.kind == HOLDS:
        return str(body["holdId"])
    if request.kind in (CAPTURES, VOIDS):
        return str(body["resolvedEventId"])
    if request.kind == TRANSFERS or request.target.startswith("transfers/"):
        return str(body["transferId"])
    return str(body["eventId"])


def send(api: Api, request: Request, rng: random.Random) -> None:
    """Send until acknowledged or rejected; its key makes every request safe to send again."""
    body, headers = request.body(), {"Idempotency-Key": request.key}
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(rng.uniform(0, 0.05 * 2**attempt))
        request.attempts += 1
        try:
            response = api.post(request.path, body, headers=headers)
        except requests.RequestException:
            continue  # no answer: unknown, as after a 5xx
        if response.status_code in (200, 201):
            request.outcome, request.answered = ACKNOWLEDGED, _answered(request, response)
            request.version = response.json().get("version")
            break
        if 400 <= response.status_code < 500:
            error = response.json().get("error") or {}
            request.outcome, request.code = REJECTED, error.get("code", response.status_code)
            return
    if request.outcome == ACKNOWLEDGED and rng.random() < RESEND_SHARE:
        request.resent += 1
        try:
            again = api.post(request.path, body, headers=headers)
        except requests.RequestException:
            return
        if again.status_code in (200, 201) and _answered(request, again) != request.answered:
            request.violations.append(f"a resent key answered {_answered(request, again)}")
        elif again.status_code < 500 and again.status_code not in (200, 201):
            request.violations.append(f"a resent key answered {again.status_code}")


def stored_history(ledger: Ledger, accounts: Iterable[str]) -> dict[str, list[StoredEvent]]:
    """Every stored event of the accounts, read as the functions read them."""
    store = DynamoDBEventStore(ledger.client("dynamodb"), ledger.events_table)
    history: dict[str, list[StoredEvent]] = {}
    for account in sorted(accounts):
        events = list(store.scan_account(account))
        unreadable = [e for e in events if not isinstance(e, StoredEvent)]
        assert not unreadable, unreadable
        history[account] = [e for e in events if isinstance(e, StoredEvent)]
    return history


def stored_transfers(ledger: Ledger) -> dict[str, TransferRecord]:
    """Every record of the transfers table (this system's own: only this run's)."""
    records: dict[str, TransferRecord] = {}
    pages = ledger.client("dynamodb").get_paginator("scan")
    for page in pages.paginate(TableName=ledger.transfers_table, ConsistentRead=True):
        for item in page["Items"]:
            record = converter.structure(from_item(item), TransferRecord)
            records[record.transfer_id] = record
    return records


def test_under_faults_every_acknowledged_command_is_stored_once_and_no_money_is_made_or_lost(
    chaos_system: System,
) -> None:
    run = uuid.uuid4().hex[:6]
    seed = int(os.environ.get("LEDGER_CHAOS_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    print(f"chaos run {run}: LEDGER_CHAOS_SEED={seed} replays its requests")
    scopes = (WRITE_SCOPE, MANAGE_SCOPE)
    apis = {
        caller: Api(chaos_system.api_url, chaos_system.token(caller, *scopes)) for caller in CALLERS
    }
    opener = Api(chaos_system.api_url, chaos_system.token(BACK_OFFICE, *scopes))
    ledger = chaos_system.ledger()
    started = time.monotonic()

    # GIVEN accounts opened through the faults, and a planned stream of credits, debits
    # and transfers over them, sent by two callers using the same keys
    openings = planned_accounts(run)
    open_accounts(opener, openings, run)
    accounts = {opening.account for opening in openings}
    jobs = planned_jobs(run, openings, rng)

    # WHEN concurrent clients send them all while every fault is injected
    lock = threading.Lock()
    seeds = iter(rng.randrange(2**32) for _ in jobs)

    def client(job: Job) -> None:
        with lock:
            own = random.Random(next(seeds))
        run_job(apis[job.first.caller], job, own)

    pgid = int((chaos_system.state_dir / "local.pid").read_text())
    rss_before = moto_rss_kib(pgid)
    sending = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client, jobs))
    sent_s = time.monotonic() - sending
    # What was sent: a follower is not when what it follows was not acknowledged.
    planned = [request for job in jobs for request in job.requests if request.attempts]

    # AND the holds left alone have expired and the expirer has released them
    expiring = time.monotonic()
    left = _wait_for_holds(ledger, accounts, EXPIRY_GRACE + timedelta(seconds=max(HOLD_EXPIRIES_S)))
    expiring_s = time.monotonic() - expiring

    # AND the system goes quiet, its dead letters redriven until none is left
    def quiet() -> Settled:
        # Not strict: what is still behind at the deadline is reported, then failed on.
        return wait_until_quiet(
            lambda: look(ledger, accounts), QUIET_DEADLINE_S, STALLED_S, strict=False
        )

    settled = quiet()
    redriven: list[QueueResult] = []
    for _ in range(REDRIVE_ROUNDS):
        if settled.dead_letters == 0 and settled.caught_up:
            break
        redriven += redrive_queues(ledger, out=io.StringIO())
        settled = quiet()
    quiet_s = time.monotonic() - sending - sent_s - expiring_s

    # THEN (the figures published first, so a failed run says what failed) nothing is
    # left behind
    checking = time.monotonic()
    read_at = datetime.now(UTC)
    stored = stored_history(ledger, accounts)
    transfers = stored_transfers(ledger)
    found = violations_by_invariant(Run(planned, stored, transfers, as_of=read_at))
    store = DynamoDBEventStore(ledger.client("dynamodb"), ledger.events_table)
    projections = DynamoDBProjectionStore(ledger.client("dynamodb"), ledger.projections_table)
    wrong = verify_accounts(sorted(accounts), store, projections.load, ZoneInfo("UTC"))
    injected = totals(summary(chaos_system.state_dir / JOURNAL_NAME).items())
    report = _report(planned, stored, transfers, injected, redriven, found, wrong, seed)
    report["left_behind"] = {
        "dead_letters": settled.dead_letters,
        "read_models_behind": sum(1 for a in settled.accounts if a.behind),
        "holds_pending_after_expiry": left,
    }
    report["seconds"] = {
        "sending": round(sent_s, 1),
        "until_holds_expired": round(expiring_s, 1),
        "until_quiet": round(quiet_s, 1),
        "checking": round(time.monotonic() - checking, 1),
        "total": round(time.monotonic() - started, 1),
    }
    report["requests_per_s"] = round(len(planned) / sent_s, 1) if sent_s else None
    rss_after = moto_rss_kib(pgid)
    report["moto_rss_mib"] = {
        "before_sending": round(rss_before / 1024, 1),
        "at_the_end": round(rss_after / 1024, 1),
        "per_1000_requests": round((rss_after - rss_before) / 1024 / len(planned) * 1000, 1),
    }
    _publish(report, chaos_system)

    assert left == 0, f"{left} holds still pending after their expiry"
    assert settled.dead_letters == 0, "dead letters still parked after redriving"
    assert settled.caught_up, settled.behind
    assert [left for result in redriven for left in result.left] == []

    # AND offline, every invariant holds over the recorded history: no gap in any
    # account's versions, no balance ever below its overdraft limit, every transfer
    # whole, per currency the balances equal the external credits minus the external
    # debits, nothing acknowledged lost, nothing doubled, nothing refused stored,
    # everything stored as sent, and each caller's keys its own
    assert {name: v for name, v in found.items() if v} == {}
    assert all(len(stored[o.account]) >= 1 for o in openings)

    # AND everything parked in a dead-letter queue was a stored event
    keys = {(a, s.event.version) for a, events in stored.items() for s in events}
    parked = [key for result in redriven for key in result.events]
    assert set(parked) <= keys, set(parked) - keys

    # AND every read model equals the fold of the stored events
    assert wrong == []

    # AND the faults really happened
    assert sum(injected.values()) > 0


def _wait_for_holds(ledger: Ledger, accounts: Iterable[str], longest: timedelta) -> int:
    """Wait until no account has a pending hold (each left alone expired and released by
    the expirer), or `longest`; answer how many are still pending."""
    store = DynamoDBEventStore(ledger.client("dynamodb"), ledger.events_table)
    deadline = time.monotonic() + longest.total_seconds()
    while True:
        pending = sum(len(store.load(account).holds) for account in sorted(accounts))
        if pending == 0 or time.monotonic() > deadline:
            return pending
        time.sleep(1)


def _report(
    planned: list[Request],
    stored: dict[str, list[StoredEvent]],
    transfers: dict[str, TransferRecord],
    injected: Counter[str],
    redriven: list[QueueResult],
    found: dict[str, list[str]],
    wrong: list[Any],
    seed: int,
) -> dict[str, Any]:
    outcomes = Counter(request.outcome for request in planned)
    unknown = [r for r in planned if r.outcome == UNKNOWN]
    stored_descriptions = {
        str(getattr(s.event, "description", None)) for events in stored.values() for s in events
    } | {str(record.description) for record in transfers.values()}
    redeliveries = {kind: injected.pop(kind, 0) for kind in (STREAM_RETRY, ASYNC_RETRY)}
    return {
        "settings": {
            "requests": REQUESTS,
            "clients": CLIENTS,
            "accounts": ACCOUNTS,
            "seed": seed,
        },
        "requests": {
            "sent": dict(Counter(r.kind for r in planned)),
            "acknowledged": outcomes[ACKNOWLEDGED],
            "rejected": dict(Counter(r.code for r in planned if r.outcome == REJECTED)),
            "unknown": len(unknown),
            "unknown_and_stored": sum(r.description in stored_descriptions for r in unknown),
            "http_attempts": sum(r.attempts for r in planned),
            "retries_after_5xx_or_no_answer": sum(r.attempts - 1 for r in planned),
            "resent_after_success": sum(r.resent for r in planned),
            "asked_again_under_a_new_key": sum(r.asked_again for r in planned),
        },
        "faults_injected": {k: v for k, v in injected.items() if k != DEAD_LETTERED},
        "duplicate_deliveries": injected.get(DUPLICATE, 0),
        "redeliveries": redeliveries,
        "dead_lettered": injected.get(DEAD_LETTERED, 0),
        "redriven": {
            "messages": dict(sum((Counter({r.name: r.redriven}) for r in redriven), Counter())),
            "events": sum(r.events_sent for r in redriven),
        },
        "stored_events": sum(len(events) for events in stored.values()),
        "stored_transfers": len(transfers),
        "holds": dict(
            Counter(
                _hold_end(s.event)
                for events in stored.values()
                for s in events
                if isinstance(s.event, HoldPlaced | HoldVoided | HoldExpired)
                or (isinstance(s.event, Debited) and s.event.hold_id)
            )
        ),
        "reversals": {
            "postings": sum(
                1
                for events in stored.values()
                for s in events
                if isinstance(s.event, Credited | Debited)
                and s.event.reverses is not None
                and s.event.transfer_id is None
            ),
            "transfers": sum(1 for record in transfers.values() if record.reverses),
        },
        "lost": len(found["lost"]),
        "doubled": len(found["doubled"]),
        "wrong_read_models": len(wrong),
        "violation_counts": {name: len(v) for name, v in found.items()},
        "violations": {name: v[:20] for name, v in found.items() if v},
    }


def _hold_end(event: Event) -> str:
    if isinstance(event, HoldPlaced):
        return "placed"
    if isinstance(event, Debited):
        return "captured into another account" if event.transfer_id else "captured"
    return "voided" if isinstance(event, HoldVoided) else "expired"


def figures(report: dict[str, Any]) -> str:
    """The run in a few lines: what `make chaos` prints last."""
    requests_ = report["requests"]
    faults = ", ".join(f"{k} {v}" for k, v in sorted(report["faults_injected"].items()))
    return "\n".join(
        [
            f"commands sent        {sum(requests_['sent'].values())} {requests_['sent']}",
            f"acknowledged         {requests_['acknowledged']}",
            f"refused              {sum(requests_['rejected'].values())} {requests_['rejected']}",
            f"unknown              {requests_['unknown']}"
            f" ({requests_['unknown_and_stored']} of them stored)",
            f"faults injected      {faults}",
            f"events stored        {report['stored_events']}"
            f" (transfers {report['stored_transfers']})",
            f"holds                {report['holds']}",
            f"reversals            {report['reversals']}",
            f"lost                 {report['lost']}",
            f"doubled              {report['doubled']}",
            f"wrong read models    {report['wrong_read_models']}",
            f"violations           {sum(report['violation_counts'].values())}"
            f" { ({k: v for k, v in report['violation_counts'].items() if v}) }",
            f"left behind          {report['left_behind']}",
            f"rate                 {report['requests_per_s']} requests/s while sending;"
            f" seconds {report['seconds']}",
            f"moto server RSS MiB  {report['moto_rss_mib']}",
        ]
    )


def _publish(report: dict[str, Any], system: System) -> None:
    text = json.dumps(report, indent=2)
    (system.state_dir / "chaos-report.json").write_text(text)
    target = os.environ.get("LEDGER_CHAOS_REPORT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text, encoding="utf-8")
    print(f"chaos run: {text}")
    print(figures(report))

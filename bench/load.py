"""Load generators, each run in a process of its own so the clients do not share an
interpreter (and its lock) with the local runtime they measure.

- commands: closed-loop clients POSTing credits across many accounts over HTTP, as fast
  as the commands are accepted (the pipeline's saturation; the caller measures the
  drain afterwards);
- open_loop: credits sent at a fixed rate (Poisson arrivals), whatever the answers'
  pace, while a few probers each take the latest accepted command and poll the balance
  query until it shows its version (projection lag, from the 201 to that answer). The
  probers are few and slow on purpose: a probe per command, every 50 ms, was itself
  ~40 queries/s, more than the pipeline's own load, and overloaded it.
- raw puts: the same number of clients doing conditional PutItem straight to the moto
  server, the substrate's own limit;
- hot_account: closed-loop writers all crediting one account (optimistic concurrency's
  worst case);
- storing_nothing: requests the system must answer without storing anything (a keyed
  credit sent again, balance queries), to see the memory they cost.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from botocore.config import Config

from scripts.local.aws import fake_session
from scripts.local.threads import Workers

PROBE_INTERVAL_S = 0.1


def _session(headers: dict[str, str]) -> requests.Session:
    session = requests.Session()
    session.headers.update(headers)
    return session


def _credit(
    session: requests.Session,
    api_url: str,
    account: str,
    *,
    timeout_s: float = 30,
    key: str | None = None,
) -> requests.Response | None:
    """POST a 1.00 credit, with its own Idempotency-Key (or `key`) as the API requires;
    None when the request itself failed."""
    try:
        return session.post(
            f"{api_url}/accounts/{account}/credits",
            json={"amount": "1.00"},
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
            timeout=timeout_s,
        )
    except requests.RequestException:
        return None


def open_accounts(
    api_url: str, accounts: list[str], headers: dict[str, str], concurrency: int = 4
) -> None:
    """Open every account the load posts to (EUR, owned by its id): a credit to an id
    never opened is refused. A few at a time: each is an account of its own, so they
    never conflict, and one at a time was seconds of the quick run."""
    local = threading.local()

    def open_one(account: str) -> None:
        if not hasattr(local, "session"):
            local.session = _session(headers)
        response = local.session.post(
            f"{api_url}/accounts",
            json={"accountId": account, "currency": "EUR", "owners": [account]},
            timeout=60,
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"opening {account} answered {response.status_code}: {response.text}"
            )

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for opened in [pool.submit(open_one, account) for account in accounts]:
            opened.result()  # raises the first refusal


def _status(response: requests.Response | None) -> int:
    """The status to count: 0 for a request that got no answer."""
    return 0 if response is None else response.status_code


def commands(
    api_url: str, accounts: list[str], clients: int, seconds: float, headers: dict[str, str]
) -> dict[str, Any]:
    workers = Workers()
    stop = workers.stopped
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    accepted: list[tuple[float, str, int]] = []  # (time of the 201, account, version)

    def client(index: int) -> None:
        session, rng = _session(headers), random.Random(index)
        while not stop.is_set():
            account = rng.choice(accounts)
            response = _credit(session, api_url, account)
            at = time.perf_counter()
            with lock:
                statuses[_status(response)] += 1
                if response is not None and response.status_code == 201:
                    accepted.append((at, account, int(response.json()["version"])))

    started = time.perf_counter()
    workers.run_for(seconds, client, clients)
    elapsed = time.perf_counter() - started
    heads: dict[str, int] = {}
    for _, account, version in accepted:
        heads[account] = max(heads.get(account, 0), version)
    return {
        "seconds": elapsed,
        "statuses": {str(code): count for code, count in statuses.items()},
        "accepted": len(accepted),
        "heads": heads,
    }


def open_loop(
    api_url: str,
    accounts: list[str],
    rate: float,
    seconds: float,
    senders: int,
    probers: int,
    headers: dict[str, str],
    probe_timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Credits at `rate` per second for `seconds` (Poisson arrivals, fixed seed), each
    sent at its scheduled time by one of `senders` threads. Each of `probers` threads
    takes the latest accepted command not yet probed and GETs its balance every
    PROBE_INTERVAL_S until the answer shows its version; lag is from the 201 to that
    answer. A probe still waiting after `probe_timeout_s` counts as unseen; probes
    taken before the last send are finished, so the tail is not cut off."""
    rng = random.Random(8)
    schedule: list[tuple[float, str]] = []
    at = rng.expovariate(rate)
    while at < seconds:
        schedule.append((at, rng.choice(accounts)))
        at += rng.expovariate(rate)
    work: queue.Queue[tuple[float, str] | None] = queue.Queue()
    lock = threading.Lock()
    sending = threading.Event()
    sending.set()
    statuses: Counter[int] = Counter()
    accepted: list[tuple[float, str, int]] = []  # (time of the 201, account, version)
    lags: list[float] = []
    late_s: list[float] = []  # how long after its scheduled time each command left
    command_s: list[float] = []  # the POST's own time, request to 201
    unseen: list[tuple[str, int]] = []
    probes = [0]
    probed = [0]  # accepted[:probed] were taken or skipped

    def prober() -> None:
        session = _session(headers)
        while True:
            with lock:
                latest = accepted[-1] if len(accepted) > probed[0] else None
                probed[0] = len(accepted)
            if latest is None:
                if not sending.is_set():
                    return
                time.sleep(PROBE_INTERVAL_S / 2)
                continue
            accepted_at, account, version = latest
            while True:
                try:
                    answer = session.get(f"{api_url}/accounts/{account}/balance", timeout=30)
                except requests.RequestException:
                    answer = None
                with lock:
                    probes[0] += 1
                if (
                    answer is not None
                    and answer.status_code == 200
                    and int(answer.json()["version"]) >= version
                ):
                    with lock:
                        lags.append(time.perf_counter() - accepted_at)
                    break
                if time.perf_counter() - accepted_at > probe_timeout_s:
                    with lock:
                        unseen.append((account, version))
                    break
                time.sleep(PROBE_INTERVAL_S)

    def sender() -> None:
        session = _session(headers)
        while (job := work.get()) is not None:
            due, account = job
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            response = _credit(session, api_url, account)
            accepted_at = time.perf_counter()
            with lock:
                statuses[_status(response)] += 1
                if response is None:
                    continue
                late_s.append(max(0.0, sent - due))
                command_s.append(accepted_at - sent)
                if response.status_code == 201:
                    accepted.append((accepted_at, account, int(response.json()["version"])))

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    probe_threads = [threading.Thread(target=prober) for _ in range(probers)]
    for thread in threads + probe_threads:
        thread.start()
    started = time.perf_counter()
    for offset, account in schedule:
        work.put((started + offset, account))
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    sent_s = time.perf_counter() - started
    sending.clear()
    for thread in probe_threads:
        thread.join()
    heads: dict[str, int] = {}
    for _, account, version in accepted:
        heads[account] = max(heads.get(account, 0), version)
    return {
        "target_rate": rate,
        "scheduled": len(schedule),
        "seconds": sent_s,
        "statuses": {str(code): count for code, count in statuses.items()},
        "accepted": statuses[201],
        "lags_s": lags,
        "late_s": late_s,
        "command_s": command_s,
        "unseen": unseen,
        "probes": probes[0],
        "probers": probers,
        "probe_interval_s": PROBE_INTERVAL_S,
        "heads": heads,
        "total_seconds": time.perf_counter() - started,
    }


def ramp(
    api_url: str, accounts: list[str], concurrency: int, headers: dict[str, str]
) -> dict[str, Any]:
    """Steps of 1, 2, ... `concurrency` simultaneous credits and balance queries."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    started = time.perf_counter()

    def one(index: int) -> None:
        account = accounts[index % len(accounts)]
        session = _session(headers)
        posted = _credit(session, api_url, account, timeout_s=60)
        queried = session.get(f"{api_url}/accounts/{account}/balance", timeout=60)
        with lock:
            statuses[_status(posted)] += 1
            statuses[queried.status_code] += 1

    for step in range(1, concurrency + 1):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(step)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {
        "seconds": time.perf_counter() - started,
        "statuses": {str(code): count for code, count in statuses.items()},
    }


def raw_puts(
    endpoint_url: str, region: str, table: str, clients: int, seconds: float
) -> dict[str, Any]:
    workers = Workers()
    stop = workers.stopped
    counts = [0] * clients
    failures = [0] * clients

    def client(index: int) -> None:
        dynamodb = fake_session(region).client(
            "dynamodb",
            endpoint_url=endpoint_url,
            config=Config(user_agent_extra="app/bench-raw", retries={"mode": "standard"}),
        )
        version = 0
        while not stop.is_set():
            version += 1
            try:
                dynamodb.put_item(
                    TableName=table,
                    Item={
                        "accountId": {"S": f"raw-{index}"},
                        "version": {"N": str(version)},
                        "amount": {"S": "1.00"},
                    },
                    ConditionExpression="attribute_not_exists(version)",
                )
            except Exception:  # noqa: BLE001 - counted, not fatal
                failures[index] += 1
                continue
            counts[index] += 1

    started = time.perf_counter()
    workers.run_for(seconds, client, clients)
    return {
        "seconds": time.perf_counter() - started,
        "writes": sum(counts),
        "failures": sum(failures),
    }


def hot_account(
    api_url: str, account: str, writers: int, seconds: float, headers: dict[str, str]
) -> dict[str, Any]:
    """`writers` closed-loop clients crediting the one `account` for `seconds`."""
    workers = Workers()
    stop = workers.stopped
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []

    def writer(_index: int) -> None:
        session = _session(headers)
        while not stop.is_set():
            sent = time.perf_counter()
            response = _credit(session, api_url, account)
            with lock:
                statuses[_status(response)] += 1
                if response is not None and response.status_code == 201:
                    latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    workers.run_for(seconds, writer, writers)
    elapsed = time.perf_counter() - started
    return {
        "writers": writers,
        "seconds": elapsed,
        "statuses": {str(code): count for code, count in statuses.items()},
        "accepted": statuses[201],
        "latency_s": latencies,
    }


def storing_nothing(
    api_url: str, account: str, count: int, headers: dict[str, str]
) -> dict[str, Any]:
    """One keyed credit, then `count` times: that credit again (same key, same body: the
    first answer again, nothing stored) and a balance query."""
    session = _session(headers)
    statuses: Counter[int] = Counter()
    key = uuid.uuid4().hex
    first = _status(_credit(session, api_url, account, key=key))
    started = time.perf_counter()
    for _ in range(count):
        statuses[_status(_credit(session, api_url, account, key=key))] += 1
        try:
            statuses[
                session.get(f"{api_url}/accounts/{account}/balance", timeout=30).status_code
            ] += 1
        except requests.RequestException:
            statuses[0] += 1
    return {
        "first": first,
        "seconds": time.perf_counter() - started,
        "statuses": {str(code): n for code, n in statuses.items()},
    }

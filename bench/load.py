"""Load generators, each run in a process of its own so the clients do not share an
interpreter (and its lock) with the local runtime they measure.

- commands: closed-loop clients POSTing credits across many accounts over HTTP, while
  probers take accepted commands and poll the balance query until it shows their
  version (projection lag, from the 201 to that answer);
- raw puts: the same number of clients doing conditional PutItem straight to the moto
  server, the substrate's own limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import boto3
import requests
from botocore.config import Config

from scripts.local.aws import FAKE_CREDENTIALS

PROBE_INTERVAL_S = 0.02


def commands(
    api_url: str, accounts: list[str], clients: int, seconds: float, probers: int
) -> dict[str, Any]:
    stop = threading.Event()
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    accepted: list[tuple[float, str, int]] = []  # (time of the 201, account, version)
    lags: list[float] = []

    def client(index: int) -> None:
        session, rng = requests.Session(), random.Random(index)
        while not stop.is_set():
            account = rng.choice(accounts)
            try:
                response = session.post(
                    f"{api_url}/accounts/{account}/credits",
                    json={"amount": "1.00"},
                    timeout=30,
                )
            except requests.RequestException:
                with lock:
                    statuses[0] += 1
                continue
            at = time.perf_counter()
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    accepted.append((at, account, int(response.json()["version"])))

    def prober() -> None:
        session = requests.Session()
        while not stop.is_set():
            with lock:
                latest = accepted[-1] if accepted else None
            if latest is None:
                time.sleep(PROBE_INTERVAL_S)
                continue
            at, account, version = latest
            while not stop.is_set():
                answer = session.get(f"{api_url}/accounts/{account}/balance", timeout=30)
                if answer.status_code == 200 and int(answer.json()["version"]) >= version:
                    with lock:
                        lags.append(time.perf_counter() - at)
                    break
                time.sleep(PROBE_INTERVAL_S)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads += [threading.Thread(target=prober) for _ in range(probers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    heads: dict[str, int] = {}
    for _, account, version in accepted:
        heads[account] = max(heads.get(account, 0), version)
    return {
        "seconds": elapsed,
        "statuses": {str(code): count for code, count in statuses.items()},
        "accepted": len(accepted),
        "lags_s": lags,
        "heads": heads,
    }


def ramp(api_url: str, accounts: list[str], concurrency: int) -> dict[str, Any]:
    """Steps of 1, 2, ... `concurrency` simultaneous credits and balance queries."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    started = time.perf_counter()

    def one(index: int) -> None:
        account = accounts[index % len(accounts)]
        session = requests.Session()
        posted = session.post(
            f"{api_url}/accounts/{account}/credits", json={"amount": "1.00"}, timeout=60
        )
        queried = session.get(f"{api_url}/accounts/{account}/balance", timeout=60)
        with lock:
            statuses[posted.status_code] += 1
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
    stop = threading.Event()
    counts = [0] * clients
    failures = [0] * clients

    def client(index: int) -> None:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
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

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "seconds": time.perf_counter() - started,
        "writes": sum(counts),
        "failures": sum(failures),
    }

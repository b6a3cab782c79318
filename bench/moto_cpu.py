"""Our moto server's CPU per request, by kind: the requests one keyed credit makes
through the local pipeline, each kind sent many times to a server of its own process,
the server's CPU time (``/proc/<pid>/stat``) divided by the requests.

Run as ``python -m bench.moto_cpu [--requests N]``: it measures the server as it runs
(``scripts.local.moto_server``) and as moto's own path serves (``LEDGER_MOTO_PLAIN=1``)
side by side, and prints both; then the bench's raw conditional puts on each, with
the server's and the clients' CPU per put. The requests are sent raw over one
kept-alive connection, with the headers botocore sends, so the client's own CPU is
small and not counted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.load import raw_puts
from scripts.local.aws import Moto
from scripts.local.child import ChildProcess
from scripts.local.moto_patches import TAP_RULE
from scripts.local.tables import EVENTS_KEY, create_ledger_tables, create_table

REGION = "eu-west-1"
PREFIX = "ledger-local"
BUS = "ledger-local-bus"
PLAIN_ENV = "LEDGER_MOTO_PLAIN"  # scripts.local.moto_server's
_SIGNING = {
    "DynamoDB_20120810": ("dynamodb", "application/x-amz-json-1.0"),
    "DynamoDBStreams_20120810": ("dynamodb", "application/x-amz-json-1.0"),
    "AWSEvents": ("events", "application/x-amz-json-1.1"),
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """AWS JSON requests as botocore sends them (its headers; a signature moto does
    not check), and the local routes, over one kept-alive connection."""

    def __init__(self, endpoint_url: str) -> None:
        address = urlsplit(endpoint_url)
        assert address.hostname is not None
        self._connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)

    def aws(self, target: str, body: Mapping[str, Any], **headers: str) -> Answer:
        service, content_type = _SIGNING[target.partition(".")[0]]
        return self.send(
            "POST",
            "/",
            json.dumps(body).encode(),
            {
                "X-Amz-Target": target,
                "Content-Type": content_type,
                "User-Agent": "Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux "
                "lang/python#3.11 cfg/retry-mode#standard Botocore/1.40.0",
                "X-Amz-Date": "20261202T080000Z",
                "X-Amz-Security-Token": "testing",
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261202/"
                f"{REGION}/{service}/aws4_request, SignedHeaders=content-type;host;"
                "x-amz-date;x-amz-security-token;x-amz-target, Signature=0",
                "amz-sdk-invocation-id": str(uuid.uuid4()),
                "amz-sdk-request": "attempt=1; max=3",
                "Accept-Encoding": "identity",
                **headers,
            },
        )

    def send(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        self._connection.request(method, path, body=body, headers=dict(headers))
        response = self._connection.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )

    def close(self) -> None:
        self._connection.close()


def create_resources(moto: Moto) -> dict[str, str]:
    """The ledger's tables (as the local environment's Terraform creates them) and its
    bus with the runtime's tap rule; the tables' names by their short name."""
    names = create_ledger_tables(moto.client("dynamodb"), PREFIX)
    events = moto.client("events")
    events.create_event_bus(Name=BUS)
    events.put_rule(
        Name=TAP_RULE, EventBusName=BUS, EventPattern=json.dumps({"source": [{"prefix": ""}]})
    )
    return names


def _s(text: str) -> dict[str, str]:
    return {"S": text}


def _n(number: int | str) -> dict[str, str]:
    return {"N": str(number)}


def event_item(account: str, version: int) -> dict[str, Any]:
    """An events-table item shaped like the ledger's credit (banking's codec)."""
    return {
        "accountId": _s(account),
        "version": _n(version),
        "eventId": _s(str(uuid.UUID(int=version))),
        "type": _s("CreditEvent"),
        "amount": _s("12.34"),
        "currency": _s("EUR"),
        "recordedAt": _s("2026-12-02T08:00:00.000000+00:00"),
        "schemaVersion": _n(3),
        "correlationId": _s("c-" + account),
        "snapshot": {
            "M": {
                "totalBalance": _s(f"{12.34 * version:.2f}"),
                "currentMonthBalance": _s(f"{12.34 * version:.2f}"),
                "month": _s("2026-12"),
                "version": _n(version),
                "held": _s("0.00"),
                "overdraftLimit": _s("0.00"),
                "status": _s("open"),
            }
        },
    }


def keyed_credit(names: Mapping[str, str], account: str, version: int) -> dict[str, Any]:
    """The TransactWriteItems of a keyed credit: the event and its idempotency key."""
    return {
        "ClientRequestToken": str(uuid.uuid4()),
        "TransactItems": [
            {
                "Put": {
                    "TableName": names["events"],
                    "Item": event_item(account, version),
                    "ConditionExpression": "attribute_not_exists(version)",
                }
            },
            {
                "Put": {
                    "TableName": names["idempotency"],
                    "Item": {
                        "idempotencyKey": _s(f"{account}#caller#{version}"),
                        "accountId": _s(account),
                        "fingerprint": _s("f" * 64),
                        "expiresAt": _n(1_800_000_000),
                    },
                    "ConditionExpression": "attribute_not_exists(idempotencyKey) "
                    "OR expiresAt < :now",
                    "ExpressionAttributeValues": {":now": _n(1_790_000_000)},
                }
            },
        ],
    }


def load_account(names: Mapping[str, str], account: str) -> dict[str, Any]:
    """The commands' load of an account: its last event (snapshot and version)."""
    return {
        "TableName": names["events"],
        "KeyConditionExpression": "accountId = :a",
        "ExpressionAttributeValues": {":a": _s(account)},
        "ScanIndexForward": False,
        "Limit": 1,
        "ConsistentRead": True,
    }


def get_event(names: Mapping[str, str], account: str, version: int) -> dict[str, Any]:
    """The dispatcher's read of the aggregate as of an event's version."""
    return {
        "TableName": names["events"],
        "Key": {"accountId": _s(account), "version": _n(version)},
        "ConsistentRead": True,
    }


READ_MODELS = ("TotalBalanceForProfile", "CurrentMonthBalanceForProfile", "Available", "Held")


def project(names: Mapping[str, str], account: str, model: str, version: int) -> dict[str, Any]:
    """A projector's guarded write of one read model (banking's projection store)."""
    return {
        "TableName": names["projections"],
        "Key": {"accountId": _s(account), "readModel": _s(f"{model}#0")},
        "UpdateExpression": "SET #f0 = :f0, #f1 = :f1, #f2 = :f2, #version = :version",
        "ConditionExpression": "attribute_not_exists(#version) OR #version < :version",
        "ExpressionAttributeNames": {
            "#f0": "balance",
            "#f1": "currency",
            "#f2": "month",
            "#version": "lastKnownVersion",
        },
        "ExpressionAttributeValues": {
            ":f0": _s(f"{12.34 * version:.2f}"),
            ":f1": _s("EUR"),
            ":f2": _s("2026-12"),
            ":version": _n(version),
        },
    }


def put_events(detail_type: str, account: str, version: int) -> dict[str, Any]:
    """One event to the bus: the fanout's envelope or the dispatcher's typed event."""
    detail = {"accountId": account, "version": version, "event": event_item(account, version)}
    return {
        "Entries": [
            {
                "EventBusName": BUS,
                "Source": "ledger.events",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    }


@dataclass
class Pipeline:
    """The requests of keyed credits through the pipeline, kind by kind."""

    client: RawClient
    names: Mapping[str, str]
    accounts: int
    stream_arn: str = ""
    iterator: str = ""
    stream_count: int = -1
    bus_cursor: int = 0
    versions: dict[str, int] = field(default_factory=dict)

    def account(self, index: int) -> str:
        return f"acct-{index % self.accounts:04d}"

    def start_stream(self) -> None:
        table = self.client.aws(
            "DynamoDB_20120810.DescribeTable", {"TableName": self.names["events"]}
        ).json()
        self.stream_arn = table["Table"]["LatestStreamArn"]
        stream = self.client.aws(
            "DynamoDBStreams_20120810.DescribeStream", {"StreamArn": self.stream_arn}
        ).json()
        shard = stream["StreamDescription"]["Shards"][-1]["ShardId"]
        self.iterator = self.client.aws(
            "DynamoDBStreams_20120810.GetShardIterator",
            {"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": "LATEST"},
        ).json()["ShardIterator"]

    def kinds(self) -> dict[str, Callable[[int], Answer]]:
        """Each kind of request, as a call sending its i-th one."""
        names = self.names

        def transact(i: int) -> Answer:
            account = self.account(i)
            version = self.versions[account] = self.versions.get(account, 0) + 1
            return self.client.aws(
                "DynamoDB_20120810.TransactWriteItems", keyed_credit(names, account, version)
            )

        def get_records(_i: int) -> Answer:
            answer = self.client.aws(
                "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": self.iterator, "Limit": 1}
            )
            self.iterator = answer.json()["NextShardIterator"]
            return answer

        def stream_records(_i: int) -> Answer:
            answer = self.client.send(
                "GET", f"/_local/stream-records?after={self.stream_count}&timeout=0", None, {}
            )
            self.stream_count = answer.json()["count"]
            return answer

        def bus_events(_i: int) -> Answer:
            answer = self.client.send(
                "GET", f"/_local/bus-events?bus={BUS}&after={self.bus_cursor}&limit=1", None, {}
            )
            self.bus_cursor = answer.json()["last"]
            return answer

        def version_of(i: int) -> int:
            return self.versions.get(self.account(i), 1)

        kinds: dict[str, Callable[[int], Answer]] = {
            "TransactWriteItems (keyed credit)": transact,
            "Query (load an account)": lambda i: self.client.aws(
                "DynamoDB_20120810.Query", load_account(names, self.account(i))
            ),
            "GetRecords (1 record)": get_records,
            "/_local/stream-records": stream_records,
            "PutEvents (fanout's envelope)": lambda i: self.client.aws(
                "AWSEvents.PutEvents", put_events("EventStored", self.account(i), version_of(i))
            ),
            "GetItem (dispatcher's aggregate)": lambda i: self.client.aws(
                "DynamoDB_20120810.GetItem", get_event(names, self.account(i), version_of(i))
            ),
            "PutEvents (dispatcher's CreditEvent)": lambda i: self.client.aws(
                "AWSEvents.PutEvents", put_events("CreditEvent", self.account(i), version_of(i))
            ),
            "/_local/bus-events": bus_events,
        }
        for model in READ_MODELS:
            # Each a newer version than the last of its item: every write lands.
            kinds[f"UpdateItem ({model})"] = lambda i, model=model: self.client.aws(  # type: ignore[misc]
                "DynamoDB_20120810.UpdateItem", project(names, self.account(i), model, i + 1)
            )
        return kinds


def cpu_seconds(pid: int) -> float:
    """A process's user and system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """Our moto server in a process of its own, as the runtime starts it; ``plain``
    serves as moto's own path does (``LEDGER_MOTO_PLAIN=1``)."""

    def __init__(self, log_path: Path, *, plain: bool, env: Mapping[str, str] | None = None):
        self.process = ChildProcess(
            [sys.executable, "-m", "scripts.local.moto_server", "--port", "0"],
            log_path,
            "MOTO_PORT=",
            env={**os.environ, **(env or {}), PLAIN_ENV: "1" if plain else "0"},
        )
        self.endpoint_url = f"http://127.0.0.1:{self.process.value}"
        self.pid = self.process.process.pid

    def stop(self) -> None:
        self.process.stop()


def _pipeline(
    server: Server, accounts: int
) -> tuple[RawClient, dict[str, Callable[[int], Answer]]]:
    names = create_resources(Moto(server.endpoint_url, REGION))
    client = RawClient(server.endpoint_url)
    pipeline = Pipeline(client, names, accounts)
    pipeline.start_stream()
    kinds = pipeline.kinds()
    for send in kinds.values():  # once each first: moto's first call of a kind costs more
        send(0)
    return client, kinds


def measure(
    servers: Mapping[str, Server], requests: int, accounts: int, rounds: int = 5
) -> dict[str, dict[str, float]]:
    """Milliseconds of each server's CPU per request, by kind. The servers take turns,
    a few rounds per kind, so that a change in the machine's load weighs on both."""
    pipelines = {label: _pipeline(server, accounts) for label, server in servers.items()}
    cpu_s: dict[str, dict[str, float]] = {label: {} for label in servers}
    try:
        kinds = list(next(iter(pipelines.values()))[1])
        per_round = max(1, requests // rounds)
        for kind in kinds:
            for turn in range(rounds):
                for label, server in servers.items():
                    send = pipelines[label][1][kind]
                    before = cpu_seconds(server.pid)
                    for i in range(turn * per_round + 1, (turn + 1) * per_round + 1):
                        answer = send(i)
                        if answer.status != 200:
                            raise RuntimeError(f"{kind}: {answer.status} {answer.body[:300]!r}")
                    spent = cpu_seconds(server.pid) - before
                    cpu_s[label][kind] = cpu_s[label].get(kind, 0.0) + spent
    finally:
        for client, _ in pipelines.values():
            client.close()
    total = per_round * rounds
    return {
        label: {kind: seconds * 1000 / total for kind, seconds in by_kind.items()}
        for label, by_kind in cpu_s.items()
    }


def raw_puts_share(server: Server, clients: int, seconds: float) -> dict[str, float]:
    """The bench's raw conditional puts (bench.load.raw_puts: boto3 clients in threads
    of one process) on a table of the events' key: puts per second, and the CPU per put
    of the server and of the clients' process."""
    moto = Moto(server.endpoint_url, REGION)
    create_table(moto.client("dynamodb"), "bench-raw", EVENTS_KEY)
    server_before, clients_before = cpu_seconds(server.pid), time.process_time()
    raw = raw_puts(server.endpoint_url, REGION, "bench-raw", clients, seconds)
    server_s = cpu_seconds(server.pid) - server_before
    clients_s = time.process_time() - clients_before
    puts = max(raw["writes"], 1)
    return {
        "puts/s": raw["writes"] / raw["seconds"],
        "server ms/put": server_s * 1000 / puts,
        "clients ms/put": clients_s * 1000 / puts,
        "server share": server_s / (server_s + clients_s),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="per kind and server")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--raw-clients", type=int, default=3, help="as the bench's load_clients")
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as logs:
        servers = {
            label: Server(Path(logs) / f"moto-{plain}.log", plain=plain)
            for label, plain in (("moto's own path", True), ("ours", False))
        }
        try:
            results = measure(servers, args.requests, args.accounts)
            raw = {
                label: raw_puts_share(server, args.raw_clients, args.raw_seconds)
                for label, server in servers.items()
            }
        finally:
            for server in servers.values():
                server.stop()
    before, after = results["moto's own path"], results["ours"]
    print(f"{'request':42} {'moto own ms':>11} {'ours ms':>8} {'saved':>6}")
    for kind in before:
        saved = 1 - after[kind] / before[kind] if before[kind] else 0.0
        print(f"{kind:42} {before[kind]:11.2f} {after[kind]:8.2f} {saved:6.0%}")
    total_before, total_after = sum(before.values()), sum(after.values())
    print(
        f"{'one keyed credit (one of each)':42} {total_before:11.2f} {total_after:8.2f} "
        f"{1 - total_after / total_before:6.0%}"
    )
    print(f"\nraw conditional puts ({args.raw_clients} boto3 clients in threads of this process)")
    for label, figures in raw.items():
        print(
            f"  {label:16} " + ", ".join(f"{name} {value:.2f}" for name, value in figures.items())
        )


if __name__ == "__main__":
    main()

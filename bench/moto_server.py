"""The local runtime's moto server, metered: every AWS request is counted by caller,
service and operation, with the DynamoDB capacity units it would consume.

Run as ``python -m bench.moto_server --port 0``: it is scripts.local.moto_server (the
same patched moto, the same ``MOTO_PORT=<port>`` line) with a WSGI layer in front:

- ``GET /_bench/meter``: the counts so far, as JSON; ``POST /_bench/meter/reset``;
- ``POST /_bench/seed`` ``{"region", "table", "items"}``: writes items straight into
  the table without stream records, as if they had been written and processed long ago;
- ``GET /_bench/memory``: the server's resident memory, the AWS requests it has served
  and the items and stream records it holds (what its memory should follow).

A caller is told apart by the ``app/<id>`` of its User-Agent (botocore's
``AWS_SDK_UA_APP_ID``); the bench gives every function its own.
"""

from __future__ import annotations

import gc
import io
import json
import re
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from bench.capacity import item_size, read_units, write_units
from scripts.local.moto_server import StartResponse, WsgiApp, serve

# moto's account for any credentials it does not know, such as the fake ones.
DEFAULT_ACCOUNT_ID = "123456789012"

_APP_ID = re.compile(r"\bapp/(\S+)")
_SERVICES = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AWSEvents": "events",
    "AmazonSQS": "sqs",
}
_REGION = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/")


def caller_of(user_agent: str) -> str:
    match = _APP_ID.search(user_agent)
    if match:
        return match.group(1)
    return "lambda-unknown" if "exec-env/AWS_Lambda" in user_agent else "runtime"


class Meter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], dict[str, float]] = {}

    def add(self, caller: str, service: str, operation: str, **amounts: float) -> None:
        with self._lock:
            row = self._counts.setdefault((caller, service, operation), defaultdict(float))
            row["requests"] += 1
            for name, amount in amounts.items():
                row[name] += amount

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"caller": c, "service": s, "operation": o, **dict(row)}
                for (c, s, o), row in sorted(self._counts.items())
            ]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * resource.getpagesize()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def stored() -> dict[str, Any]:
    """Items per table and stream records in every table of every region of moto's account."""
    items: dict[str, int] = {}
    records = 0
    for backend in dynamodb_backends[DEFAULT_ACCOUNT_ID].values():
        for name, table in list(backend.tables.items()):
            items[name] = len(table)
            records += len(table.stream_shard.items) if table.stream_shard else 0
    return {"items": items, "stream_records": records}


def _table(region: str, name: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(name)


def _stored_size(region: str, table_name: str, key: dict[str, Any]) -> int:
    """The size of the item with that key as the table holds it now (0 if absent)."""
    try:
        table = _table(region, table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_value, range_value)
    except Exception:  # noqa: BLE001 - a request moto rejects costs nothing to look up
        return 0
    return 0 if item is None else item_size(item.to_json()["Attributes"])


def _key_of(region: str, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    try:
        table = _table(region, table_name)
    except Exception:  # noqa: BLE001
        return {}
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: item[name] for name in names if name and name in item}


class _Write:
    """One item a write request touches, sized before and after."""

    def __init__(self, region: str, table: str, key: dict[str, Any], new_size: int | None) -> None:
        self.region, self.table, self.key, self.new_size = region, table, key, new_size
        self.before = _stored_size(region, table, key)

    def units(self, transactional: bool) -> float:
        after = self.new_size
        if after is None:  # an update: the item as it is now
            after = _stored_size(self.region, self.table, self.key)
        return write_units(self.before, after, transactional=transactional)


def _writes(region: str, operation: str, request: dict[str, Any]) -> list[_Write]:
    if operation == "PutItem":
        table, item = request["TableName"], request["Item"]
        return [_Write(region, table, _key_of(region, table, item), item_size(item))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [_Write(region, request["TableName"], request["Key"], None)]
    writes: list[_Write] = []
    if operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            if "Put" in entry:
                put = entry["Put"]
                key = _key_of(region, put["TableName"], put["Item"])
                writes.append(_Write(region, put["TableName"], key, item_size(put["Item"])))
            for kind in ("Update", "Delete"):
                if kind in entry:
                    writes.append(
                        _Write(region, entry[kind]["TableName"], entry[kind]["Key"], None)
                    )
    if operation == "BatchWriteItem":
        for table, requests in request.get("RequestItems", {}).items():
            for one in requests:
                if "PutRequest" in one:
                    item = one["PutRequest"]["Item"]
                    writes.append(
                        _Write(region, table, _key_of(region, table, item), item_size(item))
                    )
    return writes


def _reads(operation: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, float]:
    consistent = bool(request.get("ConsistentRead", False))
    if operation == "GetItem":
        item = response.get("Item")
        size = item_size(item) if item else 0
        return {"items_read": 1 if item else 0, "rcu": read_units(size, consistent=consistent)}
    if operation in ("Query", "Scan"):
        items = response.get("Items", [])
        size = sum(item_size(item) for item in items)
        filtered = response.get("ScannedCount", len(items)) != len(items)
        return {
            "items_read": float(response.get("ScannedCount", len(items))),
            "rcu": read_units(size, consistent=consistent),
            # A filter hides the items it dropped, so their units are not counted.
            "filtered_requests": 1.0 if filtered else 0.0,
        }
    if operation == "GetRecords":
        return {"items_read": float(len(response.get("Records", [])))}
    return {}


class MeteredApp:
    def __init__(self, app: WsgiApp, meter: Meter) -> None:
        self._app = app
        self.meter = meter
        self._seed_lock = threading.Lock()
        self.requests = 0  # every AWS request served, the runtime's own included

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_bench/"):
            return self._control(path, environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        match = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        region, service = match.groups() if match else ("us-east-1", "unknown")
        service = _SERVICES.get(target.split(".", 1)[0], service)
        operation = target.rsplit(".", 1)[-1] if target else environ.get("REQUEST_METHOD", "")
        caller = caller_of(environ.get("HTTP_USER_AGENT", ""))
        self.requests += 1  # under the GIL; a lost increment would not show in a ratio
        request = _json(body) if target else {}
        writes: list[_Write] = []
        if service == "dynamodb" and request:
            writes = _writes(region, operation, request)
        status: list[str] = []

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(status_line)
            return start_response(status_line, headers, exc_info)

        started = time.perf_counter()
        chunks = list(self._app(environ, capture))
        # Time in moto, waiting for the request lock included: where the pipeline's
        # hops spend theirs on this server. A long poll (the bus tap's ReceiveMessage)
        # mostly waits for messages: counted apart.
        polling = bool(request.get("WaitTimeSeconds"))
        amounts = {"poll_s" if polling else "server_s": time.perf_counter() - started}
        if status and not status[0].startswith("2"):
            amounts["errors"] = 1.0
        if service in ("dynamodb", "dynamodbstreams") and request:
            response = _json(b"".join(chunks)) if status and status[0].startswith("2") else {}
            amounts.update(_reads(operation, request, response))
            transactional = operation == "TransactWriteItems"
            wcu = sum(write.units(transactional) for write in writes)
            if wcu:
                amounts["wcu"] = wcu
                amounts["items_written"] = float(len(writes))
        if operation == "PutEvents":
            amounts["bus_entries"] = float(len(request.get("Entries", [])))
        self.meter.add(caller, service, operation, **amounts)
        return chunks

    def _control(
        self, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        answer: Any = {"ok": True}
        if path == "/_bench/meter":
            answer = self.meter.snapshot()
        elif path == "/_bench/meter/reset":
            self.meter.reset()
        elif path == "/_bench/memory":
            gc.collect()  # what is still referenced, not what a collection would free
            answer = {"rss_bytes": resident_bytes(), "requests": self.requests, **stored()}
        elif path == "/_bench/seed":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            request = json.loads(environ["wsgi.input"].read(length))
            answer = {"written": self._seed(request["region"], request["table"], request["items"])}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown bench path"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    def _seed(self, region: str, table_name: str, items: list[dict[str, Any]]) -> int:
        table = _table(region, table_name)
        with self._seed_lock:
            # History written "long ago": no stream records, so nothing re-processes it.
            shard, table.stream_shard = table.stream_shard, None
            try:
                for item in items:
                    table.put_item(item, overwrite=True)
            finally:
                table.stream_shard = shard
        return len(items)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


if __name__ == "__main__":
    serve(__doc__ or "", lambda app: MeteredApp(app, Meter()))

"""A fake of the Ledger HTTP API behind `httpx.MockTransport`: a real, small
implementation (postings stored once per idempotency key, consecutive versions, a read
side that lags, pages), with faults that a test queues up for the next requests."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

# A fault replaces or wraps the handling of one request: it gets the request and the
# real handler and returns the answer (or raises a transport error).
Fault = Callable[[httpx.Request, Callable[[httpx.Request], httpx.Response]], httpx.Response]


def answer_lost(
    request: httpx.Request, handle: Callable[[httpx.Request], httpx.Response]
) -> httpx.Response:
    """The server handles the request, and the answer never reaches the client."""
    handle(request)
    raise httpx.ReadTimeout("answer lost", request=request)


def status(code: int, error: str | None = None, headers: dict[str, str] | None = None) -> Fault:
    """The request is answered ``code`` without being handled."""

    def fault(
        request: httpx.Request, _: Callable[[httpx.Request], httpx.Response]
    ) -> httpx.Response:
        body: dict[str, Any] = (
            {"error": {"code": error, "message": error}}
            if error
            else {"message": "Service Unavailable"}
        )
        return httpx.Response(code, json=body, headers=headers)

    return fault


def connection_refused(
    request: httpx.Request, _: Callable[[httpx.Request], httpx.Response]
) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


class FakeApi:
    def __init__(self, *, overdraft_limit: Decimal = Decimal("0.00")) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.answers: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.projected: dict[str, int] = {}
        self.requests: list[httpx.Request] = []
        self.faults: deque[Fault] = deque()
        self.overdraft_limit = overdraft_limit
        # How many balance reads the read side lags behind a new event.
        self.lag = 0
        self._reads_behind: dict[str, int] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            return self.faults.popleft()(request, self._route)
        return self._route(request)

    def keys(self) -> list[str | None]:
        return [request.headers.get("idempotency-key") for request in self.requests]

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "accounts":
            return _error(404, "not_found")
        account, what = parts[1], parts[2]
        if request.method == "POST" and what in ("credits", "debits"):
            return self._post(request, account, what)
        if request.method == "GET" and what == "balance":
            return self._balance(account)
        if request.method == "GET" and what == "events":
            return self._page(request, account)
        return _error(404, "not_found")

    def _post(self, request: httpx.Request, account: str, what: str) -> httpx.Response:
        body = json.loads(request.content, parse_float=Decimal)
        key = request.headers.get("idempotency-key")
        if key is None:
            return _error(400, "idempotency_key_required")
        remembered = self.answers.get((account, key))
        if remembered is not None:
            if remembered[0] != request.content.decode():
                return _error(409, "idempotency_key_reused")
            return httpx.Response(201, json=remembered[1])
        amount = Decimal(body["amount"])
        events = self.events.setdefault(account, [])
        sign = 1 if what == "credits" else -1
        if what == "debits" and _total(events) - amount < -self.overdraft_limit:
            return _error(422, "insufficient_funds")
        event = {
            "accountId": account,
            "eventId": f"evt-{account}-{len(events) + 1}",
            "type": "CreditEvent" if sign > 0 else "DebitEvent",
            "version": len(events) + 1,
            "amount": f"{amount:.2f}",
            "description": body.get("description"),
            "recordedAt": "2026-12-01T10:00:00.000000Z",
        }
        events.append(event)
        self._reads_behind[account] = self.lag
        if not self.lag:
            self.projected[account] = event["version"]
        self.answers[(account, key)] = (request.content.decode(), event)
        return httpx.Response(201, json=event)

    def _balance(self, account: str) -> httpx.Response:
        events = self.events.get(account, [])
        if self._reads_behind.get(account, 0) > 0:
            self._reads_behind[account] -= 1
        else:
            self.projected[account] = len(events)
        version = self.projected.get(account, 0)
        if version == 0:
            return _error(404, "account_not_found")
        total = _total(events[:version])
        body = {
            "accountId": account,
            "totalBalance": f"{total:.2f}",
            "currentMonthBalance": f"{total:.2f}",
            "month": "2026-12",
            "version": version,
        }
        return httpx.Response(200, json=body)

    def _page(self, request: httpx.Request, account: str) -> httpx.Response:
        events = self.events.get(account)
        if not events:
            return _error(404, "account_not_found")
        after = int(request.url.params.get("after", "0"))
        limit = int(request.url.params.get("limit", "50"))
        page = events[after : after + limit]
        more = after + limit < len(events)
        body = {
            "accountId": account,
            "events": page,
            "nextAfter": page[-1]["version"] if more else None,
        }
        return httpx.Response(200, json=body)


def _total(events: list[dict[str, Any]]) -> Decimal:
    return sum(
        (Decimal(e["amount"]) * (1 if e["type"] == "CreditEvent" else -1) for e in events),
        Decimal("0"),
    )


def _error(code: int, error: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": error, "message": f"{error} (fake)"}})


class Sleeps:
    """A clock that only moves when the client sleeps: no test waits for real."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def clock(self) -> float:
        return self.now

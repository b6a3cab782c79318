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

NOW = "2026-12-01T10:00:00.000000Z"

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
        # Opened accounts (an account only credited or debited is a legacy one).
        self.accounts: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.answers: dict[tuple[str, str], tuple[str, httpx.Response]] = {}
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
        method = request.method
        if parts == ["accounts"]:
            if method == "POST":
                return self._once(request, "open", self._open)
            return self._list(request)
        if parts == ["transfers"] and method == "POST":
            if request.headers.get("idempotency-key") is None:
                return _error(400, "idempotency_key_required")
            return self._once(request, "transfer", self._transfer)
        if len(parts) == 2 and parts[0] == "transfers" and method == "GET":
            found = self.transfers.get(parts[1])
            return httpx.Response(200, json=found) if found else _error(404, "transfer_not_found")
        if len(parts) == 2 and parts[0] == "accounts" and method == "GET":
            return self._account(parts[1])
        if len(parts) != 3 or parts[0] != "accounts":
            return _error(404, "not_found")
        account, what = parts[1], parts[2]
        if method == "POST" and what in ("credits", "debits"):
            if request.headers.get("idempotency-key") is None:
                return _error(400, "idempotency_key_required")
            return self._once(request, account, lambda r: self._post(r, account, what))
        if method == "POST" and what in ("freeze", "unfreeze", "close", "overdraft-limit"):
            return self._once(request, account, lambda r: self._change(r, account, what))
        if method == "GET" and what == "balance":
            return self._balance(account)
        if method == "GET" and what == "events":
            return self._page(request, account)
        return _error(404, "not_found")

    def _once(
        self, request: httpx.Request, scope: str, handle: Callable[[httpx.Request], httpx.Response]
    ) -> httpx.Response:
        """The server's idempotency: the same key and body answer the first answer again."""
        key = request.headers.get("idempotency-key")
        if key is None:
            return handle(request)
        remembered = self.answers.get((scope, key))
        if remembered is not None:
            if remembered[0] != request.content.decode():
                return _error(409, "idempotency_key_reused")
            return remembered[1]
        answer = handle(request)
        if answer.is_success:
            self.answers[(scope, key)] = (request.content.decode(), answer)
        return answer

    def _open(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        account = body["accountId"]
        if body["currency"] not in ("EUR", "USD", "JPY"):
            return _error(400, "invalid_currency")
        if account in self.accounts or account in self.events:
            return _error(409, "account_exists")
        self.accounts[account] = {
            "accountId": account,
            "currency": body["currency"],
            "status": "open",
            "owners": sorted(body["owners"]),
            "metadata": body.get("metadata", {}),
            "openedAt": NOW,
            "overdraftLimit": body.get("overdraftLimit", "0"),
        }
        self._store(account, {"type": "AccountOpened", "currency": body["currency"]})
        return self._account(account, status=201)

    def _change(self, request: httpx.Request, account: str, what: str) -> httpx.Response:
        settings = self.accounts.get(account)
        if settings is None:
            return _error(404, "account_not_found")
        refusal, status, kind = {
            "freeze": (settings["status"] != "open", "frozen", "AccountFrozen"),
            "unfreeze": (settings["status"] != "frozen", "open", "AccountUnfrozen"),
            "close": (_total(self.events[account]) != 0, "closed", "AccountClosed"),
            "overdraft-limit": (False, settings["status"], "OverdraftLimitChanged"),
        }[what]
        if settings["status"] == "closed":
            return _error(422, "account_closed")
        if refusal:
            code = {"freeze": "account_frozen", "unfreeze": "account_not_frozen"}
            return _error(422, code.get(what, "account_not_empty"))
        if what == "overdraft-limit":
            limit = json.loads(request.content)["overdraftLimit"]
            if _total(self.events[account]) < -Decimal(limit):
                return _error(422, "overdraft_limit_too_low")
            settings["overdraftLimit"] = limit
        settings["status"] = status
        self._store(account, {"type": kind})
        return self._account(account)

    def _account(self, account: str, status: int = 200) -> httpx.Response:
        settings = self.accounts.get(account)
        if settings is None:
            return _error(404, "account_not_found")
        events = self.events[account]
        version = self.projected.get(account, 0)
        total = f"{_total(events[:version]):.2f}"
        balances = {
            "totalBalance": total,
            "currentMonthBalance": total,
            "month": "2026-12",
            "version": version,
        }
        body = {**settings, "version": len(events), "balances": balances}
        return httpx.Response(status, json=body)

    def _list(self, request: httpx.Request) -> httpx.Response:
        owner = request.url.params["owner"]
        # The fake's tokens are their subjects.
        token = request.headers["authorization"].removeprefix("Bearer ")
        subject = token if owner == "me" else owner
        after = request.url.params.get("after", "")
        limit = int(request.url.params.get("limit", "50"))
        mine = sorted(a for a, s in self.accounts.items() if subject in s["owners"] and a > after)
        summaries = [
            {k: v for k, v in self.accounts[a].items() if k != "overdraftLimit"}
            for a in mine[:limit]
        ]
        more = len(mine) > limit
        return httpx.Response(
            200, json={"accounts": summaries, "nextAfter": mine[limit - 1] if more else None}
        )

    def _refusal(self, account: str) -> httpx.Response | None:
        settings = self.accounts.get(account)
        if settings is None:
            return _error(404, "account_not_found")
        if settings["status"] != "open":
            return _error(422, f"account_{settings['status']}")
        return None

    def _transfer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        postings = body.get("postings") or [{k: body[k] for k in ("from", "to", "amount")}]
        for posting in postings:
            for account in (posting["from"], posting["to"]):
                refused = self._refusal(account)
                if refused is not None:
                    return refused
            currencies = {self.accounts[posting[side]]["currency"] for side in ("from", "to")}
            if len(currencies) > 1:
                return _error(422, "currency_mismatch")
            source = self.accounts[posting["from"]]
            if _total(self.events[posting["from"]]) - Decimal(posting["amount"]) < -Decimal(
                source["overdraftLimit"]
            ):
                return _error(422, "insufficient_funds")
        transfer_id = f"trf-{len(self.transfers) + 1}"
        legs = []
        for posting in postings:
            amount = f"{Decimal(posting['amount']):.2f}"
            for account, kind, other in (
                (posting["from"], "DebitEvent", posting["to"]),
                (posting["to"], "CreditEvent", posting["from"]),
            ):
                fields = {"amount": amount, "transferId": transfer_id, "counterparty": other}
                event = self._store(account, {"type": kind, **fields})
                legs.append({k: event[k] for k in ("accountId", "version", "eventId", "type")})
            posting["amount"] = amount
            posting["currency"] = self.accounts[posting["from"]]["currency"]
        record: dict[str, Any] = {
            "transferId": transfer_id,
            "description": body.get("description"),
            "recordedAt": NOW,
            "postings": postings,
            "legs": legs,
        }
        if len(postings) == 1:
            record |= {"amount": postings[0]["amount"], "currency": postings[0]["currency"]}
        self.transfers[transfer_id] = record
        return httpx.Response(201, json=record)

    def _store(self, account: str, fields: dict[str, Any]) -> dict[str, Any]:
        events = self.events.setdefault(account, [])
        event = {
            "accountId": account,
            "eventId": f"evt-{account}-{len(events) + 1}",
            "version": len(events) + 1,
            "recordedAt": NOW,
            **fields,
        }
        events.append(event)
        self._reads_behind[account] = self.lag
        if not self.lag:
            self.projected[account] = event["version"]
        return event

    def _post(self, request: httpx.Request, account: str, what: str) -> httpx.Response:
        body = json.loads(request.content, parse_float=Decimal)
        if account in self.accounts:
            refused = self._refusal(account)
            if refused is not None:
                return refused
        amount = Decimal(body["amount"])
        events = self.events.get(account, [])
        settings = self.accounts.get(account)
        limit = Decimal(settings["overdraftLimit"]) if settings else self.overdraft_limit
        if what == "debits" and _total(events) - amount < -limit:
            return _error(422, "insufficient_funds")
        fields = {
            "type": "CreditEvent" if what == "credits" else "DebitEvent",
            "amount": f"{amount:.2f}",
            "description": body.get("description"),
        }
        return httpx.Response(201, json=self._store(account, fields))

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
    # Account events (opened, frozen, ...) move no money.
    signs = {"CreditEvent": 1, "DebitEvent": -1}
    return sum(
        (Decimal(e["amount"]) * signs[e["type"]] for e in events if e["type"] in signs),
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


class Scripted:
    """A server that answers the next queued response to whatever is asked, and records
    the requests: for routes whose rules live on the server (holds, reversals), where the
    client's part is the request it sends and how it reads the answer."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers: deque[httpx.Response] = deque(answers)
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.popleft()

    def bodies(self) -> list[Any]:
        return [
            json.loads(request.content) if request.content else None for request in self.requests
        ]

    def keys(self) -> list[str | None]:
        return [request.headers.get("idempotency-key") for request in self.requests]


def hold_json(status: str = "pending", **fields: Any) -> dict[str, Any]:
    """A hold as the API answers it."""
    return {
        "holdId": "h-1",
        "accountId": "alice",
        "amount": "25.00",
        "currency": "EUR",
        "description": None,
        "placedAt": NOW,
        "expiresAt": "2026-12-01T10:05:00.000000Z",
        "version": 4,
        "status": status,
        **fields,
    }


def posting_json(**fields: Any) -> dict[str, Any]:
    """A credit or debit as the API answers it."""
    return {
        "accountId": "alice",
        "eventId": "e-5",
        "type": "DebitEvent",
        "version": 5,
        "amount": "25.00",
        "currency": "EUR",
        "description": None,
        "recordedAt": NOW,
        **fields,
    }


def error(code: int, name: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": name, "message": name}})

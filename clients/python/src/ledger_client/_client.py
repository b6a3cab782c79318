"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

import httpx

from ledger_client._core import (
    MAX_PAGE,
    USER_AGENT,
    Call,
    Outcome,
    Plan,
    Routes,
    build_request,
    token_source,
    wanted_version,
)
from ledger_client.auth import TokenProvider
from ledger_client.models import Amount, Balance, Event, HistoryPage, Statement, Write
from ledger_client.retry import RetryPolicy

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_WAIT_S = 10.0


class Ledger:
    """The Ledger HTTP API. Thread-safe; keeps a pool of connections: make one, reuse it,
    close it (or use it as a context manager)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token_source(token, token_provider)
        self._routes = Routes(retry or RetryPolicy(), clock)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"user-agent": USER_AGENT},
        )

    def credit(
        self,
        account_id: str,
        amount: Amount,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Record a credit. Without ``idempotency_key`` one is made; every retry sends it."""
        return self._run(self._routes.credit(account_id, amount, description, idempotency_key))

    def debit(
        self,
        account_id: str,
        amount: Amount,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Record a debit; `InsufficientFunds` if it would cross the overdraft limit."""
        return self._run(self._routes.debit(account_id, amount, description, idempotency_key))

    def balance(
        self,
        account_id: str,
        *,
        consistent_with: Write | None = None,
        min_version: int | None = None,
        timeout: float = DEFAULT_WAIT_S,
    ) -> Balance:
        """The balance; with ``consistent_with`` (a write's result) or ``min_version``, the
        first one that reflects it (`NotCaughtUp` after ``timeout`` seconds)."""
        wanted = wanted_version(account_id, consistent_with, min_version)
        return self._run(self._routes.balance(account_id, wanted, timeout))

    def wait_for(self, write: Write, *, timeout: float = DEFAULT_WAIT_S) -> Balance:
        """The balance of the write's account once the read side reflects the write."""
        return self._run(self._routes.wait_for(write, timeout))

    def history(
        self, account_id: str, *, after: int = 0, page_size: int = MAX_PAGE
    ) -> Iterator[Event]:
        """Every event of the account after version ``after``, fetching pages as it goes."""
        cursor: int | None = after
        while cursor is not None:
            page = self.history_page(account_id, after=cursor, limit=page_size)
            yield from page.events
            cursor = page.next_after

    def history_page(
        self, account_id: str, *, after: int = 0, limit: int = MAX_PAGE
    ) -> HistoryPage:
        return self._run(self._routes.history_page(account_id, after, limit))

    def statement(self, account_id: str, month: str) -> Statement:
        """The statement of ``month`` (``YYYY-MM``)."""
        return self._run(self._routes.statement(account_id, month))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, plan: Plan[T]) -> T:
        outcome: Outcome | None = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Call):
                outcome = self._send(step)
            else:
                self._sleep(step.seconds)
                outcome = None

    def _send(self, call: Call) -> Outcome:
        request = build_request(self._http, call, self._token())
        try:
            return self._http.send(request)
        except httpx.TransportError as error:
            return error

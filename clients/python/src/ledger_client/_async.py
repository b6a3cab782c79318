"""The asynchronous client: the same API over `httpx.AsyncClient`, running the same plans
(`ledger_client._core`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import httpx

from ledger_client._client import DEFAULT_TIMEOUT, DEFAULT_WAIT_S
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


class AsyncLedger:
    """`Ledger` for asyncio. The token provider is called on the event loop: the cached
    providers of `ledger_client.auth` block only for the one request that refreshes."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token_source(token, token_provider)
        self._routes = Routes(retry or RetryPolicy(), clock)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"user-agent": USER_AGENT},
        )

    async def credit(
        self,
        account_id: str,
        amount: Amount,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        return await self._run(
            self._routes.credit(account_id, amount, description, idempotency_key)
        )

    async def debit(
        self,
        account_id: str,
        amount: Amount,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        return await self._run(self._routes.debit(account_id, amount, description, idempotency_key))

    async def balance(
        self,
        account_id: str,
        *,
        consistent_with: Write | None = None,
        min_version: int | None = None,
        timeout: float = DEFAULT_WAIT_S,
    ) -> Balance:
        wanted = wanted_version(account_id, consistent_with, min_version)
        return await self._run(self._routes.balance(account_id, wanted, timeout))

    async def wait_for(self, write: Write, *, timeout: float = DEFAULT_WAIT_S) -> Balance:
        return await self._run(self._routes.wait_for(write, timeout))

    async def history(
        self, account_id: str, *, after: int = 0, page_size: int = MAX_PAGE
    ) -> AsyncIterator[Event]:
        cursor: int | None = after
        while cursor is not None:
            page = await self.history_page(account_id, after=cursor, limit=page_size)
            for event in page.events:
                yield event
            cursor = page.next_after

    async def history_page(
        self, account_id: str, *, after: int = 0, limit: int = MAX_PAGE
    ) -> HistoryPage:
        return await self._run(self._routes.history_page(account_id, after, limit))

    async def statement(self, account_id: str, month: str) -> Statement:
        return await self._run(self._routes.statement(account_id, month))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncLedger:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        outcome: Outcome | None = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Call):
                outcome = await self._send(step)
            else:
                await self._sleep(step.seconds)
                outcome = None

    async def _send(self, call: Call) -> Outcome:
        request = build_request(self._http, call, self._token())
        try:
            return await self._http.send(request)
        except httpx.TransportError as error:
            return error

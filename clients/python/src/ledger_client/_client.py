# Generated from _async.py by clients/python/scripts/generate_sync.py (make client-sync):
# do not edit; change _async.py and regenerate. A test fails while this file is stale.
"""The clients, written once: `AsyncLedger` in ``_async.py``, and `Ledger` in
``_client.py``, generated from it by unasync (``make client-sync``), which drops
``async``/``await`` and renames the few asyncio names (`httpx.AsyncClient` to
`httpx.Client`, ``aclose`` to ``close``, …; see ``clients/python/scripts/generate_sync.py``).
What they do is in `ledger_client._core`'s plans; a client only runs them, with asyncio
or blocking I/O."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from time import sleep as default_sleep
from types import TracebackType
from typing import TypeVar, overload

import httpx

from ledger_client._core import (
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_S,
    MAX_ACCOUNTS_PAGE,
    MAX_PAGE,
    USER_AGENT,
    Call,
    Outcome,
    Plan,
    Routes,
    Sleeper,
    build_request,
    postings_of,
    token_source,
    wanted_version,
)
from ledger_client.auth import TokenProvider
from ledger_client.models import (
    Account,
    AccountPage,
    AccountSummary,
    Amount,
    Balance,
    CsvStatement,
    Event,
    HistoryEvent,
    HistoryPage,
    Hold,
    HoldPage,
    Posting,
    Statement,
    Transfer,
    Write,
)
from ledger_client.retry import RetryPolicy

T = TypeVar("T")


class Ledger:
    """The Ledger HTTP API over a pool of connections: make one, reuse it, close it (or
    use it as a context manager). `Ledger` is thread-safe. `AsyncLedger` calls the token
    provider on the event loop: the cached providers of `ledger_client.auth` block it only
    for the one request that refreshes."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleeper = default_sleep,
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
        at: datetime | None = None,
        timeout: float = DEFAULT_WAIT_S,
    ) -> Balance:
        """The balance; with ``consistent_with`` (a write's result) or ``min_version``, the
        first one that reflects it (`NotCaughtUp` after ``timeout`` seconds); with ``at``
        (an aware datetime), as it stood at that instant."""
        wanted = wanted_version(account_id, consistent_with, min_version)
        return self._run(self._routes.balance(account_id, wanted, timeout, at))

    @overload
    def wait_for(self, write: Transfer, *, timeout: float = ...) -> tuple[Balance, ...]: ...
    @overload
    def wait_for(self, write: Write, *, timeout: float = ...) -> Balance: ...
    def wait_for(
        self, write: Write | Transfer, *, timeout: float = DEFAULT_WAIT_S
    ) -> Balance | tuple[Balance, ...]:
        """The balance of the write's account once the read side reflects the write; for a
        transfer, the balance of each of its accounts once each reflects its legs."""
        if isinstance(write, Transfer):
            return self._run(self._routes.wait_for_transfer(write, timeout))
        return self._run(self._routes.wait_for(write, timeout))

    def history(
        self,
        account_id: str,
        *,
        after: int = 0,
        from_: datetime | None = None,
        to: datetime | None = None,
        page_size: int = MAX_PAGE,
    ) -> Iterator[HistoryEvent]:
        """Every event of the account after version ``after`` (recorded at or after
        ``from_`` and before ``to``, when given), fetching pages as it goes."""
        cursor: int | None = after
        while cursor is not None:
            page = self.history_page(account_id, after=cursor, from_=from_, to=to, limit=page_size)
            yield from page.events
            cursor = page.next_after

    def history_page(
        self,
        account_id: str,
        *,
        after: int = 0,
        from_: datetime | None = None,
        to: datetime | None = None,
        limit: int = MAX_PAGE,
    ) -> HistoryPage:
        return self._run(self._routes.history_page(account_id, after, limit, from_, to))

    def statement(self, account_id: str, month: str) -> Statement:
        """The statement of ``month`` (``YYYY-MM``)."""
        return self._run(self._routes.statement(account_id, month))

    def statement_csv(self, account_id: str, month: str) -> CsvStatement:
        """The statement of ``month`` as the CSV file (``content``, ``text``) and parsed
        (opening and closing balances, one line per posting)."""
        return self._run(self._routes.statement_csv(account_id, month))

    def place_hold(
        self,
        account_id: str,
        amount: Amount,
        *,
        expires_in: int | timedelta,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Hold:
        """Reserve ``amount`` of the available balance until the hold is captured, voided
        or expires (``expires_in``: seconds or a timedelta, 1 s to 30 days)."""
        return self._run(
            self._routes.place_hold(account_id, amount, expires_in, description, idempotency_key)
        )

    def hold(self, hold_id: str) -> Hold:
        return self._run(self._routes.hold(hold_id))

    def holds(
        self, account_id: str, *, status: str | None = None, page_size: int = MAX_PAGE
    ) -> Iterator[Hold]:
        """Every hold of the account in the order placed (only those of ``status``, when
        given), fetching pages as it goes."""
        cursor: int | None = 0
        while cursor is not None:
            page = self.holds_page(account_id, status=status, after=cursor, limit=page_size)
            yield from page.holds
            cursor = page.next_after

    def holds_page(
        self,
        account_id: str,
        *,
        status: str | None = None,
        after: int = 0,
        limit: int = MAX_PAGE,
    ) -> HoldPage:
        return self._run(self._routes.holds_page(account_id, status, after, limit))

    def capture_hold(
        self,
        hold_id: str,
        *,
        amount: Amount | None = None,
        to: str | None = None,
        idempotency_key: str | None = None,
    ) -> Hold:
        """Debit the hold's account by ``amount`` (all of the hold by default), releasing
        the rest; with ``to``, credit that account as a transfer."""
        return self._run(self._routes.capture_hold(hold_id, amount, to, idempotency_key))

    def void_hold(self, hold_id: str, *, idempotency_key: str | None = None) -> Hold:
        """Release the hold without moving money."""
        return self._run(self._routes.void_hold(hold_id, idempotency_key))

    def wait_for_hold(self, hold: Hold | str, *, timeout: float = DEFAULT_WAIT_S) -> Hold:
        """The hold once it is captured, voided or expired (`NotCaughtUp` if it is still
        pending after ``timeout`` seconds)."""
        hold_id = hold.hold_id if isinstance(hold, Hold) else hold
        return self._run(self._routes.wait_for_hold(hold_id, timeout))

    def reverse(
        self,
        account_id: str,
        version: int,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Record the opposite of the credit or debit at ``version``, at most once."""
        return self._run(self._routes.reverse(account_id, version, description, idempotency_key))

    def reverse_transfer(
        self,
        transfer_id: str,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Transfer:
        """Record a transfer the other way, at most once; it names the original in ``reverses``."""
        return self._run(self._routes.reverse_transfer(transfer_id, description, idempotency_key))

    def open_account(
        self,
        account_id: str,
        currency: str,
        owners: Sequence[str],
        *,
        overdraft_limit: Amount | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Account:
        """Open an account (`AccountExists` if the id is taken); scope accounts.manage."""
        return self._run(
            self._routes.open_account(
                account_id, currency, owners, overdraft_limit, metadata, idempotency_key
            )
        )

    def account(self, account_id: str) -> Account:
        """The account: settings, status, version and the read models' balances."""
        return self._run(self._routes.account(account_id))

    def accounts(
        self, owner: str = "me", *, page_size: int = MAX_ACCOUNTS_PAGE
    ) -> Iterator[AccountSummary]:
        """Every account of ``owner`` ("me": the token's subject), fetching pages as it goes."""
        cursor: str | None = None
        while True:
            page = self.accounts_page(owner, after=cursor, limit=page_size)
            yield from page.accounts
            if page.next_after is None:
                return
            cursor = page.next_after

    def accounts_page(
        self, owner: str = "me", *, after: str | None = None, limit: int = MAX_ACCOUNTS_PAGE
    ) -> AccountPage:
        return self._run(self._routes.accounts_page(owner, after, limit))

    def freeze(self, account_id: str, *, idempotency_key: str | None = None) -> Account:
        """Refuse postings on the account until it is unfrozen."""
        return self._run(self._routes.change(account_id, "freeze", {}, idempotency_key))

    def unfreeze(self, account_id: str, *, idempotency_key: str | None = None) -> Account:
        return self._run(self._routes.change(account_id, "unfreeze", {}, idempotency_key))

    def close_account(self, account_id: str, *, idempotency_key: str | None = None) -> Account:
        """Close the account for good (`AccountNotEmpty` unless its balance is zero)."""
        return self._run(self._routes.change(account_id, "close", {}, idempotency_key))

    def set_overdraft_limit(
        self, account_id: str, limit: Amount, *, idempotency_key: str | None = None
    ) -> Account:
        """`OverdraftLimitTooLow` if the balance is already below ``-limit``."""
        return self._run(self._routes.set_overdraft_limit(account_id, limit, idempotency_key))

    def transfer(
        self,
        from_: str | None = None,
        to: str | None = None,
        amount: Amount | None = None,
        *,
        postings: Sequence[Posting] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Transfer:
        """Move ``amount`` from ``from_`` to ``to``, or apply ``postings`` (1 to 10) all
        together or not at all. Without ``idempotency_key`` one is made; every retry sends it."""
        moves = postings_of(from_, to, amount, postings)
        return self._run(self._routes.transfer(moves, description, idempotency_key))

    def get_transfer(self, transfer_id: str) -> Transfer:
        return self._run(self._routes.get_transfer(transfer_id))

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

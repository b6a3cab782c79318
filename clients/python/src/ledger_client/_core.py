"""The client's logic, written once for `Ledger` and `AsyncLedger` alike.

Each operation is a *plan*: a generator that yields what to do (send a `Call`, `Sleep`)
and is sent back what happened (the response, or the transport's exception). It does no
I/O itself, so the synchronous and asynchronous clients differ only in the few lines that
run a plan (their ``_run``), and the tests can drive a plan without any clock.

A new route is one method of `Routes` (a `Call` and the model its answer parses into),
plus a one-line method on `AsyncLedger` (``_async.py``), from which ``_client.py``'s
`Ledger` is generated (``make client-sync``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from ledger_client.auth import TokenProvider
from ledger_client.errors import (
    AccountNotFound,
    NoResponse,
    NotCaughtUp,
    UnexpectedResponse,
    error_code,
    error_for,
)
from ledger_client.models import (
    Account,
    AccountPage,
    Amount,
    Balance,
    CsvStatement,
    Event,
    HistoryPage,
    Hold,
    HoldPage,
    Posting,
    Statement,
    Transfer,
    Write,
    amount_text,
)
from ledger_client.retry import RetryPolicy

T = TypeVar("T")
USER_AGENT = "ledger-client/0.1.0"
MAX_PAGE = 100
MAX_ACCOUNTS_PAGE = 100
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_WAIT_S = 10.0

# How each client pauses between attempts and polls (a test passes one that only records).
Sleeper = Callable[[float], None]
AsyncSleeper = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of the API, without its token (the client adds it per attempt,
    so a retry carries a refreshed one)."""

    method: str
    path: str
    params: Mapping[str, int | str] | None = None
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    accept: str = "application/json"


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Outcome = httpx.Response | httpx.TransportError
Plan = Generator[Call | Sleep, Outcome | None, T]

# The transport failures after which trying again can help: the server may never have
# seen the request, or its answer was lost on the way back.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# 502/504: the gateway lost its backend; 503: the service asks to come back later.
_TRANSIENT_STATUSES = frozenset({502, 503, 504})


def retryable(call: Call, outcome: Outcome) -> bool:
    """Whether ``call`` may be sent again after ``outcome``. A POST only with an
    idempotency key: the server answers the first result again instead of storing twice,
    even when the lost answer was a success."""
    if call.method != "GET" and call.idempotency_key is None:
        return False
    if isinstance(outcome, httpx.TransportError):
        return isinstance(outcome, _TRANSIENT)
    if outcome.status_code in _TRANSIENT_STATUSES:
        return True
    return outcome.status_code == 409 and error_code(outcome) == "concurrent_modification"


def retry_after(response: httpx.Response, now: Callable[[], datetime]) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are all UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def build_request(
    client: httpx.Client | httpx.AsyncClient, call: Call, token: str
) -> httpx.Request:
    headers = {"authorization": f"Bearer {token}", "accept": call.accept}
    if call.idempotency_key is not None:
        headers["idempotency-key"] = call.idempotency_key
    return client.build_request(
        call.method,
        call.path,
        params=dict(call.params) if call.params else None,
        json=call.body,
        headers=headers,
    )


def token_source(token: str | None, token_provider: TokenProvider | None) -> TokenProvider:
    if (token is None) == (token_provider is None):
        raise ValueError("give exactly one of token= and token_provider=")
    if token_provider is not None:
        return token_provider
    fixed = token
    assert fixed is not None
    return lambda: fixed


def wanted_version(account_id: str, write: Write | None, min_version: int | None) -> int | None:
    """The version a balance read waits for, from ``consistent_with`` or ``min_version``."""
    if write is None:
        return min_version
    if min_version is not None:
        raise ValueError("give consistent_with= or min_version=, not both")
    if write.account_id != account_id:
        raise ValueError(f"consistent_with is a write on {write.account_id}, not {account_id}")
    return write.version


def postings_of(
    from_: str | None,
    to: str | None,
    amount: Amount | None,
    postings: Sequence[Posting] | None,
) -> tuple[Posting, ...]:
    """The postings of a transfer, given as one (``from_``, ``to``, ``amount``) or as a list."""
    one = (from_, to, amount)
    if postings is None:
        if from_ is None or to is None or amount is None:
            raise ValueError("give from_, to and amount, or postings=")
        return (Posting(from_, to, amount),)
    if any(part is not None for part in one):
        raise ValueError("give from_, to and amount, or postings=, not both")
    if not postings:
        raise ValueError("a transfer needs at least one posting")
    return tuple(postings)


class Routes:
    """Every route of the API as a plan, with the retry rules they all share."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.wall_clock = wall_clock

    def send(self, call: Call) -> Plan[Any]:
        """The JSON answer to ``call`` (see `respond`)."""
        return _json((yield from self.respond(call)))

    def respond(self, call: Call) -> Plan[httpx.Response]:
        """The successful answer to ``call``, tried again where that is safe and may help;
        the same idempotency key on every attempt, so a retry never stores twice."""
        attempt = 0
        while True:
            outcome = yield call
            assert outcome is not None
            attempt += 1
            if isinstance(outcome, httpx.Response) and outcome.is_success:
                return outcome
            delay = self._delay(call, outcome, attempt)
            if delay is None:
                if isinstance(outcome, httpx.TransportError):
                    raise NoResponse(
                        f"{call.method} {call.path}: {type(outcome).__name__}: {outcome}"
                    ) from outcome
                raise error_for(outcome)
            yield Sleep(delay)

    def _delay(self, call: Call, outcome: Outcome, attempt: int) -> float | None:
        if attempt >= self.policy.max_attempts or not retryable(call, outcome):
            return None
        wait = None
        if isinstance(outcome, httpx.Response):
            wait = retry_after(outcome, self.wall_clock)
            if wait is not None and wait > self.policy.max_retry_after:
                return None
        return self.policy.backoff(attempt, wait)

    def post(
        self,
        account_id: str,
        kind: str,
        amount: Amount,
        description: str | None,
        idempotency_key: str | None,
    ) -> Plan[Event]:
        body: dict[str, Any] = {"amount": amount_text(amount)}
        if description is not None:
            body["description"] = description
        call = Call(
            "POST",
            f"{_account(account_id)}/{kind}",
            body=body,
            idempotency_key=_key(idempotency_key),
        )
        return _parsed(Event.from_json, (yield from self.send(call)))

    def credit(
        self, account_id: str, amount: Amount, description: str | None, key: str | None
    ) -> Plan[Event]:
        return self.post(account_id, "credits", amount, description, key)

    def debit(
        self, account_id: str, amount: Amount, description: str | None, key: str | None
    ) -> Plan[Event]:
        return self.post(account_id, "debits", amount, description, key)

    def balance(
        self,
        account_id: str,
        min_version: int | None,
        timeout: float,
        at: datetime | None = None,
    ) -> Plan[Balance]:
        """The balance; with ``min_version``, once the read models reflect at least that
        version (polled with backoff until ``timeout`` seconds have passed); with ``at``,
        as it stood at that instant (read from the events, so there is nothing to wait for)."""
        params = None if at is None else {"at": instant(at)}
        if at is not None and min_version is not None:
            raise ValueError("a balance at a past instant has nothing to wait for")
        call = Call("GET", f"{_account(account_id)}/balance", params)
        if min_version is None:
            return _parsed(Balance.from_json, (yield from self.send(call)))
        deadline = self.clock() + timeout
        polls = 0
        while True:
            seen: int | None = None
            try:
                balance = _parsed(Balance.from_json, (yield from self.send(call)))
            except AccountNotFound:
                pass  # the first event of the account is not projected yet
            else:
                if balance.version >= min_version:
                    return balance
                seen = balance.version
            polls += 1
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise NotCaughtUp(
                    f"the balance of {account_id} reflects version {seen}, not yet "
                    f"{min_version}, after {timeout}s",
                    details={"accountId": account_id, "version": seen, "awaited": min_version},
                )
            yield Sleep(min(self.policy.poll(polls), remaining))

    def wait_for(self, write: Write, timeout: float) -> Plan[Balance]:
        return self.balance(write.account_id, write.version, timeout)

    def wait_for_transfer(self, transfer: Transfer, timeout: float) -> Plan[tuple[Balance, ...]]:
        """The balance of each of the transfer's accounts (in the order of its legs), once
        the read side reflects every leg; ``timeout`` bounds the whole wait."""
        deadline = self.clock() + timeout
        balances = []
        for account_id, version in transfer.versions().items():
            remaining = max(0.0, deadline - self.clock())
            balances.append((yield from self.balance(account_id, version, remaining)))
        return tuple(balances)

    def open_account(
        self,
        account_id: str,
        currency: str,
        owners: Sequence[str],
        overdraft_limit: Amount | None,
        metadata: Mapping[str, str] | None,
        key: str | None,
    ) -> Plan[Account]:
        body: dict[str, Any] = {
            "accountId": account_id,
            "currency": currency,
            "owners": list(owners),
        }
        if overdraft_limit is not None:
            body["overdraftLimit"] = amount_text(overdraft_limit)
        if metadata is not None:
            body["metadata"] = dict(metadata)
        call = Call("POST", "/accounts", body=body, idempotency_key=_key(key))
        return _parsed(Account.from_json, (yield from self.send(call)))

    def account(self, account_id: str) -> Plan[Account]:
        return _parsed(Account.from_json, (yield from self.send(Call("GET", _account(account_id)))))

    def accounts_page(self, owner: str, after: str | None, limit: int) -> Plan[AccountPage]:
        params: dict[str, int | str] = {"owner": owner, "limit": limit}
        if after is not None:
            params["after"] = after
        call = Call("GET", "/accounts", params)
        return _parsed(AccountPage.from_json, (yield from self.send(call)))

    def change(
        self, account_id: str, action: str, body: Mapping[str, Any], key: str | None
    ) -> Plan[Account]:
        """A change of the account's settings or status (``freeze``, ``unfreeze``, ``close``,
        ``overdraft-limit``). It sends a key too, so that a retry after a lost answer gets
        that answer again instead of, say, `AccountFrozen` for its own first attempt."""
        call = Call(
            "POST", f"{_account(account_id)}/{action}", body=body, idempotency_key=_key(key)
        )
        return _parsed(Account.from_json, (yield from self.send(call)))

    def set_overdraft_limit(self, account_id: str, limit: Amount, key: str | None) -> Plan[Account]:
        body = {"overdraftLimit": amount_text(limit)}
        return self.change(account_id, "overdraft-limit", body, key)

    def transfer(
        self, postings: Sequence[Posting], description: str | None, key: str | None
    ) -> Plan[Transfer]:
        body: dict[str, Any]
        if len(postings) == 1:
            body = dict(postings[0].to_json())
        else:
            body = {"postings": [posting.to_json() for posting in postings]}
        if description is not None:
            body["description"] = description
        call = Call("POST", "/transfers", body=body, idempotency_key=_key(key))
        return _parsed(Transfer.from_json, (yield from self.send(call)))

    def get_transfer(self, transfer_id: str) -> Plan[Transfer]:
        call = Call("GET", _transfer(transfer_id))
        return _parsed(Transfer.from_json, (yield from self.send(call)))

    def history_page(
        self,
        account_id: str,
        after: int,
        limit: int,
        from_: datetime | None = None,
        to: datetime | None = None,
    ) -> Plan[HistoryPage]:
        params: dict[str, int | str] = {"after": after, "limit": limit}
        if from_ is not None:
            params["from"] = instant(from_)
        if to is not None:
            params["to"] = instant(to)
        call = Call("GET", f"{_account(account_id)}/events", params)
        return _parsed(HistoryPage.from_json, (yield from self.send(call)))

    def statement(self, account_id: str, month: str) -> Plan[Statement]:
        call = Call("GET", _statement(account_id, month))
        return _parsed(Statement.from_json, (yield from self.send(call)))

    def statement_csv(self, account_id: str, month: str) -> Plan[CsvStatement]:
        call = Call("GET", _statement(account_id, month), accept="text/csv")
        response = yield from self.respond(call)
        return _parsed(
            lambda content: CsvStatement.parse(account_id, month, content), response.content
        )

    def place_hold(
        self,
        account_id: str,
        amount: Amount,
        expires_in: int | timedelta,
        description: str | None,
        key: str | None,
    ) -> Plan[Hold]:
        body: dict[str, Any] = {"amount": amount_text(amount), "expiresIn": seconds(expires_in)}
        if description is not None:
            body["description"] = description
        call = Call("POST", f"{_account(account_id)}/holds", body=body, idempotency_key=_key(key))
        return _parsed(Hold.from_json, (yield from self.send(call)))

    def hold(self, hold_id: str) -> Plan[Hold]:
        return _parsed(Hold.from_json, (yield from self.send(Call("GET", _hold(hold_id)))))

    def holds_page(
        self, account_id: str, status: str | None, after: int, limit: int
    ) -> Plan[HoldPage]:
        params: dict[str, int | str] = {"after": after, "limit": limit}
        if status is not None:
            params["status"] = status
        call = Call("GET", f"{_account(account_id)}/holds", params)
        return _parsed(HoldPage.from_json, (yield from self.send(call)))

    def capture_hold(
        self, hold_id: str, amount: Amount | None, to: str | None, key: str | None
    ) -> Plan[Hold]:
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = amount_text(amount)
        if to is not None:
            body["to"] = to
        call = Call("POST", f"{_hold(hold_id)}/capture", body=body, idempotency_key=_key(key))
        return _parsed(Hold.from_json, (yield from self.send(call)))

    def void_hold(self, hold_id: str, key: str | None) -> Plan[Hold]:
        call = Call("POST", f"{_hold(hold_id)}/void", body={}, idempotency_key=_key(key))
        return _parsed(Hold.from_json, (yield from self.send(call)))

    def wait_for_hold(self, hold_id: str, timeout: float) -> Plan[Hold]:
        """The hold once it is no longer pending (captured, voided, or expired by the
        expirer), polled with backoff until ``timeout`` seconds have passed."""
        deadline = self.clock() + timeout
        polls = 0
        while True:
            hold = yield from self.hold(hold_id)
            if not hold.pending:
                return hold
            polls += 1
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise NotCaughtUp(
                    f"hold {hold_id} is still pending after {timeout}s "
                    f"(it expires at {hold.expires_at.isoformat()})",
                    details={"holdId": hold_id, "status": hold.status},
                )
            yield Sleep(min(self.policy.poll(polls), remaining))

    def reverse(
        self, account_id: str, version: int, description: str | None, key: str | None
    ) -> Plan[Event]:
        call = Call(
            "POST",
            f"{_account(account_id)}/events/{version}/reversal",
            body=_described(description),
            idempotency_key=_key(key),
        )
        return _parsed(Event.from_json, (yield from self.send(call)))

    def reverse_transfer(
        self, transfer_id: str, description: str | None, key: str | None
    ) -> Plan[Transfer]:
        call = Call(
            "POST",
            f"{_transfer(transfer_id)}/reversal",
            body=_described(description),
            idempotency_key=_key(key),
        )
        return _parsed(Transfer.from_json, (yield from self.send(call)))


def _key(given: str | None) -> str:
    """The caller's idempotency key, else a new one: made once per call, before the first
    attempt, so that every retry of the call sends the same."""
    return given if given is not None else new_idempotency_key()


def instant(moment: datetime) -> str:
    """An RFC 3339 instant with its offset; a naive datetime is refused rather than
    guessed at (the server's zone, the caller's and UTC may all differ)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone: give an aware datetime")
    return moment.isoformat()


def seconds(duration: int | timedelta) -> int:
    """A whole number of seconds (a hold's ``expiresIn``), from an int or a timedelta."""
    if isinstance(duration, timedelta):
        whole = duration.total_seconds()
        if whole != int(whole):
            raise ValueError(f"{duration} is not a whole number of seconds")
        return int(whole)
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise TypeError(f"a duration is an int of seconds or a timedelta, not {duration!r}")
    return duration


def _described(description: str | None) -> dict[str, str]:
    return {} if description is None else {"description": description}


# Path segments are quoted, so that an id like "../x" cannot reach another route.
def _account(account_id: str) -> str:
    return f"/accounts/{quote(account_id, safe='')}"


def _statement(account_id: str, month: str) -> str:
    return f"{_account(account_id)}/statements/{quote(month, safe='')}"


def _transfer(transfer_id: str) -> str:
    return f"/transfers/{quote(transfer_id, safe='')}"


def _hold(hold_id: str) -> str:
    return f"/holds/{quote(hold_id, safe='')}"


def _json(response: httpx.Response) -> Any:
    try:
        # Numbers straight to Decimal: an amount never passes through a float.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as error:
        raise UnexpectedResponse(
            f"the answer is not JSON: {error}", status=response.status_code
        ) from error


def _parsed(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise UnexpectedResponse(
            f"the answer does not have the documented shape: {error!r}"
        ) from error

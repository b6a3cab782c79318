"""The whole system, started once per test session exactly as `make up` starts it (moto,
terraform apply of the local environment, the local runtime), on a free port and in a
temporary state directory; the tests drive it over HTTP only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests

from tests.local_system import System, local_system

T = TypeVar("T")
CONVERGENCE_S = 30


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with local_system(tmp_path_factory.mktemp("local-system")) as started:
        yield started


@pytest.fixture(scope="session")
def api_url(system: System) -> str:
    return system.api_url


# The back-office identity most tests act as: it opens accounts, records on and reads any.
BACK_OFFICE = "e2e-back-office"
WRITE_SCOPE = "ledger/transactions.write"
READ_ANY_SCOPE = "ledger/accounts.read"
MANAGE_SCOPE = "ledger/accounts.manage"
POSTINGS = ("CreditEvent", "DebitEvent")


class Api:
    """The HTTP API as one caller sees it: every request carries ``token`` (none: none)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.session = requests.Session()

    def as_(self, token: str | None) -> Api:
        """The same API, called with another token (or none)."""
        return Api(self.base_url, token)

    def _auth(self, headers: dict[str, str] | None = None) -> dict[str, str]:
        bearer = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return {**bearer, **(headers or {})}

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        return requests.post(
            f"{self.base_url}{path}",
            json=body if raw is None else None,
            data=raw,
            headers=self._auth({"content-type": "application/json", **(headers or {})}),
            timeout=30,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(
            f"{self.base_url}{path}", params=params, headers=self._auth(), timeout=30
        )

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = self._auth(kwargs.pop("headers", None))
        return requests.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def open_account(
        self,
        account: str,
        currency: str = "EUR",
        *,
        owners: list[str] | None = None,
        overdraft_limit: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """POST /accounts (needs `ledger/accounts.manage`); owned by the id itself unless
        told otherwise, so a token whose `sub` is the account id reads it, as before."""
        body: dict[str, Any] = {
            "accountId": account,
            "currency": currency,
            "owners": [account] if owners is None else owners,
        }
        if overdraft_limit is not None:
            body["overdraftLimit"] = overdraft_limit
        return self.post("/accounts", body, **kwargs)

    def opened(self, account: str, currency: str = "EUR", **kwargs: Any) -> str:
        """A new account, opened (or the test fails here, not later)."""
        response = self.open_account(account, currency, **kwargs)
        assert response.status_code == 201, response.text
        return account

    def credit(self, account: str, amount: str, **kwargs: Any) -> requests.Response:
        return self.post(f"/accounts/{account}/credits", {"amount": amount}, **_keyed(kwargs))

    def debit(self, account: str, amount: str, **kwargs: Any) -> requests.Response:
        return self.post(f"/accounts/{account}/debits", {"amount": amount}, **_keyed(kwargs))

    def events(self, account: str) -> list[dict[str, Any]]:
        """Every stored event of the account, following the pages."""
        events: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            params = {"limit": 100, **({"after": after} if after is not None else {})}
            response = self.get(f"/accounts/{account}/events", **params)
            if response.status_code == 404:
                return events
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["events"]
            after = page["nextAfter"]
            if after is None:
                return events

    def postings(self, account: str) -> list[dict[str, Any]]:
        """The account's credits and debits: its history without the account events."""
        return [event for event in self.events(account) if event["type"] in POSTINGS]

    def transfer(self, source: str, target: str, amount: str, **kwargs: Any) -> requests.Response:
        body = {"from": source, "to": target, "amount": amount}
        return self.post("/transfers", body, **_keyed(kwargs))

    def transfer_postings(
        self, postings: list[tuple[str, str, str]], **kwargs: Any
    ) -> requests.Response:
        body = {"postings": [{"from": f, "to": t, "amount": a} for f, t, a in postings]}
        return self.post("/transfers", body, **_keyed(kwargs))

    def balance_at(self, account: str, version: int) -> dict[str, Any]:
        """The balance once the read models reflect ``version`` (the pipeline is async)."""
        return eventually(
            lambda: self._balance_if_at(account, version),
            f"balance of {account} to reach version {version}",
        )

    def _balance_if_at(self, account: str, version: int) -> dict[str, Any] | None:
        response = self.get(f"/accounts/{account}/balance")
        if response.status_code != 200:
            return None
        balance: dict[str, Any] = response.json()
        return balance if balance["version"] >= version else None


def _keyed(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A payment as a client sends it: with a fresh Idempotency-Key unless it has one."""
    headers = kwargs.get("headers") or {}
    if not any(name.lower() == "idempotency-key" for name in headers):
        headers = {"Idempotency-Key": new_key(), **headers}
    return {**kwargs, "headers": headers}


def error_code(response: requests.Response) -> str:
    """The API's machine-readable error code of a refusal."""
    return str(response.json()["error"]["code"])


def new_key() -> str:
    return str(uuid.uuid4())


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = CONVERGENCE_S) -> T:
    """Poll until ``probe`` returns something, with a deadline rather than a fixed sleep."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


@pytest.fixture(scope="session")
def back_office_token(system: System) -> str:
    return system.token(BACK_OFFICE, WRITE_SCOPE, READ_ANY_SCOPE, MANAGE_SCOPE)


@pytest.fixture
def api(api_url: str, back_office_token: str) -> Api:
    return Api(api_url, back_office_token)


def new_account_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def account(api: Api) -> str:
    """A fresh EUR account per test, opened (version 1) and owned by its own id: the
    tests share one system and may run in any order."""
    return api.opened(new_account_id())


@pytest.fixture
def unopened() -> str:
    """An id no one has opened: every posting to it is refused."""
    return new_account_id()

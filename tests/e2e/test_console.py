"""The console in a real browser: headless Chromium (Debian's `chromium`, which `make
test` installs when it is missing) loads its pages from a console reading the running
local system, after commands sent over the HTTP API, and what it renders is checked.
Screenshots go to `.local/console/` (docs/console.md shows two of them)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from scripts.console.process import ConsoleProcess
from scripts.local.system import REPO
from tests.e2e.conftest import Api, eventually, new_key
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SCREENSHOTS = REPO / ".local" / "console"
# Virtual time stands still while a fetch is pending, so the page's data is in by then.
BUDGET_MS = "10000"
# A laptop's width; tall enough for a page's history in the docs' screenshots.
WINDOW = "1366,1100"
ACCOUNT_WINDOW = "1366,1400"


@pytest.fixture(scope="module")
def console_url(system: System) -> Iterator[str]:
    """The console as `make up` starts it, on the session's system, on a free port."""
    console = ConsoleProcess(system.state_dir, 0, system.api_url)
    try:
        yield console.url
    finally:
        console.stop()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("no chromium on PATH: `make test` installs Debian's (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    # No sandbox: it needs privileges a container (or root) lacks, and the page is ours.
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW}",
        f"--virtual-time-budget={BUDGET_MS}",
    ]


def dom(chromium: list[str], url: str) -> str:
    """The page as the browser has built it, scripts run."""
    done = subprocess.run(
        [*chromium, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


def screenshot(chromium: list[str], url: str, name: str, window: str = WINDOW) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.unlink(missing_ok=True)
    browser = [
        f"--window-size={window}" if arg.startswith("--window-size=") else arg for arg in chromium
    ]
    subprocess.run(
        [*browser, f"--screenshot={path}", url], capture_output=True, timeout=120, check=True
    )
    assert path.stat().st_size > 10_000, f"{path} is (nearly) empty"
    return path


class Tables(HTMLParser):
    """Every table of a page with an id: its rows, each a list of its cells' text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id")
            if self._table:
                self.tables[self._table] = []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._table and tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_an_accounts_page_shows_its_history_balances_holds_and_reversals(
    api: Api, account, console_url, chromium
):
    # GIVEN a credit and two debits recorded over the HTTP API, the second debit reversed,
    # and a hold placed
    for kind, amount, description in (
        ("credits", "100.00", "salary"),
        ("debits", "30.50", "rent"),
        ("debits", "12.00", "coffee"),
    ):
        response = api.post(
            f"/accounts/{account}/{kind}",
            {"amount": amount, "description": description},
            headers={"Idempotency-Key": new_key()},
        )
        assert response.status_code == 201, response.text
    reversal = api.post(
        f"/accounts/{account}/events/4/reversal", headers={"Idempotency-Key": new_key()}
    )
    assert reversal.status_code == 201, reversal.text
    hold = api.post(
        f"/accounts/{account}/holds",
        {"amount": "20.00", "description": "card authorisation", "expiresIn": 3600},
        headers={"Idempotency-Key": new_key()},
    )
    assert hold.status_code == 201, hold.text
    # (the account fixture opened the account: its opening is version 1)
    assert api.balance_at(account, 6)["availableBalance"] == "49.50"
    before_reversal = api.events(account)[3]["recordedAt"]
    url = f"{console_url}/#/accounts/{account}?at={before_reversal}"
    # WHEN the browser opens the account's page, with a balance as of the coffee's debit
    tables = Tables(dom(chromium, url)).tables
    # THEN the history lists the opening and the five events after it, oldest first, with
    # the balance after each posting
    header, *rows = tables["history"]
    column = {name: index for index, name in enumerate(header)}
    opening, *rows = rows
    assert (opening[column["version"]], opening[column["type"]]) == ("1", "AccountOpened")
    assert [row[column["version"]] for row in rows] == ["2", "3", "4", "5", "6"]
    assert [row[column["type"]] for row in rows] == [
        "CreditEvent",
        "DebitEvent",
        "DebitEvent",
        "CreditEvent",
        "HoldPlaced",
    ]
    assert [row[column["amount"]] for row in rows] == ["100.00", "30.50", "12.00", "12.00", "20.00"]
    assert [row[column["balanceAfter"]] for row in rows] == [
        "100.00",
        "69.50",
        "57.50",
        "69.50",
        "69.50",
    ]
    assert all(row[column["correlationId"]] for row in rows)
    # AND the reversed debit and its reversal point to each other
    assert rows[2][column["reversedBy"]] == "v5"
    assert rows[3][column["reverses"]] == "v4"
    # AND the hold's event names it
    assert rows[4][column["holdId"]] == hold.json()["holdId"]
    # AND the total, held and available balances, and the pending hold with its expiry
    money = {row[0]: row[1] for row in tables["money"]}
    assert money == {"total": "69.50 EUR", "held": "20.00 EUR", "available": "49.50 EUR"}
    (pending,) = tables["pending-holds"][1:]
    assert pending[:3] == [hold.json()["holdId"], "20.00", hold.json()["expiresAt"]]
    # AND the balances as they stood when the coffee was debited
    then = {row[0]: row[1] for row in tables["balances-at"]}
    assert then == {"total": "57.50 EUR", "held": "0.00 EUR", "available": "57.50 EUR"}
    # AND the balance read model, with the version it reflects
    balances = {row[0]: row for row in tables["balances"][1:]}
    assert "amount 69.50" in balances["TotalBalanceForProfile"][1]
    assert balances["TotalBalanceForProfile"][2] == "6"
    # (taller: the balances, the holds and the whole history in one picture)
    screenshot(chromium, url, "account", window=ACCOUNT_WINDOW)


def test_the_pipeline_page_shows_every_read_model_and_dead_letter_queue(
    api: Api, account, console_url, chromium
):
    # GIVEN traffic that has been projected
    api.credit(account, "1.00")
    api.balance_at(account, 2)
    # WHEN the browser opens the pipeline page
    url = f"{console_url}/#/pipeline"
    tables = Tables(dom(chromium, url)).tables
    # THEN each read model and each dead-letter queue has its row
    read_models = {row[0] for row in tables["read-models"][1:]}
    assert read_models == {
        "TotalBalanceForProfile",
        "CurrentMonthBalanceForProfile",
        "MonthlyStatementForProfile",
    }
    queues = {row[0] for row in tables["dead-letters"][1:]}
    assert "ledger-local-balance-changed-dlq" in queues
    screenshot(chromium, url, "pipeline")


def test_an_events_journey_shows_it_stored_and_projected(api: Api, account, console_url, chromium):
    # GIVEN a credit sent with a correlation id, and projected
    correlation = f"journey-{account}"
    response = api.credit(account, "5.00", headers={"X-Correlation-Id": correlation})
    assert response.status_code == 201, response.text
    api.balance_at(account, 1)
    # WHEN its journey is shown, once every hop has logged
    eventually(
        lambda: {hop["hop"] for hop in _journey(console_url, correlation)["hops"]}
        >= {"stored", "fanned out", "dispatched", "projected"}
        or None,
        f"every hop of {correlation} in the logs",
    )
    url = f"{console_url}/#/journey/{correlation}"
    hops = Tables(dom(chromium, url)).tables["hops"]
    # THEN the page lists the hops in order, from the command to the read models
    names = [row[0] for row in hops[1:]]
    assert names[0] == "stored"
    assert {"fanned out", "dispatched", "projected"} <= set(names)
    screenshot(chromium, url, "journey")


def _journey(console_url: str, correlation: str) -> dict[str, list[dict[str, str]]]:
    answer: dict[str, list[dict[str, str]]] = requests.get(
        f"{console_url}/api/journey/{correlation}", timeout=30
    ).json()
    return answer


def test_the_api_reference_renders_the_openapi_document(console_url, chromium):
    url = f"{console_url}/api.html"
    page = dom(chromium, url)
    # THEN Swagger UI (served by the console, no CDN) shows the routes of docs/openapi.yaml
    assert "/accounts/{accountId}/balance" in page
    assert "Get a token and authorize" in page
    screenshot(chromium, url, "api")


def test_the_running_console_refuses_every_write(console_url):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = requests.request(method, f"{console_url}/api/accounts", timeout=10)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"

"""The Python client (clients/python) against the whole local system."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from ledger_client import Forbidden, InsufficientFunds, Ledger, LocalIssuerTokenProvider
from tests.e2e.conftest import POSTINGS, READ_ANY_SCOPE, WRITE_SCOPE
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


class AnswerLostOnce(httpx.BaseTransport):
    """A network that delivers the first POST to the server and loses its answer."""

    def __init__(self) -> None:
        self._network = httpx.HTTPTransport()
        self.keys: list[str | None] = []
        self._lost = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._network.handle_request(request)
        if request.method != "POST":
            return response
        self.keys.append(request.headers.get("idempotency-key"))
        response.read()
        if not self._lost:
            self._lost = True
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def _back_office(system: System) -> LocalIssuerTokenProvider:
    return LocalIssuerTokenProvider(
        "e2e-client-back-office", scopes=[WRITE_SCOPE, READ_ANY_SCOPE], state_dir=system.state_dir
    )


@pytest.fixture
def ledger(system: System) -> Iterator[Ledger]:
    with Ledger(system.api_url, token_provider=_back_office(system)) as client:
        yield client


def test_credits_and_debits_are_read_back_once_the_read_side_caught_up(
    ledger: Ledger, account: str
) -> None:
    # GIVEN a credit and a debit recorded through the client on an opened account
    credit = ledger.credit(account, "100.00", description="salary")
    debit = ledger.debit(account, Decimal("30.25"))

    # WHEN the caller waits for its last write
    balance = ledger.wait_for(debit, timeout=30)

    # THEN the balance reflects both, exactly
    assert (credit.version, debit.version) == (2, 3)
    assert credit.amount == Decimal("100.00")
    assert credit.description == "salary"
    assert balance.version >= 3
    assert balance.total_balance == Decimal("69.75")
    assert ledger.balance(account, consistent_with=debit, timeout=30).version >= 3


def test_history_pages_through_every_event(ledger: Ledger, account: str) -> None:
    for cents in range(1, 8):
        ledger.credit(account, Decimal(cents) / 100)

    events = list(ledger.history(account, page_size=3))
    postings = [event for event in events if event.type in POSTINGS]

    # (version 1 is the account's opening)
    assert [event.version for event in events] == list(range(1, 9))
    assert [event.version for event in postings] == list(range(2, 9))
    assert [event.amount for event in postings] == [Decimal(c) / 100 for c in range(1, 8)]


def test_a_debit_beyond_the_balance_raises_insufficient_funds_and_stores_nothing(
    api_url: str, back_office_token: str, account: str
) -> None:
    # GIVEN a client with a fixed token (of scripts.local.issuer) and an account holding 10.00
    with Ledger(api_url, token=back_office_token) as ledger:
        ledger.credit(account, "10.00")

        # WHEN 10.01 is debited THEN it is refused with its own class, and nothing is stored
        with pytest.raises(InsufficientFunds) as raised:
            ledger.debit(account, "10.01")
        history = [event.version for event in ledger.history(account)]

    assert (raised.value.code, raised.value.status) == ("insufficient_funds", 422)
    assert history == [1, 2]


def test_a_retry_after_a_lost_answer_stores_once(system: System, account: str) -> None:
    # GIVEN a network that loses the answer to the first POST
    network = AnswerLostOnce()

    # WHEN the client credits through it
    with Ledger(system.api_url, token_provider=_back_office(system), transport=network) as ledger:
        event = ledger.credit(account, "25.00")
        history = [e for e in ledger.history(account) if e.type in POSTINGS]

    # THEN it sent the credit twice with one key, and the account has one event
    assert len(network.keys) == 2
    assert network.keys[0] == network.keys[1]
    assert event.version == 2
    assert [e.event_id for e in history] == [event.event_id]


def test_an_owner_token_reads_its_account_and_no_other(
    ledger: Ledger, system: System, account: str
) -> None:
    posted = ledger.credit(account, "5.00")
    owner = LocalIssuerTokenProvider(account, state_dir=system.state_dir)

    with Ledger(system.api_url, token_provider=owner) as as_owner:
        assert as_owner.wait_for(posted, timeout=30).total_balance == Decimal("5.00")
        with pytest.raises(Forbidden) as raised:
            as_owner.balance(f"{account}-other")

    assert raised.value.status == 403

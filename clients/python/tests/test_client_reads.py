"""Exact amounts, paging through history, and waiting for the read side to catch up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from fakes import FakeApi, Sleeps

from ledger_client import Ledger, NotCaughtUp, RetryPolicy, Statement


def test_amounts_are_sent_as_exact_decimal_strings(ledger: Ledger, api: FakeApi) -> None:
    ledger.credit("alice", Decimal("1E+2"))
    ledger.credit("alice", "0.10", description="coffee")
    ledger.credit("alice", 7)

    bodies = [json.loads(request.content) for request in api.requests]
    assert bodies == [
        {"amount": "100"},
        {"amount": "0.10", "description": "coffee"},
        {"amount": "7"},
    ]


def test_a_float_amount_is_refused_before_anything_is_sent(ledger: Ledger, api: FakeApi) -> None:
    with pytest.raises(TypeError):
        ledger.credit("alice", 0.1)  # type: ignore[arg-type]

    assert api.requests == []


def test_answers_are_parsed_to_decimal_even_from_json_numbers() -> None:
    # GIVEN an answer whose amounts are JSON numbers (as a proxy might rewrite them)
    body = (
        b'{"accountId": "a", "totalBalance": 0.30000000000000004, '
        b'"currentMonthBalance": 1e2, "month": "2026-12", "version": 3}'
    )
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body))

    with Ledger("https://x", token="t", transport=transport) as ledger:
        balance = ledger.balance("a")

    # THEN every digit is kept: nothing went through a float
    assert balance.total_balance == Decimal("0.30000000000000004")
    assert balance.current_month_balance == Decimal("100")
    assert isinstance(balance.version, int)


def test_a_write_answers_a_typed_event(ledger: Ledger) -> None:
    event = ledger.credit("alice", "12.34")

    assert event.account_id == "alice"
    assert event.type == "CreditEvent"
    assert event.amount == Decimal("12.34")
    assert event.recorded_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert event.description is None


def test_history_iterates_over_every_page(ledger: Ledger, api: FakeApi) -> None:
    # GIVEN an account with 25 events
    for cents in range(1, 26):
        ledger.credit("alice", Decimal(cents) / 100)
    api.requests.clear()

    # WHEN its history is read 10 at a time
    versions = [event.version for event in ledger.history("alice", page_size=10)]

    # THEN every event comes once, in order, over three pages
    assert versions == list(range(1, 26))
    assert [dict(r.url.params) for r in api.requests] == [
        {"after": "0", "limit": "10"},
        {"after": "10", "limit": "10"},
        {"after": "20", "limit": "10"},
    ]


def test_an_accounts_own_events_in_its_history_have_no_amount() -> None:
    # GIVEN a history that starts with the account's opening, as every account's does
    opened = {
        "accountId": "a",
        "eventId": "e1",
        "type": "AccountOpened",
        "version": 1,
        "currency": "EUR",
        "owners": ["a"],
        "recordedAt": "2026-12-01T10:00:00Z",
    }
    credited = {**opened, "eventId": "e2", "type": "CreditEvent", "version": 2, "amount": "5.00"}
    body = {"accountId": "a", "events": [opened, credited], "nextAfter": None}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=body))

    # WHEN it is read
    with Ledger("https://x", token="t", transport=transport) as ledger:
        events = list(ledger.history("a"))

    # THEN the opening reads with no amount, the credit with its own
    assert [(e.type, e.amount) for e in events] == [
        ("AccountOpened", None),
        ("CreditEvent", Decimal("5.00")),
    ]


def test_history_can_start_after_a_version(ledger: Ledger) -> None:
    for _ in range(5):
        ledger.credit("alice", "1.00")

    assert [event.version for event in ledger.history("alice", after=3)] == [4, 5]


def test_wait_for_polls_until_the_read_side_reflects_the_write(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    # GIVEN a read side three reads behind a credit
    api.lag = 3
    posted = ledger.credit("alice", "10.00")

    # WHEN the caller waits for it
    balance = ledger.wait_for(posted)

    # THEN the balance it gets reflects the credit, after growing pauses
    assert balance.version == 1
    assert balance.total_balance == Decimal("10.00")
    policy = RetryPolicy()
    assert sleeps.slept == [policy.poll(1), policy.poll(2), policy.poll(3)]


def test_balance_consistent_with_a_write_waits_for_its_version(
    ledger: Ledger, api: FakeApi
) -> None:
    ledger.credit("alice", "10.00")
    api.lag = 2
    debit = ledger.debit("alice", "4.00")

    assert ledger.balance("alice").version == 1
    assert ledger.balance("alice", consistent_with=debit).total_balance == Decimal("6.00")


def test_balance_with_min_version_waits_for_it(ledger: Ledger, api: FakeApi) -> None:
    api.lag = 2
    ledger.credit("alice", "10.00")

    assert ledger.balance("alice", min_version=1).version == 1


def test_waiting_gives_up_with_not_caught_up_after_the_timeout(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    # GIVEN a read side that does not catch up within the timeout
    api.lag = 1000
    posted = ledger.credit("alice", "10.00")

    # WHEN the caller waits 2 s
    with pytest.raises(NotCaughtUp) as raised:
        ledger.wait_for(posted, timeout=2.0)

    # THEN it gave up at the deadline, never sleeping past it
    assert sum(sleeps.slept) == pytest.approx(2.0)
    assert raised.value.details == {"accountId": "alice", "version": None, "awaited": 1}
    assert isinstance(raised.value, TimeoutError)


def test_balance_consistent_with_a_write_on_another_account_is_refused(ledger: Ledger) -> None:
    posted = ledger.credit("bob", "1.00")

    with pytest.raises(ValueError, match="bob"):
        ledger.balance("alice", consistent_with=posted)


def test_a_statement_is_typed() -> None:
    body = {
        "accountId": "a",
        "month": "2026-11",
        "totalCredits": "100.00",
        "totalDebits": "30.25",
        "closingBalance": "69.75",
        "eventCount": 3,
        "version": 7,
    }
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=body)

    with Ledger("https://x", token="t", transport=httpx.MockTransport(answer)) as ledger:
        statement = ledger.statement("a", "2026-11")

    assert requests[0].url.path == "/accounts/a/statements/2026-11"
    assert statement == Statement(
        "a", "2026-11", Decimal("100.00"), Decimal("30.25"), Decimal("69.75"), 3, 7
    )


def test_exactly_one_of_token_and_token_provider_is_required() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Ledger("https://x")
    with pytest.raises(ValueError, match="exactly one"):
        Ledger("https://x", token="t", token_provider=lambda: "t")


def test_consistent_with_and_min_version_together_are_refused(ledger: Ledger) -> None:
    posted = ledger.credit("alice", "1.00")

    with pytest.raises(ValueError, match="not both"):
        ledger.balance("alice", consistent_with=posted, min_version=1)

"""Reversals, balances as of a moment, events between two instants, and CSV statements."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from fakes import NOW, Scripted, Sleeps, error, hold_json, posting_json

from ledger_client import (
    AccountNotFound,
    AlreadyReversed,
    AsyncLedger,
    Event,
    EventNotFound,
    HoldEvent,
    InvalidRequest,
    Ledger,
    LedgerError,
    NotAcceptable,
    NotReversible,
    RetryPolicy,
    StatementLine,
    UnexpectedResponse,
)

CSV = (
    "\ufeffDate,Description,Counterparty,Amount,Balance\r\n"
    "2026-11-01,Opening balance,,,10.00\r\n"
    '2026-11-03 09:15:00,"Rent, November",,-7.50,2.50\r\n'
    "2026-11-04 12:00:00,'=SUM(A1),bob,100.00,102.50\r\n"
    "2026-11-30,Closing balance,,,102.50\r\n"
).encode()


@pytest.fixture
def server() -> Scripted:
    return Scripted()


@pytest.fixture
def ledger(server: Scripted, sleeps: Sleeps) -> Iterator[Ledger]:
    with Ledger(
        "https://ledger.example",
        token="t0ken",
        transport=server.transport(),
        retry=RetryPolicy(max_attempts=3),
        sleep=sleeps.sleep,
        clock=sleeps.clock,
    ) as client:
        yield client


def balance_json(**fields: object) -> dict[str, object]:
    return {
        "accountId": "alice",
        "currency": "EUR",
        "totalBalance": "100.00",
        "currentMonthBalance": "40.00",
        "month": "2026-11",
        "version": 7,
        "heldBalance": "25.00",
        "availableBalance": "75.00",
        **fields,
    }


def test_reversing_a_posting_answers_the_opposite_posting_naming_what_it_reverses(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a server that reverses the credit at version 3 by a debit
    server.answers.append(
        httpx.Response(201, json=posting_json(reverses={"accountId": "alice", "version": 3}))
    )

    # WHEN the client reverses it with a description
    event = ledger.reverse("alice", 3, description="sent twice")

    # THEN it posted to the version's reversal route with a key, and read what it reverses
    (request,) = server.requests
    assert (request.method, request.url.path) == ("POST", "/accounts/alice/events/3/reversal")
    assert server.bodies() == [{"description": "sent twice"}]
    assert request.headers["idempotency-key"]
    assert event.type == "DebitEvent"
    assert event.reverses is not None
    assert (event.reverses.account_id, event.reverses.version) == ("alice", 3)


def test_a_reversal_retried_after_a_lost_answer_sends_the_same_key(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a gateway that loses its backend once
    server.answers.extend([error(502, "bad_gateway"), httpx.Response(201, json=posting_json())])

    # WHEN a reversal is sent without a description
    ledger.reverse("alice", 3)

    # THEN both attempts carry one key and an empty body
    first, second = server.keys()
    assert first is not None
    assert first == second
    assert server.bodies() == [{}, {}]


def test_reversing_a_transfer_answers_the_new_transfer_naming_the_original(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.append(
        httpx.Response(
            201,
            json={
                "transferId": "t-2",
                "description": None,
                "recordedAt": NOW,
                "amount": "5.00",
                "currency": "EUR",
                "postings": [{"from": "bob", "to": "alice", "amount": "5.00", "currency": "EUR"}],
                "legs": [
                    {"accountId": "bob", "version": 4, "eventId": "e-a", "type": "DebitEvent"},
                    {"accountId": "alice", "version": 6, "eventId": "e-b", "type": "CreditEvent"},
                ],
                "reverses": "t-1",
            },
        )
    )

    transfer = ledger.reverse_transfer("t-1", idempotency_key="undo-t-1")

    assert server.requests[0].url.path == "/transfers/t-1/reversal"
    assert server.keys() == ["undo-t-1"]
    assert (transfer.transfer_id, transfer.reverses) == ("t-2", "t-1")
    assert transfer.amount == Decimal("5.00")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (409, "already_reversed", AlreadyReversed),
        (422, "not_reversible", NotReversible),
        (404, "event_not_found", EventNotFound),
    ],
)
def test_a_refused_reversal_raises_the_class_of_its_code(
    ledger: Ledger, server: Scripted, status: int, code: str, kind: type[LedgerError]
) -> None:
    server.answers.append(error(status, code))

    with pytest.raises(kind):
        ledger.reverse("alice", 2)

    assert len(server.requests) == 1


def test_a_balance_reads_the_held_and_available_amounts_exactly(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.append(httpx.Response(200, json=balance_json()))

    balance = ledger.balance("alice")

    assert (balance.held_balance, balance.available_balance) == (
        Decimal("25.00"),
        Decimal("75.00"),
    )
    assert balance.at is None
    assert "at" not in server.requests[0].url.params


def test_a_balance_at_a_moment_sends_the_instant_with_its_offset(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a server answering the balance as it stood then
    server.answers.append(httpx.Response(200, json=balance_json(at="2026-11-15T01:00:00+01:00")))
    moment = datetime(2026, 11, 15, 1, tzinfo=timezone(timedelta(hours=1)))

    # WHEN the client asks for it
    balance = ledger.balance("alice", at=moment)

    # THEN the "+" of the offset reached the server as a "+", not as a space
    assert b"at=2026-11-15T01%3A00%3A00%2B01%3A00" in server.requests[0].url.query
    assert server.requests[0].url.params["at"] == "2026-11-15T01:00:00+01:00"
    assert balance.at == moment


def test_a_balance_at_a_naive_moment_is_refused_before_anything_is_sent(
    ledger: Ledger, server: Scripted
) -> None:
    with pytest.raises(ValueError, match="time zone"):
        ledger.balance("alice", at=datetime(2026, 11, 15))

    assert server.requests == []


def test_a_balance_at_a_moment_cannot_also_wait_for_a_version(
    ledger: Ledger, server: Scripted
) -> None:
    with pytest.raises(ValueError, match="nothing to wait for"):
        ledger.balance("alice", at=datetime(2026, 11, 15, tzinfo=UTC), min_version=3)

    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(404, "account_not_found", AccountNotFound), (400, "invalid_request", InvalidRequest)],
)
def test_a_balance_at_a_moment_the_server_refuses_raises_its_class(
    ledger: Ledger, server: Scripted, status: int, code: str, kind: type[LedgerError]
) -> None:
    server.answers.append(error(status, code))

    with pytest.raises(kind):
        ledger.balance("alice", at=datetime(2020, 1, 1, tzinfo=UTC))


def test_history_between_two_instants_sends_both_on_every_page_and_reads_hold_events(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN two pages: a hold placed, then the debit that captured it
    placed = {
        "accountId": "alice",
        "eventId": "e-4",
        "type": "HoldPlaced",
        "version": 4,
        "recordedAt": NOW,
        "holdId": "h-1",
        "amount": "25.00",
        "currency": "EUR",
        "description": None,
        "expiresAt": "2026-12-01T10:05:00Z",
    }
    server.answers.extend(
        [
            httpx.Response(
                200,
                json={"accountId": "alice", "currency": "EUR", "events": [placed], "nextAfter": 4},
            ),
            httpx.Response(
                200,
                json={
                    "accountId": "alice",
                    "currency": "EUR",
                    "events": [posting_json(holdId="h-1")],
                    "nextAfter": None,
                },
            ),
        ]
    )
    start = datetime(2026, 12, 1, tzinfo=UTC)
    end = datetime(2026, 12, 2, tzinfo=UTC)

    # WHEN the day's events are read
    events = list(ledger.history("alice", from_=start, to=end, page_size=1))

    # THEN both pages asked for the same range, and each event has its own type
    assert [dict(request.url.params) for request in server.requests] == [
        {"after": after, "limit": "1", "from": start.isoformat(), "to": end.isoformat()}
        for after in ("0", "4")
    ]
    hold, capture = events
    assert isinstance(hold, HoldEvent)
    assert (hold.hold_id, hold.amount, hold.expires_at) == (
        "h-1",
        Decimal("25.00"),
        datetime(2026, 12, 1, 10, 5, tzinfo=UTC),
    )
    assert isinstance(capture, Event)
    assert capture.hold_id == "h-1"


def test_a_csv_statement_is_asked_for_as_csv_and_read_as_file_and_lines(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a server answering November as CSV
    server.answers.append(
        httpx.Response(200, content=CSV, headers={"content-type": "text/csv; charset=utf-8"})
    )

    # WHEN the client reads it
    statement = ledger.statement_csv("alice", "2026-11")

    # THEN it asked for CSV, kept the file as sent, and parsed it exactly
    assert server.requests[0].headers["accept"] == "text/csv"
    assert server.requests[0].url.path == "/accounts/alice/statements/2026-11"
    assert statement.content == CSV
    assert statement.text.startswith("Date,Description")
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("10.00"),
        Decimal("102.50"),
    )
    assert statement.lines == (
        StatementLine(
            "2026-11-03 09:15:00", "Rent, November", "", Decimal("-7.50"), Decimal("2.50")
        ),
        StatementLine(
            "2026-11-04 12:00:00", "'=SUM(A1)", "bob", Decimal("100.00"), Decimal("102.50")
        ),
    )


def test_a_csv_statement_that_is_not_one_is_an_unexpected_response(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.append(httpx.Response(200, content=b'{"accountId": "alice"}'))

    with pytest.raises(UnexpectedResponse):
        ledger.statement_csv("alice", "2026-11")


def test_a_statement_in_a_type_the_server_does_not_serve_raises_not_acceptable(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.append(error(406, "not_acceptable"))

    with pytest.raises(NotAcceptable) as raised:
        ledger.statement_csv("alice", "2026-11")

    assert raised.value.status == 406


def test_the_async_client_places_captures_reverses_and_reads_the_same_way(
    server: Scripted, sleeps: Sleeps
) -> None:
    # GIVEN answers for a hold, a throttled then accepted capture, a reversal,
    # a balance at a moment and a CSV statement
    server.answers.extend(
        [
            httpx.Response(201, json=hold_json()),
            error(503, "service_unavailable"),
            httpx.Response(200, json=hold_json("captured", resolvedVersion=5)),
            httpx.Response(200, json=hold_json("captured", resolvedVersion=5)),
            httpx.Response(201, json=posting_json(reverses={"accountId": "alice", "version": 5})),
            httpx.Response(200, json=balance_json(at="2026-11-15T00:00:00Z")),
            httpx.Response(200, content=CSV),
        ]
    )

    async def scenario() -> None:
        async with AsyncLedger(
            "https://ledger.example",
            token="t0ken",
            transport=server.transport(),
            sleep=sleeps.async_sleep,
            clock=sleeps.clock,
        ) as ledger:
            hold = await ledger.place_hold("alice", "25.00", expires_in=60)
            captured = await ledger.capture_hold(hold.hold_id)
            assert (await ledger.wait_for_hold(captured)).status == "captured"
            reversal = await ledger.reverse("alice", 5)
            assert reversal.reverses is not None
            balance = await ledger.balance("alice", at=datetime(2026, 11, 15, tzinfo=UTC))
            assert balance.available_balance == Decimal("75.00")
            statement = await ledger.statement_csv("alice", "2026-11")
            assert statement.closing_balance == Decimal("102.50")

    asyncio.run(scenario())

    # THEN the capture's retry kept its key
    capture_keys = server.keys()[1:3]
    assert capture_keys[0] is not None
    assert capture_keys[0] == capture_keys[1]

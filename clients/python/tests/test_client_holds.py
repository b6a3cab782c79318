"""Holds: placed, read, listed, captured, voided and awaited, with keys kept across retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fakes import Scripted, Sleeps, error, hold_json

from ledger_client import (
    AccountHasPendingHolds,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientFunds,
    Ledger,
    LedgerError,
    NotCaughtUp,
    RetryPolicy,
)


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


def test_placing_a_hold_sends_the_amount_as_text_and_the_expiry_in_seconds(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a server that places the hold
    server.answers.append(httpx.Response(201, json=hold_json(description="hotel")))

    # WHEN a hold of 25.00 for ten minutes is placed
    hold = ledger.place_hold(
        "alice", Decimal("25.00"), expires_in=timedelta(minutes=10), description="hotel"
    )

    # THEN the request is the documented one, and the answer is typed and exact
    (request,) = server.requests
    assert (request.method, request.url.path) == ("POST", "/accounts/alice/holds")
    assert server.bodies() == [{"amount": "25.00", "expiresIn": 600, "description": "hotel"}]
    assert request.headers["idempotency-key"]
    assert hold.hold_id == "h-1"
    assert hold.amount == Decimal("25.00")
    assert hold.pending
    assert hold.expires_at == datetime(2026, 12, 1, 10, 5, tzinfo=UTC)


def test_a_fractional_expiry_is_refused_before_anything_is_sent(
    ledger: Ledger, server: Scripted
) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        ledger.place_hold("alice", "1.00", expires_in=timedelta(seconds=1.5))

    assert server.requests == []


def test_a_hold_placement_retried_after_a_503_sends_the_same_key(
    ledger: Ledger, server: Scripted, sleeps: Sleeps
) -> None:
    # GIVEN a server that is throttled once
    server.answers.extend(
        [error(503, "service_unavailable"), httpx.Response(201, json=hold_json())]
    )

    # WHEN a hold is placed without a key
    ledger.place_hold("alice", "25.00", expires_in=60)

    # THEN the client made one key and sent it on both attempts
    first, second = server.keys()
    assert first is not None
    assert first == second
    assert len(sleeps.slept) == 1


def test_a_given_idempotency_key_is_sent_on_capture_and_void(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.extend(
        [
            httpx.Response(200, json=hold_json("captured")),
            httpx.Response(200, json=hold_json("voided")),
        ]
    )

    ledger.capture_hold("h-1", idempotency_key="cap-1")
    ledger.void_hold("h-2", idempotency_key="void-1")

    assert server.keys() == ["cap-1", "void-1"]


def test_capturing_part_of_a_hold_into_another_account_answers_what_was_moved(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN a server that captures 10.00 of the hold into bob
    server.answers.append(
        httpx.Response(
            200,
            json=hold_json(
                "captured",
                resolvedAt="2026-12-01T10:01:00Z",
                resolvedVersion=5,
                resolvedEventId="e-5",
                capturedAmount="10.00",
                capturedTo="bob",
                transferId="t-1",
            ),
        )
    )

    # WHEN the client captures 10.00 to bob
    hold = ledger.capture_hold("h-1", amount="10.00", to="bob")

    # THEN it sent both, and the answer says where the money went
    assert server.requests[0].url.path == "/holds/h-1/capture"
    assert server.bodies() == [{"amount": "10.00", "to": "bob"}]
    assert (hold.status, hold.captured_amount, hold.captured_to) == (
        "captured",
        Decimal("10.00"),
        "bob",
    )
    assert hold.transfer_id == "t-1"
    resolution = hold.resolution()
    assert (resolution.account_id, resolution.version) == ("alice", 5)


def test_capturing_all_of_a_hold_sends_an_empty_body(ledger: Ledger, server: Scripted) -> None:
    server.answers.append(httpx.Response(200, json=hold_json("captured", resolvedVersion=5)))

    ledger.capture_hold("h-1")

    assert server.bodies() == [{}]


def test_voiding_a_hold_posts_to_its_void_route(ledger: Ledger, server: Scripted) -> None:
    server.answers.append(httpx.Response(200, json=hold_json("voided", resolvedVersion=5)))

    hold = ledger.void_hold("h-1")

    assert (server.requests[0].method, server.requests[0].url.path) == ("POST", "/holds/h-1/void")
    assert server.bodies() == [{}]
    assert hold.status == "voided"


def test_a_pending_hold_has_no_resolution(ledger: Ledger, server: Scripted) -> None:
    server.answers.append(httpx.Response(200, json=hold_json()))

    hold = ledger.hold("h-1")

    assert server.requests[0].url.path == "/holds/h-1"
    with pytest.raises(ValueError, match="pending"):
        hold.resolution()


def test_a_hold_id_is_quoted_so_that_it_cannot_reach_another_route(
    ledger: Ledger, server: Scripted
) -> None:
    server.answers.append(error(404, "hold_not_found"))

    with pytest.raises(HoldNotFound):
        ledger.hold("../accounts/bob")

    assert server.requests[0].url.raw_path == b"/holds/..%2Faccounts%2Fbob"


def test_holds_are_listed_page_by_page_with_their_status_filter(
    ledger: Ledger, server: Scripted
) -> None:
    # GIVEN two pages of pending holds
    server.answers.extend(
        [
            httpx.Response(
                200, json={"accountId": "alice", "holds": [hold_json()], "nextAfter": 4}
            ),
            httpx.Response(
                200,
                json={"accountId": "alice", "holds": [hold_json(holdId="h-2")], "nextAfter": None},
            ),
        ]
    )

    # WHEN every pending hold is listed
    holds = list(ledger.holds("alice", status="pending", page_size=1))

    # THEN both pages were read, the second after the first's cursor
    assert [hold.hold_id for hold in holds] == ["h-1", "h-2"]
    assert [dict(request.url.params) for request in server.requests] == [
        {"after": "0", "limit": "1", "status": "pending"},
        {"after": "4", "limit": "1", "status": "pending"},
    ]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (409, "hold_not_pending", HoldNotPending),
        (422, "hold_expired", HoldExpired),
        (404, "hold_not_found", HoldNotFound),
        (422, "insufficient_funds", InsufficientFunds),
        (422, "account_has_pending_holds", AccountHasPendingHolds),
    ],
)
def test_a_refused_hold_operation_raises_the_class_of_its_code(
    ledger: Ledger, server: Scripted, status: int, code: str, kind: type[LedgerError]
) -> None:
    server.answers.append(error(status, code))

    with pytest.raises(kind) as raised:
        ledger.capture_hold("h-1")

    assert json.loads(server.requests[0].content) == {}
    assert len(server.requests) == 1  # a refusal is final: not retried
    assert raised.value.code == code


def test_waiting_for_a_hold_polls_until_it_is_no_longer_pending(
    ledger: Ledger, server: Scripted, sleeps: Sleeps
) -> None:
    # GIVEN a hold the expirer records on the third read
    server.answers.extend(
        [
            httpx.Response(200, json=hold_json()),
            httpx.Response(200, json=hold_json()),
            httpx.Response(200, json=hold_json("expired", resolvedVersion=5)),
        ]
    )

    # WHEN the caller waits for it
    hold = ledger.wait_for_hold("h-1", timeout=10)

    # THEN it got the expired hold after two pauses
    assert hold.status == "expired"
    assert len(server.requests) == 3
    assert len(sleeps.slept) == 2


def test_waiting_for_a_hold_that_stays_pending_raises_not_caught_up(
    ledger: Ledger, server: Scripted, sleeps: Sleeps
) -> None:
    # GIVEN a hold that stays pending
    server.answers.extend(httpx.Response(200, json=hold_json()) for _ in range(100))

    # WHEN the caller waits one second for it
    with pytest.raises(NotCaughtUp) as raised:
        ledger.wait_for_hold(ledger.hold("h-1"), timeout=1)

    # THEN it gave up after about a second of pauses
    assert raised.value.details == {"holdId": "h-1", "status": "pending"}
    assert 1 <= sum(sleeps.slept) <= 1.01

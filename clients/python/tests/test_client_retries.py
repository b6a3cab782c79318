"""When the client tries a request again, and that a retry never stores twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from fakes import FakeApi, Fault, Sleeps, answer_lost, connection_refused, status

from ledger_client import (
    ConcurrentModification,
    IdempotencyKeyReused,
    InsufficientFunds,
    Ledger,
    NoResponse,
    RetryPolicy,
    ServiceUnavailable,
)
from ledger_client._core import Call, retryable


def test_a_lost_answer_is_retried_with_the_same_key_and_stored_once(
    ledger: Ledger, api: FakeApi
) -> None:
    # GIVEN the server stores the credit but its answer is lost on the way back
    api.faults.append(answer_lost)

    # WHEN the client credits
    event = ledger.credit("alice", "10.00")

    # THEN it tried twice, with one key, and the account has one event
    assert len(api.requests) == 2
    first, second = api.keys()
    assert first is not None
    assert first == second
    assert [e["version"] for e in api.events["alice"]] == [1]
    assert event.version == 1
    assert event.amount == Decimal("10.00")


def test_every_money_moving_call_sends_a_fresh_uuid4_key_unless_given_one(
    ledger: Ledger, api: FakeApi
) -> None:
    # WHEN two credits and a debit are made without a key, and one with a key
    ledger.credit("alice", "10.00")
    ledger.credit("alice", "10.00")
    ledger.debit("alice", "1.00")
    ledger.debit("alice", "1.00", idempotency_key="mine-1")

    # THEN each had its own uuid4 key, and the given key was sent as is
    keys = api.keys()
    assert len(set(keys)) == 4
    assert all(uuid.UUID(str(key)).version == 4 for key in keys[:3])
    assert keys[3] == "mine-1"
    assert len(api.events["alice"]) == 4


def test_the_same_key_again_answers_the_first_result_without_storing(
    ledger: Ledger, api: FakeApi
) -> None:
    first = ledger.credit("alice", "10.00", idempotency_key="salary-2026-11")
    again = ledger.credit("alice", "10.00", idempotency_key="salary-2026-11")

    assert again == first
    assert len(api.events["alice"]) == 1


@pytest.mark.parametrize(
    "fault",
    [status(502), status(503), status(504), connection_refused, answer_lost],
    ids=["502", "503", "504", "connection refused", "read timeout"],
)
def test_transient_failures_are_retried(ledger: Ledger, api: FakeApi, fault: Fault) -> None:
    # GIVEN the first attempt fails transiently
    api.faults.append(fault)

    # WHEN the client debits after a credit
    ledger.credit("alice", "5.00")
    event = ledger.debit("alice", "2.00")

    # THEN it succeeded on a second attempt, storing once
    assert event.version == 2
    assert len(api.events["alice"]) == 2


def test_concurrent_modification_is_retried(ledger: Ledger, api: FakeApi) -> None:
    api.faults.append(status(409, "concurrent_modification"))

    event = ledger.credit("alice", "1.00")

    assert event.version == 1
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (status(409, "idempotency_key_reused"), IdempotencyKeyReused),
        (status(422, "insufficient_funds"), InsufficientFunds),
        (status(400, "invalid_amount"), Exception),
        (status(429, "too_many_requests"), Exception),
        (status(500, "internal"), Exception),
    ],
    ids=["409 reused", "422", "400", "429", "500"],
)
def test_other_errors_are_raised_at_once(
    ledger: Ledger, api: FakeApi, fault: Fault, error: type[Exception]
) -> None:
    api.faults.append(fault)

    with pytest.raises(error):
        ledger.credit("alice", "1.00")

    assert len(api.requests) == 1
    assert "alice" not in api.events


def test_retries_are_bounded(ledger: Ledger, api: FakeApi, sleeps: Sleeps) -> None:
    # GIVEN the service is unavailable for longer than the client retries
    api.faults.extend([status(409, "concurrent_modification")] * 10)

    # WHEN the client credits THEN it gives up after max_attempts, with the last error
    with pytest.raises(ConcurrentModification) as raised:
        ledger.credit("alice", "1.00")

    assert len(api.requests) == 4
    assert len(sleeps.slept) == 3
    assert raised.value.status == 409


def test_a_503_is_retried_no_sooner_than_retry_after(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    api.faults.append(status(503, headers={"retry-after": "3"}))

    ledger.credit("alice", "1.00")

    assert len(sleeps.slept) == 1
    assert 3.0 <= sleeps.slept[0] <= 3.0 + RetryPolicy().base_delay


def test_retry_after_as_an_http_date_is_honoured(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    # GIVEN a 503 asking to come back at a date 5 s from now (to the second)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    api.faults.append(status(503, headers={"retry-after": later}))

    # WHEN the client credits
    ledger.credit("alice", "1.00")

    # THEN it waited until then
    assert 3.9 <= sleeps.slept[0] <= 5.0 + RetryPolicy().base_delay


def test_a_retry_after_beyond_the_policy_is_not_waited_out(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    api.faults.append(status(503, headers={"retry-after": "3600"}))

    with pytest.raises(ServiceUnavailable) as raised:
        ledger.credit("alice", "1.00")

    assert sleeps.slept == []
    assert raised.value.status == 503


def test_no_answer_after_every_attempt_raises_no_response(
    ledger: Ledger, api: FakeApi, sleeps: Sleeps
) -> None:
    api.faults.extend([connection_refused] * 4)

    with pytest.raises(NoResponse) as raised:
        ledger.balance("alice")

    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert raised.value.status is None
    assert len(api.requests) == 4


def test_backoff_grows_exponentially_up_to_its_cap_with_full_jitter() -> None:
    # GIVEN the largest and smallest draws of the jitter
    highest = RetryPolicy(base_delay=0.1, max_delay=1.0, random=lambda: 1.0)
    lowest = RetryPolicy(base_delay=0.1, max_delay=1.0, random=lambda: 0.0)

    # THEN the bound doubles per attempt up to max_delay, and the draw spans [0, bound]
    assert [highest.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert [lowest.backoff(n) for n in (1, 5)] == [0.0, 0.0]
    assert highest.backoff(2, retry_after=3.0) == pytest.approx(3.2)


def test_the_sleeps_between_attempts_stay_within_the_backoff_bounds(
    api: FakeApi, sleeps: Sleeps
) -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.5)
    api.faults.extend([status(502)] * 5)
    with Ledger(
        "https://x", token="t", transport=api.transport(), retry=policy, sleep=sleeps.sleep
    ) as ledger:
        ledger.credit("alice", "1.00")

    bounds = [0.1, 0.2, 0.4, 0.5, 0.5]
    assert len(sleeps.slept) == 5
    assert all(0 <= slept <= bound for slept, bound in zip(sleeps.slept, bounds, strict=True))


def test_a_post_without_an_idempotency_key_is_never_retried() -> None:
    request = httpx.Request("POST", "https://x/accounts/a/credits")
    timeout = httpx.ReadTimeout("lost", request=request)
    unavailable = httpx.Response(503)

    assert not retryable(Call("POST", "/accounts/a/credits"), timeout)
    assert not retryable(Call("POST", "/accounts/a/credits"), unavailable)
    assert retryable(Call("POST", "/accounts/a/credits", idempotency_key="k"), timeout)
    assert retryable(Call("GET", "/accounts/a/balance"), timeout)


def test_a_retry_asks_the_token_provider_again(api: FakeApi, sleeps: Sleeps) -> None:
    # GIVEN a provider that hands out a new token on every call
    tokens = iter(["first", "second"])
    api.faults.append(status(503))

    with Ledger(
        "https://x",
        token_provider=lambda: next(tokens),
        transport=api.transport(),
        sleep=sleeps.sleep,
    ) as ledger:
        ledger.credit("alice", "1.00")

    assert [r.headers["authorization"] for r in api.requests] == [
        "Bearer first",
        "Bearer second",
    ]


def test_a_transport_error_that_a_retry_cannot_fix_is_raised_at_once(
    ledger: Ledger, api: FakeApi
) -> None:
    def unsupported(request: httpx.Request, _: object) -> httpx.Response:
        raise httpx.UnsupportedProtocol("no such scheme", request=request)

    api.faults.append(unsupported)

    with pytest.raises(NoResponse):
        ledger.balance("alice")

    assert len(api.requests) == 1

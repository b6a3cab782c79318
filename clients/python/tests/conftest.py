from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import FakeApi, Sleeps

from ledger_client import Ledger, RetryPolicy


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def ledger(api: FakeApi, sleeps: Sleeps) -> Iterator[Ledger]:
    with Ledger(
        "https://ledger.example",
        token="t0ken",
        transport=api.transport(),
        retry=RetryPolicy(max_attempts=4),
        sleep=sleeps.sleep,
        clock=sleeps.clock,
    ) as client:
        yield client

"""AsyncLedger runs the same plans as Ledger: the same retries, keys, paging and waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from fakes import FakeApi, Sleeps, answer_lost, status

from ledger_client import AsyncLedger, CurrencyMismatch, InsufficientFunds, NotCaughtUp, Posting


def run(test: Callable[[AsyncLedger], Awaitable[None]], api: FakeApi, sleeps: Sleeps) -> None:
    async def main() -> None:
        async with AsyncLedger(
            "https://ledger.example",
            token="t0ken",
            transport=api.transport(),
            sleep=sleeps.async_sleep,
            clock=sleeps.clock,
        ) as ledger:
            await test(ledger)

    asyncio.run(main())


async def _collect(events: AsyncIterator[object]) -> list[object]:
    return [event async for event in events]


def test_a_lost_answer_is_retried_with_the_same_key_and_stored_once(
    api: FakeApi, sleeps: Sleeps
) -> None:
    api.faults.extend([answer_lost, status(503)])

    async def scenario(ledger: AsyncLedger) -> None:
        event = await ledger.credit("alice", "10.00")
        assert event.version == 1

    run(scenario, api, sleeps)

    assert len(set(api.keys())) == 1
    assert len(api.requests) == 3
    assert len(api.events["alice"]) == 1
    assert len(sleeps.slept) == 2


def test_errors_history_and_waiting_work_as_in_the_sync_client(
    api: FakeApi, sleeps: Sleeps
) -> None:
    async def scenario(ledger: AsyncLedger) -> None:
        for _ in range(5):
            await ledger.credit("alice", "2.00")
        api.lag = 2
        debit = await ledger.debit("alice", "3.00")
        with pytest.raises(InsufficientFunds):
            await ledger.debit("alice", "100.00")

        balance = await ledger.balance("alice", consistent_with=debit)
        assert balance.total_balance == Decimal("7.00")
        versions = [event.version async for event in ledger.history("alice", page_size=2)]
        assert versions == [1, 2, 3, 4, 5, 6]

        api.lag = 100
        late = await ledger.credit("alice", "1.00")
        with pytest.raises(NotCaughtUp):
            await ledger.wait_for(late, timeout=1.0)

    run(scenario, api, sleeps)


def test_accounts_and_transfers_work_as_in_the_sync_client(api: FakeApi, sleeps: Sleeps) -> None:
    async def scenario(ledger: AsyncLedger) -> None:
        for name in ("alice", "bob"):
            await ledger.open_account(name, "EUR", ["t0ken"])
        await ledger.open_account("dave", "USD", ["dave"])
        await ledger.credit("alice", "50.00")
        api.faults.append(answer_lost)
        api.lag = 1
        transfer = await ledger.transfer(postings=[Posting("alice", "bob", "20.00")])

        alice, bob = await ledger.wait_for(transfer)
        assert (alice.total_balance, bob.total_balance) == (Decimal("30.00"), Decimal("20.00"))
        assert await ledger.get_transfer(transfer.transfer_id) == transfer
        with pytest.raises(CurrencyMismatch):
            await ledger.transfer("alice", "dave", "1.00")

        assert [a.account_id async for a in ledger.accounts(page_size=1)] == ["alice", "bob"]
        assert (await ledger.freeze("bob")).status == "frozen"
        assert (await ledger.unfreeze("bob")).status == "open"
        assert (await ledger.set_overdraft_limit("bob", "5")).overdraft_limit == Decimal("5")
        await ledger.transfer("bob", "alice", "20.00")
        assert (await ledger.close_account("bob")).status == "closed"
        assert (await ledger.account("bob")).status == "closed"

    run(scenario, api, sleeps)

    assert len(api.transfers) == 2

"""Concurrent transfers over the same accounts, in opposite directions, on DynamoDB
(moto, with each request atomic as DynamoDB's are): no deadlock, no lost update, and
not a cent created or lost."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.transfers import transfer
from banking.domain.account import RecordCredit
from banking.domain.errors import InsufficientFunds
from banking.domain.money import Money
from banking.domain.transfer import Posting, Transfer
from banking.entrypoints.bootstrap import new_event_id, utc_now
from tests.support import open_accounts

ACCOUNTS = ("alice", "bob", "carol")


def test_opposite_transfers_from_many_threads_conserve_money(aws, atomic_dynamodb):
    # GIVEN three accounts holding 10.00 each
    store = DynamoDBEventStore(
        aws["dynamodb"],
        aws["tables"]["events"],
        aws["tables"]["idempotency"],
        transfers_table=aws["tables"]["transfers"],
    )
    open_accounts(store, *ACCOUNTS)
    deps = CommandDependencies(
        store=store,
        clock=utc_now,
        new_id=new_event_id,
        settings=CommandSettings(max_attempts=50, backoff_base_seconds=0.005),
    )
    for account in ACCOUNTS:
        record(RecordCredit(account, Money(1000)), deps, caller="bank")
    barrier = threading.Barrier(12)

    def pay(index: int) -> list[str]:
        # Each thread pays around the ring, half of them the other way round.
        source, target = ACCOUNTS[index % 3], ACCOUNTS[(index + (1 if index % 2 else 2)) % 3]
        barrier.wait()
        outcomes = []
        for _ in range(3):
            command = Transfer(str(uuid.uuid4()), [Posting(source, target, Money(150))])
            try:
                transfer(command, deps, idempotency_key=str(uuid.uuid4()), caller="payments")
                outcomes.append(command.transfer_id)
            except InsufficientFunds:
                outcomes.append("insufficient_funds")
        return outcomes

    # WHEN 12 threads transfer at once, in both directions over the same accounts
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = [o for thread in pool.map(pay, range(12)) for o in thread]

    # THEN every transfer finished (stored or refused for funds), every stored one is
    # there whole, the money is all still there, and no account's version has a gap
    stored = [o for o in outcomes if o != "insufficient_funds"]
    assert len(outcomes) == 36
    assert stored
    records = [store.transfer(transfer_id) for transfer_id in stored]
    assert all(found is not None and len(found.legs) == 2 for found in records)
    states = {account: store.load(account) for account in ACCOUNTS}
    total = sum(state.balance.minor for state in states.values())
    assert total == 3 * 1000
    assert all(state.balance >= Money(0) for state in states.values())
    legs = sum(len(found.legs) for found in records if found is not None)
    # Per account: its opening, its funding and its legs.
    assert sum(state.version for state in states.values()) == 3 * 2 + legs

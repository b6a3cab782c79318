"""Transfers: load every account involved, decide the legs, append them in one
transaction with the transfer record and the idempotency record, and retry on a
version conflict; a retried idempotency key never moves money twice.

Concurrent transfers over the same accounts, in any direction, cannot deadlock: the
store takes no locks, a transaction that meets another fails (a conflict) and is
decided again from fresh state after a jittered backoff.
"""

from __future__ import annotations

from banking.application.appending import (
    CommandDependencies,
    Conflict,
    Decision,
    append_decided,
    ours,
)
from banking.application.commands import canonical, fingerprint
from banking.application.ports import (
    TRANSFER_SCOPE,
    EventStore,
    IdempotencyRecord,
    Leg,
    StoredEvent,
    TransactionRecords,
    TransferPosting,
    TransferRecord,
)
from banking.domain.account import Account, evolve
from banking.domain.currency import Currency
from banking.domain.errors import IdempotencyKeyReused
from banking.domain.events import Credited, Debited, PostingEvent
from banking.domain.transfer import Transfer, decide_transfer


def transfer(
    command: Transfer,
    deps: CommandDependencies,
    *,
    idempotency_key: str,
    caller: str,
    correlation_id: str | None = None,
) -> TransferRecord:
    """Store the transfer, recorded by `caller`, at most once per caller and key."""
    claim = IdempotencyRecord(
        TRANSFER_SCOPE,
        caller,
        idempotency_key,
        fingerprint_of(command),
        transfer_id=command.transfer_id,
    )

    def decided() -> Decision[TransferRecord]:
        accounts = {account_id: deps.store.load(account_id) for account_id in command.account_ids}
        legs = decide_transfer(
            accounts, command, new_event_id=deps.new_id, now=deps.clock(), recorded_by=caller
        )
        record = _record(command, legs, caller, correlation_id)
        return Decision(
            stored_legs(accounts, legs, deps, correlation_id),
            TransactionRecords(idempotency=claim, transfer=record),
            record,
        )

    def landed(decision: Decision[TransferRecord], conflict: Conflict) -> TransferRecord | None:
        # An attempt whose answer was lost may have landed: its legs came back with
        # the refusal, or else the transfer id is this request's own, so its record
        # being there means it did.
        mine = ours(conflict, decision.events)
        if mine is None:
            return deps.store.transfer(command.transfer_id)
        return decision.answer if mine else None

    return append_decided(
        deps,
        decided,
        subject=f"accounts {', '.join(command.account_ids)}",
        claim=claim,
        replay=lambda previous: replayed_transfer(deps.store, previous),
        landed=landed,
    )


def stored_legs(
    accounts: dict[str, Account],
    legs: list[PostingEvent],
    deps: CommandDependencies,
    correlation_id: str | None,
) -> list[StoredEvent]:
    """Each leg with its account's state after it (an account in several postings
    folds its legs in turn)."""
    states = dict(accounts)
    stored = []
    for leg in legs:
        states[leg.account_id] = evolve(states[leg.account_id], leg, deps.settings.zone)
        stored.append(StoredEvent(leg, states[leg.account_id], correlation_id))
    return stored


def fingerprint_of(command: Transfer) -> str:
    """What makes two transfer requests the same request (the transfer id is new each
    time, so it is not part of it)."""
    return fingerprint(
        {
            "type": "transfer",
            "postings": [
                {
                    "from": posting.from_account,
                    "to": posting.to_account,
                    "amount": canonical(posting.amount),
                    "currency": canonical(posting.currency),
                }
                for posting in command.postings
            ],
            "description": command.description,
        }
    )


def _record(
    command: Transfer, legs: list[PostingEvent], caller: str, correlation_id: str | None
) -> TransferRecord:
    # The domain stores each account's credits before its debits; the record keeps the
    # answer in posting order, each posting's debit then its credit. Both kinds come in
    # posting order, and each debit carries its amount and currency in the account's digits.
    debits = [leg for leg in legs if isinstance(leg, Debited)]
    credits = [leg for leg in legs if isinstance(leg, Credited)]
    return TransferRecord(
        transfer_id=command.transfer_id,
        recorded_at=legs[0].recorded_at,
        postings=tuple(
            TransferPosting(
                posting.from_account,
                posting.to_account,
                debit.amount,
                _currency_of(debit),
            )
            for posting, debit in zip(command.postings, debits, strict=True)
        ),
        legs=tuple(Leg.of(leg) for pair in zip(debits, credits, strict=True) for leg in pair),
        description=command.description,
        recorded_by=caller,
        correlation_id=correlation_id,
    )


def _currency_of(leg: PostingEvent) -> Currency:
    if leg.currency is None:
        raise ValueError("a transfer's legs always name their currency")
    return leg.currency


def replayed_transfer(store: EventStore, previous: IdempotencyRecord) -> TransferRecord:
    """The transfer a previous request with this key stored (the same request's)."""
    found = store.transfer(previous.transfer_id) if previous.transfer_id else None
    if found is None:
        raise IdempotencyKeyReused(
            f"idempotency key {previous.key!r} was already used with a different request"
        )
    return found

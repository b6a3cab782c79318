"""Reversals: a posting is corrected by its opposite, never by editing it.

A `Credited` is reversed by a `Debited` of the same amount and a `Debited` by a
`Credited`, each carrying `reverses` (the original's account and version); a
transfer by a new transfer whose postings run the other way, every leg reversing
the original leg on its account. The reversal is an ordinary posting under the usual
rules: the account must take postings (neither frozen nor closed) and a debit must
leave the available balance within the overdraft limit.

What is never reversed: an account event (it moves no money), a reversal (a
mistaken reversal is corrected by a new posting, so a chain of reversals never has
to be followed to know what stands), and a transfer's leg on its own (its transfer
is reversed whole, so money stays conserved between its accounts). That each
original is reversed at most once is the store's guard (one marker per original,
written in the reversal's own transaction), not the account state's: the state
cannot hold every version ever reversed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from attrs import evolve, frozen

from banking.domain.account import Account
from banking.domain.decisions import Stamp, ensure_funds, recorded_at, require_postable
from banking.domain.errors import NotReversible
from banking.domain.events import Credited, Debited, Event, EventRef, PostingEvent
from banking.domain.transfer import Posting, Transfer, decide_transfer


@frozen
class ReverseEntry:
    """Reverse the posting at `version` of the account."""

    account_id: str
    version: int
    description: str | None = None


def reference(event: Event) -> EventRef:
    return EventRef(event.account_id, event.version)


def reversible_posting(original: Event, *, in_transfer: bool = False) -> PostingEvent:
    """The original as a posting that may be reversed (alone, or with its transfer)."""
    where = f"version {original.version} of account {original.account_id}"
    if not isinstance(original, Credited | Debited):
        raise NotReversible(f"{where} moves no money: only credits and debits are reversed")
    if original.reverses is not None:
        raise NotReversible(
            f"{where} is itself a reversal, which is never reversed: record a new posting"
        )
    if original.transfer_id is not None and not in_transfer:
        raise NotReversible(
            f"{where} is a leg of transfer {original.transfer_id}: reverse the whole "
            f"transfer with POST /transfers/{original.transfer_id}/reversal"
        )
    return original


def decide_reversal(
    state: Account,
    original: Event,
    command: ReverseEntry,
    *,
    event_id: str,
    now: datetime,
    recorded_by: str | None = None,
) -> PostingEvent:
    """The opposite of the original posting, at the account's next version."""
    if (command.account_id, command.version) != (original.account_id, original.version):
        raise ValueError(f"reversal of {command} decided on {reference(original)}")
    posting = reversible_posting(original)
    require_postable(state)
    stamp = Stamp(event_id, recorded_at(now, [state]), recorded_by)
    opposite = Debited if isinstance(posting, Credited) else Credited
    if opposite is Debited:
        ensure_funds(state, posting.amount)
    return opposite(
        account_id=state.account_id,
        version=state.version + 1,
        event_id=stamp.event_id,
        amount=posting.amount,
        recorded_at=stamp.recorded_at,
        description=command.description or f"Reversal of version {original.version}",
        currency=state.currency,
        recorded_by=stamp.recorded_by,
        reverses=reference(original),
    )


def decide_transfer_reversal(
    accounts: Mapping[str, Account],
    legs: Sequence[Event],
    *,
    transfer_id: str,
    description: str | None,
    new_event_id: Callable[[], str],
    now: datetime,
    recorded_by: str | None = None,
) -> list[PostingEvent]:
    """The legs of the transfer that undoes the one whose legs are `legs`: each posting
    the other way, every new leg reversing the original leg on its account. Legs are
    paired by kind and posting order (the i-th debit and the i-th credit are posting
    i's), whatever order the store holds them in (credits first since the simulation's
    finding; alternating before)."""
    originals = [reversible_posting(leg, in_transfer=True) for leg in legs]
    debits = [leg for leg in originals if isinstance(leg, Debited)]
    credits = [leg for leg in originals if isinstance(leg, Credited)]
    if len(debits) != len(credits) or len(debits) + len(credits) != len(originals):
        raise ValueError("a transfer's legs are one debit and one credit per posting")
    original_transfer = originals[0].transfer_id
    command = Transfer(
        transfer_id,
        [
            Posting(credit.account_id, debit.account_id, debit.amount, debit.currency)
            for debit, credit in zip(debits, credits, strict=True)
        ],
        description or f"Reversal of transfer {original_transfer}",
    )
    new_legs = decide_transfer(
        accounts, command, new_event_id=new_event_id, now=now, recorded_by=recorded_by
    )
    # New posting i credits what original posting i debited, and debits what it
    # credited; its legs come every credit first, then every debit, each in posting
    # order (decide_transfer), so they reverse the original debits, then its credits.
    reversed_legs: list[PostingEvent] = [*debits, *credits]
    if [leg.account_id for leg in new_legs] != [leg.account_id for leg in reversed_legs]:
        raise ValueError("a reversal's legs must each reverse the leg on its own account")
    return [
        evolve(new, reverses=reference(original))
        for new, original in zip(new_legs, reversed_legs, strict=True)
    ]

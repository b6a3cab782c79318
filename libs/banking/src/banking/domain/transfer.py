"""Transfers: money moved between accounts of the ledger, all postings or none.

`decide_transfer` takes the current state of every account involved and returns the
legs: for each posting a `Debited` on its `from` account and a `Credited` on its
`to` account, carrying the transfer id and the counterparty. An account in several
postings gets consecutive versions, its credits before its debits: its balance then
rises and falls once, so no version of it is below both its start and its end, and a
transfer out of an account and back never shows it past its limit in between. The
store appends the legs in one transaction conditional on each account's next version,
so a transfer is stored whole or not at all; the legs of each posting are equal and
opposite, so money is conserved by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from attrs import field, frozen

from banking.domain.account import Account
from banking.domain.currency import Currency
from banking.domain.decisions import amount_in, ensure_funds, recorded_at, require_postable
from banking.domain.errors import AccountNotFound, CurrencyMismatch, InvalidRequest
from banking.domain.events import Credited, Debited, PostingEvent, signed_amount
from banking.domain.money import Money

# Each posting is two items of one DynamoDB transaction (100 items at most), with the
# idempotency record beside them; 10 covers a payment with fees, a split, an exchange.
MAX_POSTINGS = 10


@frozen
class Posting:
    """`amount` from one account to another. `currency`, when given, is the currency
    the client means: it must be both accounts'."""

    from_account: str
    to_account: str
    amount: Money
    currency: Currency | None = None


def _postings(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    return tuple(postings)


@frozen
class Transfer:
    transfer_id: str
    postings: tuple[Posting, ...] = field(converter=_postings)
    description: str | None = None

    @property
    def account_ids(self) -> list[str]:
        """Every account involved, each once, sorted: the accounts to load."""
        return sorted(
            {p.from_account for p in self.postings} | {p.to_account for p in self.postings}
        )


def decide_transfer(
    accounts: Mapping[str, Account],
    command: Transfer,
    *,
    new_event_id: Callable[[], str],
    now: datetime,
    recorded_by: str | None = None,
) -> list[PostingEvent]:
    """The legs of the transfer, every credit leg then every debit leg (each in
    posting order, so each account's legs come in version order), or the first
    refusal: a malformed transfer, an unknown, frozen or closed account, a currency
    mismatch, or a debited account that would end below its overdraft limit once
    every posting is applied."""
    if not 1 <= len(command.postings) <= MAX_POSTINGS:
        raise InvalidRequest(f"a transfer has 1 to {MAX_POSTINGS} postings")
    for posting in command.postings:
        if posting.from_account == posting.to_account:
            raise InvalidRequest(f"account {posting.from_account} is on both sides of a posting")
    states = {account_id: _state(accounts, account_id) for account_id in command.account_ids}
    for state in states.values():
        require_postable(state)
    amounts = [_amount(posting, states) for posting in command.postings]

    moment = recorded_at(now, states.values())
    versions = {account_id: state.version for account_id, state in states.items()}
    legs: list[PostingEvent] = []
    priced = list(zip(command.postings, amounts, strict=True))
    sides: list[tuple[type[Credited] | type[Debited], str, str, Money]] = [
        (Credited, posting.to_account, posting.from_account, amount) for posting, amount in priced
    ] + [(Debited, posting.from_account, posting.to_account, amount) for posting, amount in priced]
    for leg_type, account_id, counterparty, amount in sides:
        versions[account_id] += 1
        legs.append(
            leg_type(
                account_id=account_id,
                version=versions[account_id],
                event_id=new_event_id(),
                amount=amount,
                recorded_at=moment,
                description=command.description,
                currency=states[account_id].currency,
                transfer_id=command.transfer_id,
                counterparty=counterparty,
                recorded_by=recorded_by,
            )
        )
    _ensure_funds_after(states, legs)
    return legs


def legs_by_account(legs: Sequence[PostingEvent]) -> dict[str, list[PostingEvent]]:
    """Each account's legs in version order: what the store appends per account."""
    grouped: dict[str, list[PostingEvent]] = {}
    for leg in legs:
        grouped.setdefault(leg.account_id, []).append(leg)
    return grouped


def _state(accounts: Mapping[str, Account], account_id: str) -> Account:
    state = accounts.get(account_id)
    if state is None or not state.opened:
        raise AccountNotFound(f"account {account_id} does not exist")
    return state


def _amount(posting: Posting, states: Mapping[str, Account]) -> Money:
    source, target = states[posting.from_account], states[posting.to_account]
    if source.currency != target.currency:
        raise CurrencyMismatch(
            f"accounts {source.account_id} ({source.currency}) and "
            f"{target.account_id} ({target.currency}) are in different currencies"
        )
    if posting.currency is not None and posting.currency != source.currency:
        raise CurrencyMismatch(
            f"a posting in {posting.currency} between accounts in {source.currency}"
        )
    return amount_in(posting.amount, source.currency)


def _ensure_funds_after(states: Mapping[str, Account], legs: Sequence[PostingEvent]) -> None:
    """Each debited account, with every posting applied, within its overdraft limit:
    a transfer that debits and credits one account is judged on the net. Its credit
    legs come before its debit legs, so every version in between is at least the lower
    of its start and its end: within the limit at the end means within it throughout."""
    for account_id, own_legs in legs_by_account(legs).items():
        if not any(isinstance(leg, Debited) for leg in own_legs):
            continue
        state = states[account_id]
        net = sum((signed_amount(leg) for leg in own_legs), Money.zero(state.currency.digits))
        ensure_funds(state, -net)

"""Conservation: what `ledger verify` checks of the whole ledger besides the read models.

Money only enters or leaves the ledger by external credits and debits; a transfer moves
it. So, per currency, the transfers' debit legs must sum to their credit legs, and each
transfer's legs must pair off to zero. And no account may stand below its overdraft
limit at its latest version. A hold moves no money until captured: each is resolved
(captured, voided or expired) at most once, and a capture takes at most what it held.
And each posting is reversed at most once, by a posting of its own account stored after
it (issue 14: a reversal is otherwise an ordinary posting, counted like any other).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from attrs import field, frozen

from banking.application.ports import Scanned, StoredEvent
from banking.domain.account import Account
from banking.domain.events import (
    Credited,
    Debited,
    EventRef,
    HoldExpired,
    HoldPlaced,
    HoldVoided,
)
from banking.domain.money import Money


@frozen
class Conservation:
    """Per currency code, the sums of the transfers' debit and credit legs; the transfers
    whose legs do not pair off; the accounts below their overdraft limit."""

    debits: dict[str, Money] = field(factory=dict)
    credits: dict[str, Money] = field(factory=dict)
    unbalanced: list[str] = field(factory=list)
    overdrawn: list[str] = field(factory=list)
    # Holds resolved twice, resolved without being placed, or captured beyond their amount.
    misresolved_holds: list[str] = field(factory=list)
    # "account/version" of each original reversed twice, or by what cannot reverse it.
    misreversed: list[str] = field(factory=list)

    @property
    def holds(self) -> bool:
        return (
            self.debits == self.credits
            and not self.unbalanced
            and not self.overdrawn
            and not self.misresolved_holds
            and not self.misreversed
        )


def conservation(items: Iterable[Scanned]) -> Conservation:
    """Check every stored event (a scan: each account's in version order)."""
    debits: dict[str, Money] = {}
    credits: dict[str, Money] = {}
    net: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latest: dict[str, Account] = {}
    digits: dict[str, int] = {}
    placed: dict[str, Money] = {}
    resolved: dict[str, int] = defaultdict(int)
    misresolved: set[str] = set()
    reversed_once: set[EventRef] = set()
    misreversed: set[EventRef] = set()
    for item in items:
        if not isinstance(item, StoredEvent):
            continue  # verify reports unreadable items on its own
        latest[item.event.account_id] = item.state
        event = item.event
        if isinstance(event, HoldPlaced):
            placed[event.hold_id] = event.amount
        elif isinstance(event, HoldVoided | HoldExpired | Debited) and event.hold_id:
            resolved[event.hold_id] += 1
            held = placed.get(event.hold_id)
            if held is None or event.amount > held:
                misresolved.add(event.hold_id)
        if isinstance(event, Credited | Debited) and event.reverses is not None:
            original = event.reverses
            if (
                original in reversed_once
                or original.account_id != event.account_id
                or original.version >= event.version
            ):
                misreversed.add(original)
            reversed_once.add(original)
        if not isinstance(event, Credited | Debited) or event.transfer_id is None:
            continue
        code = item.state.currency.code
        digits[code] = event.amount.digits
        sums = credits if isinstance(event, Credited) else debits
        sums[code] = sums.get(code, Money.zero(event.amount.digits)) + event.amount
        sign = 1 if isinstance(event, Credited) else -1
        net[event.transfer_id][code] += sign * event.amount.minor
    for code, places in digits.items():
        debits.setdefault(code, Money.zero(places))
        credits.setdefault(code, Money.zero(places))
    return Conservation(
        debits=debits,
        credits=credits,
        unbalanced=sorted(t for t, sums in net.items() if any(sums.values())),
        overdrawn=sorted(
            account_id
            for account_id, state in latest.items()
            if state.available < -state.overdraft_limit
        ),
        misresolved_holds=sorted(misresolved | {h for h, times in resolved.items() if times > 1}),
        misreversed=sorted(f"{ref.account_id}/{ref.version}" for ref in misreversed),
    )

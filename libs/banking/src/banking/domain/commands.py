"""What a caller asks of one account: post to it, open it, or change its settings."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from banking.domain.currency import Currency
from banking.domain.events import owner_set, read_only
from banking.domain.money import Money


@frozen
class RecordCredit:
    account_id: str
    amount: Money
    description: str | None = None


@frozen
class RecordDebit:
    account_id: str
    amount: Money
    description: str | None = None


@frozen
class OpenAccount:
    account_id: str
    currency: Currency
    owners: frozenset[str] = field(converter=owner_set)
    overdraft_limit: Money = Money(0)
    metadata: Mapping[str, str] = field(factory=dict, converter=read_only)


@frozen
class FreezeAccount:
    account_id: str


@frozen
class UnfreezeAccount:
    account_id: str


@frozen
class CloseAccount:
    account_id: str


@frozen
class ChangeOverdraftLimit:
    account_id: str
    overdraft_limit: Money


# A credit or a debit of one account from outside the ledger.
Command = RecordCredit | RecordDebit
AccountCommand = OpenAccount | FreezeAccount | UnfreezeAccount | CloseAccount | ChangeOverdraftLimit

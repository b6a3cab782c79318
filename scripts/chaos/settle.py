"""Whether a local system has caught up: each account's head against its read models,
and the dead letters parked; waited for with a deadline and no fixed sleep. What the
chaos run and the soak both wait for before they check."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.domain.read_models import READ_MODEL_NAMES
from scripts.ops.aws import Ledger
from scripts.ops.status import AccountStatus, dead_letter_depths

POLL_S = 0.5


@dataclass
class Settled:
    accounts: list[AccountStatus]
    dead_letters: int

    @property
    def caught_up(self) -> bool:
        return all(account.behind == 0 for account in self.accounts)

    @property
    def behind(self) -> list[AccountStatus]:
        return [account for account in self.accounts if account.behind]


def look(ledger: Ledger, accounts: Iterable[str]) -> Settled:
    """What `ledger status` shows for these accounts: heads, read models, dead letters."""
    dynamodb = ledger.client("dynamodb")
    projections = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    statuses = []
    for account in sorted(accounts):
        items = dynamodb.query(
            TableName=ledger.events_table,
            KeyConditionExpression="accountId = :a",
            ExpressionAttributeValues={":a": {"S": account}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        head = int(items[0]["version"]["N"]) if items else 0
        models = {READ_MODEL_NAMES[type(m)]: m.version for m in projections.load(account)}
        statuses.append(AccountStatus(account, head, models))
    return Settled(statuses, sum(dead_letter_depths(ledger).values()))


class NotQuiet(AssertionError):
    pass


def wait_until_quiet(
    probe: Callable[[], Settled], deadline_s: float, stalled_s: float, *, strict: bool = True
) -> Settled:
    """Until every read model is at its head and nothing is parked, or nothing has moved
    for `stalled_s` (what is left is parked). After `deadline_s`: NotQuiet, or when not
    `strict` what it last saw (for a caller that reports what is behind before failing)."""
    deadline = time.monotonic() + deadline_s
    last, since = None, time.monotonic()
    while True:
        settled = probe()
        if settled.caught_up and settled.dead_letters == 0:
            return settled
        if settled != last:
            last, since = settled, time.monotonic()
        elif time.monotonic() - since > stalled_s:
            return settled
        if time.monotonic() > deadline:
            if not strict:
                return settled
            raise NotQuiet(f"not quiet after {deadline_s}s: {settled.behind}")
        time.sleep(POLL_S)

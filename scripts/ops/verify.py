"""`ledger verify`: fold every account's stored events and compare each read model.

Reports every read model that differs from the fold. `--repair` replays the accounts
whose read models are missing or behind, through the same path as `ledger replay`, and
overwrites with the fold's every read model at or ahead of the fold's version with
another value (a forged event's; the version guard would refuse any replay of it).
A read model of an account or month that has no event at all is only reported.

Verifying the whole ledger also checks conservation (application.conservation): per
currency, the transfers' debit legs equal their credit legs, each transfer's legs pair
off, no account stands below its overdraft limit, and no posting is reversed twice or
by another account's posting (a reversal is otherwise folded like any posting).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.conservation import Conservation, conservation
from banking.application.replay import ReplayJob, ReplayOptions
from banking.application.verification import Difference, overwrite, verify_account
from banking.domain.read_models import PROJECTIONS, ReadModel
from scripts.ops.aws import Ledger
from scripts.ops.replay import run_jobs, runner

WORKERS = 8


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify", help="compare every read model with the fold of the stored events"
    )
    parser.add_argument("--account", help="one account (default: every account, by scan)")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="replay what is missing or behind, overwrite what is ahead of the events",
    )
    parser.add_argument(
        "--timezone",
        default=os.environ.get("LEDGER_TIMEZONE", "UTC"),
        help="the deployment's LEDGER_TIMEZONE (default: $LEDGER_TIMEZONE, else UTC)",
    )
    parser.add_argument("--in-process", action="store_true", help="repair without the function")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_args(args)
    dynamodb = ledger.client("dynamodb")
    store = DynamoDBEventStore(dynamodb, ledger.events_table, legacy=ledger.legacy_terms)
    projections = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    accounts = [args.account] if args.account else list(account_ids(dynamodb, ledger.events_table))
    found = verify_accounts(accounts, store, projections.load, ZoneInfo(args.timezone))
    report(found, len(accounts))
    conserved = True
    if not args.account:
        checked = conservation(store.scan())
        report_conservation(checked)
        conserved = checked.holds
    if not found or not args.repair:
        return 1 if found or not conserved else 0
    zone = ZoneInfo(args.timezone)
    overwritten = overwrite(found, store, projections, zone)
    print(f"overwrote {len(overwritten)} read model(s) at or ahead of the fold's version")
    repairable = sorted({d.account_id for d in found if d.repairable})
    names = tuple(sorted({d.read_model for d in found if d.repairable}))
    if repairable:
        print(f"repairing {len(repairable)} account(s) by replay of {', '.join(names)}")
        jobs = [
            ReplayJob(account_id=account, options=ReplayOptions(read_models=names))
            for account in repairable
        ]
        run_jobs(jobs, runner(ledger, in_process=args.in_process))
    remaining = verify_accounts(
        sorted({d.account_id for d in found}), store, projections.load, ZoneInfo(args.timezone)
    )
    report(remaining, len({d.account_id for d in found}), after_repair=True)
    return 1 if remaining or not conserved else 0


def verify_accounts(
    accounts: Sequence[str],
    store: DynamoDBEventStore,
    load: Callable[[str], Sequence[ReadModel]],
    zone: ZoneInfo,
    read_models: Sequence[str] = tuple(PROJECTIONS),
) -> list[Difference]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = pool.map(
            lambda account: verify_account(account, store, load, zone, read_models=read_models),
            accounts,
        )
        return [difference for differences in results for difference in differences]


def report(found: Sequence[Difference], accounts: int, *, after_repair: bool = False) -> None:
    for difference in found[:50]:
        hint = (
            ""
            if difference.repairable or difference.overwritable
            else "  (no event to fold: needs a look by hand)"
        )
        print(f"  {difference}{hint}")
    if len(found) > 50:
        print(f"  … and {len(found) - 50} more")
    differing = len({d.account_id for d in found})
    when = "after repair: " if after_repair else ""
    print(
        f"{when}{accounts} account(s) verified, {differing} with differences, "
        f"{len(found)} read model(s) differ"
    )


def report_conservation(checked: Conservation) -> None:
    for code in sorted(checked.debits):
        debits, credits = checked.debits[code], checked.credits[code]
        verdict = "conserved" if debits == credits else "NOT CONSERVED"
        print(f"transfers in {code}: debit legs {debits}, credit legs {credits}: {verdict}")
    for transfer_id in checked.unbalanced[:50]:
        print(f"  transfer {transfer_id}: its legs do not pair off")
    for account_id in checked.overdrawn[:50]:
        print(f"  account {account_id}: below its overdraft limit")
    for hold_id in checked.misresolved_holds[:50]:
        print(f"  hold {hold_id}: resolved twice, never placed, or captured beyond it")
    for original in checked.misreversed[:50]:
        print(f"  posting {original}: reversed more than once, or not by its own account")
    print(
        f"conservation {'holds' if checked.holds else 'BROKEN'}: "
        f"{len(checked.unbalanced)} unbalanced transfer(s), "
        f"{len(checked.overdrawn)} account(s) below their limit, "
        f"{len(checked.misresolved_holds)} misresolved hold(s)"
        f"{len(checked.misreversed)} posting(s) misreversed"
    )


def account_ids(dynamodb: Any, table: str) -> Iterator[str]:
    """Every account with at least one event (the first version is enough)."""
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        ProjectionExpression="accountId",
        FilterExpression="version = :first",
        ExpressionAttributeValues={":first": {"N": "1"}},
    ):
        for item in page["Items"]:
            yield str(item["accountId"]["S"])

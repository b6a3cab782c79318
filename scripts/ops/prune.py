"""`ledger prune --projection NAME`: delete the items of the generations of a read model
that nobody writes or reads any more.

After `ledger rebuild` switches readers to a new generation, the old one is still
written for a grace period (for readers whose cached pointer is a few seconds old),
then left as it was; a rebuild that was abandoned leaves its generation too. Both are
dead weight in the projections table. Pruning deletes them, and only them: never the
active generation, the one being built, nor the previous one within its grace period
(`banking.application.ports.Generations.prunable`).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.domain.read_models import PROJECTIONS
from scripts.ops.aws import Ledger


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prune", help="delete the generations of a read model that are no longer used"
    )
    parser.add_argument("--projection", required=True, choices=sorted(PROJECTIONS))
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_args(args)
    projections = DynamoDBProjectionStore(ledger.client("dynamodb"), ledger.projections_table)
    name = args.projection
    pointer, now = projections.generations(name), datetime.now(UTC)
    counts = projections.prune(name, now=now, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for generation, items in sorted(counts.items()):
        print(f"{name}: generation {generation}: {verb} {items} item(s)")
    kept = f"readers read generation {pointer.active}"
    if pointer.previous is not None and not pointer.prunable(pointer.previous, now):
        kept += f"; generation {pointer.previous} is kept until {pointer.previous_until}"
    print(f"{name}: {verb} {sum(counts.values())} item(s) in {len(counts)} generation(s); {kept}")
    return 0

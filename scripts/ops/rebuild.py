"""`ledger rebuild --projection NAME`: rebuild one read model from nothing, into a fresh
generation, and switch readers to it once it has caught up. The steps and their order
are `banking.application.rebuild` (which the deterministic simulation runs too); here
they run on AWS:

1. Open generation G (the pointer's `building`): from then on the projectors write
   every event into the active generation and into G.
2. Wait until every projector has re-read the pointer (`--pointer-wait`).
3. Replay every account into G only (`readModels: [NAME]`), in parallel segments.
4. Wait until G has caught up (`--catch-up-timeout`): every item of the active
   generation has its counterpart in G at the same version or newer. `--verify` also
   folds every account and compares G with the fold.
5. Switch the pointer: readers read G. The old generation stays written during a
   grace period, for readers whose cached pointer is a few seconds old; `ledger
   prune` deletes it afterwards.

If G does not catch up in time, or differs from the fold, it is abandoned: readers
never saw it.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.generations import POINTER_TTL_SECONDS
from banking.application.rebuild import SWITCHED, Rebuild
from banking.application.replay import ReplayOptions
from banking.domain.read_models import PROJECTIONS
from scripts.ops.aws import Ledger
from scripts.ops.replay import add_replay_arguments, run_jobs, runner, segment_jobs
from scripts.ops.verify import account_ids, report, verify_accounts

POINTER_TTL = POINTER_TTL_SECONDS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebuild", help="rebuild one read model into a fresh generation, then switch to it"
    )
    parser.add_argument("--projection", required=True, choices=sorted(PROJECTIONS))
    add_replay_arguments(parser)
    parser.add_argument(
        "--pointer-wait",
        type=float,
        default=2 * POINTER_TTL,
        help="seconds to let every projector see the new generation (default 20)",
    )
    parser.add_argument(
        "--catch-up-timeout", type=float, default=600.0, help="seconds to wait for catch-up"
    )
    parser.add_argument(
        "--verify", action="store_true", help="also compare the new generation with the fold"
    )
    parser.add_argument(
        "--timezone",
        default=os.environ.get("LEDGER_TIMEZONE", "UTC"),
        help="the deployment's LEDGER_TIMEZONE, for --verify",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_args(args)
    name = args.projection
    dynamodb = ledger.client("dynamodb")
    projections = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    rebuild = Rebuild.open(projections, name)
    print(f"{name}: building generation {rebuild.generation} (readers stay on {rebuild.active})")
    time.sleep(args.pointer_wait)

    def replay(options: ReplayOptions) -> bool:
        jobs = segment_jobs(args.segments, options)
        runs = runner(ledger, in_process=args.in_process)
        return not run_jobs(jobs, runs, rate_limit=args.rate_limit).failures

    def fold_agrees(generation: int) -> bool:
        print(f"{name}: generation {generation} has caught up with generation {rebuild.active}")
        if not args.verify:
            return True
        store = DynamoDBEventStore(dynamodb, ledger.events_table, legacy=ledger.legacy_terms)
        accounts = list(account_ids(dynamodb, ledger.events_table))
        found = verify_accounts(
            accounts,
            store,
            lambda account: projections.load(account, generations={name: generation}),
            ZoneInfo(args.timezone),
            read_models=(name,),
        )
        report(found, len(accounts))
        return not found

    deadline = time.monotonic() + args.catch_up_timeout
    for lagging in rebuild.run(
        replay=replay,
        fold_agrees=fold_agrees,
        grace_until=lambda: datetime.now(UTC) + timedelta(seconds=3 * POINTER_TTL),
    ):
        if time.monotonic() > deadline:
            for lag in lagging[:20]:
                print(f"  behind: {lag}")
            rebuild.abandon(f"{len(lagging)} item(s) behind")
            break
        time.sleep(1.0)
    if rebuild.outcome != SWITCHED:
        print(
            f"{name}: generation {rebuild.generation} abandoned ({rebuild.outcome}); "
            "readers never saw it"
        )
        return 1
    print(
        f"{name}: readers now read generation {rebuild.generation}; generation "
        f"{rebuild.active} is written until {rebuild.previous_until:%H:%M:%S} UTC, then "
        f"`ledger prune --projection {name}` deletes it"
    )
    return 0

"""`python -m tests.simulation --seed 42 --steps 100000` (what `make simulate` runs):
the run's report, then its speed (the one line that differs between two runs of the
same seed). Exits 1 when an invariant failed."""

from __future__ import annotations

import argparse
import random
import sys
import time

from tests.simulation.run import simulate
from tests.simulation.world import Chances


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make simulate", description=__doc__)
    parser.add_argument("--seed", type=int, help="the run to make (default: a fresh one)")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument(
        "--round-trip-transfers",
        action="store_true",
        help="also send transfers out of an account and back (a known finding: they fail)",
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    started = time.perf_counter()
    chances = Chances(round_trip_transfer=0.3) if args.round_trip_transfers else Chances()
    result = simulate(seed, args.steps, chances=chances)
    elapsed = time.perf_counter() - started
    print(result.report())
    print(f"speed: {args.steps / elapsed:,.0f} steps/s ({elapsed:.1f} s)")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tests.simulation --seed 42 --steps 100000` (what `make simulate` runs):
the run's report, then its speed (the one line that differs between two runs of the
same seed). Exits 1 when an invariant failed."""

from __future__ import annotations

import argparse
import random
import sys
import time

from tests.simulation.run import simulate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make simulate", description=__doc__)
    parser.add_argument("--seed", type=int, help="the run to make (default: a fresh one)")
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = simulate(seed, args.steps)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(result.report())
    ran = result.failure.step if result.failure else args.steps
    # Per CPU second too: on a shared machine that is what an idle one would do.
    print(
        f"speed: {ran / elapsed:,.0f} steps/s ({elapsed:.1f} s), "
        f"{ran / cpu:,.0f} steps per CPU second"
    )
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of `scripts/ledger`: parse the subcommand and run it."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand modules; each exposes `register(subparsers)` adding its parser, with
# `set_defaults(run=callable(args) -> int)`.
COMMANDS: tuple[str, ...] = ("status", "replay", "rebuild", "verify", "prune", "redrive")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__)
    parser.add_argument(
        "--endpoint-url",
        help="AWS endpoint (default: the local runtime's moto, from .local/, else AWS itself)",
    )
    parser.add_argument("--environment", default="local", help="local, dev or prod")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"scripts.ops.{name}").register(subparsers)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

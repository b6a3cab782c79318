"""Generate the synchronous client (``_client.py``) from the asynchronous one (``_async.py``).

The clients' methods are written once, as `AsyncLedger`; unasync (pinned in
requirements-dev.txt) turns that module into `Ledger` by dropping ``async``/``await`` and
renaming the names below, then ruff gives the result the repository's format.

    python clients/python/scripts/generate_sync.py          # rewrite _client.py
    python clients/python/scripts/generate_sync.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync  # type: ignore[import-untyped]  # no py.typed; two calls used here

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ledger_client"
SOURCE = "_async.py"
TARGET = "_client.py"

# Beyond unasync's own (``__aenter__``, ``AsyncIterator``, …): what differs between
# httpx's and asyncio's async API and their blocking twins, and the client's names.
RENAMES = {
    "AsyncLedger": "Ledger",
    "AsyncClient": "Client",
    "AsyncBaseTransport": "BaseTransport",
    "AsyncSleeper": "Sleeper",
    "aclose": "close",
    "asyncio": "time",
}

HEADER = (
    f"# Generated from {SOURCE} by clients/python/scripts/generate_sync.py (make client-sync):\n"
    f"# do not edit; change {SOURCE} and regenerate. A test fails while this file is stale.\n"
)


def generate(package: Path = PACKAGE) -> str:
    """The synchronous module that ``package``'s ``_async.py`` makes."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / SOURCE
        shutil.copyfile(package / SOURCE, source)
        rule = unasync.Rule(SOURCE, TARGET, additional_replacements=RENAMES)
        unasync.unasync_files([str(source)], rules=[rule])
        text = (Path(scratch) / TARGET).read_text(encoding="utf-8")
    # A ``for … yield`` (no ``yield from`` in an async generator) becomes ``yield from``,
    # the imports are re-sorted, and lines that lost their ``await`` are re-wrapped.
    # Formatted as the checked-in path, so the repository's ruff settings apply wherever
    # the output goes.
    text = _ruff(["check", "--fix-only", "--unsafe-fixes", "--select", "I,UP028"], text)
    return _ruff(["format"], HEADER + text)


def _ruff(command: list[str], text: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(PACKAGE / TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate _client.py from _async.py.")
    parser.add_argument("--check", action="store_true", help="only say whether it is stale")
    parser.add_argument("--package", type=Path, default=PACKAGE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    target: Path = args.package / TARGET
    fresh = generate(args.package)
    if target.exists() and target.read_text(encoding="utf-8") == fresh:
        return 0
    if args.check:
        print(f"{target} is not what {SOURCE} generates: run `make client-sync`", file=sys.stderr)
        return 1
    target.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`ledger`: the operators' command line (replay, rebuild, verify, redrive, status).

Each subcommand lives in its own module and registers itself in `COMMANDS` below.
"""

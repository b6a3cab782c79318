"""The chaos run's size, from the environment (`make chaos N=... CLIENTS=... ACCOUNTS=...`
sets it): read by the test and by the fixture whose faults depend on it."""

from __future__ import annotations

import os

# 120: a transfer stores 2 to 6 events, so about as many as 160 credits and debits did.
REQUESTS = int(os.environ.get("LEDGER_CHAOS_REQUESTS", "120"))
CLIENTS = int(os.environ.get("LEDGER_CHAOS_CLIENTS", "8"))
ACCOUNTS = int(os.environ.get("LEDGER_CHAOS_ACCOUNTS", "10"))

"""How the functions log where they are deployed, for pricing a transaction's logs as AWS
would bill them: the share of invocations that log at DEBUG is the ledger module's default,
not the local environment's (which logs every hop, for the console)."""

from __future__ import annotations

import re
from pathlib import Path

LEDGER_VARIABLES = Path(__file__).resolve().parents[1] / "terraform/modules/ledger/variables.tf"


def deployed_log_sample_rate(variables: Path = LEDGER_VARIABLES) -> str:
    """The ledger module's default `log_sample_rate`, as every environment but local has it."""
    block = re.search(r'variable "log_sample_rate" \{(.*?)\n\}', variables.read_text(), re.S)
    default = re.search(r"^\s*default\s*=\s*([0-9.]+)\s*$", block.group(1), re.M) if block else None
    if default is None:
        raise ValueError(f"no default log_sample_rate in {variables}")
    return default.group(1)

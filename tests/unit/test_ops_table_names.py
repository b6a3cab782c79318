"""The operators' CLI and the console find every table by the name Terraform gives it."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.local.tables import LEDGER_TABLES
from scripts.ops.aws import Ledger

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "ledger"


def _tables_terraform_declares() -> set[str]:
    text = "\n".join(path.read_text() for path in sorted(MODULE.glob("*.tf")))
    blocks = [block for block in text.split('module "') if '"../dynamodb_table"' in block]
    return {
        match.group(1)
        for block in blocks
        if (match := re.search(r'name\s*= "\$\{local\.prefix\}-([\w-]+)"', block))
    }


def test_every_table_the_cli_names_is_one_terraform_declares() -> None:
    # GIVEN the ledger of the "dev" environment
    ledger = Ledger("dev", None, "eu-west-1")

    # WHEN its tables are named
    names = {
        ledger.events_table,
        ledger.projections_table,
        ledger.idempotency_table,
        ledger.transfers_table,
        ledger.holds_table,
    }

    # THEN each is the prefix and a table of Terraform's module, and none is missing
    assert names == {f"ledger-dev-{table}" for table in _tables_terraform_declares()}


def test_the_tables_made_without_terraform_are_the_ones_terraform_declares() -> None:
    # GIVEN the tables the handler tests and the replay bench create on moto directly
    # WHEN they are listed
    # THEN they are exactly the module's tables, so a new table cannot be forgotten here
    assert set(LEDGER_TABLES) == _tables_terraform_declares()

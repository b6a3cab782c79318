"""Validation of identifiers that come from clients."""

from __future__ import annotations

import re

from banking.domain.errors import InvalidAccountId

# ASCII only: \w would admit unicode look-alikes (a Cyrillic "a" in "alice").
_ACCOUNT_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z", re.ASCII)


def validate_account_id(account_id: str) -> str:
    if not _ACCOUNT_ID.match(account_id):
        raise InvalidAccountId("account id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return account_id

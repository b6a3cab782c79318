"""Validation of what clients write into an account: its owners and its metadata.

Text that is stored and shown back must read as what it is: no control characters,
and none of the invisible or direction-changing ones (format, private use,
unassigned, line and paragraph separators) that make "alice" with a zero-width
space inside, or a string reversed on screen, look like something else to a person.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

from banking.domain.errors import InvalidRequest

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_OWNERS = 20
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 256
# An account id or an OAuth subject (a Cognito UUID, "auth0|123", a client id):
# printable ASCII without spaces, so two owners never differ by an invisible byte.
_OWNER = re.compile(r"\A[\x21-\x7e]{1,128}\Z", re.ASCII)


def has_hidden_characters(text: str) -> bool:
    return any(unicodedata.category(char) in HIDDEN_CATEGORIES for char in text)


def validate_owners(raw: object) -> frozenset[str]:
    """1 to 20 distinct subjects who may read the account."""
    if not isinstance(raw, list | tuple | set | frozenset):
        raise InvalidRequest("field 'owners' must be a list of subjects")
    owners = list(raw)
    if not 1 <= len(owners) <= MAX_OWNERS:
        raise InvalidRequest(f"field 'owners' must list 1 to {MAX_OWNERS} subjects")
    for owner in owners:
        if not isinstance(owner, str) or not _OWNER.match(owner):
            raise InvalidRequest(
                "each owner must be 1 to 128 printable ASCII characters without spaces"
            )
    if len(set(owners)) != len(owners):
        raise InvalidRequest("field 'owners' lists a subject twice")
    return frozenset(owners)


def validate_metadata(raw: object) -> Mapping[str, str]:
    """A small map of strings: at most 16 keys of 1 to 40 characters, values of at
    most 256, no hidden characters in either."""
    if not isinstance(raw, Mapping):
        raise InvalidRequest("field 'metadata' must be an object of strings")
    if len(raw) > MAX_METADATA_KEYS:
        raise InvalidRequest(f"field 'metadata' has more than {MAX_METADATA_KEYS} keys")
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_METADATA_KEY:
            raise InvalidRequest(f"metadata keys must be 1 to {MAX_METADATA_KEY} characters")
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"metadata value of {key!r} must be a string of at most "
                f"{MAX_METADATA_VALUE} characters"
            )
        if has_hidden_characters(key) or has_hidden_characters(value):
            raise InvalidRequest(f"metadata {key!r} contains control or invisible characters")
    return MappingProxyType(dict(raw))

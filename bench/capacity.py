"""DynamoDB capacity units from item sizes, by DynamoDB's published rules.

moto does not meter capacity, so the bench computes it from the items a request read
or wrote, as DynamoDB bills them in on-demand mode:

- item size: attribute names (UTF-8 bytes) plus values; a string is its UTF-8 bytes, a
  number about 1 byte per two significant digits plus 1, a binary its bytes, a boolean
  or null 1 byte, a list or map 3 bytes plus 1 byte per element plus its contents
  (a map's contents being its keys and values), a set the sum of its elements;
- reads: 1 unit per 4 KB, rounded up, for a strongly consistent read (half for an
  eventually consistent one, twice for a transactional one); GetItem rounds its item,
  Query and Scan round the sum of the items they read; a read that finds nothing still
  costs the minimum;
- writes: 1 unit per 1 KB, rounded up, of the larger of the item before and after
  (a failed condition costs the same); twice that inside a transaction.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


def number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire format ({"S": "..."} etc.)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(_binary(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(item).encode()) for item in raw)
    if kind == "NS":
        return sum(number_size(str(item)) for item in raw)
    if kind == "BS":
        return sum(len(_binary(item)) for item in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(item) for name, item in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(total_bytes: int, *, consistent: bool = True, transactional: bool = False) -> float:
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def query_read_units(items: Iterable[Mapping[str, Any]], *, consistent: bool = True) -> float:
    return read_units(sum(item_size(item) for item in items), consistent=consistent)


def write_units(*sizes: int, transactional: bool = False) -> float:
    """One item written: sizes are its image before (0 if none) and after."""
    units = max(1, math.ceil(max(sizes, default=0) / WRITE_UNIT_BYTES))
    return 2.0 * units if transactional else float(units)


def _binary(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    return base64.b64decode(str(raw))

"""Instants in query parameters (`at`, `from`, `to`): RFC 3339 date-times with a
time zone, e.g. 2026-11-01T00:00:00Z. Stored times have microseconds, so a finer
instant is rounded the way that keeps the comparison it is used in exact."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from banking.domain.errors import InvalidRequest

_RFC_3339 = re.compile(
    r"\A(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})\Z",
    re.ASCII,
)
_MICROSECOND = timedelta(microseconds=1)


def parse_instant(name: str, raw: str, *, round_up: bool = False) -> datetime:
    """The instant in UTC. Beyond microseconds it is rounded down (an event is at or
    before it exactly when it is at or before the rounded one), or up with
    `round_up` (for "at or after" and "before" bounds, likewise)."""
    match = _RFC_3339.match(raw)
    if match is None:
        raise InvalidRequest(
            f"query parameter {name!r} must be an RFC 3339 date-time with a time zone, "
            "such as 2026-11-01T00:00:00Z"
        )
    fraction = match["fraction"] or ""
    zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
    text = f"{match['time'].upper()}.{fraction[:6].ljust(6, '0')}{zone}"
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
        return moment + _MICROSECOND if round_up and fraction[6:].strip("0") else moment
    except (ValueError, OverflowError) as error:
        raise InvalidRequest(f"query parameter {name!r} is not a valid date-time") from error

"""RFC 3339 instants in query parameters: parsed exactly, refused clearly, and rounded
to the stored microseconds the way that keeps each comparison exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from banking.domain.errors import InvalidRequest
from banking.entrypoints.instants import parse_instant


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-01T00:00:00Z", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01t00:00:00z", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T01:30:00+01:30", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-10-31T19:00:00.5-05:00", datetime(2026, 11, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-01T00:00:00.123456789Z", datetime(2026, 11, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_an_instant_with_its_offset_is_read_in_utc(raw, expected):
    assert parse_instant("at", raw) == expected


def test_a_finer_instant_rounds_up_only_when_asked_and_only_if_finer():
    # An event at .123457 is at or after .1234561 (rounded up), and not at or before it.
    assert parse_instant("from", "2026-11-01T00:00:00.1234561Z", round_up=True) == datetime(
        2026, 11, 1, 0, 0, 0, 123457, tzinfo=UTC
    )
    assert parse_instant("from", "2026-11-01T00:00:00.1234560Z", round_up=True) == datetime(
        2026, 11, 1, 0, 0, 0, 123456, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-01",
        "2026-11-01T00:00:00",
        "2026-11-01 00:00:00Z",
        "2026-11-01T24:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-01T00:00:00+24:00",
        "2026-11-01T00:00:00.Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.9999999Z",
        "２０２６-11-01T00:00:00Z",
    ],
)
def test_anything_else_is_an_invalid_request_naming_the_parameter(raw):
    with pytest.raises(InvalidRequest, match="'at'"):
        parse_instant("at", raw, round_up=True)

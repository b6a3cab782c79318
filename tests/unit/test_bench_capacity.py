"""The bench's capacity-unit arithmetic and cost formula, against DynamoDB's published
rules and a hand-worked bill."""

from __future__ import annotations

from typing import Any

import pytest

from bench.capacity import item_size, number_size, read_units, write_units
from bench.prices import Work, cost_per_million


def test_item_size_counts_names_strings_numbers_and_map_overheads():
    # GIVEN an item shaped like a stored event's key and snapshot
    item: dict[str, Any] = {
        "accountId": {"S": "alice"},  # 9 + 5
        "version": {"N": "1001"},  # 7 + (2 digits pairs + 1) = 7 + 3
        "snapshot": {"M": {"balance": {"S": "12.34"}}},  # 8 + 3 + (1 + 7 + 5)
    }
    # THEN its size follows the rules byte for byte
    assert item_size(item) == 14 + 10 + 24


def test_numbers_are_one_byte_per_two_significant_digits_plus_one():
    assert number_size("1") == 2
    assert number_size("100") == 2  # trailing zeros are not significant
    assert number_size("0.00012345") == 4
    assert number_size("-123456") == 4


def test_booleans_nulls_lists_and_sets():
    assert item_size({"b": {"BOOL": True}, "n": {"NULL": True}}) == 2 + 2
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3


@pytest.mark.parametrize(
    ("size", "consistent", "units"),
    [(0, True, 1.0), (4096, True, 1.0), (4097, True, 2.0), (4097, False, 1.0), (100, False, 0.5)],
)
def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent(size, consistent, units):
    assert read_units(size, consistent=consistent) == units


def test_writes_round_the_larger_image_up_to_1_kb_and_double_in_a_transaction():
    assert write_units(0, 300) == 1.0
    assert write_units(1500, 300) == 2.0
    assert write_units(0, 1025, transactional=True) == 4.0


def test_cost_per_million_adds_every_line_item():
    # GIVEN one transaction: 1 HTTP request, 2 invocations of 100 ms at 1 GB,
    # 2 read and 4 write units, 2 bus entries, 1 kB of logs
    work = Work(
        http_requests=1,
        invocations={"a": 1, "b": 1},
        billed_ms={"a": 99.2, "b": 100},
        memory_mb={"a": 1024, "b": 1024},
        read_units=2,
        write_units=4,
        bus_entries=2,
        log_bytes=1000,
    )
    # THEN the bill per million is the hand-worked sum (99.2 ms bills as 100 ms)
    expected = 1.00 + 2 * 0.20 + 2 * 0.1 * 16.6667 + 2 * 0.125 + 4 * 0.625 + 2 * 1.00 + 0.5
    assert cost_per_million(work) == pytest.approx(expected, rel=1e-4)

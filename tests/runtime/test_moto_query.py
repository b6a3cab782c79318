"""Our moto server's Query on a partition kept in order (scripts.local.moto_patches:
`_sorted_partitions`, `_query_by_partition`, `_reachable`) gives the answers of moto's
own Query, and looks at the items the Query can reach, not the whole partition.

moto's own Query walks the partition on the same, ordered, table: any key condition,
limit, direction and start key must give the same items, ScannedCount and
LastEvaluatedKey, page after page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from sortedcontainers import SortedDict

from scripts.local.moto_patches import _query_by_partition, _sorted_partitions

OURS = _query_by_partition(Table.query)
THEIRS = Table.query
HASH = DynamoType({"S": "acct"})


def ordered_table(range_type: str, keys: list[Any], padding: int = 10) -> Table:
    table = cast(Table, Table.__new__(Table))
    _sorted_partitions(Table.__init__)(
        table,
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[
            {"AttributeName": "a", "KeyType": "HASH"},
            {"AttributeName": "r", "KeyType": "RANGE"},
        ],
        attr=[
            {"AttributeName": "a", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": range_type},
        ],
    )
    for key in keys:
        table.put_item({"a": {"S": "acct"}, "r": {range_type: str(key)}, "x": {"S": "-" * padding}})
    # Another account's items around this one's: a Query must not see them.
    table.put_item({"a": {"S": "acct-other"}, "r": {range_type: str(keys[0] if keys else 1)}})
    assert isinstance(table.items[HASH], SortedDict) or not keys
    return table


def pages(
    query: Callable[..., Any],
    table: Table,
    comparison: str | None,
    values: list[DynamoType],
    limit: int | None,
    forward: bool,
    start: dict[str, Any] | None = None,
) -> list[tuple[list[Any], int, Any]]:
    found = []
    while True:
        items, scanned, last = query(table, HASH, comparison, values, limit, start, forward, None)
        found.append(([item.to_json() for item in items], scanned, last and dict(last)))
        if last is None or len(found) > 200:
            return found
        start = {name: value.to_json() for name, value in last.items()}


NUMBER_CONDITIONS = st.sampled_from(["EQ", "=", "<", "<=", ">", ">=", "LT", "GE", "BETWEEN"])


@settings(max_examples=300, deadline=None)
@given(
    keys=st.sets(st.integers(-5, 60), max_size=40),
    comparison=st.one_of(st.none(), NUMBER_CONDITIONS),
    bounds=st.lists(st.integers(-8, 64), min_size=2, max_size=2),
    limit=st.one_of(st.none(), st.integers(1, 12)),
    forward=st.booleans(),
    start=st.one_of(st.none(), st.integers(-8, 64)),
)
def test_number_range_keys_answer_as_moto_s_own_query(
    keys: set[int],
    comparison: str | None,
    bounds: list[int],
    limit: int | None,
    forward: bool,
    start: int | None,
) -> None:
    table = ordered_table("N", sorted(keys, key=str))  # written out of order
    values = [DynamoType({"N": str(bound)}) for bound in sorted(bounds)]
    values = values if comparison == "BETWEEN" else values[:1]
    first = None if start is None else {"a": {"S": "acct"}, "r": {"N": str(start)}}

    theirs = pages(THEIRS, table, comparison, values, limit, forward, first)
    ours = pages(OURS, table, comparison, values, limit, forward, first)

    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(
    keys=st.sets(st.text("abc", max_size=4), min_size=1, max_size=30),
    prefix=st.text("abc", max_size=3),
    limit=st.one_of(st.none(), st.integers(1, 6)),
    forward=st.booleans(),
)
def test_begins_with_answers_as_moto_s_own_query(
    keys: set[str], prefix: str, limit: int | None, forward: bool
) -> None:
    table = ordered_table("S", [key or "-" for key in keys])
    values = [DynamoType({"S": prefix})]

    theirs = pages(THEIRS, table, "BEGINS_WITH", values, limit, forward)
    ours = pages(OURS, table, "BEGINS_WITH", values, limit, forward)

    assert ours == theirs


@pytest.mark.parametrize("forward", [True, False])
def test_pages_cut_at_one_megabyte_are_those_of_moto_s_own_query(forward: bool) -> None:
    # 300 items of ~9 KB: about 110 to a page.
    table = ordered_table("N", list(range(300)), padding=9_000)

    theirs = pages(THEIRS, table, ">", [DynamoType({"N": "20"})], None, forward)
    ours = pages(OURS, table, ">", [DynamoType({"N": "20"})], None, forward)

    assert ours == theirs
    assert len(theirs) == 3


def test_a_query_looks_at_the_items_it_can_reach_not_the_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an account of 2,000 events, and moto's Query recording what it is handed
    table = ordered_table("N", list(range(1, 2001)))
    handed: list[int] = []

    def recording(self: Table, hash_key: DynamoType, *args: Any, **kwargs: Any) -> Any:
        handed.append(len(self.items.get(hash_key, {})))
        return THEIRS(self, hash_key, *args, **kwargs)

    ours = _query_by_partition(recording)

    # WHEN it is loaded as a command loads it: the events after its snapshot, and the latest
    after_snapshot = ours(table, HASH, ">", [DynamoType({"N": "1995"})], None, None, True, None)
    latest = ours(table, HASH, None, [], 1, None, False, None)

    # THEN moto is handed those items (and the one after a page's limit), not 2,000
    assert [item.range_key.value for item in after_snapshot[0]] == [
        str(v) for v in range(1996, 2001)
    ]
    assert [item.range_key.value for item in latest[0]] == ["2000"]
    assert latest[2] == {"a": HASH, "r": DynamoType({"N": "2000"})}
    assert handed == [5, 2]


def test_a_start_key_of_another_partition_is_left_to_moto() -> None:
    table = ordered_table("N", list(range(10)))
    start = {"a": {"S": "acct-other"}, "r": {"N": "3"}}

    for forward in (True, False):
        assert pages(OURS, table, None, [], 4, forward, start) == pages(
            THEIRS, table, None, [], 4, forward, start
        )

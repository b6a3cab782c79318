import pytest

from banking.domain.errors import InvalidRequest
from banking.domain.text import (
    MAX_METADATA_KEYS,
    MAX_OWNERS,
    has_hidden_characters,
    validate_metadata,
    validate_owners,
)


@pytest.mark.parametrize(
    "owners",
    [
        ["alice"],
        ["alice", "5f0c1d2e-0000-4000-8000-000000000001", "auth0|42", "client@example.com"],
        ["x" * 128],
        [f"owner-{i}" for i in range(MAX_OWNERS)],
    ],
)
def test_valid_owners_are_accepted(owners):
    assert validate_owners(owners) == frozenset(owners)


@pytest.mark.parametrize(
    "owners",
    [
        [],
        [f"owner-{i}" for i in range(MAX_OWNERS + 1)],
        ["alice", "alice"],
        ["x" * 129],
        [""],
        ["al ice"],
        ["al\u200bice"],  # zero-width space
        ["\u0430lice"],  # a Cyrillic a
        [42],
        "alice",  # a string is not a list of owners
        None,
    ],
)
def test_invalid_owners_are_refused(owners):
    with pytest.raises(InvalidRequest):
        validate_owners(owners)


def test_valid_metadata_is_accepted_and_cannot_be_changed_afterwards():
    # GIVEN a map of strings WHEN validated
    raw = {"segment": "retail", "note": "Grüße, 東京", "empty": ""}
    metadata = validate_metadata(raw)
    # THEN it is kept as given, and a later change to the input does not reach it
    raw["segment"] = "changed"
    assert metadata == {"segment": "retail", "note": "Grüße, 東京", "empty": ""}
    with pytest.raises(TypeError):
        metadata["segment"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(MAX_METADATA_KEYS + 1)},
        {"": "v"},
        {"k" * 41: "v"},
        {"k": "v" * 257},
        {"k": 1},
        {"k": None},
        {"k": "line\nbreak"},
        {"k": "right-to-left \u202e override"},
        {"k\u200b": "zero-width space in a key"},
        {"k": "private use \ue000"},
        {"k": "paragraph \u2029 separator"},
        ["k", "v"],
        "k=v",
    ],
)
def test_invalid_metadata_is_refused(metadata):
    with pytest.raises(InvalidRequest):
        validate_metadata(metadata)


def test_limits_are_inclusive():
    assert len(validate_metadata({f"k{i}": "v" for i in range(MAX_METADATA_KEYS)})) == 16
    assert validate_metadata({"k" * 40: "v" * 256})


@pytest.mark.parametrize(
    ("text", "hidden"),
    [("plain", False), ("tab\t", True), ("soft\u00adhyphen", True), ("\U000e0001tag", True)],
)
def test_hidden_characters_are_those_a_reader_cannot_see(text, hidden):
    assert has_hidden_characters(text) is hidden

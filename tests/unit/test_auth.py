"""Who the caller is and what it may touch, from the claims the JWT authorizer passes on."""

import pytest

from banking.domain.errors import InvalidAccountId
from banking.entrypoints.auth import (
    Access,
    Forbidden,
    Principal,
    Unauthenticated,
    authorized_account,
)
from tests.support import READ_ANY_SCOPE, WRITE_SCOPE, token_claims


def event_with(claims):
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": None}}}}


@pytest.mark.parametrize(
    "accounts",
    [
        "[acc-1 acc-2]",  # how the HTTP API renders an array claim
        "acc-1 acc-2",  # a space-separated string claim
        ["acc-1", "acc-2"],  # an array, as another authorizer might pass it
    ],
)
def test_the_accounts_claim_is_read_in_every_form_it_arrives_in(accounts):
    principal = Principal.from_claims({"sub": "user-7", "ledger:accounts": accounts})

    assert principal.accounts == {"acc-1", "acc-2"}


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "svc", "scope": f"openid {WRITE_SCOPE}"},
        {"sub": "svc", "scp": f"[{WRITE_SCOPE} other]"},
    ],
)
def test_scopes_come_from_the_scope_or_the_scp_claim(claims):
    assert WRITE_SCOPE in Principal.from_claims(claims).scopes


def test_an_owner_reads_the_account_and_the_same_id_alone_does_not():
    principal = Principal.from_claims(token_claims("alice"))

    # The account's owners decide (a legacy account is owned by its own id).
    assert principal.may(Access.READ, "joint", {"alice", "bob"})
    assert principal.may(Access.READ, "alice", {"alice"})
    assert not principal.may(Access.READ, "alice", {"bob"})
    assert not principal.may(Access.READ, "bob")


def test_writing_needs_the_write_scope_not_ownership():
    owner = Principal.from_claims(token_claims("alice"))
    back_office = Principal.from_claims(token_claims("payments-svc", WRITE_SCOPE))

    assert not owner.may(Access.WRITE, "alice")
    assert back_office.may(Access.WRITE, "alice")
    assert not back_office.may(Access.READ, "alice")


def test_the_read_scope_reads_any_account_but_writes_none():
    auditor = Principal.from_claims(token_claims("audit-svc", READ_ANY_SCOPE))

    assert auditor.may(Access.READ, "alice")
    assert not auditor.may(Access.WRITE, "alice")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": {}},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": {"lambda": {"sub": "alice"}}}},
        event_with(None),
        event_with({"scope": WRITE_SCOPE}),
        event_with({"sub": ""}),
    ],
)
def test_a_request_without_verified_claims_is_unauthenticated(event):
    with pytest.raises(Unauthenticated):
        authorized_account(event, "alice", Access.READ)


def test_the_caller_is_known_before_the_account_id_is_judged():
    with pytest.raises(Unauthenticated):
        authorized_account({}, "../bob", Access.READ)
    with pytest.raises(InvalidAccountId):
        authorized_account(event_with(token_claims("alice")), "../bob", Access.READ)


def test_someone_elses_account_is_forbidden_and_says_what_was_missing():
    with pytest.raises(Forbidden, match="ownership of the account or the scope"):
        authorized_account(event_with(token_claims("alice")), "bob", Access.READ)
    with pytest.raises(Forbidden, match=WRITE_SCOPE):
        authorized_account(event_with(token_claims("alice")), "alice", Access.WRITE)


def test_a_look_alike_subject_owns_nothing_but_itself():
    # GIVEN a token whose subject starts with a Cyrillic letter that looks like "a"
    principal = Principal.from_claims(token_claims("\u0430lice"))

    # THEN it does not own the ASCII account "alice"
    assert not principal.may(Access.READ, "alice")

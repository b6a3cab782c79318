"""Accounts end to end, over HTTP only, on the local runtime: opening, reading, the
accounts a caller owns, freezing, unfreezing, closing, the overdraft limit. Every
refusal is a 4xx with its code and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import (
    BACK_OFFICE,
    READ_ANY_SCOPE,
    WRITE_SCOPE,
    Api,
    error_code,
    eventually,
    new_account_id,
    new_key,
)
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def test_an_opened_account_answers_its_settings_and_reads_zero_before_any_posting(
    api: Api, system: System
) -> None:
    # GIVEN a new id
    account = new_account_id()

    # WHEN it is opened for two owners, with an overdraft limit and metadata
    opened = api.post(
        "/accounts",
        {
            "accountId": account,
            "currency": "EUR",
            "overdraftLimit": "25",
            "owners": ["zoe", "adam"],
            "metadata": {"segment": "retail"},
        },
    )

    # THEN it answers the account: its settings, open, at version 1
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert {k: v for k, v in body.items() if k not in ("openedAt", "balances")} == {
        "accountId": account,
        "currency": "EUR",
        "overdraftLimit": "25.00",
        "owners": ["adam", "zoe"],
        "metadata": {"segment": "retail"},
        "status": "open",
        "version": 1,
    }
    assert datetime.fromisoformat(body["openedAt"]).tzinfo is not None
    # AND its balance reads 200 with zeros at once, whether or not the read models
    # have caught up with the opening (never 404 for an opened account)
    balance = api.get(f"/accounts/{account}/balance")
    assert balance.status_code == 200, balance.text
    assert balance.json()["totalBalance"] == "0.00"
    assert balance.json()["currency"] == "EUR"
    assert balance.json()["version"] in (0, 1)
    # AND an owner reads the account with its balances
    owner = api.as_(system.token("adam"))
    read = owner.get(f"/accounts/{account}")
    assert read.status_code == 200, read.text
    assert read.json()["owners"] == ["adam", "zoe"]
    assert read.json()["balances"]["totalBalance"] == "0.00"
    assert read.json()["balances"]["version"] in (0, 1)
    # AND its history is the one AccountOpened event, recorded by whoever opened it
    (event,) = api.events(account)
    assert (event["type"], event["version"]) == ("AccountOpened", 1)


def test_an_account_answers_the_version_it_stored_and_the_balances_it_reflects(
    api: Api, account: str
) -> None:
    # GIVEN an account credited once (version 2)
    credited = api.credit(account, "12.30")
    assert credited.status_code == 201

    # WHEN it is read once the read models caught up
    api.balance_at(account, 2)
    read = api.get(f"/accounts/{account}")

    # THEN it names both: the last stored version and the balances as of their version
    assert read.status_code == 200
    assert read.json()["version"] == 2
    assert read.json()["balances"] == {
        "totalBalance": "12.30",
        "currentMonthBalance": "12.30",
        "month": this_month(),
        "version": 2,
        "heldBalance": "0.00",
        "availableBalance": "12.30",
    }


def test_opening_an_id_again_is_refused_and_stores_nothing(api: Api, account: str) -> None:
    # WHEN the id of an opened account is opened again, even in another currency
    again = api.open_account(account, "USD")

    # THEN it is refused, and the account is as it was
    assert (again.status_code, error_code(again)) == (409, "account_exists")
    assert len(api.events(account)) == 1
    assert api.get(f"/accounts/{account}").json()["currency"] == "EUR"


def test_an_opening_retried_with_its_key_answers_the_first_answer_again(api: Api) -> None:
    # GIVEN an account opened with an Idempotency-Key
    account = new_account_id()
    key = {"Idempotency-Key": new_key()}
    first = api.open_account(account, headers=key)
    assert first.status_code == 201

    # WHEN the client retries it, then reuses the key for another body
    retry = api.open_account(account, headers=key)
    reused = api.open_account(account, "USD", headers=key)

    # THEN the retry gets the first answer, the reuse a 409, and one event is stored
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert (reused.status_code, error_code(reused)) == (409, "idempotency_key_reused")
    assert len(api.events(account)) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"currency": "eur"}, "invalid_currency"),
        ({"currency": "XAU"}, "invalid_currency"),  # a metal: no minor units
        ({"overdraftLimit": "1.001"}, "invalid_amount"),
        ({"overdraftLimit": "-5.00"}, "invalid_amount"),
        ({"accountId": "not valid!"}, "invalid_account_id"),
        ({"owners": "alice"}, "invalid_request"),
        ({"metadata": {"k": 5}}, "invalid_request"),
        ({"colour": "red"}, "invalid_request"),
    ],
)
def test_a_bad_opening_is_refused_with_its_code_and_opens_nothing(
    api: Api, changes: dict[str, Any], code: str
) -> None:
    account = new_account_id()
    body = {"accountId": account, "currency": "EUR", "owners": [account], **changes}

    response = api.post("/accounts", body)

    assert (response.status_code, error_code(response)) == (400, code), response.text
    assert api.events(account) == []
    assert api.get(f"/accounts/{account}").status_code == 404


def test_opening_and_changing_accounts_needs_the_manage_scope(
    api: Api, system: System, account: str
) -> None:
    # GIVEN a back-office system that may post and read, but not manage accounts
    writer = api.as_(system.token("payments", WRITE_SCOPE, READ_ANY_SCOPE))
    other = new_account_id()

    # WHEN it opens, freezes, closes and changes a limit
    answers = [
        writer.open_account(other),
        writer.post(f"/accounts/{account}/freeze"),
        writer.post(f"/accounts/{account}/close"),
        writer.post(f"/accounts/{account}/overdraft-limit", {"overdraftLimit": "9.00"}),
    ]

    # THEN every one is forbidden, and nothing is stored
    assert [a.status_code for a in answers] == [403] * 4
    assert api.events(other) == []
    assert len(api.events(account)) == 1


def test_amounts_have_the_digits_of_their_accounts_currency(api: Api) -> None:
    # GIVEN accounts in yen (no minor unit) and in Kuwaiti dinar (three)
    yen = api.opened(new_account_id(), "JPY")
    dinar = api.opened(new_account_id(), "KWD")

    # WHEN each is credited with amounts that fit, and do not fit, its currency
    fits = [api.credit(yen, "1500"), api.credit(dinar, "1.234")]
    too_precise = [api.credit(yen, "1.5"), api.credit(dinar, "1.2345")]

    # THEN the fitting ones answer in the currency's digits, the others are refused
    assert [(r.status_code, r.json()["amount"], r.json()["currency"]) for r in fits] == [
        (201, "1500", "JPY"),
        (201, "1.234", "KWD"),
    ]
    assert [(r.status_code, error_code(r)) for r in too_precise] == [(400, "invalid_amount")] * 2
    assert api.balance_at(yen, 2)["totalBalance"] == "1500"
    assert api.balance_at(dinar, 2)["totalBalance"] == "1.234"
    assert [len(api.postings(a)) for a in (yen, dinar)] == [1, 1]


def test_a_frozen_account_refuses_postings_but_can_be_read_and_unfrozen(
    api: Api, system: System, account: str
) -> None:
    # GIVEN an account holding 10.00, then frozen
    assert api.credit(account, "10.00").status_code == 201
    frozen = api.post(f"/accounts/{account}/freeze")
    assert (frozen.status_code, frozen.json()["status"]) == (200, "frozen"), frozen.text

    # WHEN it is credited, debited and frozen again
    refused = [api.credit(account, "1.00"), api.debit(account, "1.00")]
    again = api.post(f"/accounts/{account}/freeze")

    # THEN each is refused; nothing is stored; its owner still reads it
    assert [(r.status_code, error_code(r)) for r in refused] == [(422, "account_frozen")] * 2
    assert (again.status_code, error_code(again)) == (422, "account_frozen")
    assert [e["type"] for e in api.events(account)] == [
        "AccountOpened",
        "CreditEvent",
        "AccountFrozen",
    ]
    owner = api.as_(system.token(account))
    assert owner.get(f"/accounts/{account}").json()["status"] == "frozen"
    assert owner.get(f"/accounts/{account}/balance").status_code == 200

    # AND once unfrozen it takes postings again; unfreezing twice is refused
    unfrozen = api.post(f"/accounts/{account}/unfreeze", {})
    assert (unfrozen.status_code, unfrozen.json()["status"]) == (200, "open")
    twice = api.post(f"/accounts/{account}/unfreeze")
    assert (twice.status_code, error_code(twice)) == (422, "account_not_frozen")
    assert api.debit(account, "1.00").status_code == 201


def test_an_account_closes_only_at_a_zero_balance_and_then_refuses_everything(
    api: Api, account: str
) -> None:
    # GIVEN an account holding 5.00
    assert api.credit(account, "5.00").status_code == 201

    # WHEN it is closed
    not_empty = api.post(f"/accounts/{account}/close")

    # THEN it is refused while it holds money
    assert (not_empty.status_code, error_code(not_empty)) == (422, "account_not_empty")

    # WHEN it is emptied and closed
    assert api.debit(account, "5.00").status_code == 201
    closed = api.post(f"/accounts/{account}/close")

    # THEN it is closed, and every posting or change after that is refused
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    refused = [
        api.credit(account, "1.00"),
        api.debit(account, "1.00"),
        api.post(f"/accounts/{account}/freeze"),
        api.post(f"/accounts/{account}/close"),
        api.post(f"/accounts/{account}/overdraft-limit", {"overdraftLimit": "1.00"}),
    ]
    assert [(r.status_code, error_code(r)) for r in refused] == [(422, "account_closed")] * 5
    assert [e["type"] for e in api.events(account)][-1] == "AccountClosed"
    assert len(api.events(account)) == 4
    # AND it can still be read
    assert api.get(f"/accounts/{account}").json()["status"] == "closed"


def test_the_overdraft_limit_is_the_accounts_own_and_changes_by_an_event(
    api: Api, account: str
) -> None:
    # GIVEN an empty account whose limit is raised to 50.00
    changed = api.post(f"/accounts/{account}/overdraft-limit", {"overdraftLimit": "50"})
    assert (changed.status_code, changed.json()["overdraftLimit"]) == (200, "50.00")

    # WHEN it is debited down to the limit, and one cent beyond
    to_the_limit = api.debit(account, "50.00")
    beyond = api.debit(account, "0.01")

    # THEN the first is stored and the second refused
    assert to_the_limit.status_code == 201
    assert (beyond.status_code, error_code(beyond)) == (422, "insufficient_funds")
    # AND the limit cannot be lowered above what the account already owes
    lowered = api.post(f"/accounts/{account}/overdraft-limit", {"overdraftLimit": "49.99"})
    assert (lowered.status_code, error_code(lowered)) == (422, "overdraft_limit_too_low")
    assert [e["type"] for e in api.events(account)] == [
        "AccountOpened",
        "OverdraftLimitChanged",
        "DebitEvent",
    ]
    assert api.balance_at(account, 3)["totalBalance"] == "-50.00"


def test_an_account_is_read_by_its_owners_and_not_by_a_token_named_after_it(
    api: Api, system: System
) -> None:
    # GIVEN an account owned by "olga" only
    account = api.opened(new_account_id(), owners=["olga"])

    # WHEN olga, a token whose subject is the account id, and a stranger read it
    olga = api.as_(system.token("olga")).get(f"/accounts/{account}")
    namesake = api.as_(system.token(account)).get(f"/accounts/{account}/balance")
    stranger = api.as_(system.token("mallory")).get(f"/accounts/{account}/events")

    # THEN only the owner may (the rule "the subject is the account id" is gone)
    assert olga.status_code == 200
    assert (namesake.status_code, error_code(namesake)) == (403, "forbidden")
    assert (stranger.status_code, error_code(stranger)) == (403, "forbidden")


def test_an_unknown_account_is_not_found_only_for_a_caller_who_may_read_any(
    api: Api, system: System, unopened: str
) -> None:
    # WHEN an id nobody opened is read with the read scope, and without it
    reader = api.get(f"/accounts/{unopened}")
    user = api.as_(system.token("mallory")).get(f"/accounts/{unopened}")

    # THEN the reader learns it does not exist; the user learns nothing (forbidden)
    assert (reader.status_code, error_code(reader)) == (404, "account_not_found")
    assert (user.status_code, error_code(user)) == (403, "forbidden")


def _listed(client: Api, owner: str, count: int, **params: Any) -> list[dict[str, Any]] | None:
    response = client.get("/accounts", owner=owner, **params)
    assert response.status_code == 200, response.text
    accounts: list[dict[str, Any]] = response.json()["accounts"]
    return accounts if len(accounts) >= count else None


def test_a_caller_lists_the_accounts_it_owns_page_by_page(api: Api, system: System) -> None:
    # GIVEN three accounts of one owner (one shared with another) and one of another
    owner = f"owner-{new_key()[:8]}"
    mine = sorted(
        [
            api.opened(new_account_id(), owners=[owner]),
            api.opened(new_account_id(), owners=[owner, "partner"]),
            api.opened(new_account_id(), "USD", owners=[owner]),
        ]
    )
    api.opened(new_account_id(), owners=[f"{owner}-not"])
    as_owner = api.as_(system.token(owner))

    # WHEN the owner lists "my accounts" (once the read model has them)
    listed = eventually(lambda: _listed(as_owner, "me", 3), f"the accounts of {owner}")

    # THEN they are its three, by id, with their summaries
    assert [a["accountId"] for a in listed] == mine
    assert {a["currency"] for a in listed} == {"EUR", "USD"}
    assert all(a["status"] == "open" and owner in a["owners"] for a in listed)
    assert set(listed[0]) == {"accountId", "currency", "status", "owners", "metadata", "openedAt"}

    # AND pages of two follow each other without overlap
    first = as_owner.get("/accounts", owner="me", limit=2).json()
    assert [a["accountId"] for a in first["accounts"]] == mine[:2]
    assert first["nextAfter"] is not None
    second = as_owner.get("/accounts", owner="me", limit=2, after=first["nextAfter"]).json()
    assert [a["accountId"] for a in second["accounts"]] == mine[2:]
    assert second["nextAfter"] is None


def test_another_subjects_accounts_are_listed_only_with_the_read_scope(
    api: Api, system: System
) -> None:
    # GIVEN an account of an owner
    owner = f"owner-{new_key()[:8]}"
    account = api.opened(new_account_id(), owners=[owner])

    # WHEN a stranger and a back office with the read scope list that owner's accounts
    stranger = api.as_(system.token("mallory")).get("/accounts", owner=owner)
    listed = eventually(lambda: _listed(api, owner, 1), f"the accounts of {owner}")

    # THEN the stranger is forbidden; the back office gets them
    assert (stranger.status_code, error_code(stranger)) == (403, "forbidden")
    assert [a["accountId"] for a in listed] == [account]


@pytest.mark.parametrize("query", [{}, {"owner": "me", "limit": 0}, {"owner": "me", "limit": 101}])
def test_bad_account_listings_are_refused(api: Api, query: dict[str, Any]) -> None:
    response = api.get("/accounts", **query)

    assert (response.status_code, error_code(response)) == (400, "invalid_request")


def test_account_events_carry_who_recorded_them(api: Api, account: str) -> None:
    # GIVEN an account credited by the back office
    assert api.credit(account, "1.00").status_code == 201

    # THEN its history names who recorded each event
    events = api.events(account)
    assert [e["type"] for e in events] == ["AccountOpened", "CreditEvent"]
    assert {e["recordedBy"] for e in events} == {BACK_OFFICE}

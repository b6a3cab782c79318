"""Who is calling, and may they touch this account: the functions' own check, behind
the HTTP API's JWT authorizer (defence in depth, docs/security.md).

The authorizer has verified the token and hands its claims over in
``requestContext.authorizer.jwt.claims`` (payload format 2.0), every value a string:
an array claim arrives as ``"[a b c]"``. A request without them reached the function
through a route that has no authorizer, a misconfiguration: it is refused, never served.

- Reading an account (settings, balance, events, statements) needs a token whose
  ``sub`` is one of the account's owners, or whose ``ledger:accounts`` claim names
  the account, or the back-office scope ``ledger/accounts.read``. (An account from
  before accounts is owned by its own id: who could read it then still can.)
- Recording credits, debits and transfers needs the scope ``ledger/transactions.write``;
  opening, freezing, unfreezing, closing and changing a limit ``ledger/accounts.manage``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any

import attrs

from banking.domain.account import Account
from banking.domain.errors import AccountNotFound, DomainError
from banking.domain.identifiers import validate_account_id

ACCOUNTS_CLAIM = "ledger:accounts"
READ_ANY_ACCOUNT = "ledger/accounts.read"
WRITE_TRANSACTIONS = "ledger/transactions.write"
MANAGE_ACCOUNTS = "ledger/accounts.manage"


class Unauthenticated(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class Access(Enum):
    READ = "read"
    WRITE = "write"


@attrs.frozen
class Principal:
    """The verified caller: its subject, the accounts its token names and its scopes."""

    subject: str
    accounts: frozenset[str]
    scopes: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        subject = str(claims.get("sub") or "")
        owned = set(_words(claims.get(ACCOUNTS_CLAIM))) - {""}
        # Cognito and most issuers put scopes in "scope"; some (Okta, Azure) in "scp".
        scopes = {*_words(claims.get("scope")), *_words(claims.get("scp"))}
        return cls(subject=subject, accounts=frozenset(owned), scopes=frozenset(scopes))

    def owns(self, account_id: str, owners: Collection[str] = ()) -> bool:
        return self.subject in owners or account_id in self.accounts

    def may(self, access: Access, account_id: str, owners: Collection[str] = ()) -> bool:
        """Whether the caller may `access` the account, whose `owners` are given."""
        if access is Access.WRITE:
            return WRITE_TRANSACTIONS in self.scopes
        return self.owns(account_id, owners) or READ_ANY_ACCOUNT in self.scopes


def _words(value: Any) -> list[str]:
    """A claim as a list of words: a JSON array, a space-separated string, or the
    ``"[a b]"`` string the HTTP API makes of an array claim."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.split()


def principal_of(event: Mapping[str, Any]) -> Principal:
    """The caller the JWT authorizer verified; Unauthenticated when none did."""
    context = event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    if not isinstance(claims, Mapping) or not claims.get("sub"):
        raise Unauthenticated("the request carries no verified token")
    return Principal.from_claims(claims)


def authorized(event: Mapping[str, Any], scope: str) -> Principal:
    """The caller, once known (401) and holding `scope` (403)."""
    principal = principal_of(event)
    if scope not in principal.scopes:
        raise Forbidden(f"this request needs the scope {scope}")
    return principal


def readable(event: Mapping[str, Any], state: Account) -> Principal:
    """The caller, once known (401) and allowed to read the account (403). An account
    that was never opened is 404 only to who may read any account: the others learn
    nothing of which ids exist."""
    principal = principal_of(event)
    if state.opened and principal.may(Access.READ, state.account_id, state.owners):
        return principal
    if not state.opened and READ_ANY_ACCOUNT in principal.scopes:
        raise AccountNotFound(f"account {state.account_id} does not exist")
    raise Forbidden(
        f"reading account {state.account_id} needs ownership of it or the scope {READ_ANY_ACCOUNT}"
    )


def authorized_account(event: Mapping[str, Any], account_id: str, access: Access) -> str:
    """The account id of the path, once the caller is known (401), the id valid (400)
    and the caller allowed ``access`` to it (403)."""
    principal = principal_of(event)
    account_id = validate_account_id(account_id)
    if not principal.may(access, account_id):
        needed = (
            f"the scope {WRITE_TRANSACTIONS}"
            if access is Access.WRITE
            else f"ownership of the account or the scope {READ_ANY_ACCOUNT}"
        )
        raise Forbidden(f"{access.value} access to account {account_id} needs {needed}")
    return account_id

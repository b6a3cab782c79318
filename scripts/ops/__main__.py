"""`scripts/ledger`: the operators' command line (parser, and one line per setup error)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from scripts.ops.aws import NO_REGION, SetupError

# Subcommand modules; each exposes `register(subparsers)` adding its parser, with
# `set_defaults(run=callable(args) -> int)`.
COMMANDS: tuple[str, ...] = ("status", "replay", "rebuild", "verify", "prune", "redrive")
# The web console lives in its own package (scripts/console), with the same interface.
MODULES: tuple[str, ...] = (*(f"scripts.ops.{name}" for name in COMMANDS), "scripts.console")

DESCRIPTION = """\
Operate a deployed ledger: check that its read models are up to date, replay or
rebuild them from the events table, verify them against the events, re-drive dead
letters, or look at it all in a browser (`console`). Start with `status`;
`ledger <command> --help` says more."""

EPILOG = """\
where it connects:
  --environment local   the system `make up` started on this machine (found in .local/,
                        or in $LEDGER_LOCAL_DIR)
  --environment dev|prod  the AWS account of your credentials: set AWS_PROFILE (or
                        AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION
  --endpoint-url URL    any other endpoint (also $LEDGER_ENDPOINT_URL)

exit status: 0 when all is well, 1 when the command found a problem, 2 when it could
not run (a setting is missing: the message says which)."""

CREDENTIALS = (
    "no AWS credentials were found: set AWS_PROFILE to a profile of ~/.aws/config "
    "(after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
REFUSED = "AWS refused the credentials ({code}): refresh them (`aws sso login`) or set AWS_PROFILE"
NOT_DEPLOYED = (
    "{message}: is the {environment} environment deployed? "
    "(`terraform apply` in terraform/environments/{environment})"
)
# What AWS answers a setup problem with, by error code.
CLIENT_ERRORS = {
    "UnrecognizedClientException": REFUSED,
    "InvalidClientTokenId": REFUSED,
    "InvalidSignatureException": REFUSED,
    "ExpiredToken": REFUSED,
    "ExpiredTokenException": REFUSED,
    "AccessDenied": "AWS denied it ({code}): {message}",
    "AccessDeniedException": "AWS denied it ({code}): {message}",
    "ResourceNotFoundException": NOT_DEPLOYED,
}
# Errors raised before any request is sent, by the setting they lack.
SETUP_ERRORS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    (SetupError, "{error}"),
    (NoRegionError, NO_REGION),
    (NoCredentialsError, CREDENTIALS),
    (
        (PartialCredentialsError, ProfileNotFound),
        "{error}: set AWS_PROFILE to a profile of ~/.aws/config, or both access keys",
    ),
    (EndpointConnectionError, "{error}: check --endpoint-url / LEDGER_ENDPOINT_URL{local}"),
)


def explain(error: Exception, environment: str) -> str | None:
    """The one line an operator needs for an error that is a matter of setup; None for
    any other error, which stays a traceback (a bug to report)."""
    local = ", or start the local system with `make up`" if environment == "local" else ""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message", "")
        template = CLIENT_ERRORS.get(code)
        if template is None:
            return None
        return template.format(code=code, message=message or code, environment=environment)
    for kinds, template in SETUP_ERRORS:
        if isinstance(error, kinds):
            return template.format(error=error, local=local)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--endpoint-url",
        help="AWS endpoint (default: the local system's for local, else AWS itself)",
    )
    parser.add_argument(
        "--environment",
        default="local",
        help="which deployment: local (the default), dev or prod",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for module in MODULES:
        importlib.import_module(module).register(subparsers)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except Exception as error:
        line = explain(error, args.environment)
        if line is None:
            raise
        print(f"ledger: error: {line}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())

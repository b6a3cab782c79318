"""A month's statement as CSV a spreadsheet opens as it should, and choosing it over
JSON from the request's `Accept` header.

The file: UTF-8 with a byte order mark (how Excel knows it is UTF-8), CRLF line ends
and minimal quoting (RFC 4180, the `csv` module's defaults). One table: a header,
the opening balance, one row per posting, the closing balance. Amounts are exact
decimals with the currency's digits, debits negative. Times are in the ledger's time
zone (the one its months are taken in). A text cell that a spreadsheet would run as a
formula (one starting with = + - @, a tab or a carriage return) is prefixed with an
apostrophe, as OWASP's CSV injection advice has it: shown as text, never run.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from banking.application.statements import StatementEntries, StatementLine
from banking.entrypoints.http import NotAcceptable

JSON = "application/json"
CSV = "text/csv"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
HEADER = ("Date", "Description", "Counterparty", "Amount", "Balance")
_BYTE_ORDER_MARK = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What each type a client may ask for is answered with (a wildcard: the default, JSON).
_OFFERED = {JSON: JSON, CSV: CSV, "application/*": JSON, "text/*": CSV, "*/*": JSON}


def negotiate(accept: str | None) -> str:
    """JSON or CSV, whichever `accept` prefers (by its q-values, then its order); JSON
    when it says nothing. NotAcceptable when it takes neither."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, str] | None = None
    for media_range in accept.split(","):
        kind, *parameters = (part.strip() for part in media_range.split(";"))
        answer = _OFFERED.get(kind.lower())
        quality = _quality(parameters)
        if answer is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, answer)
    if best is None:
        raise NotAcceptable(f"this resource is served as {JSON} or {CSV}, not {accept[:100]!r}")
    return best[1]


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def statement_csv(entries: StatementEntries, zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADER)
    last_day = (
        entries.end.astimezone(zone)
        .date()
        .fromordinal(entries.end.astimezone(zone).date().toordinal() - 1)
    )
    writer.writerow(
        [
            entries.start.astimezone(zone).date().isoformat(),
            "Opening balance",
            "",
            "",
            str(entries.opening_balance),
        ]
    )
    writer.writerows(_row(line, zone) for line in entries.lines)
    writer.writerow([last_day.isoformat(), "Closing balance", "", "", str(entries.closing_balance)])
    return _BYTE_ORDER_MARK + out.getvalue()


def filename(entries: StatementEntries) -> str:
    # Account ids and months are [A-Za-z0-9_-]: nothing to escape in the header.
    return f"statement-{entries.account_id}-{entries.month}.csv"


def _row(line: StatementLine, zone: ZoneInfo) -> list[str]:
    return [
        line.recorded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        _text(line.description),
        _text(line.counterparty),
        str(line.amount),
        str(line.balance),
    ]


def _text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value

"""How the functions log where they are deployed, for pricing a transaction's logs as AWS
would bill them.

- The share of invocations that log at DEBUG is the ledger module's default, not the
  local environment's (which logs every hop, for the console).
- Lambda's advanced logging controls (JSON format) decide what reaches CloudWatch Logs:
  its own START/END/REPORT records only at system log level INFO or DEBUG, and an
  application line only at or above the application log level, a line without a level
  (an embedded-metric-format record) counting as INFO. The local runtime writes every
  line to the function's log file, for the console; the bench counts what Lambda would
  send of it (`LogMeter`), one byte per line for its end, as the bench always has.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

LEDGER_VARIABLES = Path(__file__).resolve().parents[1] / "terraform/modules/ledger/variables.tf"

# Lambda's level names, least severe first; powertools writes Python's (WARNING, CRITICAL).
APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
PYTHON_NAMES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
# The records Lambda writes around every invocation, all at INFO.
PLATFORM_LINE = re.compile(r"^(START|END|REPORT) RequestId: ")


def _default(name: str, variables: Path) -> str:
    block = re.search(rf'variable "{name}" \{{(.*?)\n\}}', variables.read_text(), re.S)
    default = (
        re.search(r'^\s*default\s*=\s*"?([0-9.A-Za-z]+)"?\s*$', block.group(1), re.M)
        if block
        else None
    )
    if default is None:
        raise ValueError(f"no default {name} in {variables}")
    return default.group(1)


def deployed_log_sample_rate(variables: Path = LEDGER_VARIABLES) -> str:
    """The ledger module's default `log_sample_rate`, as every environment but local has it."""
    return _default("log_sample_rate", variables)


def lambda_level(name: str) -> str:
    upper = name.upper()
    return PYTHON_NAMES.get(upper, upper)


class LogFilter:
    """Which lines of a function's output Lambda sends to CloudWatch Logs."""

    def __init__(self, application_level: str, system_level: str) -> None:
        self._application = APPLICATION_LEVELS.index(lambda_level(application_level))
        self._system = SYSTEM_LEVELS.index(lambda_level(system_level))

    @classmethod
    def deployed(cls, variables: Path = LEDGER_VARIABLES) -> LogFilter:
        """As the ledger module deploys every function: its application level is the
        functions' `log_level`, its system level `system_log_level`."""
        return cls(_default("log_level", variables), _default("system_log_level", variables))

    def sent(self, line: str) -> bool:
        if PLATFORM_LINE.match(line):
            return self._system <= SYSTEM_LEVELS.index("INFO")
        return self._application <= APPLICATION_LEVELS.index(_line_level(line))


def _line_level(line: str) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return "INFO"
    level = record.get("level") if isinstance(record, dict) else None
    if isinstance(level, str) and lambda_level(level) in APPLICATION_LEVELS:
        return lambda_level(level)
    return "INFO"


class LogMeter:
    """Bytes each log file has sent to CloudWatch Logs so far, read once each."""

    def __init__(self, log_filter: LogFilter) -> None:
        self._filter = log_filter
        self._read: dict[Path, tuple[int, int]] = {}  # path -> (offset, bytes sent)

    def sent_bytes(self, path: Path) -> int:
        offset, sent = self._read.get(path, (0, 0))
        with path.open("rb") as file:
            file.seek(offset)
            chunk = file.read()
        # A line still being written waits for the next read.
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for raw in complete.splitlines(keepends=True):
            if self._filter.sent(raw.decode("utf-8", "replace").rstrip("\n")):
                sent += len(raw)
        self._read[path] = (offset + len(complete), sent)
        return sent

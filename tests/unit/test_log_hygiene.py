"""No function writes what it was invoked with to its logs: an HTTP event holds the
caller's token and the request body, a stream record or a bus event a transaction's
description. powertools logs the event when `log_event` is on, or when it is left
unset and POWERTOOLS_LOGGER_LOG_EVENT is true, so every handler says False."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# replay's event is an operator's request (a scan segment and where to resume), no
# customer data; logging it keeps a record of what was replayed.
LOGS_ITS_REQUEST = {"replay"}
HANDLERS = sorted(
    p for p in (ROOT / "lambdas").glob("*/handler.py") if p.parent.name not in LOGS_ITS_REQUEST
)


def log_event_settings(path: Path) -> list[object]:
    settings: list[object] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if isinstance(target, ast.Attribute) and target.attr == "inject_lambda_context":
                keywords = {k.arg: k.value for k in call.keywords} if call else {}
                value = keywords.get("log_event")
                settings.append(value.value if isinstance(value, ast.Constant) else None)
    return settings


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_never_logs_the_event_it_was_invoked_with(handler):
    assert log_event_settings(handler) == [False]

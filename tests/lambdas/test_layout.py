"""`make test-lambda NAME=<function>`: each Lambda's handler tests, alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAMBDAS = sorted(path.parent.name for path in (REPO / "lambdas").glob("*/handler.py"))


def make(*args: str) -> subprocess.CompletedProcess[str]:
    # -n: print the commands without running them (nor installing anything);
    # --no-print-directory: run from `make test`, a sub-make would add its directory lines.
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "test-lambda", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_lambda_has_its_own_test_folder_and_every_folder_a_lambda():
    folders = sorted(p.name for p in (REPO / "tests" / "lambdas").iterdir() if p.is_dir())
    assert [f for f in folders if f != "__pycache__"] == LAMBDAS
    for name in LAMBDAS:
        assert list((REPO / "tests" / "lambdas" / name).glob("test_*.py")), name


@pytest.mark.parametrize("name", LAMBDAS)
def test_make_test_lambda_runs_that_lambdas_tests_only(name):
    result = make(f"NAME={name}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(f"pytest tests/lambdas/{name} -q")


@pytest.mark.parametrize("arguments", [("NAME=nope",), (), ("NAME=commands queries",)])
def test_make_test_lambda_refuses_anything_but_one_lambdas_name(arguments):
    result = make(*arguments)
    assert result.returncode != 0
    assert "is not a Lambda: make test-lambda NAME=<one of: " + " ".join(LAMBDAS) in result.stderr

#!/usr/bin/env bash
# Build dist/<lambda>.zip for every directory under lambdas/ (see scripts/build_zip.py).
# PYTHON picks the interpreter whose pip installs the packages (default: .venv, then python3).
# Extra arguments go to build_zip.py: Lambda names, --dist, --cache, --lambdas.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
exec "$PYTHON" "$root/scripts/build_zip.py" --python "$PYTHON" "$@"

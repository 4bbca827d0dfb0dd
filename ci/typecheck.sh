#!/usr/bin/env bash
# Type check of the package's hints, configured in pyproject.toml ([tool.mypy]: the package,
# the strictness, the third-party modules skipped). Exits non-zero on any error.
# Needs mypy (in the `test` extra).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== mypy"
python -m mypy "$@"

#!/usr/bin/env bash
# The CPU test-suite, as CI runs it: lint, then the README's test command.
# GPU tests are marked `gpu` and skip with a reason on a machine without a usable GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ruff"
python -m ruff check .

echo "== pytest"
python -m pytest "$@"

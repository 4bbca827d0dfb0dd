#!/usr/bin/env bash
# The CPU test-suite, as CI runs it: lint, the README's test command (the quick tests: the
# project's addopts deselect those marked `slow`), then the slow group.
# GPU tests are marked `gpu` and skip with a reason on a machine without a usable GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ruff"
python -m ruff check .

echo "== pytest (the README's command: quick tests)"
python -m pytest "$@"

echo "== pytest -m slow (training runs, notebooks, course replays)"
python -m pytest -m slow "$@"

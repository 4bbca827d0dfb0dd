#!/usr/bin/env bash
# The subset of the suite on the OLDEST releases pyproject.toml claims: Python 3.10 with
# numpy 2.1, array-api-compat 1.9 and tqdm 4.60 (the `dependencies` floors). Keep these pins
# equal to the floors in pyproject.toml; the main suite runs the newest releases.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash ci/subset_suite.sh 3.10 "numpy==2.1.*" "array-api-compat==1.9.*" "tqdm==4.60.*"

#!/usr/bin/env bash
# Build the documentation with warnings as errors (needs the `docs` extra:
# pip install -e ".[docs]"). The HTML goes to a temporary folder unless one is given.
#   bash ci/docs.sh            # build, check, throw away
#   bash ci/docs.sh OUTDIR     # keep the HTML in OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-}"
if [[ -z "$out" ]]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi
# A fresh doctree each time, so a page's warnings are never hidden by a cached build.
rm -rf "$out/.doctrees"
python -m sphinx -W --keep-going -q -b html -d "$out/.doctrees" docs "$out/html"
echo "docs built: $out/html/index.html"

#!/usr/bin/env bash
# Print the path of a working Python X.Y interpreter (`ci/find_python.sh 3.10`): python3.10 on
# PATH, else pyenv's installation of it. Exits non-zero, naming the version, when none runs.
set -euo pipefail
want="${1:?usage: ci/find_python.sh X.Y}"
candidates=()
if command -v "python$want" >/dev/null 2>&1; then
    candidates+=("$(command -v "python$want")")
fi
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin; do
    [ -x "$dir/python$want" ] && candidates+=("$dir/python$want")
done
for python in "${candidates[@]}"; do
    if "$python" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" \
        >/dev/null 2>&1; then
        echo "$python"
        exit 0
    fi
done
echo "error: no working Python $want interpreter (looked for python$want on PATH and in" \
     "${PYENV_ROOT:-$HOME/.pyenv}/versions/$want.*)" >&2
exit 1

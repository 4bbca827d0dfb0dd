"""Check the built sdist and wheel hold what they must (run by ci/build_check.sh).

Usage: ``python ci/check_dist.py DIST_DIR``, from the repository root. Exits non-zero listing
every missing or unexpected file:

- the wheel: ``LICENSE`` under ``*.dist-info/licenses/``, and every file of the source tree's
  ``xplayers/`` that is not a cache file (``.py`` modules, ``py.typed``, the ``.cu`` kernels and
  any other data file the package opens at run time); nothing outside ``xplayers/`` and its
  ``.dist-info``; metadata naming the license expression, the license file and only valid
  trove classifiers (when ``trove-classifiers`` is installed);
- the sdist: ``LICENSE``, ``README.md``, ``CHANGELOG.md``, ``pyproject.toml`` and every
  non-cache file of ``tests/`` and ``docs/``.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

CACHE_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
CACHE_SUFFIXES = {".pyc", ".pyo", ".pyd"}


def source_files(folder: str) -> set[str]:
    """Every file under ``folder`` (relative, '/'-separated) that is not a cache file."""
    found = set()
    for path in Path(folder).rglob("*"):
        if not path.is_file() or CACHE_DIRS.intersection(path.parts):
            continue
        if path.suffix in CACHE_SUFFIXES:
            continue
        found.add(path.as_posix())
    return found


def one(dist: Path, pattern: str) -> Path:
    matches = sorted(dist.glob(pattern))
    if len(matches) != 1:
        sys.exit(f"error: expected one {pattern} in {dist}, found {[m.name for m in matches]}")
    return matches[0]


def check_wheel(wheel: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        if len(dist_info) != 1:
            return [f"{wheel.name}: expected one .dist-info folder, found {sorted(dist_info)}"]
        (info,) = dist_info
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode("utf-8"))
    wanted = source_files("xplayers") | {f"{info}/licenses/LICENSE"}
    problems += [f"{wheel.name} lacks {name}" for name in sorted(wanted - names)]
    stray = sorted(n for n in names if n.split("/")[0] not in {"xplayers", info})
    problems += [f"{wheel.name} holds {name}, outside the package" for name in stray]
    if metadata.get("License-Expression") != "MIT":
        problems.append(f"{wheel.name} METADATA: License-Expression is "
                        f"{metadata.get('License-Expression')!r}, expected 'MIT'")
    if "LICENSE" not in metadata.get_all("License-File", []):
        problems.append(f"{wheel.name} METADATA names no License-File: LICENSE")
    classifiers = metadata.get_all("Classifier", [])
    try:
        from trove_classifiers import classifiers as valid
    except ImportError:
        print("note: trove-classifiers not installed; classifiers not validated")
    else:
        problems += [f"{wheel.name} METADATA: unknown classifier {c!r}"
                     for c in classifiers if c not in valid]
    print(f"{wheel.name}: {len(names)} files, {len(classifiers)} classifiers")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    top = members[0].split("/")[0]
    names = {m.split("/", 1)[1] for m in members if "/" in m}
    wanted = {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"}
    wanted |= source_files("tests") | source_files("docs") | source_files("xplayers")
    print(f"{sdist.name}: {len(names)} entries under {top}/")
    return [f"{sdist.name} lacks {name}" for name in sorted(wanted - names)]


def main() -> None:
    if len(sys.argv) != 2 or not Path("pyproject.toml").is_file():
        sys.exit("usage (from the repository root): python ci/check_dist.py DIST_DIR")
    dist = Path(sys.argv[1])
    problems = check_wheel(one(dist, "*.whl")) + check_sdist(one(dist, "*.tar.gz"))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} problem(s) in the distribution")
    print("distribution contents: ok")


if __name__ == "__main__":
    main()

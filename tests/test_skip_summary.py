"""The test summary groups skipped tests by reason, one line each with its count."""

from __future__ import annotations

from types import SimpleNamespace

import conftest
import pytest


class Reporter:
    def __init__(self, stats):
        self.stats, self.lines = stats, []

    def section(self, title, sep="="):
        self.lines.append(f"[{title}]")

    def write_line(self, line):
        self.lines.append(line)


def skip(reason: str) -> pytest.TestReport:
    return pytest.TestReport("t.py::x", ("t.py", 1, "x"), {}, "skipped",
                             ("t.py", 1, f"Skipped: {reason}"), "setup")


def test_one_line_per_reason_with_counts_most_common_first():
    reporter = Reporter({"skipped": [skip("no GPU"), skip("no torch"), skip("no GPU")],
                         "deselected": [object()] * 4})
    config = SimpleNamespace(getoption=lambda name, default=None: "not slow")
    conftest.pytest_terminal_summary(reporter, 0, config)
    assert reporter.lines == ["[3 skipped, by reason]", "SKIPPED    2 x no GPU",
                              "SKIPPED    1 x no torch",
                              "4 slow tests deselected (real training runs, notebooks, course "
                              "replays): python -m pytest -m slow runs them"]


def test_nothing_skipped_nothing_said():
    reporter = Reporter({})
    conftest.pytest_terminal_summary(reporter, 0, SimpleNamespace(getoption=lambda *a: ""))
    assert reporter.lines == []

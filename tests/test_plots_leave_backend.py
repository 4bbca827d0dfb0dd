"""Writing a PNG (``--plot``, a sweep's ``sweep.png``) leaves the caller's matplotlib alone: a
notebook that calls these keeps its own backend and its figures show as before."""

from __future__ import annotations

import warnings

import pytest

matplotlib = pytest.importorskip("matplotlib")

from xplayers.sweep.results import _plot  # noqa: E402
from xplayers.training.plotting import plot_history  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def svg_backend():
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # any backend but Agg, the one these used to switch to
    yield "svg"
    matplotlib.use(before)


def test_plot_history_keeps_the_backend(svg_backend, tmp_path):
    plot_history([2.0, 1.0, 0.5], [0.1, 0.8], [0.1, 0.7], tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    assert matplotlib.get_backend() == svg_backend


def test_sweep_plot_keeps_the_backend_and_warns_nothing_without_finished_trials(svg_backend,
                                                                               tmp_path):
    failed = [{"number": 0, "state": "FAIL", "value": None, "params": {"learning_rate": 1e-3},
               "metrics": {}}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's 'No artists with labels' among them
        _plot(failed, "val_accuracy", tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == PNG
    assert matplotlib.get_backend() == svg_backend

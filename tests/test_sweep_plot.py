"""The sweep figure's learning-rate axis: labels that never overlap, whatever the range."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from xplayers.sweep.results import _label_log_axis


@pytest.mark.parametrize("low, high", [(2e-3, 6e-3), (1.1e-3, 1.9e-3), (3e-4, 3e-2),
                                       (1e-4, 1e-2), (1e-7, 1e-1)])
def test_learning_rate_labels_do_not_collide(low, high):
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.scatter([low, high], [0.5, 0.9])
    ax.set_xscale("log")
    _label_log_axis(ax.xaxis, [low, high])
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    x0, x1 = ax.get_xlim()
    labels = [t for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
              if t.get_text() and x0 <= t.get_position()[0] <= x1]
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    assert boxes, "no labelled tick inside the axis"
    for left, right in itertools.pairwise(boxes):
        assert left.x1 <= right.x0, [t.get_text() for t in labels]

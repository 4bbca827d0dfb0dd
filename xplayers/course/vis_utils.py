"""The course's ``cs231n.vis_utils.visualize_grid``: tile images into one picture."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend.devices import to_numpy

__all__ = ["visualize_grid"]


def visualize_grid(Xs: Any, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile N images into a square grid, each scaled to ``[0, ubound]``, as the course's.

    Parameters
    ----------
    Xs : array, shape (N, H, W, C), any backend
    ubound : float
        Each image is rescaled to ``[0, ubound]`` (a constant image to 0).
    padding : int
        Blank pixels between neighbouring images.

    Returns
    -------
    grid : NumPy array, shape (G * (H + padding) - padding, G * (W + padding) - padding, C)
        With ``G = ceil(sqrt(N))``.
    """
    Xs = np.asarray(to_numpy(Xs), dtype=np.float64)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid: Xs must have shape (N, H, W, C), got {Xs.shape}")
    n, h, w, c = Xs.shape
    size = math.ceil(math.sqrt(n))
    grid = np.zeros((size * (h + padding) - padding, size * (w + padding) - padding, c))
    low = Xs.min(axis=(1, 2, 3), keepdims=True)
    span = Xs.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = ubound * (Xs - low) / np.where(span > 0, span, 1.0)
    for k in range(n):  # one slice assignment per image
        row, col = divmod(k, size)
        y0, x0 = row * (h + padding), col * (w + padding)
        grid[y0:y0 + h, x0:x0 + w] = scaled[k]
    return grid

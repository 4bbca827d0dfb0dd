"""Parameter initialisation on the host, from a seeded generator, so every device starts equal."""

from __future__ import annotations

import numpy as np


def gaussian(
    rng: np.random.Generator, shape: tuple[int, ...], scale: float, dtype: str
) -> np.ndarray:
    """``scale * N(0, 1)`` samples of ``shape`` in ``dtype``."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int, or ``ValueError`` naming ``name`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_scale(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)

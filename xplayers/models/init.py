"""Parameter initialisation on the host, so every device starts equal.

With a seed the weights come from their own generator; without one from NumPy's global
random state, as in the course (``np.random.seed(231)`` then repeats them).
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from ..backend.checks import as_real, check_positive_int

__all__ = ["check_positive_int", "check_scale", "gaussian", "weight_rng"]


def weight_rng(seed: int | None) -> np.random.Generator | ModuleType:
    """Where initial weights are drawn from.

    ``seed`` given: a fresh ``np.random.default_rng(seed)``, leaving NumPy's global state
    alone. ``seed`` None: the ``np.random`` module itself, whose ``standard_normal`` draws
    from the global state exactly as the course's ``np.random.randn`` does.
    """
    return np.random if seed is None else np.random.default_rng(seed)


def gaussian(
    rng: np.random.Generator | ModuleType, shape: tuple[int, ...], scale: float, dtype: str
) -> np.ndarray:
    """``scale * N(0, 1)`` samples of ``shape`` in ``dtype`` (from :func:`weight_rng`)."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def check_scale(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number > 0."""
    number = as_real(value)
    if number is None:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number

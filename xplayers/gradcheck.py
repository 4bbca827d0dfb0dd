"""Numerical gradients by centred differences, for arrays of any backend.

The perturbed evaluations run on ``x``'s own backend and device; the differences are taken
in float64 on the host, so a float64 input gives gradients good to about ``h**2``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from .backend.devices import to_numpy
from .backend.namespace import get_array_module

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "rel_error",
]


def _scalar(value: Any) -> float:
    return float(to_numpy(value)) if not isinstance(value, (int, float)) else float(value)


def _perturbed(
    f: Callable[[Any], Any], x: Any, index: tuple[int, ...], h: float,
    read: Callable[[Any], Any],
) -> tuple[Any, Any]:
    """``read(f(x))`` with ``x[index]`` moved by +h and -h, then restored.

    Each result is read (copied to the host) at once: ``f`` may return a view of ``x``.
    """
    old = float(x[index])  # a Python float: indexing a tensor may return a view
    x[index] = old + h
    plus = read(f(x))
    x[index] = old - h
    minus = read(f(x))
    x[index] = old
    return plus, minus


def _host_copy(value: Any) -> np.ndarray:
    return np.array(to_numpy(value), dtype=np.float64, copy=True)


def eval_numerical_gradient(
    f: Callable[[Any], Any], x: Any, verbose: bool = True, h: float = 1e-5
) -> Any:
    """Numerical gradient of a scalar function ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        Takes the array ``x`` and returns a scalar (a float or a 0-d array).
    x : array, any shape
        The point; it is perturbed in place one element at a time and restored.
    verbose : bool
        Print each index and its gradient.
    h : float
        Step of the centred difference.

    Returns
    -------
    array, same shape, dtype, backend and device as ``x``
    """
    xp = get_array_module(x=x)
    grad = np.zeros(tuple(x.shape), dtype=np.float64)
    for index in np.ndindex(*grad.shape):
        plus, minus = _perturbed(f, x, index, h, _scalar)
        grad[index] = (plus - minus) / (2 * h)
        if verbose:
            print(index, grad[index])
    return _like(grad, x, xp)


def eval_numerical_gradient_array(
    f: Callable[[Any], Any], x: Any, df: Any, h: float = 1e-5
) -> Any:
    """Numerical gradient of ``sum(f(x) * df)`` with respect to ``x``.

    Parameters
    ----------
    f : callable
        Takes the array ``x`` and returns an array shaped like ``df``.
    x : array, any shape
        The point; perturbed in place and restored.
    df : array
        Upstream gradient, shaped like ``f(x)``.
    h : float
        Step of the centred difference.

    Returns
    -------
    array, same shape, dtype, backend and device as ``x``
    """
    xp = get_array_module(x=x, df=df)
    grad = np.zeros(tuple(x.shape), dtype=np.float64)
    upstream = np.asarray(to_numpy(df), dtype=np.float64)
    for index in np.ndindex(*grad.shape):
        plus, minus = _perturbed(f, x, index, h, _host_copy)
        grad[index] = np.sum((plus - minus) * upstream) / (2 * h)
    return _like(grad, x, xp)


def grad_check_sparse(
    f: Callable[[Any], Any], x: Any, analytic_grad: Any, num_checks: int = 10,
    h: float = 1e-5,
) -> list[float]:
    """Compare ``analytic_grad`` with centred differences of ``f`` at random elements of ``x``.

    As the course's: each check picks an index with Python's ``random.randrange`` (so
    ``random.seed`` repeats them) and prints the numerical and analytic values and their
    relative error.

    Parameters
    ----------
    f : callable
        Takes the array ``x`` and returns a scalar.
    x : array, any shape
        Perturbed in place one element at a time and restored.
    analytic_grad : array, shape of x
    num_checks : int
    h : float

    Returns
    -------
    list of float
        The relative error of each check.
    """
    if tuple(analytic_grad.shape) != tuple(x.shape):
        raise ValueError(f"grad_check_sparse: analytic_grad has shape "
                         f"{tuple(analytic_grad.shape)}, expected x's shape {tuple(x.shape)}")
    errors = []
    for _ in range(num_checks):
        index = tuple(random.randrange(m) for m in x.shape)
        plus, minus = _perturbed(f, x, index, h, _scalar)
        numerical = (plus - minus) / (2 * h)
        analytic = float(analytic_grad[index])
        denominator = abs(numerical) + abs(analytic)
        error = abs(numerical - analytic) / denominator if denominator else 0.0
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {error:e}")
        errors.append(error)
    return errors


def _like(host: np.ndarray, x: Any, xp: Any) -> Any:
    if isinstance(x, np.ndarray):
        return host.astype(x.dtype, copy=False)
    return xp.astype(xp.asarray(host, device=x.device), x.dtype)


def rel_error(x: Any, y: Any) -> float:
    """Largest relative error ``|x - y| / max(1e-8, |x| + |y|)`` over all elements.

    ``x`` and ``y`` may be arrays of any backend (or scalars); they are compared on the host
    in float64.
    """
    a = np.asarray(to_numpy(x), dtype=np.float64)
    b = np.asarray(to_numpy(y), dtype=np.float64)
    if a.shape != b.shape and a.size != 1 and b.size != 1:
        raise ValueError(f"rel_error: x has shape {a.shape} but y has shape {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))

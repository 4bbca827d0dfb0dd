"""Word embedding: integer word indices to rows of a (V, D) table of word vectors."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..backend import get_array_module
from ..backend.checks import as_dtype, check_floating, check_ndim, check_shape
from ..backend.fast_paths import FastPaths
from ..backend.trusted_labels import range_already_checked

__all__ = ["WordEmbeddingCache", "word_embedding_backward", "word_embedding_forward"]


class WordEmbeddingCache(NamedTuple):
    """What :func:`word_embedding_backward` needs."""

    x: Any
    """The word indices, flattened to (M,) int64."""
    x_shape: tuple[int, ...]
    vocab_size: int
    dtype: Any
    """W's dtype."""


def check_indices(func: str, name: str, x: Any, size: int, xp: ModuleType) -> Any:
    """``x`` as int64 after checking it holds integers in ``[0, size)``.

    The value range (a host read) is skipped inside
    :func:`xplayers._trusted_labels.labels_checked` for ``size`` (the captioning solver
    checks its captions once).
    """
    dtype = x.dtype
    integral = dtype.kind in "iu" if isinstance(dtype, np.dtype) else xp.isdtype(dtype, "integral")
    if not integral:
        raise TypeError(f"{func}: {name} must hold integer word indices, got dtype {x.dtype}")
    if x.dtype != xp.int64:
        x = xp.astype(x, xp.int64)
    if math.prod(x.shape) and not range_already_checked(size):
        outside = (x < 0) | (x >= size)
        if bool(xp.any(outside)):
            low, high = int(xp.min(x)), int(xp.max(x))
            raise ValueError(f"{func}: {name} must hold indices in [0, {size}) for a vocabulary "
                             f"of {size} words, got values from {low} to {high}")
    return x


def word_embedding_forward(x: Any, W: Any) -> tuple[Any, WordEmbeddingCache]:
    """Look up the word vector of every index in ``x``.

    Parameters
    ----------
    x : integer array, shape (N, T) (any shape works)
        Word indices in [0, V).
    W : array, shape (V, D), floating
        One word vector per row.

    Returns
    -------
    out : array, shape (N, T, D), W's dtype
    cache : WordEmbeddingCache

    Raises
    ------
    TypeError
        For a non-integer ``x``, a non-floating ``W``, or arrays of different libraries.
    ValueError
        For a ``W`` that is not 2-d or an index outside [0, V).
    """
    xp = get_array_module(x=x, W=W)
    func = "word_embedding_forward"
    check_floating(func, "W", W, xp)
    check_ndim(func, "W", W, 2, "(V, D)")
    vocab_size, dim = W.shape
    x_flat = xp.reshape(check_indices(func, "x", x, vocab_size, xp), (-1,))
    out = xp.reshape(xp.take(W, x_flat, axis=0), (*x.shape, dim))
    return out, WordEmbeddingCache(x_flat, tuple(x.shape), vocab_size, W.dtype)


def word_embedding_backward(dout: Any, cache: WordEmbeddingCache) -> Any:
    """Backward pass of :func:`word_embedding_forward`: the gradient of ``W`` only.

    Rows of ``dout`` whose words repeat are added up into that word's row.

    Parameters
    ----------
    dout : array, shape (N, T, D)
    cache : WordEmbeddingCache

    Returns
    -------
    dW : array, shape (V, D), in W's dtype
    """
    x_flat, x_shape, vocab_size, dtype = cache
    xp = get_array_module(dout=dout, x=x_flat)
    if dout.ndim != len(x_shape) + 1:
        raise ValueError(f"word_embedding_backward: dout has shape {tuple(dout.shape)}, "
                         f"expected {(*x_shape, 'D')} for x of shape {x_shape}")
    check_shape("word_embedding_backward", "dout", dout, (*x_shape, dout.shape[-1]),
                "x.shape + (D,)")
    dout = as_dtype(xp, dout, dtype)
    dout_flat = xp.reshape(dout, (x_flat.shape[0], dout.shape[-1]))
    return _scatter_add(xp, x_flat, dout_flat, vocab_size)


def _scatter_add_portable(xp: ModuleType, index: Any, rows: Any, size: int) -> Any:
    # dW = onehot(index).T @ rows: repeated indices add up, with no scatter in the standard.
    onehot = index[:, None] == xp.arange(size, dtype=index.dtype, device=index.device)
    return xp.matrix_transpose(xp.astype(onehot, rows.dtype)) @ rows


def _scatter_add_numpy(xp: ModuleType, index: Any, rows: Any, size: int) -> Any:
    out = np.zeros((size, rows.shape[1]), dtype=rows.dtype)
    np.add.at(out, index, rows)
    return out


_scatter_add = FastPaths(_scatter_add_portable, numpy=_scatter_add_numpy)
"""``dW[index[m]] += rows[m]`` for every m, into zeros (V, D): ``_scatter_add(xp, index, rows,
V)``. NumPy: ``np.add.at`` (no (M, V) one-hot); results agree to rounding."""

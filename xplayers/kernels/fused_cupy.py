"""Fused CuPy kernels: the softmax loss with its gradient, bias + ReLU, the ReLU backward.

On a GPU a small net's step costs kernel launches, not arithmetic. The portable softmax loss
is about a dozen kernels (max, subtract, exp, sum, log, the one-hot comparison, where, the loss
sum, the gradient); here one thread per row computes its log-sum-exp, its loss term and its
gradient row, and one sum adds the loss terms. Bias + ReLU after the GEMM is one pass written
over the product, and the ReLU backward one select instead of a comparison and a ``where``.
Declared in :data:`KERNELS` for the NVRTC check; nothing here imports CuPy at import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .definitions import ElementwiseDefinition

__all__ = ["KERNELS", "bias_relu", "dropout", "relu_backward", "relu_backward_bias",
           "softmax_loss"]

# One thread per row i of x (N, C), flattened: the row's log-softmax with the max subtracted
# first (finite for any finite logits), the gradient (softmax - onehot) / n, and the row's
# loss term -log_softmax[y_i] / n. Summation over the C classes is sequential, so it may
# differ from NumPy's pairwise sums in the last bit.
SOFTMAX_LOSS = ElementwiseDefinition(
    name="xplayers_softmax_loss",
    in_params="raw T x, raw int64 y, int64 c, T n",
    out_params="raw T dx, T row_loss",
    operation="""
    const ptrdiff_t base = i * c;
    T m = x[base];
    for (ptrdiff_t j = 1; j < c; ++j) { if (x[base + j] > m) m = x[base + j]; }
    T s = 0;
    for (ptrdiff_t j = 0; j < c; ++j) { s += exp(x[base + j] - m); }
    const T lse = log(s);
    const long long label = y[i];
    for (ptrdiff_t j = 0; j < c; ++j) {
        const T log_prob = (x[base + j] - m) - lse;
        dx[base + j] = (exp(log_prob) - (j == label ? T(1) : T(0))) / n;
    }
    row_loss = -((x[base + label] - m) - lse) / n;
    """,
    scalars=("c", "n"),
    reference="xplayers.kernels.fused_cupy:softmax_loss_reference",
    bit_exact=False,
)

RELU_BACKWARD = ElementwiseDefinition(
    name="xplayers_relu_backward",
    in_params="T cache, T dout",
    out_params="T dx",
    operation="dx = cache > T(0) ? dout : T(0);",
    reference="xplayers.kernels.fused_cupy:relu_backward_reference",
)

# ``out = maximum(a + b, 0)`` as NumPy computes it (``a >= 0 ? a : 0``, NaN kept), written
# over the GEMM's output ``a``; ``b`` (M,) is read per column of the flat (N*M,) product.
BIAS_RELU = ElementwiseDefinition(
    name="xplayers_bias_relu",
    in_params="T a, raw T b, int64 m",
    out_params="T out",
    operation="const T s = a + b[i % m]; out = (s >= T(0) || s != s) ? s : T(0);",
    aliases=(("out", "a"),),
    scalars=("m",),
    reference="xplayers.kernels.fused_cupy:bias_relu_reference",
)

# The ReLU backward of an (N, M) layer and the column sums of its result (the affine layer's
# bias gradient) in one pass: a thread per column, sums in float for float16.
RELU_BACKWARD_BIAS = ElementwiseDefinition(
    name="xplayers_relu_backward_bias",
    in_params="raw T dout, raw T cache, int64 rows, int64 cols",
    out_params="raw T dx, T db",
    preamble="""
template <typename T> struct xplayers_sum { typedef T type; };
template <> struct xplayers_sum<float16> { typedef float type; };
""",
    operation="""
    typename xplayers_sum<T>::type s = 0;
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const ptrdiff_t k = r * cols + i;
        const T d = cache[k] > T(0) ? dout[k] : T(0);
        dx[k] = d;
        s += d;
    }
    db = s;
    """,
    scalars=("rows", "cols"),
    reference="xplayers.kernels.fused_cupy:relu_backward_bias_reference",
    bit_exact=False,
)

# Inverted dropout from a uniform draw ``u``: the mask (``scale`` where ``u >= p``, else 0)
# and ``x * mask`` in one pass; p and scale in x's dtype, as NumPy casts the Python floats.
DROPOUT = ElementwiseDefinition(
    name="xplayers_dropout",
    in_params="T u, T x, T p, T scale",
    out_params="T out, T mask",
    operation="mask = u >= p ? scale : T(0); out = x * mask;",
    scalars=("p", "scale"),
    dtypes=("float32", "float64"),
    reference="xplayers.kernels.fused_cupy:dropout_reference",
)

KERNELS = (SOFTMAX_LOSS, RELU_BACKWARD, BIAS_RELU, DROPOUT, RELU_BACKWARD_BIAS)


def softmax_loss_reference(x: Any, y: Any, c: Any, n: Any) -> dict[str, np.ndarray]:
    """:data:`SOFTMAX_LOSS` on NumPy: ``x`` flat (N*C,), ``y`` (N,) int64; the portable
    body's formulas (``xplayers.layers.losses``)."""
    rows = np.asarray(x).reshape(-1, int(c))
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    onehot = np.asarray(y)[:, None] == np.arange(int(c))
    dx = (np.exp(log_probs) - onehot.astype(rows.dtype)) / n
    row_loss = -log_probs[np.arange(rows.shape[0]), np.asarray(y)] / n
    return {"dx": dx.reshape(-1), "row_loss": row_loss}


def _softmax_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    n, c = 37, 10
    return {"x": rng.uniform(-4, 4, n * c), "y": rng.integers(0, c, n).astype(np.int64),
            "c": c, "n": float(n)}


softmax_loss_reference.sample_inputs = _softmax_sample  # type: ignore[attr-defined]


def relu_backward_reference(cache: Any, dout: Any) -> dict[str, np.ndarray]:
    """:data:`RELU_BACKWARD` on NumPy: ``dout`` where ``cache > 0``, else +0."""
    return {"dx": np.where(cache > 0, dout, np.zeros((), dout.dtype))}


def _relu_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"cache": rng.uniform(-1, 1, 500), "dout": rng.uniform(-2, 2, 500)}


relu_backward_reference.sample_inputs = _relu_sample  # type: ignore[attr-defined]

def bias_relu_reference(a: Any, b: Any, m: Any) -> dict[str, np.ndarray]:
    """:data:`BIAS_RELU` on NumPy, as ``affine_forward`` then ``relu_forward`` compute it."""
    rows = np.asarray(a).reshape(-1, int(m)) + b
    return {"out": np.maximum(rows, np.zeros((), rows.dtype)).reshape(-1)}


def _bias_relu_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"a": rng.uniform(-2, 2, 12 * 40), "b": rng.uniform(-1, 1, 40), "m": 40}


bias_relu_reference.sample_inputs = _bias_relu_sample  # type: ignore[attr-defined]

def relu_backward_bias_reference(dout: Any, cache: Any, rows: Any,
                                 cols: Any) -> dict[str, np.ndarray]:
    """:data:`RELU_BACKWARD_BIAS` on NumPy: ``relu_backward`` then ``affine_backward``'s
    ``db``."""
    d = np.asarray(dout).reshape(int(rows), int(cols))
    dx = np.where(np.asarray(cache).reshape(d.shape) > 0, d, np.zeros((), d.dtype))
    return {"dx": dx.reshape(-1), "db": dx.sum(axis=0)}


def _relu_bias_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"dout": rng.uniform(-2, 2, 30 * 11), "cache": rng.uniform(-1, 1, 30 * 11),
            "rows": 30, "cols": 11}


relu_backward_bias_reference.sample_inputs = _relu_bias_sample  # type: ignore[attr-defined]


def dropout_reference(u: Any, x: Any, p: Any, scale: Any) -> dict[str, np.ndarray]:
    """:data:`DROPOUT` on NumPy, as ``layers/dropout.py``'s portable body computes it."""
    mask = (u >= p).astype(x.dtype)
    mask *= scale
    return {"out": x * mask, "mask": mask}


def _dropout_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"u": rng.random(600), "x": rng.uniform(-2, 2, 600), "p": 0.3, "scale": 1 / 0.7}


dropout_reference.sample_inputs = _dropout_sample  # type: ignore[attr-defined]

_BUILT: dict[str, Any] = {}


def _kernel(defn: ElementwiseDefinition) -> Any:
    kernel = _BUILT.get(defn.name)
    if kernel is None:
        import cupy

        kernel = _BUILT[defn.name] = defn.build(cupy)
    return kernel


def softmax_loss(x: Any, y: Any) -> tuple[Any, Any]:
    """Loss (0-d) and ``dx`` (N, C) of a C-contiguous floating CuPy ``x`` and int64 ``y``:
    one kernel launch and one sum."""
    import cupy

    n, c = x.shape
    dx = cupy.empty((n * c,), dtype=x.dtype)
    row_loss = cupy.empty((n,), dtype=x.dtype)
    _kernel(SOFTMAX_LOSS)(x.reshape(-1), y, np.int64(c), x.dtype.type(n), dx, row_loss)
    return row_loss.sum(), dx.reshape(n, c)


def relu_backward(dout: Any, cache: Any) -> Any:
    """``dout`` where ``cache > 0``, else 0, in one launch (same dtypes and shapes)."""
    return _kernel(RELU_BACKWARD)(cache, dout)


def bias_relu(a: Any, b: Any) -> Any:
    """``maximum(a + b, 0)`` for a fresh C-contiguous (N, M) ``a`` and (M,) ``b``, written
    over ``a`` in one launch; returns ``a``."""
    flat = a.reshape(-1)
    _kernel(BIAS_RELU)(flat, b, np.int64(a.shape[1]), flat)
    return a


def dropout(x: Any, u: Any, p: float) -> tuple[Any, Any]:
    """``(x * mask, mask)`` of inverted dropout from the uniform draw ``u`` (x's shape and
    dtype), in one launch."""
    t = x.dtype.type
    return _kernel(DROPOUT)(u, x, t(p), t(1.0 / (1.0 - p)))


def relu_backward_bias(dout: Any, cache: Any) -> tuple[Any, Any]:
    """``(dx, db)``: the ReLU backward of C-contiguous (N, M) ``dout`` and its column sums
    (M,), in one launch."""
    import cupy

    n, m = dout.shape
    dx = cupy.empty((n * m,), dtype=dout.dtype)
    db = cupy.empty((m,), dtype=dout.dtype)
    _kernel(RELU_BACKWARD_BIAS)(dout.reshape(-1), cache.reshape(-1), np.int64(n), np.int64(m),
                                dx, db)
    return dx.reshape(n, m), db

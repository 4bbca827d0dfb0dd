"""CuPy fast paths of batch normalisation over the rows of an (N, D) array: one launch each way.

The portable forward is about a dozen kernels on a GPU (two means, centring, squares, the
inverse square root, the scale and shift) and the backward as many; here one thread per
feature column loops over the N rows: sums in float32 for float16 (as CuPy's own means), in the
array's dtype otherwise, sequentially (so the last bits may differ from NumPy's pairwise
sums). The running statistics' update is one elementwise kernel for both, bit for bit the
portable body's. Declared in :data:`KERNELS` for the NVRTC check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .definitions import ElementwiseDefinition

__all__ = ["KERNELS", "batchnorm_backward", "batchnorm_forward", "running_stats"]

# Accumulate float16 columns in float (CuPy's float16 converts to float for arithmetic anyway).
_ACC = """
template <typename T> struct xplayers_acc { typedef T type; };
template <> struct xplayers_acc<float16> { typedef float type; };
"""

BATCHNORM_FORWARD = ElementwiseDefinition(
    name="xplayers_batchnorm_forward",
    in_params="raw T x, raw T gamma, raw T beta, int64 rows, int64 cols, T eps",
    out_params="raw T out, raw T xhat, T inv_std, T mean, T var",
    preamble=_ACC,
    operation="""
    typedef typename xplayers_acc<T>::type A;
    A s = 0;
    for (ptrdiff_t r = 0; r < rows; ++r) s += (A)x[r * cols + i];
    const A mu = s / (A)rows;
    A q = 0;
    for (ptrdiff_t r = 0; r < rows; ++r) { const A c = (A)x[r * cols + i] - mu; q += c * c; }
    const A v = q / (A)rows;
    const A inv = (A)1 / sqrt(v + (A)eps);
    const A g = (A)gamma[i], b = (A)beta[i];
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const A h = ((A)x[r * cols + i] - mu) * inv;
        xhat[r * cols + i] = h;
        out[r * cols + i] = g * h + b;
    }
    mean = mu; var = v; inv_std = inv;
    """,
    scalars=("rows", "cols", "eps"),
    reference="xplayers.kernels.norm_cupy:batchnorm_forward_reference",
    bit_exact=False,
)

BATCHNORM_BACKWARD = ElementwiseDefinition(
    name="xplayers_batchnorm_backward",
    in_params="raw T dout, raw T xhat, T gamma, T inv_std, int64 rows, int64 cols",
    out_params="raw T dx, T dgamma, T dbeta",
    preamble=_ACC,
    operation="""
    typedef typename xplayers_acc<T>::type A;
    A dg = 0, db = 0;
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const A d = (A)dout[r * cols + i];
        dg += d * (A)xhat[r * cols + i];
        db += d;
    }
    const A scale = (A)gamma * (A)inv_std;
    const A mg = dg / (A)rows, mb = db / (A)rows;
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const ptrdiff_t k = r * cols + i;
        dx[k] = ((A)dout[k] - ((A)xhat[k] * mg + mb)) * scale;
    }
    dgamma = dg; dbeta = db;
    """,
    scalars=("rows", "cols"),
    reference="xplayers.kernels.norm_cupy:batchnorm_backward_reference",
    bit_exact=False,
)

# momentum * running + (1 - momentum) * batch, as batchnorm.py's portable body writes it.
RUNNING_STATS = ElementwiseDefinition(
    name="xplayers_running_stats",
    in_params="T running_mean, T running_var, T mean, T var, T momentum, T keep",
    out_params="T new_mean, T new_var",
    operation="new_mean = momentum * running_mean + keep * mean; "
              "new_var = momentum * running_var + keep * var;",
    options=("--fmad=false",),
    scalars=("momentum", "keep"),
    reference="xplayers.kernels.norm_cupy:running_stats_reference",
)

KERNELS = (BATCHNORM_FORWARD, BATCHNORM_BACKWARD, RUNNING_STATS)


def batchnorm_forward_reference(x: Any, gamma: Any, beta: Any, rows: Any, cols: Any,
                                eps: Any) -> dict[str, np.ndarray]:
    """:data:`BATCHNORM_FORWARD` on NumPy (``layers/_norm.py``'s formulas), flat arrays."""
    a = np.asarray(x).reshape(int(rows), int(cols))
    mean = a.mean(axis=0)
    centred = a - mean
    var = (centred * centred).mean(axis=0)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(a.dtype)
    xhat = centred * inv_std
    return {"out": (gamma * xhat + beta).reshape(-1), "xhat": xhat.reshape(-1),
            "inv_std": inv_std, "mean": mean, "var": var}


def _forward_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"x": rng.uniform(-2, 3, 24 * 9), "gamma": rng.uniform(0.5, 2, 9),
            "beta": rng.uniform(-1, 1, 9), "rows": 24, "cols": 9, "eps": 1e-5}


batchnorm_forward_reference.sample_inputs = _forward_sample  # type: ignore[attr-defined]


def batchnorm_backward_reference(dout: Any, xhat: Any, gamma: Any, inv_std: Any, rows: Any,
                                 cols: Any) -> dict[str, np.ndarray]:
    """:data:`BATCHNORM_BACKWARD` on NumPy (``scale_shift_backward_portable``'s formulas)."""
    d = np.asarray(dout).reshape(int(rows), int(cols))
    h = np.asarray(xhat).reshape(int(rows), int(cols))
    dgamma, dbeta = (d * h).sum(axis=0), d.sum(axis=0)
    dx = h * (dgamma / rows)
    dx += dbeta / rows
    dx = d - dx
    dx *= gamma * inv_std
    return {"dx": dx.reshape(-1), "dgamma": dgamma, "dbeta": dbeta}


def _backward_sample(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    return {"dout": rng.uniform(-2, 2, 24 * 9), "xhat": rng.uniform(-2, 2, 24 * 9),
            "gamma": rng.uniform(0.5, 2, 9), "inv_std": rng.uniform(0.5, 2, 9),
            "rows": 24, "cols": 9}


batchnorm_backward_reference.sample_inputs = _backward_sample  # type: ignore[attr-defined]


def running_stats_reference(running_mean: Any, running_var: Any, mean: Any, var: Any,
                            momentum: Any, keep: Any) -> dict[str, np.ndarray]:
    """:data:`RUNNING_STATS` on NumPy."""
    return {"new_mean": momentum * running_mean + keep * mean,
            "new_var": momentum * running_var + keep * var}


_BUILT: dict[str, Any] = {}


def _kernel(defn: ElementwiseDefinition) -> Any:
    kernel = _BUILT.get(defn.name)
    if kernel is None:
        import cupy

        kernel = _BUILT[defn.name] = defn.build(cupy)
    return kernel


def batchnorm_forward(x: Any, gamma: Any, beta: Any, eps: float) -> tuple[Any, ...]:
    """``(out, xhat, inv_std, mean, var)`` of C-contiguous (N, D) ``x`` normalised over its
    rows, ``gamma``/``beta`` (D,); statistics shaped (1, D). One launch."""
    import cupy

    n, d = x.shape
    out = cupy.empty((n * d,), dtype=x.dtype)
    xhat = cupy.empty((n * d,), dtype=x.dtype)
    stats = [cupy.empty((d,), dtype=x.dtype) for _ in range(3)]
    _kernel(BATCHNORM_FORWARD)(x.reshape(-1), gamma, beta, np.int64(n), np.int64(d),
                               x.dtype.type(eps), out, xhat, *stats)
    inv_std, mean, var = (s.reshape(1, d) for s in stats)
    return out.reshape(n, d), xhat.reshape(n, d), inv_std, mean, var


def batchnorm_backward(dout: Any, xhat: Any, gamma: Any, inv_std: Any) -> tuple[Any, Any, Any]:
    """``(dx, dgamma, dbeta)`` through :func:`batchnorm_forward` (batch statistics);
    ``dgamma``/``dbeta`` shaped (1, D). One launch."""
    import cupy

    n, d = dout.shape
    dx = cupy.empty((n * d,), dtype=dout.dtype)
    dgamma = cupy.empty((d,), dtype=dout.dtype)
    dbeta = cupy.empty((d,), dtype=dout.dtype)
    _kernel(BATCHNORM_BACKWARD)(dout.reshape(-1), xhat.reshape(-1), gamma.reshape(-1),
                                inv_std.reshape(-1), np.int64(n), np.int64(d), dx, dgamma, dbeta)
    return dx.reshape(n, d), dgamma.reshape(1, d), dbeta.reshape(1, d)


def running_stats(running_mean: Any, running_var: Any, mean: Any, var: Any,
                  momentum: float) -> tuple[Any, Any]:
    """Both running statistics' updates in one launch (shapes equal)."""
    t = running_mean.dtype.type
    return _kernel(RUNNING_STATS)(running_mean, running_var, mean, var, t(momentum),
                                  t(1.0 - momentum))

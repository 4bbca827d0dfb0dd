"""numba kernels of spatial group norm (opt-in with ``XPLAYERS_NUMBA=1``, see
:mod:`xplayers._fast_paths`): one (example, group) row at a time while it is in the cache.

Main memory sees ``x`` read once and ``xhat`` and ``out`` written once in the forward, and
``dout`` and ``xhat`` read once and ``dx`` written once in the backward, where the NumPy body
needs several passes. Sums accumulate in float64, reassociated so that they vectorise (and
products may fuse into FMAs), so results agree with the NumPy body to float rounding, not bit
for bit. Imported only when enabled: numba is an optional extra.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy",
                  fastmath={"reassoc", "contract"})


@_jit
def group_norm_forward(x, gamma, beta, eps, xhat, out, inv_std):
    """x, xhat, out: (N, G, size, HW); gamma, beta: (G, size); inv_std: (N, G)."""
    n, groups, size, hw = x.shape
    count = size * hw
    for i in range(n):
        for g in range(groups):
            total = 0.0
            for c in range(size):
                for p in range(hw):
                    total += x[i, g, c, p]
            mean = total / count
            sq = 0.0
            for c in range(size):
                for p in range(hw):
                    d = x[i, g, c, p] - mean
                    sq += d * d
            inv = 1.0 / np.sqrt(sq / count + eps)
            inv_std[i, g] = inv
            for c in range(size):
                gc, bc = gamma[g, c], beta[g, c]
                for p in range(hw):
                    h = (x[i, g, c, p] - mean) * inv
                    xhat[i, g, c, p] = h
                    out[i, g, c, p] = gc * h + bc


@_jit
def group_norm_backward(dout, xhat, inv_std, gamma, dx, dgamma, dbeta):
    """dout, xhat, dx: (N, G, size, HW); inv_std: (N, G); gamma, dgamma, dbeta: (G, size)."""
    n, groups, size, hw = dout.shape
    count = size * hw
    acc_gamma = np.zeros((groups, size))
    acc_beta = np.zeros((groups, size))
    for i in range(n):
        for g in range(groups):
            mean_d = 0.0  # sum of gamma * dout over the group
            mean_dx = 0.0  # sum of gamma * dout * xhat over the group
            for c in range(size):
                s1 = 0.0
                s2 = 0.0
                for p in range(hw):
                    d = dout[i, g, c, p]
                    s1 += d
                    s2 += d * xhat[i, g, c, p]
                acc_beta[g, c] += s1
                acc_gamma[g, c] += s2
                mean_d += gamma[g, c] * s1
                mean_dx += gamma[g, c] * s2
            mean_d /= count
            mean_dx /= count
            inv = inv_std[i, g]
            for c in range(size):
                gc = gamma[g, c]
                for p in range(hw):
                    dx[i, g, c, p] = inv * (gc * dout[i, g, c, p] - mean_d
                                            - xhat[i, g, c, p] * mean_dx)
    for g in range(groups):
        for c in range(size):
            dgamma[g, c] = acc_gamma[g, c]
            dbeta[g, c] = acc_beta[g, c]

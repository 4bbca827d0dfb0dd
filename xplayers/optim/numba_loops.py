"""numba kernels of the update rules: one loop, each element read and written once.

Imported only by :mod:`xplayers._optim_kernels` on first use (numba is an optional extra).
The operations and their order are those of :data:`xplayers._optim_kernels.FORMULAS`; without
``fastmath`` LLVM neither reassociates nor contracts them, so results equal NumPy's bit for bit.
Arguments are 1-d views (inputs, then outputs, then scalars of the arrays' dtype); the
``*_in_place`` kernels take no outputs and overwrite ``w`` and the state arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@_jit
def _sgd(w, g, w_out, lr):
    for i in range(w.size):
        w_out[i] = w[i] - lr * g[i]


@_jit
def _momentum(w, g, v, w_out, v_out, mu, lr):
    for i in range(w.size):
        vi = mu * v[i] - lr * g[i]
        v_out[i] = vi
        w_out[i] = w[i] + vi


@_jit
def _nesterov(w, g, v, w_out, v_out, mu, lr):
    for i in range(w.size):
        v_prev = v[i]
        vi = mu * v_prev - lr * g[i]
        v_out[i] = vi
        w_out[i] = (w[i] + vi) + mu * (vi - v_prev)


@_jit
def _rmsprop(w, g, c, w_out, c_out, lr, decay, one_minus_decay, eps):
    for i in range(w.size):
        gi = g[i]
        ci = decay * c[i] + one_minus_decay * (gi * gi)
        c_out[i] = ci
        w_out[i] = w[i] - (lr * gi) / (np.sqrt(ci) + eps)


@_jit
def _adam(w, g, m, v, w_out, m_out, v_out, beta1, one_minus_beta1, beta2, one_minus_beta2,
          step_scale, eps_scaled):
    for i in range(w.size):
        gi = g[i]
        mi = beta1 * m[i] + one_minus_beta1 * gi
        vi = (gi * gi) * one_minus_beta2 + beta2 * v[i]
        m_out[i] = mi
        v_out[i] = vi
        w_out[i] = w[i] - (mi / (np.sqrt(vi) + eps_scaled)) * step_scale


KERNELS: dict[str, Callable[..., None]] = {
    "sgd": _sgd,
    "sgd_momentum": _momentum,
    "sgd_nesterov_momentum": _nesterov,
    "rmsprop": _rmsprop,
    "adam": _adam,
}


# In-place variants (``config['in_place']``): an output passed as its own input would make
# LLVM's runtime overlap check fail and run the scalar loop; here each array is one argument.
@_jit
def _sgd_in_place(w, g, lr):
    for i in range(w.size):
        w[i] = w[i] - lr * g[i]


@_jit
def _momentum_in_place(w, g, v, mu, lr):
    for i in range(w.size):
        vi = mu * v[i] - lr * g[i]
        v[i] = vi
        w[i] = w[i] + vi


@_jit
def _nesterov_in_place(w, g, v, mu, lr):
    for i in range(w.size):
        v_prev = v[i]
        vi = mu * v_prev - lr * g[i]
        v[i] = vi
        w[i] = (w[i] + vi) + mu * (vi - v_prev)


@_jit
def _rmsprop_in_place(w, g, c, lr, decay, one_minus_decay, eps):
    for i in range(w.size):
        gi = g[i]
        ci = decay * c[i] + one_minus_decay * (gi * gi)
        c[i] = ci
        w[i] = w[i] - (lr * gi) / (np.sqrt(ci) + eps)


@_jit
def _adam_in_place(w, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step_scale,
                   eps_scaled):
    for i in range(w.size):
        gi = g[i]
        mi = beta1 * m[i] + one_minus_beta1 * gi
        vi = (gi * gi) * one_minus_beta2 + beta2 * v[i]
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - (mi / (np.sqrt(vi) + eps_scaled)) * step_scale


IN_PLACE_KERNELS: dict[str, Callable[..., None]] = {
    "sgd": _sgd_in_place,
    "sgd_momentum": _momentum_in_place,
    "sgd_nesterov_momentum": _nesterov_in_place,
    "rmsprop": _rmsprop_in_place,
    "adam": _adam_in_place,
}

"""numba kernels of max pooling with 2x2 windows and stride 2 (when numba is switched on, or
by the automatic policy in long runs; see :mod:`xplayers._fast_paths`): one pass over each
window, without branches on the data.

The forward pass keeps the first maximum in row-major window order by the portable body's own
test (a later element takes over only when ``not (v <= best)`` and ``best`` is not NaN) and
copies the winner, so values, signed zeros and NaN payloads are those of the portable body bit
for bit. The backward pass writes every element of each window once (``dout`` at the winner,
+0.0 elsewhere): no sums, so it is bit for bit too. The selections are written as
conditional expressions over both outcomes, which compile to selects instead of branches
(random data mispredicts about every other branch). Imported only when first used: numba is
an optional extra.
"""

from __future__ import annotations

import numba

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@_jit
def _take(v, best):
    return (not v <= best) & (best == best)


@_jit
def max_pool_forward_2x2(x, out, argmax):
    """x: (N, C, H, W); out, argmax: (N, C, Ho, Wo); 2x2 windows with stride 2, the four
    elements of each unrolled (with the window size a run-time value the loop does not
    vectorise and runs some 20x slower)."""
    n, c, ho, wo = out.shape
    for a in range(n):
        for b in range(c):
            for r in range(ho):
                top, bottom = x[a, b, 2 * r], x[a, b, 2 * r + 1]
                best_row, arg_row = out[a, b, r], argmax[a, b, r]
                for s in range(wo):
                    best = top[2 * s]
                    arg = 0
                    v = top[2 * s + 1]
                    t = _take(v, best)
                    best, arg = (v, 1) if t else (best, arg)
                    v = bottom[2 * s]
                    t = _take(v, best)
                    best, arg = (v, 2) if t else (best, arg)
                    v = bottom[2 * s + 1]
                    t = _take(v, best)
                    best, arg = (v, 3) if t else (best, arg)
                    best_row[s] = best
                    arg_row[s] = arg


@_jit
def max_pool_backward_2x2(dout, argmax, dx):
    """dx: (N, C, H, W), each element a window reaches written once; see the forward."""
    n, c, ho, wo = dout.shape
    for a in range(n):
        for b in range(c):
            for r in range(ho):
                grad_row, arg_row = dout[a, b, r], argmax[a, b, r]
                top, bottom = dx[a, b, 2 * r], dx[a, b, 2 * r + 1]
                for s in range(wo):
                    grad, arg = grad_row[s], arg_row[s]
                    top[2 * s] = grad if arg == 0 else 0.0
                    top[2 * s + 1] = grad if arg == 1 else 0.0
                    bottom[2 * s] = grad if arg == 2 else 0.0
                    bottom[2 * s + 1] = grad if arg == 3 else 0.0

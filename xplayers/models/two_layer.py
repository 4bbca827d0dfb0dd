"""The course's two-layer net: affine - relu - affine - softmax."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import numpy as np

from ..layer_utils import affine_relu_backward, affine_relu_forward
from ..layers import affine_backward, affine_forward, softmax_loss
from .base import Model, weight_penalty
from .init import check_positive_int, check_scale, gaussian, weight_rng

__all__ = ["TwoLayerNet"]


class TwoLayerNet(Model):
    """Two-layer fully-connected net with a ReLU and a softmax loss.

    Parameters
    ----------
    input_dim : int
        D, the size of one (flattened) input.
    hidden_dim : int
        H, the hidden layer's width.
    num_classes : int
        C.
    weight_scale : float
        Standard deviation of the Gaussian initial weights (biases start at zero).
    reg : float
        L2 strength: the loss adds ``0.5 * reg * sum(W**2)`` over W1 and W2.
    dtype : str or dtype, keyword-only
        float32 (default) or float64 (for gradient checks): the initial parameters' dtype.
        The model computes in its parameters' dtype: assign float64 arrays to ``params``
        and ``loss`` runs in float64.
    seed : int or None, keyword-only
        Seed of the initial weights (NumPy's global state is left alone); None draws them
        from NumPy's global random state, as the course does.

    ``params``: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        *,
        dtype: Any = "float32",
        seed: int | None = None,
    ) -> None:
        dims = [check_positive_int("input_dim", input_dim),
                check_positive_int("hidden_dim", hidden_dim),
                check_positive_int("num_classes", num_classes)]
        scale = check_scale("weight_scale", weight_scale)
        super().__init__({"input_dim": dims[0], "hidden_dim": dims[1], "num_classes": dims[2],
                          "weight_scale": scale, "reg": float(reg),
                          "dtype": dtype, "seed": seed})
        rng = weight_rng(seed)
        for i, (d_in, d_out) in enumerate(pairwise(dims), start=1):
            self.params[f"W{i}"] = gaussian(rng, (d_in, d_out), scale, self.dtype)
            self.params[f"b{i}"] = np.zeros(d_out, dtype=self.dtype)

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Parameter shapes of ``TwoLayerNet(**config)`` (see :meth:`Model.param_shapes`)."""
        d = check_positive_int("input_dim", config.get("input_dim", 3 * 32 * 32))
        h = check_positive_int("hidden_dim", config.get("hidden_dim", 100))
        c = check_positive_int("num_classes", config.get("num_classes", 10))
        return {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}

    def loss(self, X: Any, y: Any = None) -> Any:
        """Scores (N, C) for ``X`` (N, d_1, ..., d_k) when ``y`` is None, else ``(loss, grads)``."""
        p = self.params
        xp = self.namespace()
        X = self.cast_input(xp, X)
        hidden, hidden_cache = affine_relu_forward(X, p["W1"], p["b1"])
        scores, scores_cache = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads: dict[str, Any] = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache, compute_dx=False)
        penalty = weight_penalty(xp, p, grads, self.reg)
        if self.reg:  # no kernel launch for adding 0.0
            loss = loss + penalty
        return loss, {name: grads[name] for name in p}

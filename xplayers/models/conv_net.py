"""The course's three-layer conv net: conv - relu - 2x2 max pool - affine - relu - affine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from ..layers import affine_backward, affine_forward, softmax_loss
from .base import Model, weight_penalty
from .init import check_positive_int, check_scale, gaussian, weight_rng

__all__ = ["ThreeLayerConvNet"]


class ThreeLayerConvNet(Model):
    """``conv - relu - 2x2 max pool - affine - relu - affine - softmax``.

    The convolution keeps the spatial size (stride 1, padding ``(filter_size - 1) // 2``);
    the pool halves it (rounding down).

    Parameters
    ----------
    input_dim : (C, H, W)
    num_filters : int
        F, the number of convolution filters.
    filter_size : int
        Odd width and height of each filter.
    hidden_dim : int
        Width of the hidden affine layer.
    num_classes : int
    weight_scale : float
        Standard deviation of the Gaussian initial weights.
    reg : float
        L2 strength on the weights.
    dtype : str or dtype
        float32 (default) or float64 (for gradient checks): the initial parameters' dtype.
        The model computes in its parameters' dtype: assign float64 arrays to ``params``
        and ``loss`` runs in float64.
    seed : int or None, keyword-only
        Seed of the initial weights (NumPy's global state is left alone); None draws them
        from NumPy's global random state, as the course does.

    ``params``: W1 (F, C, filter_size, filter_size), b1 (F,), W2 (F * H/2 * W/2, hidden),
    b2, W3 (hidden, num_classes), b3.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: Any = np.float32,
        *,
        seed: int | None = None,
    ) -> None:
        if not isinstance(input_dim, Sequence) or len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        c, h, w = (check_positive_int(f"input_dim[{i}]", v) for i, v in enumerate(input_dim))
        f = check_positive_int("num_filters", num_filters)
        size = check_positive_int("filter_size", filter_size)
        if size % 2 == 0:
            raise ValueError(f"filter_size must be odd so the convolution keeps the input's "
                             f"size, got {filter_size}")
        if h < 2 or w < 2:
            raise ValueError(f"input_dim must be at least 2x2 for the 2x2 pool, got {input_dim}")
        hidden = check_positive_int("hidden_dim", hidden_dim)
        classes = check_positive_int("num_classes", num_classes)
        scale = check_scale("weight_scale", weight_scale)
        super().__init__({"input_dim": [c, h, w], "num_filters": f, "filter_size": size,
                          "hidden_dim": hidden, "num_classes": classes, "weight_scale": scale,
                          "reg": float(reg), "dtype": dtype, "seed": seed})
        rng = weight_rng(seed)
        pooled = f * (h // 2) * (w // 2)
        self.params = {
            "W1": gaussian(rng, (f, c, size, size), scale, self.dtype),
            "b1": np.zeros(f, dtype=self.dtype),
            "W2": gaussian(rng, (pooled, hidden), scale, self.dtype),
            "b2": np.zeros(hidden, dtype=self.dtype),
            "W3": gaussian(rng, (hidden, classes), scale, self.dtype),
            "b3": np.zeros(classes, dtype=self.dtype),
        }
        self.conv_param = {"stride": 1, "pad": (size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Parameter shapes of ``ThreeLayerConvNet(**config)`` (see :meth:`Model.param_shapes`)."""
        input_dim = config.get("input_dim", (3, 32, 32))
        if not isinstance(input_dim, Sequence) or len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        c, h, w = (check_positive_int(f"input_dim[{i}]", v) for i, v in enumerate(input_dim))
        f = check_positive_int("num_filters", config.get("num_filters", 32))
        size = check_positive_int("filter_size", config.get("filter_size", 7))
        hidden = check_positive_int("hidden_dim", config.get("hidden_dim", 100))
        classes = check_positive_int("num_classes", config.get("num_classes", 10))
        pooled = f * (h // 2) * (w // 2)
        return {"W1": (f, c, size, size), "b1": (f,), "W2": (pooled, hidden), "b2": (hidden,),
                "W3": (hidden, classes), "b3": (classes,)}

    def loss(self, X: Any, y: Any = None) -> Any:
        """Scores (N, C) for images ``X`` (N, C, H, W) if ``y`` is None, else ``(loss, grads)``."""
        p = self.params
        xp = self.namespace()
        X = self.cast_input(xp, X)
        pooled, conv_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param,
                                                    self.pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads: dict[str, Any] = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, conv_cache,
                                                              compute_dx=False)
        penalty = weight_penalty(xp, p, grads, self.reg)
        if self.reg:  # no kernel launch for adding 0.0
            loss = loss + penalty
        return loss, {name: grads[name] for name in p}

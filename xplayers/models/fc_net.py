"""The course's fully-connected net of any depth, with optional normalisation and dropout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from ..backend.random_streams import RandomStream, is_seed
from ..layer_utils import (
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from ..layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    softmax_loss,
)
from .base import Model, weight_penalty
from .init import check_positive_int, check_scale, gaussian, weight_rng

__all__ = ["FullyConnectedNet"]

NORMALIZATIONS = (None, "batchnorm", "layernorm")


class FullyConnectedNet(Model):
    """Fully-connected net; ``dropout`` is the probability of DROPPING a unit (0 = none).

    ``{affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax``. The course's
    2019-on keep probability (``dropout_keep_ratio``, 1 = none) is
    :class:`xplayers.course.classifiers.fc_net.FullyConnectedNet`.

    Parameters
    ----------
    hidden_dims : sequence of int
        Width of each hidden layer (L - 1 of them).
    input_dim : int
        D, the size of one (flattened) input.
    num_classes : int
        C.
    dropout : float
        Probability of DROPPING a hidden unit; 0 turns dropout off.
    normalization : None, 'batchnorm' or 'layernorm'
    reg : float
        L2 strength on the weights.
    weight_scale : float
        Standard deviation of the Gaussian initial weights.
    dtype : str or dtype
        float32 (default) or float64 (for gradient checks): the initial parameters' dtype.
        The model computes in its parameters' dtype: assign float64 arrays to ``params``
        and ``loss`` runs in float64.
    seed : int or None
        Seeds the initial weights and, as in the course, fixes the dropout masks so the model
        can be gradient-checked. Leave it None to train with fresh masks every step (weights
        can still be seeded with ``init_seed``, and the masks with ``dropout_seed``).
    init_seed : int or None, keyword-only
        Seed of the initial weights alone; defaults to ``seed``. With neither, the weights
        come from NumPy's global random state, as in the course.
    dropout_seed : int or None, keyword-only
        Seeds the sequence of dropout masks: a new mask at every step, the same sequence in
        every run on the same device (one :class:`xplayers.RandomStream` per dropout layer).
        Ignored when ``seed`` fixes the masks.

    ``params``: W1 (D, H1), b1, ..., WL (H_{L-1}, C), bL, and gamma1, beta1, ... for each
    normalised hidden layer.
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout: float = 0.0,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: Any = np.float32,
        seed: int | None = None,
        *,
        init_seed: int | None = None,
        dropout_seed: int | None = None,
    ) -> None:
        if isinstance(hidden_dims, (int, np.integer)) or not isinstance(hidden_dims, Sequence):
            raise ValueError(f"hidden_dims must be a list of widths, got {hidden_dims!r}")
        hidden = [check_positive_int(f"hidden_dims[{i}]", h) for i, h in enumerate(hidden_dims)]
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout is the drop probability and must lie in [0, 1), "
                             f"got {dropout!r}; for the course's keep probability (1 = no "
                             "dropout) use xplayers.course.classifiers.fc_net."
                             "FullyConnectedNet(dropout_keep_ratio=...)")
        scale = check_scale("weight_scale", weight_scale)
        if dropout_seed is not None and not is_seed(dropout_seed):
            raise ValueError(f"dropout_seed must be None or a non-negative integer, "
                             f"got {dropout_seed!r}")
        dims = [check_positive_int("input_dim", input_dim), *hidden,
                check_positive_int("num_classes", num_classes)]
        super().__init__({"hidden_dims": hidden, "input_dim": dims[0], "num_classes": dims[-1],
                          "dropout": float(dropout), "normalization": normalization,
                          "reg": float(reg), "weight_scale": scale,
                          "dtype": dtype,
                          "seed": seed, "init_seed": init_seed,
                          "dropout_seed": dropout_seed})
        self.num_layers = len(dims) - 1
        self.normalization = normalization
        self.use_dropout = float(dropout) > 0
        rng = weight_rng(seed if init_seed is None else init_seed)
        for i, (d_in, d_out) in enumerate(pairwise(dims), start=1):
            self.params[f"W{i}"] = gaussian(rng, (d_in, d_out), scale, self.dtype)
            self.params[f"b{i}"] = np.zeros(d_out, dtype=self.dtype)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(d_out, dtype=self.dtype)
                self.params[f"beta{i}"] = np.zeros(d_out, dtype=self.dtype)
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        self._ln_params: list[dict[str, Any]] = [{} for _ in range(self.num_layers - 1)]
        self.dropout_params = []
        if self.use_dropout:
            for i in range(self.num_layers - 1):
                param: dict[str, Any] = {"mode": "train", "p": float(dropout)}
                if seed is not None:
                    param["seed"] = seed + i
                elif dropout_seed is not None:
                    param["seed"] = RandomStream(_layer_seed(dropout_seed, i))
                self.dropout_params.append(param)

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Parameter shapes of ``FullyConnectedNet(**config)`` (see :meth:`Model.param_shapes`)."""
        hidden_dims = config.get("hidden_dims")
        if isinstance(hidden_dims, (int, np.integer)) or not isinstance(hidden_dims, Sequence):
            raise ValueError(f"hidden_dims must be a list of widths, got {hidden_dims!r}")
        dims = [check_positive_int("input_dim", config.get("input_dim", 3 * 32 * 32)),
                *(check_positive_int(f"hidden_dims[{i}]", h) for i, h in enumerate(hidden_dims)),
                check_positive_int("num_classes", config.get("num_classes", 10))]
        normalized = config.get("normalization") is not None
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (d_in, d_out) in enumerate(pairwise(dims), start=1):
            shapes[f"W{i}"], shapes[f"b{i}"] = (d_in, d_out), (d_out,)
            if normalized and i < len(dims) - 1:
                shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (d_out,)
        return shapes

    def _norm_params(self) -> list[dict[str, Any]]:
        return self.bn_params if self.normalization == "batchnorm" else self._ln_params

    def loss(self, X: Any, y: Any = None) -> Any:
        """Scores (N, C) for ``X`` (N, d_1, ..., d_k) when ``y`` is None, else ``(loss, grads)``.

        With ``y`` the model runs in training mode (batch statistics, dropout on) and returns
        the mean softmax loss plus the L2 penalty, and gradients keyed like ``params``.
        """
        p = self.params
        xp = self.namespace()
        X = self.cast_input(xp, X)
        mode = self.layer_mode(y)
        self._set_mode(mode)
        for param in self.dropout_params:
            param["mode"] = mode

        caches: list[tuple[tuple[Any, ...], Any]] = []
        cache: tuple[Any, ...]
        h = X
        for i in range(1, self.num_layers):
            if self.normalization is None:
                h, cache = affine_relu_forward(h, p[f"W{i}"], p[f"b{i}"])
            else:
                h, cache = affine_norm_relu_forward(
                    h, p[f"W{i}"], p[f"b{i}"], p[f"gamma{i}"], p[f"beta{i}"],
                    self._norm_params()[i - 1], self.normalization,
                )
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_params[i - 1])
            caches.append((cache, drop_cache))
        last = self.num_layers
        scores, scores_cache = affine_forward(h, p[f"W{last}"], p[f"b{last}"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads: dict[str, Any] = {}
        dh, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(
            dscores, scores_cache, compute_dx=self.num_layers > 1
        )
        for i in range(self.num_layers - 1, 0, -1):
            cache, drop_cache = caches[i - 1]
            if drop_cache is not None:
                dh = dropout_backward(dh, drop_cache)
            first = i == 1
            if self.normalization is None:
                dh, grads[f"W{i}"], grads[f"b{i}"] = affine_relu_backward(
                    dh, cache, compute_dx=not first
                )
            else:
                (dh, grads[f"W{i}"], grads[f"b{i}"], grads[f"gamma{i}"],
                 grads[f"beta{i}"]) = affine_norm_relu_backward(dh, cache, compute_dx=not first)
        penalty = weight_penalty(xp, p, grads, self.reg)
        if self.reg:  # no kernel launch for adding 0.0
            loss = loss + penalty
        return loss, {name: grads[name] for name in p}


def _layer_seed(seed: int, layer: int) -> int:
    """An independent 32-bit seed for dropout layer ``layer`` from the model's ``seed``."""
    return int(np.random.SeedSequence([int(seed), layer]).generate_state(1)[0])

"""The course's ``cs231n.classifiers.fc_net``; ``dropout_keep_ratio`` is a KEEP probability.

As the course's module does, ``from xplayers.course.classifiers.fc_net import *`` also brings
every layer (:mod:`xplayers.course.layers`) and sandwich. The nets are xplayers' models; the
course's meaning of their arguments is converted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...backend.random_streams import is_seed
from ...models import FullyConnectedNet as _FullyConnectedNet
from ...models import TwoLayerNet as _TwoLayerNet
from .._dropout import keep_to_drop
from ..layer_utils import *  # noqa: F403
from ..layer_utils import __all__ as _sandwich_names
from ..layers import *  # noqa: F403
from ..layers import __all__ as _layer_names

__all__ = ["FullyConnectedNet", "TwoLayerNet", *_layer_names, *_sandwich_names]


class TwoLayerNet(_TwoLayerNet):
    """The course's two-layer net: float64 parameters by default, as the course's are.

    Same arguments as :class:`xplayers.models.TwoLayerNet`, whose default is float32.
    Without ``seed`` the weights come from NumPy's global random state, as in the course.
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        *,
        dtype: Any = np.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__(input_dim, hidden_dim, num_classes, weight_scale, reg, dtype=dtype,
                         seed=seed)


class FullyConnectedNet(_FullyConnectedNet):
    """Fully-connected net; ``dropout_keep_ratio`` (or ``dropout``) is the KEEP probability.

    The course's signature from 2019 on: 1 (the default) turns dropout off. The keep
    probability is converted to :class:`xplayers.models.FullyConnectedNet`'s drop
    probability ``1 - keep``; every other argument means what it means there. ``config``
    and saved checkpoints are in xplayers' meaning (``dropout`` = drop probability): they
    rebuild an :class:`xplayers.models.FullyConnectedNet` (``load_model`` does).

    Parameters
    ----------
    hidden_dims, input_dim, num_classes, normalization, reg, weight_scale, dtype
        As for :class:`xplayers.models.FullyConnectedNet`.
    seed : int or None
        As in the course: fixes the dropout masks (for gradient checks) and nothing else; the
        initial weights come from NumPy's global random state either way.
    dropout_keep_ratio : float
        Probability of KEEPING a hidden unit, in (0, 1].
    dropout : float, keyword-only
        The 2019 notebooks' name for ``dropout_keep_ratio`` (also a keep probability).
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: Any = np.float32,
        seed: int | None = None,
        *,
        dropout: float | None = None,
    ) -> None:
        name = "dropout_keep_ratio"
        if dropout is not None:
            if dropout_keep_ratio != 1:
                raise ValueError(
                    "FullyConnectedNet: give dropout_keep_ratio or dropout (its 2019 name), "
                    f"not both: got dropout_keep_ratio={dropout_keep_ratio!r}, "
                    f"dropout={dropout!r}"
                )
            dropout_keep_ratio, name = dropout, "dropout"
        drop = keep_to_drop("FullyConnectedNet", name, dropout_keep_ratio)
        if seed is not None and not is_seed(seed):
            raise ValueError(f"FullyConnectedNet: seed must be None or a non-negative integer, "
                             f"got {seed!r}")
        # The course's seed fixes the dropout masks only: the weights still come from NumPy's
        # global state (np.random.seed), as the course's do.
        super().__init__(hidden_dims, input_dim, num_classes, drop, normalization, reg,
                         weight_scale, dtype, init_seed=None)
        if seed is not None:
            for i, param in enumerate(self.dropout_params):
                param["seed"] = int(seed) + i  # as xplayers' FullyConnectedNet(seed=) does

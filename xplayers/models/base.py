"""What every model shares: parameters, running statistics, devices, dtype and saving."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from ..backend.devices import device_name, resolve_device, to_device
from ..backend.namespace import get_array_module, is_cupy_array, is_numpy_array
from ._registry import register

__all__ = ["Model", "dtype_name", "weight_penalty"]


def dtype_name(dtype: Any) -> str:
    """``'float32'`` or ``'float64'`` for a dtype given as a NumPy dtype, type or name.

    Raises
    ------
    ValueError
        For any other dtype.
    """
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {name}")
    return name


def weight_penalty(
    xp: ModuleType, params: Mapping[str, Any], grads: dict[str, Any], reg: float
) -> Any:
    """Add L2 regularisation ``0.5 * reg * sum(W**2)`` over the weights (names ``W*``).

    The weights' gradients in ``grads`` get ``reg * W`` added; the penalty is returned
    (a 0-d array, or 0.0 when ``reg`` is 0).
    """
    if not reg:
        return 0.0
    penalty = 0.0
    for name, w in params.items():
        if name.startswith("W"):
            penalty = penalty + 0.5 * reg * xp.sum(w * w)
            grads[name] = grads[name] + reg * w
    return penalty


def _is_floating(xp: ModuleType, dtype: Any) -> bool:
    if isinstance(dtype, np.dtype):
        return dtype.kind == "f"
    return bool(xp.isdtype(dtype, "real floating"))


class Model:
    """Base class of the models: a ``params`` dict plus non-trainable running statistics.

    Subclasses fill ``params`` (host NumPy arrays drawn from a seeded generator), keep their
    constructor arguments in ``self._config`` and implement :meth:`loss`. Running statistics
    (batch normalisation) live in ``self.bn_params``, a list of dicts, so that they travel with
    the parameters when the model moves. As in the course, ``loss(X, y)`` trains (batch
    statistics, dropout); after :meth:`eval` it evaluates without side effects until
    :meth:`train`. Subclasses register themselves so that checkpoints can name them.
    """

    params: dict[str, Any]
    reg: float
    dtype: str
    bn_params: list[dict[str, Any]]
    training: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter a model built from ``config`` has, allocating nothing.

        Checkpoints compare these with the stored arrays before building a model, so a crafted
        configuration cannot make the loader allocate huge arrays. Raises ``ValueError`` for
        a configuration the constructor would refuse.
        """
        raise NotImplementedError

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = dict(config)
        self.params = {}
        self.bn_params = []
        self.reg = float(config.get("reg", 0.0))
        if not math.isfinite(self.reg) or self.reg < 0:
            raise ValueError(f"reg must be a finite number >= 0, got {config.get('reg')!r}")
        self.dtype = dtype_name(config.get("dtype", "float32"))
        self._config["dtype"] = self.dtype

    # -- description ---------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable; ``type(model)(**config)`` rebuilds.

        ``dtype`` is the parameters' dtype when they all share float32 or float64 (the model
        computes in it, even after ``params`` were replaced), else the constructor's.
        """
        config = dict(self._config)
        names = {str(p.dtype).rsplit(".", 1)[-1] for p in self.params.values()}
        if len(names) == 1 and names <= {"float32", "float64"}:
            config["dtype"] = names.pop()
        return config

    @property
    def device(self) -> str:
        """``'cpu'`` or ``'cuda:N'``: where the parameters live."""
        return device_name(next(iter(self.params.values())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args}) on {self.device}"

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Running statistics as a flat dict (``running_mean1``, ``running_var1``, ...).

        Layers that have not run in training mode yet have no entry.
        """
        out = {}
        for i, bn in enumerate(self.bn_params, start=1):
            for key in ("running_mean", "running_var"):
                if key in bn:
                    out[f"{key}{i}"] = bn[key]
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Set running statistics from a dict shaped like :meth:`state`'s result."""
        for i, bn in enumerate(self.bn_params, start=1):
            for key in ("running_mean", "running_var"):
                name = f"{key}{i}"
                if name in state:
                    bn[key] = state[name]
                else:
                    bn.pop(key, None)

    def random_state(self) -> list[dict[str, Any] | None]:
        """The host state of each dropout layer's :class:`~xplayers.RandomStream` (None for
        layers without one, or before their first draw); JSON-serialisable."""
        from ..backend.random_streams import RandomStream

        states = []
        for param in getattr(self, "dropout_params", []):
            stream = param.get("seed")
            states.append(stream.host_state() if isinstance(stream, RandomStream) else None)
        return states

    def set_random_state(self, states: list[dict[str, Any] | None]) -> None:
        """Restore what :meth:`random_state` returned.

        Raises
        ------
        ValueError
            If ``states`` does not have one entry per dropout layer.
        """
        from ..backend.random_streams import RandomStream

        params = getattr(self, "dropout_params", [])
        if not isinstance(states, list) or len(states) != len(params):
            raise ValueError(f"random state must list {len(params)} dropout layers, got "
                             f"{states!r}")
        for param, state in zip(params, states, strict=True):
            stream = param.get("seed")
            if isinstance(stream, RandomStream):
                stream.set_host_state(state)

    def to(self, device: str | None = None) -> Model:
        """Move parameters and running statistics to ``device`` (in place); returns ``self``."""
        target = resolve_device(device)
        params = to_device(self.params, target)
        state = to_device(self.state(), target)
        self.params = params
        self.load_state(state)
        return self

    def namespace(self) -> ModuleType:
        """The array namespace of the parameters."""
        return get_array_module(**self.params)

    def compute_dtype(self, xp: ModuleType) -> Any:
        """The dtype the model computes in: that of its (floating) parameters.

        Promoted like the layers do when they differ; ``dtype=`` only sets the initial
        parameters, so float64 arrays assigned to ``params`` make the model run in float64.
        """
        dtypes = {p.dtype for p in self.params.values() if _is_floating(xp, p.dtype)}
        if not dtypes:
            return getattr(xp, self.dtype)
        return dtypes.pop() if len(dtypes) == 1 else xp.result_type(*dtypes)

    def cast_input(self, xp: ModuleType, X: Any) -> Any:
        """``X`` in the parameters' dtype (integer or float64 inputs to a float32 model, say).

        Raises ``TypeError``/``ValueError`` naming both when ``X`` is not where the
        parameters are.
        """
        name, first = next(iter(self.params.items()))
        get_array_module(X=X, **{f"the model's {name}": first})
        wanted = self.compute_dtype(xp)
        return X if X.dtype == wanted else xp.astype(X, wanted)

    def _set_mode(self, mode: str) -> None:
        for bn in self.bn_params:
            bn["mode"] = mode

    def layer_mode(self, y: Any) -> str:
        """``'train'`` when ``loss(X, y)`` should train (labels given, :meth:`train` mode)."""
        return "train" if y is not None and self.training else "test"

    def eval(self) -> Model:
        """Evaluation mode: ``loss(X, y)`` gives the loss and gradients with running statistics
        and without dropout, and changes nothing in the model. Returns ``self``."""
        self.training = False
        return self

    def train(self) -> Model:
        """Training mode (the default, as in the course): ``loss(X, y)`` uses batch statistics,
        updates the running statistics and drops units. Returns ``self``."""
        self.training = True
        return self

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every running statistic this model can hold (``running_mean1``, ...)."""
        shapes = {}
        for i, _ in enumerate(self.bn_params, start=1):
            gamma = self.params.get(f"gamma{i}")
            if gamma is not None:
                shapes[f"running_mean{i}"] = shapes[f"running_var{i}"] = tuple(gamma.shape)
        return shapes

    # -- use -----------------------------------------------------------------------------
    def loss(self, X: Any, y: Any = None) -> Any:
        """Scores ``(N, C)`` when ``y`` is None, else ``(loss, grads)``."""
        raise NotImplementedError

    def predict(self, X: Any, batch_size: int = 1000) -> Any:
        """Predicted class of each row of ``X`` (moved to the model's device batch by batch).

        Returns
        -------
        array of int, shape (N,), on the model's device
        """
        xp = self.namespace()
        first = next(iter(self.params.values()))
        movable = is_numpy_array(first) or is_cupy_array(first)
        preds = []
        for start in range(0, X.shape[0], batch_size):
            batch = X[start : start + batch_size]
            if movable:
                batch = to_device(batch, self.device)
            preds.append(xp.argmax(self.loss(batch), axis=1))
        if not preds:
            return xp.zeros((0,), dtype=xp.int64, device=first.device)
        return xp.concat(preds)

    def save(self, path: str) -> None:
        """Write the model to ``path`` as an ``.npz`` checkpoint (atomically, no pickle)."""
        from .checkpoint import save_model

        save_model(self, path)

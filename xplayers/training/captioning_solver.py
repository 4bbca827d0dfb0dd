"""The course's CaptioningSolver: trains a captioning model on minibatches of captions, on any
device, with xplayers' update rules, a progress bar and resumable checkpoints.

As in the course, every step draws ``batch_size`` captions with replacement
(``np.random.choice``) and the learning rate decays after each epoch of
``max(num_captions // batch_size, 1)`` steps; there is no validation accuracy. A NaN or
infinite loss is recorded with a warning and training carries on, as the course's does.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..backend.checks import as_integer, check_positive_int, check_positive_number
from ..backend.devices import device_context, resolve_device, to_device, to_numpy
from ..backend.namespace import get_array_module
from ..backend.random_streams import is_seed
from ..backend.trusted_labels import labels_checked
from ..checkpoint import format as checkpoint_format
from ..optim import get_optimizer

__all__ = ["CaptioningSolver"]

_REQUIRED = ("train_captions", "train_image_idxs", "train_features")
_SETTINGS = ("update_rule", "lr_decay", "batch_size", "num_epochs", "print_every", "seed")


class CaptioningSolver:
    """Trains a model with ``params`` and ``loss(features, captions)`` on captioning data.

    Parameters
    ----------
    model : CaptioningRNN (or anything with ``params``, ``loss`` and ``to``)
    data : dict
        From :func:`xplayers.course.coco_utils.load_coco_data` (or built the same way):
        ``train_captions`` (N, T + 1) integers, ``train_image_idxs`` (N,) rows of
        ``train_features`` (M, D).
    update_rule : str or callable
        A name in :data:`xplayers.optim.OPTIMIZERS` (default ``'sgd'``) or a function
        ``(w, dw, config) -> (next_w, config)``.
    optim_config : dict
        Hyperparameters of the update rule (each parameter gets its own copy).
    lr_decay : float
        The learning rate is multiplied by this (> 0) after each epoch.
    batch_size, num_epochs, print_every : int
    verbose : bool
        Print the loss every ``print_every`` steps (the course's lines) and show a progress
        bar (tqdm, when installed).
    device : str or None
        ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``; None means
        :func:`xplayers.default_device`. The model and the training split move there once.
    seed : int or None
        Seeds the minibatches; None draws them from NumPy's global random state, as the
        course does (``np.random.seed(231)`` repeats them).
    checkpoint_name : str or None
        If given, ``{checkpoint_name}_epoch_{epoch}.npz`` is written after each epoch;
        :meth:`from_checkpoint` resumes from it.

    Attributes
    ----------
    loss_history : list of float
    epoch : int
    """

    def __init__(
        self,
        model: Any,
        data: Mapping[str, Any],
        *,
        update_rule: str | Callable[..., Any] = "sgd",
        optim_config: Mapping[str, Any] | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        print_every: int = 10,
        verbose: bool = True,
        device: str | None = None,
        seed: int | None = None,
        checkpoint_name: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(getattr(model, "params", None), Mapping) or not callable(
                getattr(model, "loss", None)):
            raise TypeError("model must have a 'params' dict and a 'loss(features, captions)' "
                            f"method, got a {type(model).__name__}")
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ValueError(f"data is missing {missing}; it needs {list(_REQUIRED)} (see "
                             "load_coco_data)")
        if optim_config is not None and not isinstance(optim_config, Mapping):
            raise ValueError(f"optim_config must be a dict, got {optim_config!r}")
        if seed is not None and not is_seed(seed):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        self.model = model
        self.data = data
        self.update_rule_name = update_rule
        self.update_rule = get_optimizer(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = check_positive_number("lr_decay", lr_decay)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.num_epochs = check_positive_int("num_epochs", num_epochs)
        self.print_every = check_positive_int("print_every", print_every)
        self.verbose = bool(verbose)
        self.seed = None if seed is None else int(seed)
        self.checkpoint_name = None if checkpoint_name is None else os.fspath(checkpoint_name)
        self._rng = np.random if seed is None else np.random.default_rng(seed)
        self.device = resolve_device(device)
        self._vocab_size = _vocab_size(model)
        self._load_split(data)
        if callable(getattr(model, "to", None)):
            model.to(self.device)
        else:
            model.params = to_device(dict(model.params), self.device)
        self._reset()

    # -- data ----------------------------------------------------------------------------
    def _load_split(self, data: Mapping[str, Any]) -> None:
        """Check the training split once and move captions and features to the device."""
        captions, idxs = to_numpy(data["train_captions"]), to_numpy(data["train_image_idxs"])
        features = data["train_features"]
        if captions.ndim != 2 or captions.shape[1] < 2 or captions.dtype.kind not in "iu":
            raise ValueError("data['train_captions'] must be integers of shape (N, T + 1), "
                             f"got {captions.dtype} of shape {captions.shape}")
        if idxs.shape != (captions.shape[0],) or idxs.dtype.kind not in "iu":
            raise ValueError(f"data['train_image_idxs'] must be {captions.shape[0]} integers "
                             f"(one per caption), got {idxs.dtype} of shape {idxs.shape}")
        if captions.shape[0] == 0:
            raise ValueError("data['train_captions'] is empty: nothing to train on")
        if getattr(features, "ndim", 0) != 2:
            raise ValueError("data['train_features'] must have shape (M, D), got "
                             f"{getattr(features, 'shape', type(features).__name__)}")
        if idxs.min() < 0 or idxs.max() >= features.shape[0]:
            raise ValueError(f"data['train_image_idxs'] must lie in [0, {features.shape[0]}) "
                             f"(rows of train_features), got values from {idxs.min()} to "
                             f"{idxs.max()}")
        if self._vocab_size is not None and (captions.min() < 0
                                             or captions.max() >= self._vocab_size):
            raise ValueError(f"data['train_captions'] must hold word indices in [0, "
                             f"{self._vocab_size}) for the model's vocabulary, got values "
                             f"from {captions.min()} to {captions.max()}")
        with device_context(self.device):
            self._captions = to_device(captions.astype(np.int64, copy=False), self.device)
            self._features = to_device(features, self.device)
        self._image_idxs = idxs.astype(np.int64, copy=False)
        self.num_train = int(captions.shape[0])

    def _epoch_batches(self) -> list[tuple[Any, Any]]:
        """One epoch's minibatch indices (captions, feature rows), drawn as the course does
        and moved to the device at once."""
        steps = self.iterations_per_epoch
        draws = np.stack([self._rng.choice(self.num_train, self.batch_size)
                          for _ in range(steps)])
        rows = self._image_idxs[draws]
        draws, rows = to_device((draws, rows), self.device)
        return [(draws[k, :], rows[k, :]) for k in range(steps)]

    @property
    def iterations_per_epoch(self) -> int:
        return max(self.num_train // self.batch_size, 1)

    # -- training ------------------------------------------------------------------------
    def _reset(self) -> None:
        self.epoch = 0
        self.loss_history: list[float] = []
        self._pending: list[Any] = []
        self._warned = False
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self, caption_idx: Any, feature_idx: Any) -> None:
        xp = get_array_module(self._captions)
        captions = xp.take(self._captions, caption_idx, axis=0)
        features = xp.take(self._features, feature_idx, axis=0)
        checked = (labels_checked(self._vocab_size) if self._vocab_size is not None
                   else contextlib.nullcontext())
        with checked:
            loss, grads = self.model.loss(features, captions)
        updated, configs = {}, {}
        for name, w in self.model.params.items():
            updated[name], configs[name] = self.update_rule(w, grads[name],
                                                            dict(self.optim_configs[name]))
        self.model.params.update(updated)
        self.optim_configs.update(configs)
        self._pending.append(loss)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        values = _floats(pending)
        finite = np.isfinite(values)
        if not self._warned and not finite.all():
            self._warned = True
            first = int(np.argmin(finite))
            warnings.warn(f"CaptioningSolver: the training loss became {values[first]} at "
                          f"iteration {len(self.loss_history) + first + 1}; training carries "
                          "on as in the course (try a smaller learning rate)",
                          RuntimeWarning, stacklevel=3)
        self.loss_history.extend(float(v) for v in values)

    def train(self) -> None:
        """Run the optimisation for ``num_epochs`` (from the saved epoch, when resumed)."""
        with device_context(self.device):
            self._train()

    def _train(self) -> None:
        per_epoch = self.iterations_per_epoch
        total = self.num_epochs * per_epoch
        bar = _progress(total, self.verbose)
        if bar is not None:
            bar.update(self.epoch * per_epoch)
        try:
            while self.epoch < self.num_epochs:
                for k, (caption_idx, feature_idx) in enumerate(self._epoch_batches()):
                    t = self.epoch * per_epoch + k
                    self._step(caption_idx, feature_idx)
                    if bar is not None:
                        bar.update(1)
                    if self.verbose and t % self.print_every == 0:
                        self._flush()
                        _say(bar, f"(Iteration {t + 1} / {total}) loss: "
                                  f"{self.loss_history[-1]:f}")
                self._flush()
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                if self.checkpoint_name is not None:
                    self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")
        finally:
            self._flush()
            if bar is not None:
                bar.close()

    # -- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the model, the optimizer state and the solver's position to ``path``."""
        self._flush()
        scalars: dict[str, dict[str, Any]] = {}
        arrays: dict[str, Any] = {}
        for name, config in self.optim_configs.items():
            scalars[name] = {}
            for key, value in config.items():
                if isinstance(value, (bool, numbers.Number)):
                    scalars[name][key] = value.item() if isinstance(value, np.generic) else value
                else:
                    arrays[checkpoint_format.entry(checkpoint_format.OPTIM, name, key)] = value
        rule = self.update_rule_name
        settings = {key: getattr(self, key) for key in _SETTINGS}
        settings["update_rule"] = rule if isinstance(rule, str) else None
        record = checkpoint_format.CaptioningRecord(
            settings, self.epoch, self.loss_history, scalars,
            None if self.seed is None else dict(self._rng.bit_generator.state))
        checkpoint_format.write(path, self.model, extra=checkpoint_format.captioning_extra(record),
                                arrays=arrays)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], data: Mapping[str, Any],
                        **overrides: Any) -> CaptioningSolver:
        """A solver that continues the run saved in ``path`` by :meth:`save_checkpoint`.

        With a ``seed``, k epochs + save + resume + the rest gives the parameters of one
        uninterrupted run (bit for bit on the same device); without one the minibatches come
        from NumPy's global state, which is not saved. ``overrides`` replace constructor
        arguments (``num_epochs``, ``device``, ``verbose``, ``checkpoint_name``, ...).

        Raises
        ------
        ValueError
            Naming the file, when it is damaged or holds no captioning solver state.
        """
        from ..models.checkpoint import build_model

        where = f"checkpoint {str(path)!r}"
        meta, entries = checkpoint_format.read(path)
        info = checkpoint_format.captioning_record(meta)
        if info is None:
            raise ValueError(f"{where} holds no CaptioningSolver state (was it written by "
                             "CaptioningSolver.save_checkpoint?)")
        model = build_model(path, meta, entries)
        settings = {**info.settings, **overrides}
        if settings.get("update_rule") is None:
            raise ValueError(f"{where} was trained with a custom update rule function; pass "
                             "it again as update_rule=")
        solver = cls(model, data, **settings)
        epoch = as_integer(info.epoch)
        if epoch is None or not 0 <= epoch <= solver.num_epochs:
            raise ValueError(f"{where}: its epoch {info.epoch!r} is not within "
                             f"[0, num_epochs={solver.num_epochs}]")
        solver.epoch = epoch
        solver.loss_history = [float(v) for v in info.loss_history]
        configs = {name: dict(values) for name, values in info.optim_scalars.items()}
        if set(configs) != set(model.params):
            raise ValueError(f"{where}: its optimizer state names {sorted(configs)}, the model "
                             f"has {sorted(model.params)}")
        for entry, value in checkpoint_format.group(entries, checkpoint_format.OPTIM).items():
            if "/" in entry:
                name, key = entry.split("/", 1)
                if name not in configs:
                    raise ValueError(f"{where} has optimizer state for an unknown parameter "
                                     f"{name!r}")
                configs[name][key] = to_device(value.astype(model.dtype), solver.device)
        solver.optim_configs = configs
        if solver.seed is not None and info.rng_state is not None:
            solver._rng.bit_generator.state = info.rng_state
        return solver


# -- helpers -----------------------------------------------------------------------------
def _vocab_size(model: Any) -> int | None:
    embed = getattr(model, "params", {}).get("W_embed")
    return None if embed is None else int(embed.shape[0])


def _floats(values: list[Any]) -> np.ndarray:
    """The 0-d losses as host floats, read from their device in one transfer."""
    if not values:
        return np.zeros(0)
    if all(isinstance(v, (numbers.Real, np.ndarray, np.generic)) for v in values):
        return np.array([float(v) for v in values])
    xp = get_array_module(*values)
    return np.asarray(to_numpy(xp.stack([xp.reshape(v, ()) for v in values])),
                      dtype=np.float64)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="it", leave=False, dynamic_ncols=True)


def _say(bar: Any, message: str) -> None:
    if bar is not None:
        bar.write(message)
    else:
        print(message)

"""The course's Solver: minibatch training with an update rule, on any device, resumable."""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _training_state
from ._checks import check_positive_int, check_positive_number
from ._random import is_seed
from ._sampling import BatchSampler, DeviceData
from ._trusted_labels import labels_checked
from .backend import get_array_module, is_cupy_array
from .devices import device_context, device_name, resolve_device, to_device, to_numpy
from .optim import get_optimizer

__all__ = ["Solver", "TrainingDiverged"]

_REQUIRED_DATA = ("X_train", "y_train", "X_val", "y_val")


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the model holds its best parameters."""


class Solver:
    """Trains a model with minibatch gradient descent (the course's Solver, plus ``device``).

    Parameters
    ----------
    model : Model
        Anything with ``params`` (dict of arrays) and ``loss(X, y=None)``.
    data : dict
        ``X_train`` (N, ...), ``y_train`` (N,), ``X_val``, ``y_val`` as host or device arrays.
    update_rule : str or callable
        A name in :data:`xplayers.optim.OPTIMIZERS` (default ``'sgd'``) or a function
        ``(w, dw, config) -> (next_w, config)``.
    optim_config : dict
        Hyperparameters passed to the update rule (each parameter gets its own copy).
    lr_decay : float
        The learning rate is multiplied by this (> 0) after each epoch.
    batch_size, num_epochs : int
    num_train_samples : int or None
        Training examples used to measure training accuracy (None: all).
    num_val_samples : int or None
        Validation examples used to measure validation accuracy (None: all).
    checkpoint_name : str or None
        If given, the model and the Solver's position are saved (atomically) to
        ``{checkpoint_name}_epoch_{epoch}.npz`` after each epoch;
        :meth:`from_checkpoint` resumes from such a file.
    print_every : int
        Print the training loss every this many iterations (when ``verbose``). The loss is
        read from the device only there and at the end of each epoch, which is also when a
        NaN or infinite loss is noticed (see :attr:`on_divergence`).
    verbose : bool
        Print progress and show a progress bar (tqdm, when installed).
    device : str or None
        ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``; None means
        :func:`xplayers.default_device`. The model and the data move there once.
    seed : int or None
        Seeds the minibatch order and accuracy subsamples. With None they come from NumPy's
        global random state (``np.random.seed`` repeats them, as in the course).
    epoch_callback : callable or None
        ``epoch_callback(solver)`` after each epoch's accuracies are recorded; an exception
        from it stops :meth:`train` with the model holding its best parameters.

    Attributes
    ----------
    loss_history, train_acc_history, val_acc_history, val_loss_history : list of float
        ``val_loss_history`` (models with ``eval()``/``train()`` only) holds the validation
        loss at each epoch, measured without touching running statistics or dropout.
    best_val_acc : float
    best_params : dict
        The parameters with the best validation accuracy; the model holds them after
        :meth:`train`.
    on_divergence : str (class attribute)
        ``'raise'`` (here): a NaN or infinite loss raises :class:`TrainingDiverged`, the model
        back at its best parameters. ``'warn'`` (:class:`xplayers.course.solver.Solver`, as
        the course's): one ``RuntimeWarning``, and training and recording go on.
    """

    on_divergence: str = "raise"

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
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        checkpoint_name: str | os.PathLike[str] | None = None,
        print_every: int = 10,
        verbose: bool = True,
        device: str | None = None,
        seed: int | None = None,
        epoch_callback: Callable[[Solver], None] | None = None,
    ) -> None:
        _check_model(model)
        missing = [key for key in _REQUIRED_DATA if key not in data]
        if missing:
            raise ValueError(f"data is missing {missing}; it needs {list(_REQUIRED_DATA)}")
        self.model = model
        self.update_rule_name = update_rule
        self.update_rule: Callable[..., Any] = get_optimizer(update_rule)
        if optim_config is not None and not isinstance(optim_config, Mapping):
            raise ValueError(f"optim_config must be a dict, got {optim_config!r}")
        if optim_config and optim_config.get("in_place"):
            raise ValueError(
                "optim_config['in_place']=True is not supported by the Solver: it must be able "
                "to undo a step that fails half-way through the update; use in-place updates in "
                "a hand-written loop"
            )
        self.optim_config = dict(optim_config or {})
        self.lr_decay = check_positive_number("lr_decay", lr_decay)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.num_epochs = check_positive_int("num_epochs", num_epochs)
        self.num_train_samples = check_positive_int("num_train_samples", num_train_samples,
                                                    optional=True)
        self.num_val_samples = check_positive_int("num_val_samples", num_val_samples,
                                                  optional=True)
        self.checkpoint_name = _checkpoint_name(checkpoint_name)
        self.print_every = check_positive_int("print_every", print_every)
        self.verbose = bool(verbose)
        if seed is not None and not is_seed(seed):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        if epoch_callback is not None and not callable(epoch_callback):
            raise ValueError(f"epoch_callback must be callable or None, got {epoch_callback!r}")
        self.epoch_callback = epoch_callback
        #: JSON-serialisable information saved in every checkpoint (``extra['user']``).
        self.checkpoint_extra: dict[str, Any] = {}
        self.num_classes = _num_classes(model)

        self.device = resolve_device(device)
        with device_context(self.device):
            self.train_data = DeviceData(data["X_train"], data["y_train"], self.device,
                                         self.num_classes, name="training")
            if self.train_data.num_examples == 0:
                raise ValueError("data['X_train'] is empty: the Solver needs at least one "
                                 "training example")
            self.val_data = DeviceData(data["X_val"], data["y_val"], self.device,
                                       self.num_classes, name="validation")
            self.sampler = BatchSampler(self.train_data, self.batch_size, self.seed)
        _move_model(model, self.device)
        self._reset()

    def _reset(self) -> None:
        self.epoch = 0
        self._warned_divergence = False
        self.best_val_acc = 0.0
        self._record_best()
        self.loss_history: list[float] = []
        self._pending_losses: list[Any] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.val_loss_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    # -- one step ------------------------------------------------------------------------
    def _step(self, indices: Any) -> None:
        """One update on the minibatch at ``indices``; reads nothing back from the device.

        The loss stays on the device (in ``_pending_losses``) until :meth:`_flush_losses`.
        If anything fails, :meth:`_rollback` leaves parameters and running statistics as
        they were.
        """
        X_batch, y_batch = self.train_data.take(indices)
        before = _model_state(self.model)
        try:
            with self._trusted_labels(self.train_data):
                loss, grads = self.model.loss(X_batch, y_batch)
            updated, configs = {}, {}
            for name, w in self.model.params.items():
                updated[name], configs[name] = self.update_rule(
                    w, grads[name], dict(self.optim_configs[name])
                )
        except BaseException:
            self._rollback(before)
            raise
        self.model.params.update(updated)
        self.optim_configs.update(configs)
        self._pending_losses.append(loss)

    def _rollback(self, state_before: Mapping[str, Any]) -> None:
        """Undo a failed step: the forward may have moved running statistics."""
        _load_model_state(self.model, state_before)

    def _trusted_labels(self, data: DeviceData) -> Any:
        if data.labels_checked and self.num_classes is not None:
            return labels_checked(self.num_classes)
        return contextlib.nullcontext()

    # -- divergence ----------------------------------------------------------------------
    def _flush_losses(self) -> None:
        """Read the pending losses from the device at once into ``loss_history`` (floats).

        Raises :class:`TrainingDiverged` (via :meth:`_diverged`) at the first NaN or
        infinite loss, unless :attr:`on_divergence` is ``'warn'``.
        """
        pending, self._pending_losses = self._pending_losses, []
        values = _floats(pending)
        first = len(self.loss_history)
        self.loss_history.extend(values)
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                if self.on_divergence == "warn":
                    self._warn_diverged(value, first + offset + 1)
                    return
                del self.loss_history[first + offset:]
                self._diverged(value, first + offset + 1)

    def _warn_diverged(self, loss_value: float, iteration: int) -> None:
        """The course's behaviour: warn once per run, record everything, keep training."""
        if self._warned_divergence:
            return
        self._warned_divergence = True
        warnings.warn(f"the training loss became {loss_value} at iteration {iteration} "
                      f"(epoch {self.epoch + 1}); training goes on, as in the course",
                      RuntimeWarning, stacklevel=2)

    def _diverged(self, loss_value: float, iteration: int) -> None:
        """Restore the best parameters and running statistics, then raise TrainingDiverged."""
        self._restore_best()
        lr = next(iter(self.optim_configs.values())).get("learning_rate")
        raise TrainingDiverged(
            f"the training loss became {loss_value} at iteration {iteration} "
            f"(epoch {self.epoch + 1}); the model now holds the best parameters and running "
            f"statistics so far (val acc {self.best_val_acc:.4f}). Try a smaller learning "
            f"rate (now {lr}) or weight_scale."
        )

    def _record_best(self) -> None:
        # Copies: an update rule may change weights in place (the course's sgd does).
        self.best_params: dict[str, Any] = _copies(self.model.params)
        self.best_state: dict[str, Any] = _copies(_model_state(self.model))

    def _restore_best(self) -> None:
        self.model.params = _copies(self.best_params)
        _load_model_state(self.model, _copies(self.best_state))

    # -- accuracy and validation loss ----------------------------------------------------
    def _accuracy(self, data: DeviceData, num_samples: int | None, batch_size: int) -> float:
        data = self.sampler.subsample(data, num_samples)
        n, xp = data.num_examples, data.xp
        correct = 0
        for start in range(0, n, batch_size):
            X, y = data.rows(start, start + batch_size)
            scores = self.model.loss(X)
            correct = correct + xp.sum(xp.astype(xp.argmax(scores, axis=1) == y, xp.int64))
        return float(correct) / max(n, 1)

    def _validation_loss(self, batch_size: int = 100) -> float | None:
        """Mean loss over the validation data in evaluation mode (no side effects)."""
        model = self.model
        has_modes = hasattr(model, "eval") and hasattr(model, "train")
        if not has_modes or not self.val_data.num_examples:
            return None
        was_training = getattr(model, "training", True)
        model.eval()
        try:
            total, n = 0.0, self.val_data.num_examples
            with self._trusted_labels(self.val_data):
                for start in range(0, n, batch_size):
                    X, y = self.val_data.rows(start, start + batch_size)
                    loss, _ = model.loss(X, y)
                    total = total + loss * X.shape[0]
        finally:
            if was_training:
                model.train()
        return _floats([total])[0] / n

    def check_accuracy(
        self, X: Any, y: Any, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Fraction of ``X`` (N, ...) whose predicted class equals ``y`` (N,).

        ``X`` and ``y`` may live on the host or on the solver's device; with ``num_samples``
        a random subset of that many rows is used.
        """
        with device_context(self.device):
            return self._accuracy(DeviceData(X, y, self.device), num_samples, batch_size)

    def validation_loss(self) -> float | None:
        """The validation loss now, without side effects (None for models without ``eval``)."""
        with device_context(self.device):
            return self._validation_loss()

    # -- the loop ------------------------------------------------------------------------
    def train(self) -> None:
        """Run the optimisation; afterwards the model holds the best validation parameters.

        A Solver made by :meth:`from_checkpoint` continues from its saved epoch.
        """
        with device_context(self.device):
            self._train()

    def _train(self) -> None:
        per_epoch = self.sampler.batches_per_epoch
        num_iterations = self.num_epochs * per_epoch
        bar = _progress(num_iterations, self.verbose)
        if bar is not None:
            bar.update(self.epoch * per_epoch)
        start = time.perf_counter()
        try:
            if not self.val_acc_history:
                self._record_accuracy(bar)
            t = self.epoch * per_epoch
            while self.epoch < self.num_epochs:
                for indices in self.sampler.epoch():
                    self._step(indices)
                    t += 1
                    if bar is not None:
                        bar.update(1)
                    if t % self.print_every == 0:
                        self._flush_losses()
                        self._report_loss(bar, t, num_iterations)
                self._flush_losses()
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                self._record_accuracy(bar)
                self._save_checkpoint()
                self._call_epoch_callback()
        except BaseException:
            # The steps that ran keep their losses; a failed step has rolled itself back.
            pending, self._pending_losses = self._pending_losses, []
            self.loss_history.extend(_floats(pending))
            raise
        finally:
            if bar is not None:
                bar.close()
        self.train_seconds = time.perf_counter() - start
        self._restore_best()

    def _call_epoch_callback(self) -> None:
        """Call ``epoch_callback``; if it raises, the model gets its best parameters back."""
        if self.epoch_callback is None:
            return
        try:
            self.epoch_callback(self)
        except BaseException:
            self._restore_best()
            raise

    def _report_loss(self, bar: Any, t: int, num_iterations: int) -> None:
        if bar is not None:
            bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", refresh=False)
        if self.verbose:
            _say(bar, f"(Iteration {t} / {num_iterations}) loss: {self.loss_history[-1]:f}")

    def _record_accuracy(self, bar: Any) -> None:
        train_acc = self._accuracy(self.train_data, self.num_train_samples, 100)
        val_acc = self._accuracy(self.val_data, self.num_val_samples, 100)
        val_loss = self._validation_loss()
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_loss is not None:
            self.val_loss_history.append(val_loss)
        if self.verbose:
            loss_text = "" if val_loss is None else f"; val_loss: {val_loss:f}"
            _say(bar, f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                      f"val_acc: {val_acc:f}{loss_text}")
        first = len(self.val_acc_history) == 1
        if first or val_acc > self.best_val_acc:
            self.best_val_acc = max(val_acc, self.best_val_acc)
            self._record_best()

    # -- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the model and the Solver's position to ``path`` atomically (``.npz``).

        Written at the end of an epoch, it lets :meth:`from_checkpoint` continue exactly
        where this Solver stands.
        """
        from .models.checkpoint import save_model

        self._flush_losses()
        info, arrays = _training_state.pack(self)
        extra = {
            "update_rule": self.update_rule_name if isinstance(self.update_rule_name, str)
            else getattr(self.update_rule_name, "__name__", "custom"), "lr_decay": self.lr_decay,
            "batch_size": self.batch_size, "num_epochs": self.num_epochs, "epoch": self.epoch,
            "loss_history": self.loss_history, "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history, "solver": info,
            "user": self.checkpoint_extra,
        }
        save_model(self.model, path, extra=extra, arrays=arrays)

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], data: Mapping[str, Any],
                        **overrides: Any) -> Solver:
        """A Solver that continues the run saved in ``path`` by :meth:`save_checkpoint`.

        The model, its optimizer state, the histories, the best parameters and the minibatch
        generator come from the file, so training k epochs, saving, resuming and training
        N - k more gives the same parameters as N epochs in one go (bit for bit on the same
        device). ``overrides`` are constructor arguments (``num_epochs``, ``device``,
        ``verbose``, ``checkpoint_name``, ``epoch_callback``, ...) replacing saved settings.

        Raises
        ------
        FileNotFoundError, IsADirectoryError
            For the path itself.
        ValueError
            Naming the file, when it is damaged or holds no training state.
        """
        from .models.checkpoint import build_model, read_archive

        meta, entries = read_archive(path)
        model = build_model(path, meta, entries)
        state = _training_state.unpack(f"checkpoint {str(path)!r}", meta, entries, model)
        settings = {**state.settings, **overrides}
        if settings["update_rule"] is None:
            raise ValueError(f"checkpoint {str(path)!r} was trained with a custom update rule "
                             "function; pass it again as update_rule=")
        solver = cls(model, data, **settings)
        if state.epoch > solver.num_epochs:
            raise ValueError(f"num_epochs ({solver.num_epochs}) is below the checkpoint's "
                             f"epoch {state.epoch}")
        solver._resume(state)
        user = meta["extra"].get("user")
        solver.checkpoint_extra = dict(user) if isinstance(user, dict) else {}
        return solver

    def _resume(self, state: _training_state.TrainingState) -> None:
        self.epoch = state.epoch
        for key, values in state.histories.items():
            setattr(self, key, list(values))
        self.best_val_acc = state.best_val_acc
        self.sampler.rng_state = state.rng_state
        dtype = self.model.dtype
        self.optim_configs = {name: _beside(self.model.params, config)
                              for name, config in state.optim_configs.items()}
        self.best_params = _beside(self.model.params, {k: v.astype(dtype) for k, v in
                                                       state.best_params.items()})
        self.best_state = _beside(self.model.params, {k: v.astype(dtype) for k, v in
                                                      state.best_state.items()})


# -- helpers -----------------------------------------------------------------------------
def _check_model(model: Any) -> None:
    missing = []
    params = getattr(model, "params", None)
    if not isinstance(params, Mapping) or not params:
        missing.append("a non-empty 'params' dict of arrays")
    if not callable(getattr(model, "loss", None)):
        missing.append("a 'loss(X, y=None)' method")
    if missing:
        raise TypeError(f"model must have {' and '.join(missing)}, like the course's models; "
                        f"got a {type(model).__name__} without them")


def _num_classes(model: Any) -> int | None:
    config = getattr(model, "config", None)
    classes = config.get("num_classes") if isinstance(config, Mapping) else None
    return int(classes) if isinstance(classes, numbers.Integral) else None


def _move_model(model: Any, device: str) -> None:
    if callable(getattr(model, "to", None)):
        model.to(device)
    else:
        model.params = to_device(dict(model.params), device)


def _beside(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values``' host arrays moved to the library and device of ``params`` (scalars kept)."""
    first = next(iter(params.values()))
    if isinstance(first, np.ndarray):
        return dict(values)
    if is_cupy_array(first):
        return to_device(dict(values), device_name(first))
    xp = get_array_module(first)
    return {k: xp.asarray(v, device=first.device) if isinstance(v, np.ndarray) else v
            for k, v in values.items()}


def _model_state(model: Any) -> dict[str, Any]:
    return model.state() if callable(getattr(model, "state", None)) else {}


def _load_model_state(model: Any, state: Mapping[str, Any]) -> None:
    if callable(getattr(model, "load_state", None)):
        model.load_state(state)


def _floats(values: list[Any]) -> list[float]:
    """Python floats of 0-d arrays or numbers, read from their device in one transfer."""
    if all(isinstance(v, (numbers.Real, np.ndarray)) for v in values):
        return [float(v) for v in values]
    on_device = [v for v in values if not isinstance(v, (numbers.Real, np.ndarray))]
    xp = get_array_module(*on_device)
    host = to_numpy(xp.stack([xp.reshape(v, ()) for v in on_device]))
    read = iter(host.tolist())
    return [float(v) if isinstance(v, (numbers.Real, np.ndarray)) else float(next(read))
            for v in values]


def _copies(arrays: Mapping[str, Any]) -> dict[str, Any]:
    return {name: get_array_module(a).asarray(a, copy=True) for name, a in arrays.items()}


def _checkpoint_name(name: Any) -> str | None:
    """``name`` as a string, after checking its folder exists and is writable."""
    if name is None:
        return None
    if not isinstance(name, (str, os.PathLike)):
        raise ValueError(f"checkpoint_name must be a path prefix (str), got {name!r}")
    folder = Path(name).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ValueError(f"checkpoint_name {str(name)!r}: the folder {str(folder)!r} does not "
                         "exist or is not writable")
    return os.fspath(name)


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

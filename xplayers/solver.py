"""The course's Solver: minibatch training with an update rule, on any device."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._sampling import BatchSampler, DeviceData
from .backend import get_array_module
from .devices import device_context, resolve_device
from .models.base import Model
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
        The learning rate is multiplied by this after each epoch.
    batch_size : int
    num_epochs : int
    num_train_samples : int or None
        Training examples used to measure training accuracy (None: all).
    num_val_samples : int or None
        Validation examples used to measure validation accuracy (None: all).
    checkpoint_name : str or None
        If given, the model is saved to ``{checkpoint_name}_epoch_{epoch}.npz`` after each epoch.
    print_every : int
        Print the training loss every this many iterations (when ``verbose``).
    verbose : bool
        Print progress and show a progress bar (tqdm, when installed).
    device : str or None
        ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``; None means
        :func:`xplayers.default_device`. The model and the data move there once.
    seed : int or None
        Seeds the minibatch order and accuracy subsamples.
    epoch_callback : callable or None
        Called as ``epoch_callback(solver)`` after each epoch's accuracies are recorded; an
        exception from it ends :meth:`train` with the model holding its best parameters.

    Attributes
    ----------
    loss_history, train_acc_history, val_acc_history : list of float
    best_val_acc : float
    best_params : dict
        The parameters with the best validation accuracy; the model holds them after
        :meth:`train`.
    """

    def __init__(self, model: Model, data: Mapping[str, Any], **kwargs: Any) -> None:
        missing = [key for key in _REQUIRED_DATA if key not in data]
        if missing:
            raise ValueError(f"data is missing {missing}; it needs {list(_REQUIRED_DATA)}")
        self.model = model
        self.update_rule_name = kwargs.pop("update_rule", "sgd")
        self.update_rule: Callable[..., Any] = get_optimizer(self.update_rule_name)
        self.optim_config = dict(kwargs.pop("optim_config", {}))
        self.lr_decay = float(kwargs.pop("lr_decay", 1.0))
        self.batch_size = _positive_int("batch_size", kwargs.pop("batch_size", 100))
        self.num_epochs = _positive_int("num_epochs", kwargs.pop("num_epochs", 10))
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = _positive_int("print_every", kwargs.pop("print_every", 10))
        self.verbose = bool(kwargs.pop("verbose", True))
        self.seed = kwargs.pop("seed", None)
        self.epoch_callback: Callable[[Solver], None] | None = kwargs.pop("epoch_callback", None)
        device = kwargs.pop("device", None)
        if kwargs:
            raise ValueError(f"Unrecognized arguments {sorted(kwargs)}")

        self.device = resolve_device(device)
        with device_context(self.device):
            self.train_data = DeviceData(data["X_train"], data["y_train"], self.device)
            self.val_data = DeviceData(data["X_val"], data["y_val"], self.device)
            self.sampler = BatchSampler(self.train_data, self.batch_size, self.seed)
        model.to(self.device)
        self._reset()

    def _reset(self) -> None:
        self.epoch = 0
        self.best_val_acc = 0.0
        self._record_best()
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    # -- one step ------------------------------------------------------------------------
    def _step(self, indices: Any) -> None:
        X_batch, y_batch = self.train_data.take(indices)
        state_before = self.model.state()
        try:
            loss, grads = self.model.loss(X_batch, y_batch)
            loss_value = float(loss)
            if not math.isfinite(loss_value):
                self._diverged(loss_value)
            updated, configs = {}, {}
            for name, w in self.model.params.items():
                updated[name], configs[name] = self.update_rule(
                    w, grads[name], dict(self.optim_configs[name])
                )
        except BaseException:
            # Nothing of a failed step stays: the forward may have moved running statistics.
            self.model.load_state(state_before)
            raise
        self.model.params.update(updated)
        self.optim_configs.update(configs)
        self.loss_history.append(loss_value)

    def _diverged(self, loss_value: float) -> None:
        self._restore_best()
        lr = next(iter(self.optim_configs.values())).get("learning_rate")
        raise TrainingDiverged(
            f"the training loss became {loss_value} at iteration {len(self.loss_history) + 1} "
            f"(epoch {self.epoch + 1}); the model now holds the best parameters so far "
            f"(val acc {self.best_val_acc:.4f}). Try a smaller learning rate (now {lr}) or "
            "weight_scale."
        )

    def _record_best(self) -> None:
        # Copies: an update rule may change weights in place (the course's sgd does).
        self.best_params: dict[str, Any] = _copies(self.model.params)
        self.best_state: dict[str, Any] = _copies(self.model.state())

    def _restore_best(self) -> None:
        self.model.params = _copies(self.best_params)
        self.model.load_state(_copies(self.best_state))

    # -- accuracy ------------------------------------------------------------------------
    def _accuracy(self, data: DeviceData, num_samples: int | None, batch_size: int) -> float:
        data = self.sampler.subsample(data, num_samples)
        n, xp = data.num_examples, data.xp
        correct = 0
        for start in range(0, n, batch_size):
            X, y = data.rows(start, start + batch_size)
            scores = self.model.loss(X)
            correct = correct + xp.sum(xp.astype(xp.argmax(scores, axis=1) == y, xp.int64))
        return float(correct) / max(n, 1)

    def check_accuracy(
        self, X: Any, y: Any, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Fraction of ``X`` (N, ...) whose predicted class equals ``y`` (N,).

        ``X`` and ``y`` may live on the host or on the solver's device; with ``num_samples``
        a random subset of that many rows is used.
        """
        with device_context(self.device):
            return self._accuracy(DeviceData(X, y, self.device), num_samples, batch_size)

    # -- the loop ------------------------------------------------------------------------
    def train(self) -> None:
        """Run the optimisation; afterwards the model holds the best validation parameters."""
        with device_context(self.device):
            self._train()

    def _train(self) -> None:
        per_epoch = self.sampler.batches_per_epoch
        num_iterations = self.num_epochs * per_epoch
        bar = _progress(num_iterations, self.verbose)
        start = time.perf_counter()
        try:
            self._record_accuracy(bar)
            t = 0
            for _ in range(self.num_epochs):
                for indices in self.sampler.epoch():
                    self._step(indices)
                    t += 1
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", refresh=False)
                    if self.verbose and t % self.print_every == 0:
                        _say(bar, f"(Iteration {t} / {num_iterations}) "
                                  f"loss: {self.loss_history[-1]:f}")
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                self._record_accuracy(bar)
                self._save_checkpoint()
                if self.epoch_callback is not None:
                    try:
                        self.epoch_callback(self)
                    except BaseException:
                        self._restore_best()
                        raise
        finally:
            if bar is not None:
                bar.close()
        self.train_seconds = time.perf_counter() - start
        self._restore_best()

    def _record_accuracy(self, bar: Any) -> None:
        train_acc = self._accuracy(self.train_data, self.num_train_samples, 100)
        val_acc = self._accuracy(self.val_data, self.num_val_samples, 100)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            _say(bar, f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                      f"val_acc: {val_acc:f}")
        first = len(self.val_acc_history) == 1
        if first or val_acc > self.best_val_acc:
            self.best_val_acc = max(val_acc, self.best_val_acc)
            self._record_best()

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        from .models.checkpoint import save_model

        extra = {
            "update_rule": self.update_rule_name if isinstance(self.update_rule_name, str)
            else getattr(self.update_rule_name, "__name__", "custom"),
            "lr_decay": self.lr_decay, "batch_size": self.batch_size,
            "num_epochs": self.num_epochs, "epoch": self.epoch,
            "loss_history": self.loss_history, "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        save_model(self.model, f"{self.checkpoint_name}_epoch_{self.epoch}.npz", extra=extra)


def _copies(arrays: Mapping[str, Any]) -> dict[str, Any]:
    return {name: get_array_module(a).asarray(a, copy=True) for name, a in arrays.items()}


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


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

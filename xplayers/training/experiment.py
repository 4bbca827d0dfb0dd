"""One training run from plain settings: data, model, Solver, evaluation and a report.

This is what ``xplayers train`` runs; notebooks can call :func:`run_training` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..backend.cuda import cuda_status
from ..backend.devices import resolve_device
from ..checkpoint import format as checkpoint_format
from ..data import load_dataset
from ..models import FullyConnectedNet, Model, ThreeLayerConvNet, TwoLayerNet
from .solver import Solver

MODEL_CHOICES = ("fc", "two_layer", "conv")


@dataclass
class TrainConfig:
    """Settings of one run; the command line's options map one to one onto these fields."""

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "fc"
    hidden_dims: list[int] = field(default_factory=lambda: [128, 64])
    normalization: str | None = "batchnorm"
    dropout: float = 0.0
    num_filters: int = 16
    filter_size: int = 3
    weight_scale: float = 0.05
    reg: float = 1e-4
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    lr_decay: float = 0.95
    epochs: int = 30
    batch_size: int = 64
    device: str = "auto"
    seed: int = 0
    verbose: bool = True


@dataclass
class TrainResult:
    """What a run produced: the trained model, its solver and the report dict."""

    model: Model
    solver: Solver
    report: dict[str, Any]
    data: dict[str, Any]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_training`: a ``KeyboardInterrupt`` that carries the run so far.

    ``result`` is a :class:`TrainResult` whose model holds the best parameters so far and
    whose report is marked ``"interrupted": True`` (its accuracies are those recorded at the
    best epoch; the test split is not measured); ``result.solver.checkpoint_name`` tells
    where checkpoints went.
    """

    def __init__(self, result: TrainResult, stopped: str):
        super().__init__(stopped)
        self.result = result
        self.stopped = stopped


def best_epoch(solver: Solver) -> int | None:
    """The epoch whose parameters the Solver kept (its best validation accuracy; 0 is the
    start), or None before the first measurement."""
    history = solver.val_acc_history
    return history.index(max(history)) if history else None


def dataset_options(config: TrainConfig) -> dict[str, Any]:
    """Keyword arguments for :func:`xplayers.data.load_dataset` implied by ``config``."""
    options: dict[str, Any] = {}
    if config.dataset == "cifar10":
        if not config.data_dir:
            raise ValueError("the cifar10 data set needs --data-dir pointing at the "
                             "cifar-10-batches-py folder")
        options["root"] = config.data_dir
    else:
        options["seed"] = config.seed
    if config.dataset == "digits":
        options["flatten"] = config.model != "conv"
    return options


def saved_model_extra(config: TrainConfig, report: dict[str, Any]) -> dict[str, Any]:
    """What ``xplayers train --save`` and the sweeps store beside a trained model, so that
    ``xplayers evaluate`` finds its data (the report without its histories)."""
    options = {k: v for k, v in dataset_options(config).items() if k != "root"}
    return checkpoint_format.run_description(
        config.dataset, config.data_dir, options,
        {k: v for k, v in report.items() if not k.endswith("history")})


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int) -> Model:
    """The model ``config`` asks for, sized for inputs of ``input_shape`` (one example)."""
    input_dim = 1
    for size in input_shape:
        input_dim *= size
    if config.model == "fc":
        return FullyConnectedNet(config.hidden_dims, input_dim=input_dim,
                                 num_classes=num_classes, dropout=config.dropout,
                                 normalization=config.normalization, reg=config.reg,
                                 weight_scale=config.weight_scale, init_seed=config.seed,
                                 dropout_seed=config.seed)
    if config.model == "two_layer":
        return TwoLayerNet(input_dim, config.hidden_dims[0], num_classes,
                           weight_scale=config.weight_scale, reg=config.reg, seed=config.seed)
    if config.model == "conv":
        if len(input_shape) != 3:
            raise ValueError(f"the conv model needs images (C, H, W), got examples shaped "
                             f"{input_shape}")
        return ThreeLayerConvNet(tuple(input_shape), num_filters=config.num_filters,
                                 filter_size=config.filter_size,
                                 hidden_dim=config.hidden_dims[0], num_classes=num_classes,
                                 weight_scale=config.weight_scale, reg=config.reg,
                                 seed=config.seed)
    raise ValueError(f"model must be one of {MODEL_CHOICES}, got {config.model!r}")


def describe_device(device: str, requested: str) -> str:
    """``'cpu (no usable GPU: ...)'`` or the device name, for the first line of a run."""
    if device == "cpu" and requested in ("auto", None):
        return f"cpu (no usable GPU: {cuda_status()[1]})"
    return device


def resume_settings(path: str) -> TrainConfig:
    """The settings of the run whose Solver checkpoint is ``path`` (written by
    ``xplayers train --checkpoint``).

    Raises
    ------
    ValueError
        Naming the file when it holds no such settings.
    """
    meta, _ = checkpoint_format.read(path)
    settings = checkpoint_format.train_settings(meta[checkpoint_format.EXTRA])
    known = set(TrainConfig.__dataclass_fields__)
    if not isinstance(settings, dict) or not set(settings) <= known:
        raise ValueError(f"checkpoint {path!r} was not written by 'xplayers train "
                         "--checkpoint' (it holds no training settings)")
    return TrainConfig(**settings)


def saved_epoch(path: str) -> int:
    """The epochs the run saved in ``path`` (by ``xplayers train --checkpoint``) has done.

    Raises
    ------
    ValueError
        Naming the file when it holds no such count.
    """
    from ..checkpoint import format as checkpoint_format

    meta, _ = checkpoint_format.read(path)
    epoch = checkpoint_format.epochs_done(meta)
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise ValueError(f"checkpoint {path!r} does not say how many epochs it ran")
    return epoch


def run_training(config: TrainConfig, *, checkpoint_name: str | None = None,
                 resume: str | None = None,
                 epoch_callback: Callable[[Solver], None] | None = None) -> TrainResult:
    """Load the data, build the model, train it and measure it on every split.

    Parameters
    ----------
    config : TrainConfig
    checkpoint_name : str or None
        Save the model and the Solver's position to ``{checkpoint_name}_epoch_{N}.npz``
        after each epoch.
    resume : str or None
        A file written that way: the model, optimizer state and position come from it and
        training continues up to ``config.epochs`` epochs (``config`` should come from
        :func:`resume_settings`). Without ``checkpoint_name`` the run keeps writing
        checkpoints beside that file, under its prefix.
    epoch_callback : callable or None
        Goes to the :class:`~xplayers.solver.Solver`: called after each epoch (a sweep
        reports to Optuna and prunes there).

    Returns
    -------
    TrainResult
        ``report`` holds at least device, epochs, seconds, train_accuracy, val_accuracy,
        test_accuracy and final_loss, plus the histories and the settings.
    """
    device = resolve_device(config.device)
    data = load_dataset(config.dataset, **dataset_options(config))
    num_classes = int(max(int(data["y_train"].max()), int(data["y_val"].max()),
                          int(data["y_test"].max())) + 1)
    settings: dict[str, Any]
    settings = {"verbose": config.verbose, "device": device, "print_every": 10**9,
                "num_epochs": config.epochs, "checkpoint_name": checkpoint_name,
                "epoch_callback": epoch_callback}
    if resume is not None:
        if checkpoint_name is None:  # keep writing beside the file resumed from
            del settings["checkpoint_name"]
        solver = Solver.from_checkpoint(resume, data, **settings)
        model = solver.model
    else:
        model = build_model(config, tuple(data["X_train"].shape[1:]), num_classes)
        solver = Solver(model, data, update_rule=config.optimizer,
                        optim_config={"learning_rate": config.learning_rate},
                        lr_decay=config.lr_decay, batch_size=config.batch_size,
                        num_train_samples=None, seed=config.seed, **settings)
    solver.checkpoint_extra = checkpoint_format.with_train_settings(asdict(config))
    if config.verbose:
        what = f"resuming at epoch {solver.epoch}: " if resume is not None else ""
        print(f"xplayers: {what}training {type(model).__name__} on {config.dataset} "
              f"({data['X_train'].shape[0]} train / {data['X_val'].shape[0]} val / "
              f"{data['X_test'].shape[0]} test examples) on device "
              f"{describe_device(device, config.device)}", flush=True)
    start_epoch = solver.epoch
    start = time.perf_counter()
    try:
        solver.train()
    except KeyboardInterrupt as exc:
        if isinstance(exc, TrainingInterrupted):
            raise
        per_epoch = solver.sampler.batches_per_epoch
        stopped = (f"epoch {solver.epoch + 1} of {config.epochs}, iteration "
                   f"{len(solver.loss_history)} of {config.epochs * per_epoch}")
        report = _interrupted_report(solver, config, device, start_epoch,
                                     time.perf_counter() - start)
        raise TrainingInterrupted(TrainResult(model=model, solver=solver, report=report,
                                              data=data), stopped) from None
    seconds = time.perf_counter() - start
    report = {
        "device": device,
        "epochs": config.epochs,
        "epochs_run": solver.epoch - start_epoch,
        "start_epoch": start_epoch,
        "iterations": len(solver.loss_history),
        "seconds": round(seconds, 3),
        "train_accuracy": solver.check_accuracy(data["X_train"], data["y_train"]),
        "val_accuracy": solver.check_accuracy(data["X_val"], data["y_val"]),
        "test_accuracy": solver.check_accuracy(data["X_test"], data["y_test"]),
        "final_loss": solver.loss_history[-1],
        "best_val_accuracy": solver.best_val_acc,
        "best_epoch": best_epoch(solver),
        "interrupted": False,
        "model": type(model).__name__,
        "model_config": model.config,
        "settings": asdict(config),
        "loss_history": solver.loss_history,
        "train_acc_history": solver.train_acc_history,
        "val_acc_history": solver.val_acc_history,
        "val_loss_history": solver.val_loss_history,
    }
    return TrainResult(model=model, solver=solver, report=report, data=data)


def _interrupted_report(solver: Solver, config: TrainConfig, device: str, start_epoch: int,
                        seconds: float) -> dict[str, Any]:
    """The report of a run stopped by Ctrl-C: nothing is measured again (the user asked to
    stop), so the accuracies are those recorded at the best epoch."""
    best = best_epoch(solver)
    train_history = solver.train_acc_history
    return {
        "device": device,
        "epochs": config.epochs,
        "epochs_run": solver.epoch - start_epoch,
        "start_epoch": start_epoch,
        "iterations": len(solver.loss_history),
        "seconds": round(seconds, 3),
        "train_accuracy": train_history[best] if best is not None else None,
        "val_accuracy": solver.val_acc_history[best] if best is not None else None,
        "test_accuracy": None,
        "final_loss": solver.loss_history[-1] if solver.loss_history else None,
        "best_val_accuracy": solver.best_val_acc if best is not None else None,
        "best_epoch": best,
        "interrupted": True,
        "model": type(solver.model).__name__,
        "model_config": solver.model.config,
        "settings": asdict(config),
        "loss_history": solver.loss_history,
        "train_acc_history": train_history,
        "val_acc_history": solver.val_acc_history,
        "val_loss_history": solver.val_loss_history,
    }

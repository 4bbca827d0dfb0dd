"""The ``xplayers train`` subcommand: its options, the checks made before any work, the run,
and what it writes (also after Ctrl-C)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint.atomic import atomic_write
from ..optim.rules import optimizer_names
from .experiment import (
    MODEL_CHOICES,
    TrainConfig,
    TrainingInterrupted,
    resume_settings,
    run_training,
    saved_epoch,
    saved_model_extra,
)

__all__ = ["DATASETS", "INTERRUPTED", "CommandError", "add_train_parser", "require_packages",
           "run_train_command"]

NORMALIZATIONS = ("none", "batchnorm", "layernorm")
DATASETS = ("digits", "cifar10", "synthetic")
INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)

# Optional packages: (module, what needs it, the extra that installs it).
_SKLEARN = ("sklearn", "the digits data set (--dataset digits) needs scikit-learn", "data")
_MATPLOTLIB = ("matplotlib", "--plot needs matplotlib", "plot")
_OPTUNA = ("optuna", "xplayers sweep needs Optuna", "sweep")


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None (the help text says what happens then)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def add_train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` to the ``xplayers`` subcommands."""
    defaults = TrainConfig()
    train = sub.add_parser("train", help="train a model and report its accuracy",
                           formatter_class=_DefaultsHelpFormatter)
    train.add_argument("--dataset", default=defaults.dataset, choices=DATASETS,
                       help="digits (scikit-learn's 8x8 digits), cifar10 (needs --data-dir) "
                            "or synthetic (random blobs)")
    train.add_argument("--data-dir", default=None,
                       help="folder of the data set (cifar10: the cifar-10-batches-py folder)")
    train.add_argument("--model", default=defaults.model, choices=MODEL_CHOICES,
                       help="fc (fully connected, any depth), two_layer, or conv (a "
                            "three-layer conv net; image data sets)")
    train.add_argument("--hidden-dims", type=int, nargs="+", default=defaults.hidden_dims,
                       metavar="H", help="hidden layer widths (two_layer and conv use the first)")
    train.add_argument("--normalization", type=str.lower,
                       default=defaults.normalization or "none", choices=NORMALIZATIONS,
                       help="normalisation after each hidden affine layer (fc model)")
    train.add_argument("--dropout", type=float, default=defaults.dropout,
                       help="probability of dropping a hidden unit (fc model)")
    train.add_argument("--num-filters", type=int, default=defaults.num_filters,
                       help="filters of the conv layer (conv model)")
    train.add_argument("--filter-size", type=int, default=defaults.filter_size,
                       help="height and width of the conv filters (conv model)")
    train.add_argument("--weight-scale", type=float, default=defaults.weight_scale,
                       help="standard deviation of the initial weights")
    train.add_argument("--reg", type=float, default=defaults.reg, help="L2 strength")
    train.add_argument("--optimizer", default=defaults.optimizer,
                       choices=optimizer_names(),
                       help="the update rule")
    train.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float,
                       default=defaults.learning_rate, help="the learning rate")
    train.add_argument("--lr-decay", type=float, default=defaults.lr_decay,
                       help="factor applied to the learning rate after each epoch")
    train.add_argument("--epochs", type=int, default=None,
                       help=f"number of epochs in all (default {defaults.epochs}; with "
                            "--resume, the saved run's)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size,
                       help="examples per update")
    train.add_argument("--device", default=defaults.device,
                       help="auto, cpu, cuda or cuda:N (auto: the GPU when one is usable)")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="seeds the weights, the data split, the minibatch order and "
                            "the dropout masks: a run repeats on the same device")
    train.add_argument("--save", metavar="PATH",
                       help="save the trained model (.npz; the best so far on Ctrl-C)")
    train.add_argument("--checkpoint", metavar="PREFIX",
                       help="save the model and the training state to PREFIX_epoch_N.npz "
                            "after each epoch (for --resume)")
    train.add_argument("--resume", metavar="PATH",
                       help="continue the run saved in PATH by --checkpoint: data, model and "
                            "optimizer settings come from the file")
    train.add_argument("--report", metavar="PATH",
                       help="write a JSON report (marked interrupted on Ctrl-C)")
    train.add_argument("--plot", metavar="PATH", help="write loss/accuracy curves (PNG)")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    return train


def _write_json(path: str, payload: dict[str, Any]) -> None:
    def write(handle: Any) -> None:
        json.dump(payload, handle, indent=2)
        handle.write("\n")

    atomic_write(path, write, binary=False)


class CommandError(ValueError):
    """A bad command-line value: printed as one line naming the option."""


def _check_output(option: str, path: str | None) -> None:
    """Refuse, before any training, an output path that cannot be written."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise CommandError(f"{option} {path}: is a directory, expected a file name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot make the folder {str(folder)!r} "
                           f"({exc.strerror or type(exc).__name__})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: the folder {str(folder)!r} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise CommandError(f"{option} {path}: the file exists and is not writable")


def _check_input(option: str, path: str | None) -> None:
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"{option} {path}: is a directory, expected a checkpoint file")
    if not target.is_file():
        raise CommandError(f"{option} {path}: no such file")
    if not os.access(target, os.R_OK):
        raise CommandError(f"{option} {path}: the file is not readable")


def _check_train_options(args: argparse.Namespace) -> None:
    """Every check that can fail before the data is loaded, each naming its option."""
    if args.seed < 0:
        raise CommandError(f"--seed must be a non-negative integer, got {args.seed}")
    for option, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                          ("--num-filters", args.num_filters),
                          ("--filter-size", args.filter_size)):
        if value is not None and value < 1:
            raise CommandError(f"{option} must be a positive integer, got {value}")
    if any(h < 1 for h in args.hidden_dims):
        raise CommandError(f"--hidden-dims must be positive integers, got {args.hidden_dims}")
    for option, value in (("--lr", args.learning_rate), ("--lr-decay", args.lr_decay),
                          ("--weight-scale", args.weight_scale)):
        if not math.isfinite(value) or value <= 0:
            raise CommandError(f"{option} must be a finite number > 0, got {value}")
    if not math.isfinite(args.reg) or args.reg < 0:
        raise CommandError(f"--reg must be a finite number >= 0, got {args.reg}")
    if not 0 <= args.dropout < 1:
        raise CommandError(f"--dropout is the drop probability and must lie in [0, 1), "
                           f"got {args.dropout}")
    for option in ("save", "report", "plot"):
        _check_output(f"--{option}", getattr(args, option))
    if args.checkpoint is not None:
        try:
            _check_output("--checkpoint", f"{args.checkpoint}_epoch_1.npz")
        except CommandError as exc:
            raise CommandError(f"--checkpoint {args.checkpoint}: cannot write "
                               f"{args.checkpoint}_epoch_N.npz files there "
                               f"({str(exc).split(': ', 1)[-1]})") from None
    _check_input("--resume", args.resume)


def require_packages(*needs: tuple[str, str, str] | None) -> None:
    """Refuse, before any work, a run that needs an optional package that is missing; the
    message names the package's extra (``pip install "xplayers[EXTRA]"``)."""
    for need in needs:
        if need is None:
            continue
        module, what, extra = need
        if importlib.util.find_spec(module) is None:
            raise CommandError(f'{what}, which is not installed: pip install "xplayers[{extra}]"')


def _data_needs(dataset: str | None) -> tuple[str, str, str] | None:
    return _SKLEARN if dataset == "digits" else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# The options whose values a --resume run takes from its checkpoint (dest -> option).
_SAVED_SETTINGS = {
    "dataset": "--dataset", "data_dir": "--data-dir", "model": "--model",
    "hidden_dims": "--hidden-dims", "normalization": "--normalization", "dropout": "--dropout",
    "num_filters": "--num-filters", "filter_size": "--filter-size",
    "weight_scale": "--weight-scale", "reg": "--reg", "optimizer": "--optimizer",
    "learning_rate": "--lr", "lr_decay": "--lr-decay", "batch_size": "--batch-size",
    "seed": "--seed",
}


def _check_no_settings_with_resume(args: argparse.Namespace) -> None:
    """Refuse settings that --resume would silently replace by the checkpoint's."""
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    defaults = parser.parse_args(["train"])
    given = [option for dest, option in _SAVED_SETTINGS.items()
             if getattr(args, dest) != getattr(defaults, dest)]
    if given:
        raise CommandError(f"--resume continues the saved run with its own data, model and "
                           f"optimizer settings; drop {', '.join(given)} (only --epochs, "
                           "--device and the output options apply)")


def _write(option: str, path: str, write: Any) -> None:
    """Run ``write()``; an OS error becomes one line naming the option and ``path`` only."""
    try:
        write()
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot write the file "
                           f"({exc.strerror or type(exc).__name__})") from None


def run_train_command(args: argparse.Namespace) -> int:
    """Run ``xplayers train``; returns the exit status (130 after Ctrl-C)."""
    _check_train_options(args)
    if args.resume is not None:
        try:
            config = resume_settings(args.resume)
            done = saved_epoch(args.resume)
        except ValueError as exc:
            raise CommandError(f"--resume {args.resume}: {exc}") from None
        _check_no_settings_with_resume(args)
        if args.epochs is not None and args.epochs < done:
            raise CommandError(f"--epochs {args.epochs} is below the {done} epochs "
                               f"{args.resume} has already run; pass more, or leave --epochs "
                               f"out to finish the saved run's {config.epochs}")
        config.device, config.verbose = args.device, not args.quiet
        config.epochs = args.epochs or config.epochs
    else:
        config = TrainConfig(
            dataset=args.dataset, data_dir=args.data_dir, model=args.model,
            hidden_dims=args.hidden_dims,
            normalization=None if args.normalization == "none" else args.normalization,
            dropout=args.dropout, num_filters=args.num_filters, filter_size=args.filter_size,
            weight_scale=args.weight_scale, reg=args.reg, optimizer=args.optimizer,
            learning_rate=args.learning_rate, lr_decay=args.lr_decay,
            epochs=args.epochs or TrainConfig().epochs, batch_size=args.batch_size,
            device=args.device, seed=args.seed, verbose=not args.quiet)
    require_packages(_data_needs(config.dataset), _MATPLOTLIB if args.plot else None)
    try:
        # The divergence check says what went wrong; NumPy's overflow warnings before it
        # would only quote xplayers' source lines.
        with np.errstate(all="ignore"):
            result = run_training(config, checkpoint_name=args.checkpoint, resume=args.resume)
    except TrainingInterrupted as stop:
        return _train_interrupted(args, config, stop)
    except OSError as exc:
        written = str(exc.filename or "")
        if args.checkpoint is None or not written.startswith(f"{args.checkpoint}_epoch_"):
            raise
        raise CommandError(f"--checkpoint {args.checkpoint}: cannot write the file {written} "
                           f"({exc.strerror or type(exc).__name__})") from None
    report = result.report
    print(_summary(report))
    _write_outputs(args, config, result)
    return 0


def _summary(report: dict[str, Any]) -> str:
    """The end-of-run line: what ran, how long, and the kept (best) epoch's accuracies."""
    ran = _plural(report["epochs_run"], "epoch")
    if report["start_epoch"]:
        ran += f" (epochs {report['start_epoch'] + 1}-{report['epochs']}, resumed)"
    return (f"device {report['device']}: {ran} in {report['seconds']:.1f} s; best epoch "
            f"{report['best_epoch']} of {report['epochs']} kept: accuracy train "
            f"{report['train_accuracy']:.4f}, val {report['val_accuracy']:.4f}, test "
            f"{report['test_accuracy']:.4f}; final loss {report['final_loss']:.4f}")


def _write_outputs(args: argparse.Namespace, config: TrainConfig, result: Any) -> None:
    """Write --save, --report and --plot (whichever were asked for)."""
    from ..models.checkpoint import save_model
    from .plotting import plot_history

    report = result.report
    if args.save:
        _write("--save", args.save, lambda: save_model(
            result.model, args.save, extra=saved_model_extra(config, report)))
        print(f"saved the model to {args.save}")
    if args.report:
        _write("--report", args.report, lambda: _write_json(args.report, report))
        print(f"wrote the report to {args.report}")
    if args.plot and report["loss_history"]:
        _write("--plot", args.plot, lambda: plot_history(
            report["loss_history"], report["train_acc_history"], report["val_acc_history"],
            args.plot))
        print(f"wrote the curves to {args.plot}")


def _train_interrupted(args: argparse.Namespace, config: TrainConfig, stop: Any) -> int:
    """Ctrl-C: one line on where it stopped, the best model and the report written, and the
    command that resumes from the last checkpoint."""
    result = stop.result
    best = result.report["best_epoch"]
    kept = ("" if best is None else
            f"; kept the best model so far (epoch {best}, val accuracy "
            f"{result.report['val_accuracy']:.4f})")
    print(f"xplayers train: interrupted during {stop.stopped}{kept}", flush=True)
    _write_outputs(args, config, result)
    last = None
    if args.checkpoint is not None:  # the newest one (Ctrl-C may have cut the last write)
        written = (f"{args.checkpoint}_epoch_{epoch}.npz"
                   for epoch in range(result.solver.epoch, 0, -1))
        last = next((path for path in written if Path(path).is_file()), None)
    last = last or args.resume
    if last is not None:
        command = ["xplayers", "train", "--resume", last]
        for option in ("checkpoint", "save", "report", "plot"):
            if getattr(args, option):
                command += [f"--{option}", getattr(args, option)]
        if args.epochs is not None:
            command += ["--epochs", str(args.epochs)]
        if args.device != "auto":
            command += ["--device", args.device]
        print(f"resume with: {shlex.join(command)}")
    return INTERRUPTED

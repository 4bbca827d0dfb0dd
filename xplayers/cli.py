"""The ``xplayers`` command: ``xplayers train``, ``xplayers evaluate PATH``, ``xplayers sweep``."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .checkpoint import format as checkpoint_format
from .checkpoint.atomic import atomic_write
from .optim.rules import optimizer_names
from .training.experiment import (
    MODEL_CHOICES,
    TrainConfig,
    dataset_options,
    resume_settings,
    run_training,
    saved_model_extra,
)


def _normalization(value: str) -> str | None:
    return None if value.lower() == "none" else value


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None (the help text says what happens then)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xplayers`` command."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="xplayers", description=(
        "Train and evaluate small neural nets on the GPU (CuPy) or the CPU (NumPy)."))
    parser.add_argument("--version", action="version", version=f"xplayers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model and report its accuracy",
                           formatter_class=_DefaultsHelpFormatter)
    train.add_argument("--dataset", default=defaults.dataset,
                       choices=("digits", "cifar10", "synthetic"))
    train.add_argument("--data-dir", default=None,
                       help="folder of the data set (cifar10: the cifar-10-batches-py folder)")
    train.add_argument("--model", default=defaults.model, choices=MODEL_CHOICES)
    train.add_argument("--hidden-dims", type=int, nargs="+", default=defaults.hidden_dims,
                       metavar="H", help="hidden layer widths (two_layer and conv use the first)")
    train.add_argument("--normalization", type=_normalization, default=defaults.normalization,
                       choices=(None, "batchnorm", "layernorm"),
                       help="none, batchnorm or layernorm (fc model)")
    train.add_argument("--dropout", type=float, default=defaults.dropout,
                       help="probability of dropping a hidden unit (fc model)")
    train.add_argument("--num-filters", type=int, default=defaults.num_filters)
    train.add_argument("--filter-size", type=int, default=defaults.filter_size)
    train.add_argument("--weight-scale", type=float, default=defaults.weight_scale)
    train.add_argument("--reg", type=float, default=defaults.reg, help="L2 strength")
    train.add_argument("--optimizer", default=defaults.optimizer,
                       choices=optimizer_names())
    train.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float,
                       default=defaults.learning_rate)
    train.add_argument("--lr-decay", type=float, default=defaults.lr_decay)
    train.add_argument("--epochs", type=int, default=None,
                       help=f"number of epochs in all (default {defaults.epochs}; with "
                            "--resume, the saved run's)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--device", default=defaults.device,
                       help="auto, cpu, cuda or cuda:N (auto: the GPU when one is usable)")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="seeds the weights, the data split, the minibatch order and "
                            "the dropout masks: a run repeats on the same device")
    train.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    train.add_argument("--checkpoint", metavar="PREFIX",
                       help="save the model and the training state to PREFIX_epoch_N.npz "
                            "after each epoch (for --resume)")
    train.add_argument("--resume", metavar="PATH",
                       help="continue the run saved in PATH by --checkpoint: data, model and "
                            "optimizer settings come from the file")
    train.add_argument("--report", metavar="PATH", help="write a JSON report")
    train.add_argument("--plot", metavar="PATH", help="write loss/accuracy curves (PNG)")
    train.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = sub.add_parser("evaluate", help="measure a saved model's accuracy",
                              formatter_class=_DefaultsHelpFormatter)
    evaluate.add_argument("path", help="a checkpoint written by 'xplayers train --save'")
    evaluate.add_argument("--dataset", default=None, choices=("digits", "cifar10", "synthetic"),
                          help="data set (default: the one the model was trained on)")
    evaluate.add_argument("--data-dir", default=None)
    evaluate.add_argument("--device", default="auto")

    from .sweep.command import add_sweep_parser

    add_sweep_parser(sub)
    return parser


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
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: the folder {str(folder)!r} does not exist")
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
        except CommandError:
            raise CommandError(f"--checkpoint {args.checkpoint}: cannot write "
                               f"{args.checkpoint}_epoch_N.npz files there (missing or "
                               "read-only folder)") from None
    _check_input("--resume", args.resume)


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
    defaults = build_parser().parse_args(["train"])
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


def _train(args: argparse.Namespace) -> int:
    from .models.checkpoint import save_model
    from .training.plotting import plot_history

    _check_train_options(args)
    if args.resume is not None:
        try:
            config = resume_settings(args.resume)
        except ValueError as exc:
            raise CommandError(f"--resume {args.resume}: {exc}") from None
        _check_no_settings_with_resume(args)
        config.device, config.verbose = args.device, not args.quiet
        config.epochs = args.epochs or config.epochs
    else:
        config = TrainConfig(
            dataset=args.dataset, data_dir=args.data_dir, model=args.model,
            hidden_dims=args.hidden_dims, normalization=args.normalization,
            dropout=args.dropout, num_filters=args.num_filters, filter_size=args.filter_size,
            weight_scale=args.weight_scale, reg=args.reg, optimizer=args.optimizer,
            learning_rate=args.learning_rate, lr_decay=args.lr_decay,
            epochs=args.epochs or TrainConfig().epochs, batch_size=args.batch_size,
            device=args.device, seed=args.seed, verbose=not args.quiet)
    result = run_training(config, checkpoint_name=args.checkpoint, resume=args.resume)
    report = result.report
    print(f"device {report['device']}: {report['epochs']} epochs in {report['seconds']:.1f} s; "
          f"accuracy train {report['train_accuracy']:.4f}, val {report['val_accuracy']:.4f}, "
          f"test {report['test_accuracy']:.4f}; final loss {report['final_loss']:.4f}")
    if args.save:
        _write("--save", args.save, lambda: save_model(
            result.model, args.save, extra=saved_model_extra(config, report)))
        print(f"saved the model to {args.save}")
    if args.report:
        _write("--report", args.report, lambda: _write_json(args.report, report))
        print(f"wrote the report to {args.report}")
    if args.plot:
        _write("--plot", args.plot, lambda: plot_history(
            report["loss_history"], report["train_acc_history"], report["val_acc_history"],
            args.plot))
        print(f"wrote the curves to {args.plot}")
    return 0


def _data_description(extra: dict[str, Any]) -> dict[str, Any]:
    """``dataset``, ``data_dir`` and ``data_options`` of a model file written by ``--save``
    or of a checkpoint written by ``--checkpoint`` (whose run settings hold them)."""
    described = checkpoint_format.described_data(extra)
    settings = checkpoint_format.train_settings(extra)
    if described is not None or settings is None:
        return described or {}
    try:
        config = TrainConfig(**settings)
        options = dataset_options(config)
    except (TypeError, ValueError):
        return {}
    return checkpoint_format.data_description(
        config.dataset, config.data_dir, {k: v for k, v in options.items() if k != "root"})


def _check_model_fits(path: str, model: Any, dataset: str, data: dict[str, Any]) -> None:
    """Refuse a data set whose examples or classes the saved model was not built for."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        return
    example = tuple(int(s) for s in data["X_train"].shape[1:])
    expected = config.get("input_dim")
    size = 1
    for s in example:
        size *= s
    fits = (expected is None or list(example) == list(np.atleast_1d(expected))
            or (np.ndim(expected) == 0 and expected == size))
    if not fits:
        raise ValueError(f"{path} holds a model for inputs of {expected}, but the {dataset} "
                         f"data set has examples of shape {example}; pass the --dataset it "
                         "was trained on")
    classes = config.get("num_classes")
    labels = int(np.max(np.asarray(data["y_train"]))) + 1
    if classes is not None and labels > classes:
        raise ValueError(f"{path} holds a model for {classes} classes, but the {dataset} data "
                         f"set has {labels}; pass the --dataset it was trained on")


def _evaluate(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .models import ThreeLayerConvNet, load_model
    from .training.solver import Solver

    model = load_model(args.path, device=args.device)
    extra = _data_description(getattr(model, "checkpoint_extra", {}))
    dataset = args.dataset or extra.get("dataset")
    if dataset is None:
        raise ValueError(f"{args.path} does not say which data set it was trained on; "
                         "pass --dataset")
    options = dict(extra.get("data_options", {})) if dataset == extra.get("dataset") else {}
    if dataset == "digits":  # conv nets take (1, 8, 8) images, the others flat rows
        options["flatten"] = not isinstance(model, ThreeLayerConvNet)
    if dataset == "cifar10":
        options["root"] = args.data_dir or extra.get("data_dir")
        if not options["root"]:
            raise ValueError("the cifar10 data set needs --data-dir pointing at the "
                             "cifar-10-batches-py folder")
    data = load_dataset(dataset, **options)
    _check_model_fits(args.path, model, dataset, data)
    solver = Solver(model, data, device=model.device, verbose=False)
    scores = {split: solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])
              for split in ("train", "val", "test")}
    val_loss = solver.validation_loss()  # evaluation mode: no running statistic moves
    print(f"{type(model).__name__} from {args.path} on {dataset}, device {model.device}: "
          + ", ".join(f"{split} accuracy {acc:.4f}" for split, acc in scores.items())
          + ("" if val_loss is None else f", val loss {val_loss:.4f}"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "sweep":
            from .sweep.command import run_sweep_command

            return run_sweep_command(args)
        return _evaluate(args)
    except (ValueError, RuntimeError, OSError, ImportError, ArithmeticError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"xplayers {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

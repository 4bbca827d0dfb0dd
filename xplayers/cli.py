"""The ``xplayers`` command: ``xplayers train``, ``xplayers evaluate PATH``, ``xplayers sweep``."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__
from .checkpoint import format as checkpoint_format
from .training.command import (  # noqa: F401  (CommandError: an older public name)
    _OPTUNA,
    DATASETS,
    INTERRUPTED,
    CommandError,
    _data_needs,
    _DefaultsHelpFormatter,
    add_train_parser,
    require_packages,
    run_train_command,
)
from .training.experiment import TrainConfig, dataset_options


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xplayers`` command."""
    parser = argparse.ArgumentParser(prog="xplayers", description=(
        "Train and evaluate small neural nets on the GPU (CuPy) or the CPU (NumPy)."))
    parser.add_argument("--version", action="version", version=f"xplayers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    add_train_parser(sub)

    evaluate = sub.add_parser("evaluate", help="measure a saved model's accuracy",
                              formatter_class=_DefaultsHelpFormatter)
    evaluate.add_argument("path", help="a checkpoint written by 'xplayers train --save'")
    evaluate.add_argument("--dataset", default=None, choices=DATASETS,
                          help="data set (default: the one the model was trained on)")
    evaluate.add_argument("--data-dir", default=None,
                          help="folder of the data set (cifar10: the cifar-10-batches-py "
                               "folder; default: the one the model was trained with)")
    evaluate.add_argument("--device", default="auto",
                          help="auto, cpu, cuda or cuda:N (auto: the GPU when one is usable)")

    from .sweep.command import add_sweep_parser

    add_sweep_parser(sub)
    return parser


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
    require_packages(_data_needs(dataset))
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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; an unknown option is reported by its subcommand's parser
    (its usage, and the nearest option it knows)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sub = next(a for a in parser._actions
                   if isinstance(a, argparse._SubParsersAction)).choices[args.command]
        known = [o for a in sub._actions for o in a.option_strings]
        hint = ""
        for word in unknown:
            near = difflib.get_close_matches(word.split("=")[0], known, n=1)
            if word.startswith("-") and near:
                hint = f" (did you mean {near[0]}?)"
                break
        sub.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    return args


def _in_cli_words(message: str) -> str:
    """The Python API's names in a message, as the command line spells them."""
    return message.replace("folder (or the folder that contains it) as root",
                           "folder (or the folder that contains it) as --data-dir")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (130 after Ctrl-C)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = _parse(argv)
    try:
        if args.command == "train":
            return run_train_command(args)
        if args.command == "sweep":
            from .sweep.command import run_sweep_command

            require_packages(_OPTUNA, _data_needs(args.dataset))
            return run_sweep_command(args)
        return _evaluate(args)
    except KeyboardInterrupt:
        print(f"xplayers {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (ValueError, RuntimeError, OSError, ImportError, ArithmeticError) as exc:
        message = _in_cli_words(" ".join(str(exc).split()))  # one line
        print(f"xplayers {args.command}: error: {message}", file=sys.stderr)
        return 2


def entry() -> None:
    """The ``xplayers`` console command: :func:`main`, then exit with its status.

    After Ctrl-C the process ends at once with status 130 (its output flushed): CPython
    would otherwise kill itself with SIGINT at exit when the interrupt had cut an import
    short (in scikit-learn's, say), which a caller sees as status -2, not 130.
    """
    status = main()
    if status == INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    raise SystemExit(status)


if __name__ == "__main__":
    entry()

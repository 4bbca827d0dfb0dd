"""The ``xplayers`` command: ``xplayers train``, ``xplayers evaluate PATH``, ``xplayers sweep``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from ._atomic import atomic_write
from .experiment import MODEL_CHOICES, TrainConfig, dataset_options, run_training


def _normalization(value: str) -> str | None:
    return None if value.lower() == "none" else value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xplayers`` command."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="xplayers", description=(
        "Train and evaluate small neural nets on the GPU (CuPy) or the CPU (NumPy)."))
    parser.add_argument("--version", action="version", version=f"xplayers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model and report its accuracy",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
                       choices=("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop",
                                "adam"))
    train.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float,
                       default=defaults.learning_rate)
    train.add_argument("--lr-decay", type=float, default=defaults.lr_decay)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--device", default=defaults.device,
                       help="auto, cpu, cuda or cuda:N (auto: the GPU when one is usable)")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="seeds the weights, the data split, the minibatch order and "
                            "the dropout masks: a run repeats on the same device")
    train.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    train.add_argument("--report", metavar="PATH", help="write a JSON report")
    train.add_argument("--plot", metavar="PATH", help="write loss/accuracy curves (PNG)")
    train.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = sub.add_parser("evaluate", help="measure a saved model's accuracy",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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


def _train(args: argparse.Namespace) -> int:
    from .models.checkpoint import save_model
    from .plotting import plot_history

    config = TrainConfig(
        dataset=args.dataset, data_dir=args.data_dir, model=args.model,
        hidden_dims=args.hidden_dims, normalization=args.normalization, dropout=args.dropout,
        num_filters=args.num_filters, filter_size=args.filter_size,
        weight_scale=args.weight_scale, reg=args.reg, optimizer=args.optimizer,
        learning_rate=args.learning_rate, lr_decay=args.lr_decay, epochs=args.epochs,
        batch_size=args.batch_size, device=args.device, seed=args.seed,
        verbose=not args.quiet)
    result = run_training(config)
    report = result.report
    print(f"device {report['device']}: {report['epochs']} epochs in {report['seconds']:.1f} s; "
          f"accuracy train {report['train_accuracy']:.4f}, val {report['val_accuracy']:.4f}, "
          f"test {report['test_accuracy']:.4f}; final loss {report['final_loss']:.4f}")
    if args.save:
        save_model(result.model, args.save, extra={
            "dataset": config.dataset, "data_dir": config.data_dir,
            "data_options": {k: v for k, v in dataset_options(config).items() if k != "root"},
            "report": {k: v for k, v in report.items() if not k.endswith("history")}})
        print(f"saved the model to {args.save}")
    if args.report:
        _write_json(args.report, report)
        print(f"wrote the report to {args.report}")
    if args.plot:
        plot_history(report["loss_history"], report["train_acc_history"],
                     report["val_acc_history"], args.plot)
        print(f"wrote the curves to {args.plot}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .models import ThreeLayerConvNet, load_model
    from .solver import Solver

    model = load_model(args.path, device=args.device)
    extra = getattr(model, "checkpoint_extra", {})
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
    solver = Solver(model, data, device=model.device, verbose=False)
    scores = {split: solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])
              for split in ("train", "val", "test")}
    print(f"{type(model).__name__} from {args.path} on {dataset}, device {model.device}: "
          + ", ".join(f"{split} accuracy {acc:.4f}" for split, acc in scores.items()))
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
    except (ValueError, RuntimeError, FileNotFoundError, ImportError, ArithmeticError) as exc:
        print(f"xplayers {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

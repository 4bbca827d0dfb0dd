"""The ``xplayers sweep`` subcommand: its options and what it runs."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import config
from .runner import PRUNERS, SweepOptions
from .space import SearchSpace, load_space_file, parse_param

__all__ = ["add_sweep_parser", "run_sweep_command"]

EPILOG = """\
search space: --param NAME=LOW..HIGH[:log|:linear] (a range; learning_rate, weight_scale and
reg are on a log scale), NAME=A|B|C (choices; hidden sizes as 128x64) or NAME=VALUE (fixed).
--space FILE reads the same from TOML or JSON. Unset parameters keep the default space:
learning_rate, weight_scale, reg, hidden_dims, normalization, dropout, optimizer, batch_size.

many machines: on the first,
  xplayers sweep --storage postgresql://USER:PASS@HOST/DB --study-name digits --workers auto
and on every other one,
  xplayers sweep --storage postgresql://USER:PASS@HOST/DB --study-name digits --resume \\
                 --workers auto
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter,
                     argparse.ArgumentDefaultsHelpFormatter):
    """The epilog as written, and each option's default (except None and False, which the
    help text explains)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def add_sweep_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sweep`` to the ``xplayers`` subcommands."""
    defaults = SweepOptions()
    sweep = sub.add_parser(
        "sweep", help="search hyperparameters with Optuna (many workers, one study)",
        formatter_class=_HelpFormatter, epilog=EPILOG)
    sweep.add_argument("--trials", type=int, default=None,
                       help="trials in the study, earlier runs and other machines included "
                            "(default 20; with --resume, the study's own target)")
    sweep.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="start no trial after this many seconds")
    sweep.add_argument("--objective", default=defaults.objective,
                       choices=("val_accuracy", "train_accuracy", "final_loss"),
                       help="what the sweep optimises")
    sweep.add_argument("--pruner", default=defaults.pruner, choices=PRUNERS,
                       help="stop bad trials at epoch boundaries (median or asha)")
    sweep.add_argument("--param", action="append", default=[], metavar="SPEC",
                       help="a search space entry (see below); repeatable")
    sweep.add_argument("--space", metavar="FILE", help="search space in a .toml or .json file")
    sweep.add_argument("--only-given", action="store_true",
                       help="search only the --param/--space entries (no default space)")
    sweep.add_argument("--no-default-trial", action="store_true",
                       help="do not start with the default 'xplayers train' settings (trial "
                            "0; when they lie outside the search space a warning says so and "
                            "trial 0 is a sample of the space)")
    sweep.add_argument("--dataset", default=defaults.dataset,
                       choices=("digits", "cifar10", "synthetic"),
                       help="the data set every trial trains on")
    sweep.add_argument("--data-dir", default=None,
                       help="folder of the data set (cifar10: the cifar-10-batches-py folder)")
    sweep.add_argument("--seed", type=int, default=defaults.seed,
                       help="seeds the data split, every trial's training and the sampler")
    sweep.add_argument("--study-name", default=defaults.study_name,
                       help="the study's name in its storage")
    sweep.add_argument("--storage", default=None,
                       help="a database URL (postgresql://user:pass@host/db) or a journal "
                            "file; default OUT/study.journal")
    sweep.add_argument("--resume", action="store_true",
                       help="continue (or join) the existing study of that name")
    sweep.add_argument("--workers", default="1",
                       help="worker processes: N, or auto (one per GPU; on a CPU, one per "
                            "core with the BLAS threads split)")
    sweep.add_argument("--device", default=defaults.device,
                       help="auto, cpu, cuda or cuda:N")
    sweep.add_argument("--out", default=defaults.out,
                       help="folder for the results, checkpoints and the default study file")
    sweep.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    sweep.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    return sweep


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run ``xplayers sweep`` (or one of its worker processes); returns the exit status."""
    from .results import summarise, write_results
    from .runner import run_sweep, run_worker, storage_address

    options = SweepOptions(
        trials=args.trials, timeout=args.timeout, objective=args.objective, pruner=args.pruner,
        replace_space=args.only_given, dataset=args.dataset, data_dir=args.data_dir,
        seed=args.seed, study_name=args.study_name, storage=args.storage, resume=args.resume,
        workers=args.workers, device=args.device, out=args.out,
        include_defaults=not args.no_default_trial)
    if args.worker is not None:
        storage = config.get("sweep_storage") or storage_address(options)
        try:
            with _quiet_about_interrupts(), np.errstate(all="ignore"):
                run_worker(args.worker, storage, args.study_name, args.device, args.out,
                           args.deadline)
        except KeyboardInterrupt:  # the coordinator says what happened
            return INTERRUPTED
        return 0
    if args.trials is not None and args.trials < 1:
        raise ValueError(f"--trials must be a positive integer, got {args.trials}")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        # 0 would mean no limit and a negative one a study whose first trial never runs
        raise ValueError(f"--timeout must be a number of seconds > 0, got {args.timeout}")
    if args.space:
        options.space.update(load_space_file(args.space))
    options.space.update(parse_param(text) for text in args.param)
    SearchSpace(options.space)  # every value checked before a study file is made
    try:
        with _quiet_about_interrupts(), np.errstate(all="ignore"):
            study, problems = run_sweep(options)
    except KeyboardInterrupt:
        _say_interrupted(args, options)
        return INTERRUPTED
    for line in problems:
        print(f"xplayers sweep: warning: {line}")
    print(summarise(study))
    for line in write_results(study, Path(args.out)):
        print(line)
    from optuna.trial import TrialState

    done = any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    return 0 if done else 1


INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's "Trial N failed ... KeyboardInterrupt" record and its traceback: the
    sweep says itself that it was interrupted and which trial failed."""

    def __init__(self) -> None:
        super().__init__()
        self._trial: str | None = None  # "Trial N " of the record just dropped

    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        if info and info[0] is not None and issubclass(info[0], KeyboardInterrupt):
            self._trial = " ".join(record.getMessage().split()[:2]) + " "
            return False
        message = record.getMessage()
        if self._trial and message.startswith(self._trial + "failed with value"):
            self._trial = None
            return False  # its second line
        return True


@contextlib.contextmanager
def _quiet_about_interrupts() -> Iterator[None]:
    import optuna

    optuna.logging.get_logger("optuna")  # makes sure Optuna's handler exists
    handlers = logging.getLogger("optuna").handlers + logging.getLogger().handlers
    quiet = _NoInterruptTraceback()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _say_interrupted(args: argparse.Namespace, options: SweepOptions) -> None:
    """After Ctrl-C: which trial failed, where the study is, and the command that resumes it."""
    from .runner import storage_address
    from .storage import open_storage, redact

    where = storage_address(options)
    failed = ""
    try:
        import optuna

        study = optuna.load_study(study_name=options.study_name, storage=open_storage(where))
        trials = study.get_trials(deepcopy=False)
        if args.workers == "1" and trials and trials[-1].state.name == "RUNNING":
            # Ctrl-C landed before Optuna's own handler could mark this process's trial.
            study._storage.set_trial_state_values(trials[-1]._trial_id,
                                                  optuna.trial.TrialState.FAIL)
            trials = study.get_trials(deepcopy=False)
        if trials and trials[-1].state.name == "FAIL":
            failed = f"; the running trial {trials[-1].number} was marked failed"
        kept = f"the study {options.study_name!r} ({len(trials)} trials) is kept in {redact(where)}"
    except Exception:  # nothing was stored yet
        kept = "no study was stored yet"
    print(f"xplayers sweep: interrupted{failed}; {kept}", flush=True)
    command = ["xplayers", "sweep", "--resume", "--study-name", options.study_name,
               "--out", options.out]
    if options.storage:
        command += ["--storage", redact(options.storage)]
    for option, value in (("--trials", args.trials), ("--timeout", args.timeout),
                          ("--workers", None if args.workers == "1" else args.workers),
                          ("--device", None if args.device == "auto" else args.device)):
        if value is not None:
            command += [option, repr(value) if isinstance(value, float) else str(value)]
    if kept != "no study was stored yet":
        print(f"resume with: {shlex.join(command)}", flush=True)

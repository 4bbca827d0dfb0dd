"""Hyperparameter sweeps on Optuna: many worker processes (and machines) share one study.

``xplayers sweep`` on the command line; from Python::

    from xplayers.sweep import SweepOptions, run_sweep, summarise
    study, problems = run_sweep(SweepOptions(trials=20, workers="auto"))
    print(summarise(study))

Needs Optuna (``pip install 'xplayers[sweep]'``, which also brings the PostgreSQL driver).
"""

from .results import summarise, write_results
from .runner import SweepOptions, run_sweep
from .space import DEFAULT_SPACE, Choice, Range, SearchSpace
from .storage import SweepStorageError, open_storage

__all__ = ["DEFAULT_SPACE", "Choice", "Range", "SearchSpace", "SweepOptions",
           "SweepStorageError", "open_storage", "run_sweep", "summarise", "write_results"]

"""Start, resume or join a sweep; the coordinator's side and the worker's side."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..training.experiment import TrainConfig
from .claim import claim_lock
from .objective import OBJECTIVES, TrialObjective
from .space import DEFAULT_SPACE, Choice, Range, SearchSpace, Spec
from .storage import fail_dead_local_trials, is_url, open_storage, redact
from .workers import plan_workers, run_worker_loop, run_workers

__all__ = ["PRUNERS", "SweepOptions", "run_sweep", "run_worker"]

PRUNERS = ("median", "asha", "none")


@dataclass
class SweepOptions:
    """Settings of a sweep (the ``xplayers sweep`` options).

    ``space`` entries replace or extend :data:`~xplayers.sweep.space.DEFAULT_SPACE` (or,
    with ``replace_space``, are the whole space). ``trials`` counts every trial of the study,
    including those of earlier runs (``resume``) and of other machines.
    """

    trials: int | None = None
    timeout: float | None = None
    objective: str = "val_accuracy"
    pruner: str = "median"
    space: dict[str, Spec] = field(default_factory=dict)
    replace_space: bool = False
    dataset: str = "digits"
    data_dir: str | None = None
    seed: int = 0
    study_name: str = "xplayers"
    storage: str | None = None
    resume: bool = False
    workers: str | int = 1
    device: str = "auto"
    out: str = "sweep"
    include_defaults: bool = True


DEFAULT_TRIALS = 20


def make_pruner(name: str) -> Any:
    """The Optuna pruner for ``--pruner``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=3)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"pruner must be one of {PRUNERS}, got {name!r}")


def storage_address(options: SweepOptions) -> str:
    """The ``--storage`` value, or the default journal file under ``--out``."""
    if options.storage:
        return options.storage
    return str((Path(options.out) / "study.journal").resolve())


def _load_study(storage: Any, name: str, seed: int) -> Any:
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None
    attrs = study.user_attrs
    sampler = optuna.samplers.TPESampler(seed=seed)
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                             pruner=make_pruner(attrs.get("pruner", "median")))


def _defaults_in_space(space: SearchSpace) -> dict[str, Any] | None:
    """The defaults' varying values, or None (saying why) when they lie outside ``space``."""
    defaults = asdict(TrainConfig())
    defaults["hidden_dims"] = "x".join(map(str, defaults["hidden_dims"]))
    defaults["normalization"] = defaults["normalization"] or "none"
    outside = space.outside(defaults)
    if outside:
        print(f"xplayers sweep: warning: the 'xplayers train' defaults lie outside the search "
              f"space ({'; '.join(outside)}), so trial 0 is a sample of the space, not the "
              "defaults; widen the space to include them, or pass --no-default-trial",
              flush=True)
        return None
    return space.varying(defaults)


def _create_study(storage: Any, options: SweepOptions) -> Any:
    import optuna

    if options.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got "
                         f"{options.objective!r}")
    space = (SearchSpace(options.space) if options.replace_space
             else DEFAULT_SPACE.updated(options.space))
    study = optuna.create_study(
        study_name=options.study_name, storage=storage,
        direction=OBJECTIVES[options.objective][0],
        sampler=optuna.samplers.TPESampler(seed=options.seed),
        pruner=make_pruner(options.pruner))
    study.set_user_attr("space", space.to_json())
    study.set_user_attr("objective", options.objective)
    study.set_user_attr("pruner", options.pruner)
    study.set_user_attr("target", options.trials or DEFAULT_TRIALS)
    study.set_user_attr("base", {"dataset": options.dataset, "data_dir": options.data_dir,
                                 "seed": options.seed})
    study.set_user_attr("fixed", {k: v for k, v in space.specs.items()
                                  if not isinstance(v, Range | Choice)})
    defaults = _defaults_in_space(space) if options.include_defaults else None
    if defaults is not None:  # trial 0 is plain `xplayers train`: the sweep can only beat it
        study.enqueue_trial(defaults)
    return study


def open_study(options: SweepOptions, storage: Any = None) -> Any:
    """Create the study, or load it with ``resume``; a clear error for the wrong one.

    ``storage``: the opened storage of ``options`` (default: open it here).
    """
    storage = storage or open_storage(storage_address(options))
    study = _load_study(storage, options.study_name, options.seed)
    where = redact(storage_address(options))
    if options.resume:
        if study is None:
            raise ValueError(f"--resume: there is no study {options.study_name!r} in {where}")
        if options.space or options.replace_space:
            raise ValueError(f"--resume continues study {options.study_name!r} with its own "
                             f"search space; drop --param/--space/--only-given, got "
                             f"{sorted(options.space)}")
        if options.trials is not None:
            study.set_user_attr("target", options.trials)
        return study
    if study is not None:
        raise ValueError(f"a study {options.study_name!r} already exists in {where}: pass "
                         "--resume to continue it, or choose another --study-name or --out")
    return _create_study(storage, options)


def make_objective(study: Any, device: str, out: str) -> TrialObjective:
    """The trial function of ``study`` for a worker on ``device``."""
    attrs = study.user_attrs
    return TrialObjective(space=SearchSpace.from_json(attrs["space"]), base=dict(attrs["base"]),
                          objective=attrs["objective"], device=device,
                          checkpoint_dir=Path(out) / "checkpoints")


def run_sweep(options: SweepOptions) -> tuple[Any, list[str]]:
    """Run a sweep to its end: create (or resume) the study, start the workers, wait.

    Returns
    -------
    study : optuna.Study
    problems : list of str
        One line per worker that crashed or was killed (its running trial is marked failed).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plans = plan_workers(options.workers, options.device)
    backend = open_storage(storage_address(options))
    study = open_study(options, backend)
    if not is_url(storage_address(options)):
        fail_dead_local_trials(study)  # an earlier run's workers killed mid-trial
    target = int(study.user_attrs["target"])
    deadline = time.time() + options.timeout if options.timeout else None
    print(f"xplayers sweep: study {study.study_name!r} in {redact(storage_address(options))}, "
          f"{target} trials, objective {study.user_attrs['objective']}, "
          f"{len(plans)} worker(s) on {', '.join(sorted({p.device for p in plans}))}\n"
          f"{SearchSpace.from_json(study.user_attrs['space']).describe()}", flush=True)
    if len(plans) == 1:
        objective = make_objective(study, plans[0].device, options.out)
        claim = claim_lock(backend, storage_address(options), study.study_name)
        run_worker_loop(study, objective, target, deadline, label="[worker 0]", claim=claim)
        return study, []
    return study, run_workers(plans, study, storage_address(options), Path(options.out),
                              deadline)


def run_worker(index: int, storage: str, study_name: str, device: str, out: str,
               deadline: float | None) -> int:
    """The body of a worker process (``xplayers sweep --worker N``); returns trials run."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = open_storage(storage)
    study = _load_study(backend, study_name, seed=0)
    if study is None:
        raise ValueError(f"there is no study {study_name!r} in {redact(storage)}")
    study.sampler = optuna.samplers.TPESampler(seed=study.user_attrs["base"]["seed"] + index)
    objective = make_objective(study, device, out)
    return run_worker_loop(study, objective, int(study.user_attrs["target"]), deadline,
                           label=f"[worker {index}]",
                           claim=claim_lock(backend, storage, study_name))

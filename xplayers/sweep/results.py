"""What a sweep leaves behind: a summary, every trial as CSV and JSON, a plot, the best model."""

from __future__ import annotations

import csv
import io
import json
import shlex
import shutil
import socket
from pathlib import Path
from typing import Any

from ..checkpoint.atomic import atomic_write

__all__ = ["best_train_command", "summarise", "trial_line", "trial_records", "write_results"]


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def trial_line(trial: Any, study: Any) -> str:
    """One line about a finished trial: its state, objective value, time and settings."""
    objective = study.user_attrs.get("objective", "value")
    params = " ".join(f"{k}={_format(v)}" for k, v in trial.params.items())
    state = trial.state.name.lower()
    if state == "complete":
        outcome = f"{objective} {trial.value:.4f}"
    elif trial.intermediate_values:
        step = max(trial.intermediate_values)
        outcome = f"{state} after epoch {step} ({trial.intermediate_values[step]:.4f})"
    else:
        outcome = state
    took = ""
    if trial.datetime_start and trial.datetime_complete:
        took = f" in {(trial.datetime_complete - trial.datetime_start).total_seconds():.1f} s"
    return f"trial {trial.number} {outcome}{took} on {trial.user_attrs.get('device', '?')}: " \
           f"{params}"


def trial_records(study: Any) -> list[dict[str, Any]]:
    """Every trial of ``study`` as a JSON-able dict (params, metrics, state, times)."""
    records = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        records.append({
            "number": t.number, "state": t.state.name, "value": t.value,
            "params": dict(t.params), "metrics": {k: v for k, v in t.user_attrs.items()},
            "intermediate_values": {str(k): v for k, v in t.intermediate_values.items()},
            "started": t.datetime_start.isoformat() if t.datetime_start else None,
            "duration_s": duration})
    return records


def _csv_text(records: list[dict[str, Any]]) -> str:
    params = sorted({k for r in records for k in r["params"]})
    metrics = sorted({k for r in records for k in r["metrics"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "state", "value", "duration_s", *params, *metrics])
    for r in records:
        writer.writerow([r["number"], r["state"], r["value"], r["duration_s"],
                         *(r["params"].get(k, "") for k in params),
                         *(r["metrics"].get(k, "") for k in metrics)])
    return out.getvalue()


def best_train_command(study: Any) -> str:
    """The ``xplayers train`` command line that repeats the best trial."""
    settings = {**study.user_attrs.get("base", {}), **study.user_attrs.get("fixed", {}),
                **study.best_trial.params}
    parts = ["xplayers train"]
    for name, value in settings.items():
        if name == "data_dir" and value is None:
            continue
        flag = "--lr" if name == "learning_rate" else "--" + name.replace("_", "-")
        if name == "hidden_dims":
            value = " ".join(str(value).split("x"))
        # Floats in full (repr): a rounded learning rate would not repeat the trial.
        text = repr(value) if isinstance(value, float) else str(value)
        parts.append(f"{flag} {' '.join(shlex.quote(word) for word in text.split(' '))}")
    return " ".join(parts)


def summarise(study: Any) -> str:
    """Counts of trials by state, and the best trial's score, metrics and settings."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    head = (f"study {study.study_name!r}: {len(trials)} trials ("
            + ", ".join(f"{n} {s.name.lower()}" for s, n in counts.items() if n) + ")")
    if not counts[TrialState.COMPLETE]:
        return head + "; no trial completed"
    best = study.best_trial
    metrics = ", ".join(f"{k} {best.user_attrs[k]:.4f}" for k in
                        ("train_accuracy", "val_accuracy", "test_accuracy", "final_loss")
                        if k in best.user_attrs)
    settings = "\n".join(f"  {k} = {_format(v)}" for k, v in best.params.items())
    return (f"{head}\nbest: trial {best.number}, "
            f"{study.user_attrs.get('objective', 'value')} {best.value:.4f} ({metrics})\n"
            f"{settings}\nrepeat it: {best_train_command(study)}")


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text), binary=False)


def _label_log_axis(axis: Any, values: list[float]) -> None:
    """Short labels (``2e-3``) at 1, 2 and 5 per decade for a range of up to two decades, at
    the powers of ten beyond, none on the other minor ticks: matplotlib's default labels every
    minor tick of a range under a decade, and they overlap."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    positive = [v for v in values if v > 0]
    span = math.log10(max(positive) / min(positive)) if positive else 0.0
    subs = (1.0, 2.0, 5.0) if span <= 2 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0e}".replace("e-0", "e-")))
    axis.set_minor_formatter(NullFormatter())


def _plot(records: list[dict[str, Any]], objective: str, path: Path) -> None:
    # A Figure of its own, not pyplot: the caller's backend (a notebook's inline one, say)
    # and its open figures stay as they are.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax_lr, ax_hist = fig.subplots(1, 2)
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        points = [(r["params"]["learning_rate"],
                   r["value"] if r["value"] is not None else r["metrics"].get(objective))
                  for r in records if r["state"] == state and "learning_rate" in r["params"]]
        points = [(x, y) for x, y in points if y is not None]
        if points:
            ax_lr.scatter(*zip(*points, strict=True), marker=marker, label=state.lower())
    ax_lr.set(xscale="log", xlabel="learning rate", ylabel=objective,
              title=f"{objective} vs learning rate")
    _label_log_axis(ax_lr.xaxis, [r["params"]["learning_rate"] for r in records
                                  if "learning_rate" in r["params"]])
    if ax_lr.collections:  # a legend only when some trial was drawn
        ax_lr.legend(loc="best")
    done = [r for r in records if r["state"] == "COMPLETE"]
    if done:
        numbers = [r["number"] for r in done]
        values = [r["value"] for r in done]
        pick = max if objective != "final_loss" else min
        best_so_far = [pick(values[: i + 1]) for i in range(len(values))]
        ax_hist.plot(numbers, values, "o", label="trial")
        ax_hist.step(numbers, best_so_far, where="post", label="best so far")
        ax_hist.legend(loc="best")
    ax_hist.set(xlabel="trial", ylabel=objective, title="optimisation history")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _best_model(study: Any, out: Path) -> str:
    from ..models.checkpoint import save_model
    from ..training.experiment import TrainConfig, run_training
    from .objective import checkpoint_extra
    from .space import to_train_settings

    best = study.best_trial
    target = out / "best_model.npz"
    host, _, path = best.user_attrs.get("checkpoint", "").partition(":")
    if host == socket.gethostname() and Path(path).is_file():
        tmp = target.with_suffix(".npz.tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
        return f"saved the best model (trial {best.number}) to {target}"
    # The best trial ran on another machine: train its settings again here.
    settings = {**study.user_attrs.get("base", {}),
                **to_train_settings({**study.user_attrs.get("fixed", {}), **best.params})}
    config = TrainConfig(**settings, verbose=False)
    result = run_training(config)
    save_model(result.model, target, extra=checkpoint_extra(config, result.report))
    return (f"trained the best settings (trial {best.number}, run on {host or 'another host'}) "
            f"again here: val accuracy {result.report['val_accuracy']:.4f}; saved to {target}")


def write_results(study: Any, out: Path) -> list[str]:
    """Write trials.json, trials.csv, sweep.png and best_model.npz under ``out``; returns one
    line per file written (or why not)."""
    from optuna.trial import TrialState

    out.mkdir(parents=True, exist_ok=True)
    records = trial_records(study)
    objective = study.user_attrs.get("objective", "value")
    lines = []
    payload = {"study": study.study_name, "objective": objective,
               "direction": study.direction.name.lower(), "trials": records}
    _write_text(out / "trials.json", json.dumps(payload, indent=2) + "\n")
    _write_text(out / "trials.csv", _csv_text(records))
    lines.append(f"wrote {len(records)} trials to {out / 'trials.csv'} and trials.json")
    try:
        _plot(records, objective, out / "sweep.png")
        lines.append(f"wrote the plot to {out / 'sweep.png'}")
    except ImportError:
        lines.append("no plot: it needs matplotlib (pip install 'xplayers[plot]')")
    if any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        lines.append(_best_model(study, out))
    return lines

"""The sweep's pieces in one process: search space, worker plan, trials, resume, storage errors,
results."""

from __future__ import annotations

import json

import pytest

optuna = pytest.importorskip("optuna")

from xplayers.cli import main  # noqa: E402
from xplayers.optim import optimizer_names  # noqa: E402
from xplayers.sweep import space as space_module  # noqa: E402
from xplayers.sweep.runner import SweepOptions, open_study, run_sweep  # noqa: E402
from xplayers.sweep.space import Choice, Range, SearchSpace, parse_param  # noqa: E402
from xplayers.sweep.storage import SweepStorageError, open_storage, redact  # noqa: E402
from xplayers.sweep.workers import plan_workers  # noqa: E402

TINY = {"hidden_dims": Choice(("16", "32")), "normalization": Choice(("none",)),
        "batch_size": Choice((128,)), "epochs": 2}


# -- search space ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("lr=1e-4..1e-2", ("learning_rate", Range(1e-4, 1e-2, log=True))),
    ("dropout=0..0.5", ("dropout", Range(0, 0.5, log=False))),
    ("reg=1e-5..1e-3:linear", ("reg", Range(1e-5, 1e-3, log=False))),
    ("batch_size=32..256:log", ("batch_size", Range(32, 256, log=True))),
    ("hidden-dims=64|128x64", ("hidden_dims", Choice((64, "128x64")))),
    ("normalization=none|layernorm", ("normalization", Choice((None, "layernorm")))),
    ("epochs=12", ("epochs", 12)),
    ("optimizer=adam", ("optimizer", "adam")),
])
def test_parse_param(text, expected):
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["lr", "lr=", "=3", "lr=a..b", "lr=1..2:cubic"])
def test_parse_param_rejects_nonsense(text):
    with pytest.raises(ValueError, match="--param"):
        parse_param(text)


@pytest.mark.parametrize("specs, match", [
    ({"colour": Choice(("red",))}, "colour.*not a train setting"),
    ({"learning_rate": Range(1e-2, 1e-4, log=True)}, "low <= high"),
    ({"learning_rate": Range(0.0, 1e-2, log=True)}, "log scale"),
    ({"hidden_dims": Range(16, 64)}, "hidden_dims takes choices"),
    ({"optimizer": Choice(())}, "empty"),
    ({"hidden_dims": Choice(("12x-3",))}, "positive widths"),
])
def test_search_space_rejects_bad_entries(specs, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace(specs)


def test_space_files_read_toml_and_json(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text('[space]\nlearning_rate = {low = 1e-4, high = 1e-2}\n'
                    'hidden_dims = [[128, 64], [256]]\noptimizer = ["adam", "sgd"]\n'
                    'epochs = 7\ndropout = {low = 0.0, high = 0.2}\n')
    specs = space_module.load_space_file(toml)
    assert specs["learning_rate"] == Range(1e-4, 1e-2, log=True)  # log by default
    assert specs["dropout"] == Range(0.0, 0.2, log=False)
    assert specs["epochs"] == 7
    space = SearchSpace(specs)
    assert space.specs["hidden_dims"] == Choice(("128x64", "256"))
    as_json = tmp_path / "space.json"
    as_json.write_text(json.dumps(space.to_json()))
    assert SearchSpace(space_module.load_space_file(as_json)).specs == space.specs
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = {low = 1e-4")
    with pytest.raises(ValueError, match=r"bad\.toml"):
        space_module.load_space_file(bad)


def test_suggestions_become_train_settings():
    space = SearchSpace({"hidden_dims": Choice(("128x64",)), "normalization": Choice((None,)),
                         "learning_rate": Range(1e-3, 1e-3, log=True), "epochs": 3})
    trial = optuna.trial.FixedTrial({"hidden_dims": "128x64", "normalization": "none",
                                     "learning_rate": 1e-3})
    settings = space_module.to_train_settings(space.suggest(trial))
    assert settings == {"hidden_dims": [128, 64], "normalization": None,
                        "learning_rate": 1e-3, "epochs": 3}


# -- worker plan ----------------------------------------------------------------------------
def test_cpu_workers_split_the_cores(monkeypatch):
    monkeypatch.setattr("xplayers.sweep.workers.usable_cpus", lambda: 8)
    monkeypatch.setattr("xplayers.backend.devices.available_devices", lambda: ["cpu"])
    auto = plan_workers("auto", "auto")
    assert [p.device for p in auto] == ["cpu"] * 8 and {p.threads for p in auto} == {1}
    two = plan_workers("2", "cpu")
    assert [(p.index, p.device, p.threads) for p in two] == [(0, "cpu", 4), (1, "cpu", 4)]


def test_gpu_workers_one_per_device(monkeypatch):
    monkeypatch.setattr("xplayers.backend.devices.available_devices",
                        lambda: ["cpu", "cuda:0", "cuda:1", "cuda:2"])
    assert [p.device for p in plan_workers("auto", "auto")] == ["cuda:0", "cuda:1", "cuda:2"]
    assert [p.device for p in plan_workers(4, "cuda")] == ["cuda:0", "cuda:1", "cuda:2",
                                                           "cuda:0"]
    assert {p.device for p in plan_workers("auto", "cpu")} == {"cpu"}
    assert [p.device for p in plan_workers(2, "cuda:1")] == ["cuda:1", "cuda:1"]


@pytest.mark.parametrize("workers", ["0", "-1", "many", 0])
def test_bad_worker_counts(workers):
    with pytest.raises(ValueError, match="--workers"):
        plan_workers(workers, "cpu")


# -- trials in one process --------------------------------------------------------------------
def _options(tmp_path, **kwargs) -> SweepOptions:
    defaults = {"trials": 3, "space": dict(TINY), "device": "cpu", "out": str(tmp_path),
                "pruner": "none"}
    return SweepOptions(**{**defaults, **kwargs})


def test_a_sweep_runs_its_trials_and_resumes(tmp_path):
    study, problems = run_sweep(_options(tmp_path))
    assert problems == []
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    for t in trials:  # each trial is a full training run that recorded its scores
        assert 0 < t.value <= 1 and t.value == t.user_attrs["val_accuracy"]
        assert list(t.intermediate_values) == [1, 2]  # the fixed epochs=2, each reported
        assert set(t.params) >= {"learning_rate", "hidden_dims"}
    with pytest.raises(ValueError, match=r"already exists.*--resume"):
        open_study(_options(tmp_path))
    with pytest.raises(ValueError, match=r"--resume continues.*own search space"):
        open_study(_options(tmp_path, trials=5, resume=True))
    study, _ = run_sweep(_options(tmp_path, trials=5, resume=True, space={}))
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3, 4]
    assert {t.params["hidden_dims"] for t in study.get_trials()} <= {"16", "32"}
    with pytest.raises(ValueError, match="no study 'other'"):
        open_study(_options(tmp_path, resume=True, study_name="other", space={}))


def test_the_default_settings_are_trial_zero(tmp_path):
    space = {"hidden_dims": Choice(("128x64", "32")), "epochs": 2}
    study, _ = run_sweep(_options(tmp_path, trials=1, space=space))
    params = study.trials[0].params
    assert params["learning_rate"] == pytest.approx(2e-3)
    assert params["hidden_dims"] == "128x64" and params["normalization"] == "batchnorm"


def test_pruning_stops_a_trial_at_an_epoch_boundary(tmp_path, monkeypatch):
    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    monkeypatch.setattr("xplayers.sweep.runner.make_pruner", lambda name: AlwaysPrune())
    study, _ = run_sweep(_options(tmp_path, trials=1, space={**TINY, "epochs": 5}))
    trial = study.trials[0]
    assert trial.state.name == "PRUNED"
    assert list(trial.intermediate_values) == [1]  # reported after epoch 1, then stopped


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
# The trial's loss becomes NaN on purpose: NumPy's warnings about it are expected.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_diverging_trial_is_pruned_not_fatal(tmp_path):
    space = {**TINY, "learning_rate": Range(1e6, 1e7, log=True), "optimizer": "sgd",
             "normalization": "none"}
    study, _ = run_sweep(_options(tmp_path, trials=1, space=space))
    trial = study.trials[0]
    assert trial.state.name == "PRUNED"
    assert "loss became" in trial.user_attrs["diverged"]


def test_the_command_writes_results_and_the_best_model(tmp_path, capsys):
    code = main(["sweep", "--trials", "2", "--param", "hidden_dims=16|32", "--param",
                 "epochs=2", "--param", "normalization=none", "--device", "cpu", "--out",
                 str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "best: trial" in out and "repeat it: xplayers train" in out
    records = json.loads((tmp_path / "trials.json").read_text())["trials"]
    assert [r["number"] for r in records] == [0, 1]
    best = max(records, key=lambda r: r["value"])
    from xplayers.models import load_model
    model = load_model(tmp_path / "best_model.npz", device="cpu")
    assert model.checkpoint_extra["report"]["val_accuracy"] == best["value"]
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert main(["evaluate", str(tmp_path / "best_model.npz"), "--device", "cpu"]) == 0


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_positive_is_refused_before_any_study(timeout, tmp_path, capsys):
    code = main(["sweep", "--timeout", timeout, "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--timeout must be a number of seconds > 0, got {float(timeout)}" in err
    assert list(tmp_path.iterdir()) == []  # no study file, no half-made results


@pytest.mark.parametrize(("param", "message"), [
    ("epochs=0", "'epochs' must be a positive integer, got 0"),
    ("epochs=2.5", "'epochs' must be a positive integer, got 2.5"),
    ("optimizer=adam|foo",
     f"'optimizer' must be one of {sorted(optimizer_names())}, got 'foo'"),
    ("dropout=0.1..1", "'dropout' must be a drop probability in [0, 1), got 1"),
    ("lr=0..1e-2:linear", "'learning_rate' must be a number > 0, got 0"),
    ("reg=-1", "'reg' must be a number >= 0, got -1"),
    ("normalization=bn|none", "'normalization' must be none, batchnorm or layernorm, got 'bn'"),
    ("model=mlp", "'model' must be one of ['fc', 'two_layer', 'conv'], got 'mlp'"),
])
def test_a_value_no_trial_could_run_is_refused_before_any_study(param, message, tmp_path,
                                                                  capsys):
    # These used to create the study and fail every trial that drew the value.
    code = main(["sweep", "--param", param, "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"search space value for {message}" in err
    assert list(tmp_path.iterdir()) == []


# -- storage ----------------------------------------------------------------------------------
def test_an_unreachable_database_is_one_clear_error(capsys):
    url = "postgresql://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(SweepStorageError, match=r"cannot reach the study storage "
                                                r"postgresql://someone:\*\*\*@127.0.0.1:1"):
        open_storage(url)
    assert main(["sweep", "--storage", url, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the study storage" in err and "hunter2" not in err
    assert len(err.strip().splitlines()) == 1


def test_redact_hides_only_the_password():
    assert redact("postgresql://u:p@ss@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_journal_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SweepStorageError, match="cannot open the study journal"):
        open_storage(str(blocker / "study.journal"))


def test_a_trial_left_running_by_a_dead_worker_fails_on_resume(tmp_path):
    import subprocess

    from xplayers.sweep.storage import worker_identity

    study, _ = run_sweep(_options(tmp_path, trials=1))
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = study.ask()  # as a worker killed mid-trial leaves it
    orphan.set_user_attr("worker", worker_identity(gone.pid))
    alive = study.ask()  # a worker still running (this process) keeps its trial
    alive.set_user_attr("worker", worker_identity())
    study, _ = run_sweep(_options(tmp_path, trials=4, resume=True, space={}))
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states[orphan.number] == "FAIL"
    assert states[alive.number] == "RUNNING"
    assert sorted(states) == [0, 1, 2, 3]


def test_worker_processes_get_the_storage_by_environment_and_split_threads(tmp_path):
    from xplayers.sweep.workers import (
        BLAS_THREAD_VARIABLES,
        STORAGE_ENV,
        WorkerPlan,
        _worker_command,
        _worker_env,
    )

    plan = WorkerPlan(1, "cpu", threads=3)
    url = "postgresql://u:secret@h/db"
    command = _worker_command(plan, "s", tmp_path, deadline=None)
    assert not any("secret" in part for part in command)
    assert command[command.index("--worker") + 1] == "1"
    env = _worker_env(plan, url)
    assert env[STORAGE_ENV] == url
    assert all(env[name] == "3" for name in BLAS_THREAD_VARIABLES)


def test_no_trial_starts_after_the_timeout(tmp_path):
    study, _ = run_sweep(_options(tmp_path, trials=5, timeout=1e-9))
    assert [t for t in study.get_trials() if t.state.name != "WAITING"] == []

"""The checkpoint format has one owner: its keys, its version and its upgrade path."""

from __future__ import annotations

import ast
import inspect
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import xplayers
from xplayers.checkpoint import format as checkpoint_format
from xplayers.models import TwoLayerNet, load_model
from xplayers.solver import Solver

PACKAGE = Path(xplayers.__file__).resolve().parent
V1 = Path(__file__).resolve().parent / "fixtures" / "checkpoints_v1"


def string_constants() -> dict[str, set[str]]:
    """Every string literal of the package (docstrings left out, f-string pieces in) ->
    the modules (paths relative to the package) that spell it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                found[node.value].add(path.relative_to(PACKAGE).as_posix())
    return found


OWNER = "checkpoint/format.py"
# The same word with another meaning: a module name, not a key of the file.
OTHER_MEANINGS = {("solver", "course/__init__.py")}


def layout_keys() -> list[str]:
    f = checkpoint_format
    return [f.META, f.FORMAT, f.FORMAT_KEY, f.CLASS, f.EXTRA, f.SOLVER, f.USER,
            f.TRAIN_SETTINGS, "optim_scalars", "model_random_state", "rng_state",
            "best_val_acc", "bit_generator"]


def test_each_checkpoint_key_is_spelled_in_one_module():
    found = string_constants()
    for key in layout_keys():
        spelled = {module for module in found.get(key, set())
                   if (key, module) not in OTHER_MEANINGS}
        assert spelled == {OWNER}, f"{key!r} is spelled in {sorted(spelled)}"


def test_entry_names_are_built_in_one_module():
    found = string_constants()
    for group in checkpoint_format.GROUPS:
        spelled = {module for text, modules in found.items() if text.startswith(f"{group}/")
                   for module in modules}
        assert spelled <= {OWNER}, f"entries {group}/... are named in {sorted(spelled)}"


def test_stored_settings_and_histories_are_the_solvers_own_names():
    parameters = inspect.signature(Solver).parameters
    assert set(checkpoint_format.SETTINGS) <= set(parameters)
    solver_source = inspect.getsource(Solver)
    for key in checkpoint_format.HISTORIES:
        assert f"self.{key}" in solver_source


def test_files_of_today_are_version_1_and_v1_fixtures_read():
    assert checkpoint_format.VERSION == 1 and checkpoint_format.UPGRADES == {}
    meta, entries = checkpoint_format.read(V1 / "solver_fc_plain_f64_epoch_2.npz")
    assert meta["version"] == 1
    assert {"param/W1", "best/W1"} <= set(entries)


@pytest.fixture
def version_2(monkeypatch):
    """A layout change as a contributor would make it: VERSION 2, with 1 -> 2 renaming the
    ``extra`` key ``note`` to ``remark``."""
    calls = []

    def upgrade_from_v1(meta, entries):
        calls.append(meta["version"])
        extra = dict(meta["extra"])
        if "note" in extra:
            extra["remark"] = extra.pop("note")
        return {**meta, "version": 2, "extra": extra}, entries

    monkeypatch.setattr(checkpoint_format, "VERSION", 2)
    monkeypatch.setitem(checkpoint_format.UPGRADES, 1, upgrade_from_v1)
    return calls


def test_an_older_file_goes_through_the_upgrade_table(version_2, tmp_path):
    model = load_model(V1 / "model_two_layer_f32.npz", device="cpu")
    assert version_2 == [1]
    assert model.checkpoint_extra == {"remark": "two_layer_f32"}
    model.save(tmp_path / "new.npz")  # written at the new version: no upgrade on reading
    meta, _ = checkpoint_format.read(tmp_path / "new.npz")
    assert meta["version"] == 2 and version_2 == [1]


def test_an_upgraded_solver_checkpoint_still_resumes(version_2, tmp_path):
    with np.load(V1 / "expected.npz", allow_pickle=False) as stored:
        data = {k.split("/", 1)[1]: stored[k] for k in stored.files
                if k.startswith("flat/") and k.count("/") == 1}
        final = {k.rsplit("/", 1)[1]: stored[k] for k in stored.files
                 if k.startswith("solver_fc_plain_f64/final/")}
    solver = Solver.from_checkpoint(V1 / "solver_fc_plain_f64_epoch_2.npz", data,
                                    verbose=False, device="cpu", checkpoint_name=None)
    solver.train()
    assert version_2 == [1]
    for key, value in final.items():
        np.testing.assert_array_equal(solver.model.params[key], value)


@pytest.mark.parametrize("version", [0, 3, "1", True, None])
def test_unknown_versions_are_refused_naming_the_file(tmp_path, version):
    model = TwoLayerNet(3, 2, 2, seed=0)
    path = tmp_path / "m.npz"
    model.save(path)
    meta, entries = checkpoint_format.read(path)
    meta["version"] = version
    np.savez(path, __meta__=np.array(json.dumps(meta)), **entries)
    with pytest.raises(ValueError, match=rf"m\.npz.*checkpoint version {version!r}"):
        load_model(path, device="cpu")


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    TwoLayerNet(3, 2, 2, seed=0).save(path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="simulated"):
        checkpoint_format.write(path, TwoLayerNet(3, 2, 2, seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]

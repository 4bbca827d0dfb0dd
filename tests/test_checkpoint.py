"""Checkpoints: round trips across backends, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import xplayers
from xplayers.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet, load_model
from xplayers.models import checkpoint as checkpoint_module


def trained_batchnorm_net(rng):
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization="batchnorm",
                              dropout=0.2, reg=0.01, seed=3)
    model.loss(rng.standard_normal((10, 4)).astype(np.float32), rng.integers(0, 3, size=10))
    return model


def test_round_trip_keeps_scores_params_and_running_stats(tmp_path, rng):
    model = trained_batchnorm_net(rng)
    X = rng.standard_normal((5, 4)).astype(np.float32)
    path = tmp_path / "net.npz"
    model.save(path)
    loaded = load_model(path, device="cpu")
    assert type(loaded) is FullyConnectedNet and loaded.config == model.config
    assert set(loaded.params) == set(model.params)
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
        assert loaded.params[name].dtype == np.float32
    assert set(loaded.state()) == {"running_mean1", "running_var1", "running_mean2",
                                   "running_var2"}
    np.testing.assert_array_equal(loaded.loss(X), model.loss(X))


def test_model_from_another_backend_loads_on_cpu(tmp_path, backend, rng):
    model = TwoLayerNet(4, 5, 3, seed=0)
    model.params = {k: backend.asarray(v) for k, v in model.params.items()}
    X = rng.standard_normal((3, 4)).astype(np.float32)
    expected = xplayers.to_numpy(model.loss(backend.asarray(X)))
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz", device="cpu")
    assert loaded.device == "cpu"
    np.testing.assert_allclose(loaded.loss(X), expected, rtol=1e-6, atol=1e-7)


def test_conv_net_round_trip(tmp_path, rng):
    model = ThreeLayerConvNet((1, 6, 6), num_filters=2, filter_size=3, hidden_dim=4,
                              num_classes=3, seed=1)
    model.save(tmp_path / "conv.npz")
    loaded = load_model(tmp_path / "conv.npz", device="cpu")
    X = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.loss(X), model.loss(X))


def test_extra_information_round_trips(tmp_path):
    model = TwoLayerNet(3, 2, 2, seed=0)
    checkpoint_module.save_model(model, tmp_path / "m.npz", extra={"dataset": "digits",
                                                                   "epochs": [1, 2]})
    assert load_model(tmp_path / "m.npz", "cpu").checkpoint_extra == {"dataset": "digits",
                                                                      "epochs": [1, 2]}


def test_crash_during_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = TwoLayerNet(3, 2, 2, seed=0)
    old.save(path)
    before = path.read_bytes()

    def crash_midway(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint_module.np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        TwoLayerNet(3, 2, 2, seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    monkeypatch.undo()
    np.testing.assert_array_equal(load_model(path, "cpu").params["W1"], old.params["W1"])


def test_interrupt_during_save_cleans_up(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        TwoLayerNet(3, 2, 2, seed=0).save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    TwoLayerNet(30, 20, 2, seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated, corrupt or not an \.npz archive"):
        load_model(path, "cpu")


def test_foreign_files_are_clear_errors(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    with pytest.raises(ValueError, match="not an xplayers checkpoint"):
        load_model(foreign, "cpu")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_model(text, "cpu")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_model(tmp_path / "missing.npz", "cpu")


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    meta = json.dumps({"format": "xplayers-checkpoint", "version": 1, "class": "TwoLayerNet",
                       "config": {"input_dim": 3, "hidden_dim": 2, "num_classes": 2}})
    np.savez(path, __meta__=np.array(meta), **{"param/W1": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_model(path, "cpu")


def test_mismatched_parameters_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    model = TwoLayerNet(3, 2, 2, seed=0)
    model.params["W1"] = np.ones((4, 2), dtype=np.float32)
    model.save(path)
    with pytest.raises(ValueError, match="do not match"):
        load_model(path, "cpu")


def test_unknown_model_class_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    meta = json.dumps({"format": "xplayers-checkpoint", "version": 1, "class": "ResNet50",
                       "config": {}})
    np.savez(path, __meta__=np.array(meta))
    with pytest.raises(ValueError, match="'ResNet50', which is not one of the known models"):
        load_model(path, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not xplayers.cuda_available(), reason="no usable GPU")
def test_saved_on_gpu_loads_on_cpu_and_back(tmp_path, rng):
    model = trained_batchnorm_net(rng).to("cuda")
    X = rng.standard_normal((4, 4)).astype(np.float32)
    expected = xplayers.to_numpy(model.loss(xplayers.to_device(X, "cuda")))
    model.save(tmp_path / "gpu.npz")
    on_cpu = load_model(tmp_path / "gpu.npz", device="cpu")
    np.testing.assert_allclose(on_cpu.loss(X), expected, rtol=1e-5, atol=1e-6)
    on_gpu = load_model(tmp_path / "gpu.npz", device="cuda")
    assert on_gpu.device == "cuda:0"
    np.testing.assert_allclose(xplayers.to_numpy(on_gpu.loss(xplayers.to_device(X, "cuda"))),
                               expected, rtol=1e-5, atol=1e-6)

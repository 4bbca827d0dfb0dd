"""Seeded draws on CuPy build no generator per call (a fake CuPy counts constructions), and the
counter-based draw they use is reproducible, seed-dependent and uniform."""

from __future__ import annotations

import contextlib
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from xplayers.backend import random_streams as _random
from xplayers.layers import dropout_forward


class FakeCupyArray(np.ndarray):
    """A host array that xplayers takes for a CuPy array on device 0."""

    @property
    def device(self):
        return SimpleNamespace(id=0)


@pytest.fixture
def fake_cupy(monkeypatch):
    constructions = []

    def default_rng(seed=None):
        constructions.append(seed)
        return np.random.default_rng(seed)

    module = SimpleNamespace(
        ndarray=FakeCupyArray, uint64=np.uint64, arange=np.arange,
        cuda=SimpleNamespace(Device=lambda index: contextlib.nullcontext()),
        random=SimpleNamespace(default_rng=default_rng),
    )
    monkeypatch.setitem(sys.modules, "cupy", module)
    _random._cupy_rng.cache_clear()
    yield constructions
    _random._cupy_rng.cache_clear()


def _fake_gpu_array(shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype).view(FakeCupyArray)


def test_seeded_draws_on_cupy_construct_no_generator(fake_cupy):
    x = _fake_gpu_array((64, 32))
    draws = [_random.uniform_like(x, np, seed=5) for _ in range(10)]
    assert fake_cupy == []
    assert draws[0].dtype == np.float32 and draws[0].shape == (64, 32)
    for draw in draws[1:]:
        np.testing.assert_array_equal(draw, draws[0])


def test_seeded_dropout_steps_on_cupy_construct_no_generator(fake_cupy):
    x = _fake_gpu_array((16, 8)) + 1
    param = {"mode": "train", "p": 0.5, "seed": 3}  # what FullyConnectedNet(seed=...) passes
    masks = [dropout_forward(x, param)[1] for _ in range(5)]
    assert fake_cupy == []
    assert all(np.array_equal(np.asarray(m), np.asarray(masks[0])) for m in masks)


def test_streams_and_unseeded_draws_keep_one_generator_per_device(fake_cupy):
    x = _fake_gpu_array((4, 4))
    stream = _random.RandomStream(11)
    first, second = stream.uniform_like(x, np), stream.uniform_like(x, np)
    for _ in range(5):
        _random.uniform_like(x, np)
    assert fake_cupy == [11, None]  # one per stream and device, one unseeded per device
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_counter_uniform_is_reproducible_uniform_and_seed_dependent(dtype):
    u = _random.counter_uniform(np, (200, 500), np.dtype(dtype), seed=7)
    assert u.dtype == dtype and u.shape == (200, 500)
    assert 0.0 <= float(u.min()) and float(u.max()) < 1.0
    np.testing.assert_array_equal(u, _random.counter_uniform(np, (200, 500), np.dtype(dtype), 7))
    assert abs(float(u.astype(np.float64).mean()) - 0.5) < 0.01
    counts = np.histogram(u.astype(np.float64), bins=10, range=(0, 1))[0]
    assert counts.min() > 0.9 * u.size / 10
    neighbours = _random.counter_uniform(np, (200, 500), np.dtype(dtype), seed=8)
    assert np.mean(u == neighbours) < 0.01  # seeds s and s+1 are unrelated, not shifted
    assert np.mean(u.ravel()[1:] == neighbours.ravel()[:-1]) < 0.01


def test_float16_streams_and_unseeded_draws_on_cupy_work(fake_cupy):
    # CuPy's (like NumPy's) Generator.random refuses float16: such arrays draw float32.
    x = _fake_gpu_array((3, 4), np.float16)
    for draw in (_random.RandomStream(2).uniform_like(x, np), _random.uniform_like(x, np)):
        assert draw.shape == (3, 4) and draw.dtype == np.float32
        assert 0.0 <= float(draw.min()) and float(draw.max()) < 1.0
    out, mask = dropout_forward(x + 1, {"mode": "train", "p": 0.5, "seed": _random.RandomStream(4)})
    assert out.dtype == mask.dtype == np.float16

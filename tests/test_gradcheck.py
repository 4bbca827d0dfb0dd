"""The numerical gradient helpers, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import dtype_name

from xplayers import to_numpy
from xplayers.backend import array_library
from xplayers.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)


def test_gradient_of_scalar_function(backend, rng):
    host = rng.standard_normal((3, 4))
    x = backend.asarray(host)
    xp = backend.xp
    grad = eval_numerical_gradient(lambda a: xp.sum(a * a * a), x, verbose=False)
    assert array_library(grad) == array_library(x) and dtype_name(grad) == "float64"
    np.testing.assert_allclose(to_numpy(grad), 3 * host**2, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(to_numpy(x), host)  # restored after perturbation


def test_gradient_of_array_function(backend, rng):
    host, df = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    x = backend.asarray(host)
    grad = eval_numerical_gradient_array(lambda a: backend.xp.sin(a), x, backend.asarray(df))
    np.testing.assert_allclose(to_numpy(grad), np.cos(host) * df, rtol=1e-7, atol=1e-10)


def test_verbose_prints_each_index(capsys):
    eval_numerical_gradient(lambda a: float(np.sum(a)), np.zeros(2), verbose=True)
    assert capsys.readouterr().out.count("\n") == 2


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(0.0, 0.0) == 0.0
    with pytest.raises(ValueError, match=r"x has shape \(2,\) but y has shape \(3,\)"):
        rel_error(np.ones(2), np.ones(3))


def test_float32_gradient_keeps_dtype(backend, rng):
    x = backend.asarray(rng.standard_normal(4), dtype=np.float32)
    grad = eval_numerical_gradient(lambda a: backend.xp.sum(a), x, verbose=False, h=1e-2)
    assert dtype_name(grad) == "float32"
    np.testing.assert_allclose(to_numpy(grad), np.ones(4), rtol=1e-3)


def test_functions_returning_views_of_x(backend, rng):
    host = rng.standard_normal((4, 3))
    x = backend.asarray(host)
    xp = backend.xp
    df = rng.standard_normal((3, 4))
    grad = eval_numerical_gradient_array(lambda a: xp.reshape(a, (3, 4)), x,
                                         backend.asarray(df))
    np.testing.assert_allclose(to_numpy(grad), df.reshape(4, 3), rtol=1e-7, atol=1e-10)
    identity = eval_numerical_gradient_array(lambda a: a, x, backend.asarray(np.ones((4, 3))))
    np.testing.assert_allclose(to_numpy(identity), np.ones((4, 3)), rtol=1e-7)

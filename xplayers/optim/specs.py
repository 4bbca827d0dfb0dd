"""Each update rule declared once, as data: its state, hyperparameters, host scalars and formula.

An :class:`UpdateSpec` is all there is to a rule. Every engine derives its code from
``formula`` (see :mod:`xplayers.optim.formula`): the portable Array-API body, the blocked NumPy
body, the numba loop and the CuPy ``ElementwiseKernel`` (:mod:`xplayers.optim.kernels`), so the
arithmetic of a rule is written in exactly one place and every engine gives the same bits.

The formula is a few Python-syntax statements over

- ``w`` and ``g`` (the weights and their gradient),
- the state arrays, by their formula names (the second item of each ``state`` pair),
- the host scalars that ``scalars`` returns (each a Python float, cast to the weights' dtype),
- locals assigned earlier in the formula,

using ``+ - * /``, parentheses and ``sqrt``. It assigns ``w_out`` and ``<name>_out`` for each
state array. Operations run in the order written (no reassociation), so parenthesise as meant.

To add a rule: one :class:`UpdateSpec` in :data:`SPECS`, a public function in
:mod:`xplayers.optim.rules` (three lines), and its row in the tests' tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["SPECS", "Hyperparameter", "UpdateSpec"]

POSITIVE, FRACTION, NON_NEGATIVE = "positive", "fraction", "non-negative"
"""Validation kinds: finite and > 0; 0 <= value < 1; finite and >= 0."""


@dataclass(frozen=True)
class Hyperparameter:
    """A ``config`` key read as a Python float: its default and its validation kind."""

    key: str
    default: float
    kind: str = POSITIVE


@dataclass(frozen=True)
class UpdateSpec:
    """One update rule (see the module docstring).

    Attributes
    ----------
    name : str
        The registry name (``'adam'``); also the CuPy kernel's name, ``xplayers_<name>``.
    state : tuple of (config key, formula name)
        The state arrays, zeros like ``w`` when absent from ``config``.
    hyperparameters : tuple of Hyperparameter
    scalars : callable ``(hyper, t) -> dict``
        The host-side scalars of the formula from the checked hyperparameters (a dict by key)
        and the step number ``t`` (already incremented; 0 for rules without steps).
    formula : str
        The arithmetic, once.
    counts_steps : bool
        Whether ``config['t']`` (steps taken, a non-negative integer) is kept.
    """

    name: str
    state: tuple[tuple[str, str], ...]
    hyperparameters: tuple[Hyperparameter, ...]
    scalars: Callable[[Mapping[str, float], int], dict[str, float]]
    formula: str
    counts_steps: bool = False

    @property
    def defaults(self) -> dict[str, float]:
        """Each hyperparameter's default, by key."""
        return {h.key: h.default for h in self.hyperparameters}


def _adam_scalars(h: Mapping[str, float], t: int) -> dict[str, float]:
    # lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into two scalars, as
    # torch.optim.Adam does: step_scale * m / (sqrt(v) + eps_scaled).
    root_c2 = math.sqrt(1.0 - h["beta2"] ** t)
    return {"beta1": h["beta1"], "one_minus_beta1": 1.0 - h["beta1"], "beta2": h["beta2"],
            "one_minus_beta2": 1.0 - h["beta2"],
            "step_scale": h["learning_rate"] * root_c2 / (1.0 - h["beta1"] ** t),
            "eps_scaled": h["epsilon"] * root_c2}


_ADAM_HYPERPARAMETERS = (
    Hyperparameter("learning_rate", 1e-3), Hyperparameter("beta1", 0.9, FRACTION),
    Hyperparameter("beta2", 0.999, FRACTION), Hyperparameter("epsilon", 1e-8))
_MOMENTUM_HYPERPARAMETERS = (Hyperparameter("learning_rate", 1e-2),
                             Hyperparameter("momentum", 0.9, FRACTION))
_ADAM_MOMENTS = ("m_out = beta1 * m + one_minus_beta1 * g; "
                 "v_out = (g * g) * one_minus_beta2 + beta2 * v; ")


def _momentum_scalars(h: Mapping[str, float], t: int) -> dict[str, float]:
    return {"mu": h["momentum"], "lr": h["learning_rate"]}


SPECS: tuple[UpdateSpec, ...] = (
    UpdateSpec(
        "sgd", (), (Hyperparameter("learning_rate", 1e-2),),
        lambda h, t: {"lr": h["learning_rate"]},
        "w_out = w - lr * g"),
    UpdateSpec(
        "sgd_momentum", (("velocity", "v"),), _MOMENTUM_HYPERPARAMETERS, _momentum_scalars,
        "v_out = mu * v - lr * g; w_out = w + v_out"),
    UpdateSpec(
        "sgd_nesterov_momentum", (("velocity", "v"),), _MOMENTUM_HYPERPARAMETERS,
        _momentum_scalars,
        "v_out = mu * v - lr * g; w_out = (w + v_out) + mu * (v_out - v)"),
    UpdateSpec(
        "rmsprop", (("cache", "c"),),
        (Hyperparameter("learning_rate", 1e-2), Hyperparameter("decay_rate", 0.99, FRACTION),
         Hyperparameter("epsilon", 1e-8)),
        lambda h, t: {"lr": h["learning_rate"], "decay": h["decay_rate"],
                      "one_minus_decay": 1.0 - h["decay_rate"], "eps": h["epsilon"]},
        "c_out = decay * c + one_minus_decay * (g * g); "
        "w_out = w - (lr * g) / (sqrt(c_out) + eps)"),
    UpdateSpec(
        "adam", (("m", "m"), ("v", "v")), _ADAM_HYPERPARAMETERS, _adam_scalars,
        _ADAM_MOMENTS + "w_out = w - (m_out / (sqrt(v_out) + eps_scaled)) * step_scale",
        counts_steps=True),
    # Decoupled weight decay as torch.optim.AdamW: w *= 1 - lr * weight_decay, then Adam.
    UpdateSpec(
        "adamw", (("m", "m"), ("v", "v")),
        (*_ADAM_HYPERPARAMETERS, Hyperparameter("weight_decay", 1e-2, NON_NEGATIVE)),
        lambda h, t: {**_adam_scalars(h, t),
                      "decay_scale": 1.0 - h["learning_rate"] * h["weight_decay"]},
        _ADAM_MOMENTS
        + "w_out = w * decay_scale - (m_out / (sqrt(v_out) + eps_scaled)) * step_scale",
        counts_steps=True),
)
"""Every registered rule, in the order the registry lists them."""

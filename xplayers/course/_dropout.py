"""The course's (2019 on) dropout meaning, converted to xplayers' at this package's boundary.

The course's notebooks from 2019 on pass a KEEP probability (``p`` in ``dropout_param``,
``dropout=`` / ``dropout_keep_ratio=`` of ``FullyConnectedNet``): 1 keeps every unit.
xplayers' layers and models take the probability of DROPPING a unit: ``1 - keep``.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any


def keep_to_drop(func: str, name: str, keep: Any) -> float:
    """xplayers' drop probability ``1 - keep`` for the course's keep probability ``keep``.

    Raises
    ------
    ValueError
        Unless ``keep`` is a real number in (0, 1] (naming ``name`` and pointing to
        :mod:`xplayers.layers` for a drop probability).
    """
    if isinstance(keep, bool) or not isinstance(keep, Real) or not 0.0 < float(keep) <= 1.0:
        raise ValueError(
            f"{func}: {name} is the course's probability of KEEPING a unit and must lie in "
            f"(0, 1] (1 = no dropout), got {keep!r}; for a drop probability use "
            "xplayers.layers / xplayers.models"
        )
    return 1.0 - float(keep)


def drop_param(func: str, dropout_param: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the course's ``dropout_param`` with ``p`` as xplayers' drop probability."""
    if not isinstance(dropout_param, Mapping) or "p" not in dropout_param:
        raise ValueError(f"{func}: dropout_param must be a dict with 'p' (the probability of "
                         f"KEEPING a unit) and 'mode', got {dropout_param!r}")
    return {**dropout_param, "p": keep_to_drop(func, "dropout_param['p']", dropout_param["p"])}

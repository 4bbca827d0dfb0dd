"""The model classes a checkpoint can name, filled by :class:`~xplayers.models.base.Model`.

Kept apart from ``base.py`` and ``checkpoint.py`` so that neither imports the other back.
"""

from __future__ import annotations

from typing import Any

MODEL_CLASSES: dict[str, Any] = {}


def register(cls: Any) -> None:
    """Make ``cls`` loadable from checkpoints under its class name.

    The first class of a name keeps it: a later subclass that reuses a name (a wrapper with
    the course's names, say) cannot change what existing checkpoints load as.
    """
    MODEL_CLASSES.setdefault(cls.__name__, cls)

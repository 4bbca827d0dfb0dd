"""The model classes a checkpoint can name, filled by :class:`~xplayers.models.base.Model`.

Kept apart from ``base.py`` and ``checkpoint.py`` so that neither imports the other back.
"""

from __future__ import annotations

from typing import Any

MODEL_CLASSES: dict[str, Any] = {}


def register(cls: Any) -> None:
    """Make ``cls`` loadable from checkpoints under its class name."""
    MODEL_CLASSES[cls.__name__] = cls

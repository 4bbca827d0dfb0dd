"""The course's ``cs231n.captioning_solver``: xplayers' ``CaptioningSolver``."""

from ..captioning_solver import CaptioningSolver

__all__ = ["CaptioningSolver"]

"""The course's ``cs231n.captioning_solver``: xplayers' ``CaptioningSolver``."""

from ..training.captioning_solver import CaptioningSolver

__all__ = ["CaptioningSolver"]

"""Skipping the per-call label range check for labels already checked once.

``softmax_loss``/``svm_loss`` check that every label lies in ``[0, C)``; that check reads a
device value on the host (a synchronisation on a GPU). The Solver checks its labels once when
the data reaches the device and runs its steps inside :func:`labels_checked`, so the losses
then skip the range test. Dtype and shape checks stay (they read no device value).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CHECKED_CLASSES: ContextVar[int | None] = ContextVar("xplayers_checked_classes", default=None)


@contextmanager
def labels_checked(num_classes: int) -> Iterator[None]:
    """Inside the block, losses over ``num_classes`` classes trust their labels' range."""
    token = _CHECKED_CLASSES.set(int(num_classes))
    try:
        yield
    finally:
        _CHECKED_CLASSES.reset(token)


def range_already_checked(num_classes: int) -> bool:
    """True inside :func:`labels_checked` for the same number of classes."""
    return _CHECKED_CLASSES.get() == num_classes

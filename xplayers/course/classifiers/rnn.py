"""The course's ``cs231n.classifiers.rnn``: :class:`xplayers.models.CaptioningRNN`."""

from ...models import CaptioningRNN
from ..rnn_layers import *  # noqa: F403  (the course's module star-imports its layers)

__all__ = ["CaptioningRNN"]

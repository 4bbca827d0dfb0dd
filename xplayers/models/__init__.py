"""Models: ``params`` dict, ``reg``, and ``loss(X, y=None)`` as in the course."""

from ._registry import MODEL_CLASSES
from .base import Model
from .captioning_rnn import CaptioningRNN
from .checkpoint import load_model, save_model
from .conv_net import ThreeLayerConvNet
from .fc_net import FullyConnectedNet
from .two_layer import TwoLayerNet

#: The model classes of this package by name (kept for old code; checkpoints name their class
#: through the registry that every :class:`Model` subclass joins).
MODELS: dict[str, type[Model]] = dict(MODEL_CLASSES)

__all__ = [
    "MODELS",
    "CaptioningRNN",
    "FullyConnectedNet",
    "Model",
    "ThreeLayerConvNet",
    "TwoLayerNet",
    "load_model",
    "save_model",
]

"""Models: ``params`` dict, ``reg``, and ``loss(X, y=None)`` as in the course."""

from .base import Model
from .captioning_rnn import CaptioningRNN
from .checkpoint import load_model, save_model
from .conv_net import ThreeLayerConvNet
from .fc_net import FullyConnectedNet
from .two_layer import TwoLayerNet

MODELS: dict[str, type[Model]] = {
    "TwoLayerNet": TwoLayerNet,
    "FullyConnectedNet": FullyConnectedNet,
    "ThreeLayerConvNet": ThreeLayerConvNet,
}

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

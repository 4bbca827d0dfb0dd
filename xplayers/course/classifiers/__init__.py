"""The course's ``cs231n.classifiers``: the fully-connected, convolutional and captioning nets."""

from .cnn import ThreeLayerConvNet
from .fc_net import FullyConnectedNet, TwoLayerNet
from .rnn import CaptioningRNN

__all__ = ["CaptioningRNN", "FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet"]

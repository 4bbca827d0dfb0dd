"""The course's ``cs231n.classifiers``: assignment 1's classifiers, assignment 2's nets and
assignment 3's captioning net.

``KNearestNeighbor``, ``LinearSVM`` and ``Softmax`` are importable from here as well as from
their modules, as in the course; ``neural_net.TwoLayerNet`` is the 2019 course's (its own
``loss``/``train``/``predict`` interface), ``fc_net.TwoLayerNet`` (exported here) the 2023's.
"""

from .cnn import ThreeLayerConvNet
from .fc_net import FullyConnectedNet, TwoLayerNet
from .k_nearest_neighbor import KNearestNeighbor
from .linear_classifier import LinearSVM, Softmax
from .rnn import CaptioningRNN

__all__ = [
    "CaptioningRNN",
    "FullyConnectedNet",
    "KNearestNeighbor",
    "LinearSVM",
    "Softmax",
    "ThreeLayerConvNet",
    "TwoLayerNet",
]

"""The course's (CS231n) module layout and names, re-exporting xplayers.

Rewrite a notebook's imports from ``cs231n.`` to ``xplayers.course.`` and it runs on xplayers:
``layers`` (with the ``*_naive`` names), ``layer_utils``, ``fast_layers`` (the ``*_fast``
names), ``classifiers.fc_net``, ``classifiers.cnn``, ``optim``, ``solver``, ``gradient_check``,
``data_utils`` and ``vis_utils``; for assignment 1 also ``classifiers.k_nearest_neighbor``,
``classifiers.linear_svm``, ``classifiers.softmax``, ``classifiers.linear_classifier``,
``classifiers.neural_net`` (2019) and ``features``; for assignment 3, ``rnn_layers``,
``classifiers.rnn``, ``captioning_solver``, ``coco_utils`` (h5py needed) and ``image_utils``.
There is no second implementation: every name is an xplayers function or model, or (k-NN, the
linear classifiers' SGD loop, the image features) exists only here. The one difference in
meaning, converted at this package's boundary, is dropout: here, as in the course from 2019
on, ``dropout_param['p']`` and ``FullyConnectedNet(dropout_keep_ratio=...)`` are KEEP
probabilities (1 = no dropout); xplayers' own layers and models take the probability of
DROPPING a unit.
"""

from . import (
    captioning_solver,
    classifiers,
    coco_utils,
    data_utils,
    fast_layers,
    features,
    gradient_check,
    image_utils,
    layer_utils,
    layers,
    optim,
    rnn_layers,
    solver,
    vis_utils,
)

__all__ = [
    "captioning_solver",
    "classifiers",
    "coco_utils",
    "data_utils",
    "fast_layers",
    "features",
    "gradient_check",
    "image_utils",
    "layer_utils",
    "layers",
    "optim",
    "rnn_layers",
    "solver",
    "vis_utils",
]

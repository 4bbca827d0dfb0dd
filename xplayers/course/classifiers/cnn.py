"""The course's ``cs231n.classifiers.cnn``: ThreeLayerConvNet, with the layers star-imported.

As the course's module does, ``from xplayers.course.classifiers.cnn import *`` also brings
every layer (:mod:`xplayers.course.layers`), fast layer and sandwich.
"""

from ...models import ThreeLayerConvNet
from ..fast_layers import *  # noqa: F403
from ..fast_layers import __all__ as _fast_names
from ..layer_utils import *  # noqa: F403
from ..layer_utils import __all__ as _sandwich_names
from ..layers import *  # noqa: F403
from ..layers import __all__ as _layer_names

__all__ = ["ThreeLayerConvNet", *_layer_names, *_fast_names, *_sandwich_names]

"""``python -m xplayers`` is the ``xplayers`` command."""

from .cli import entry

entry()

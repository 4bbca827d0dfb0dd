"""``python -m xplayers`` is the ``xplayers`` command."""

from .cli import main

raise SystemExit(main())

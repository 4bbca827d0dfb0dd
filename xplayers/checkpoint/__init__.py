"""Checkpoint files: the format and its upgrades (``format``), pickle-free reading of
``.npz`` archives (``npz``) and atomic writes (``atomic``)."""

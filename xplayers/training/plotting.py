"""Loss and accuracy curves as a PNG (needs matplotlib: pip install 'xplayers[plot]')."""

from __future__ import annotations

import os
from collections.abc import Sequence


def plot_history(
    loss_history: Sequence[float],
    train_acc_history: Sequence[float],
    val_acc_history: Sequence[float],
    path: str | os.PathLike[str],
) -> None:
    """Write the training loss per iteration and the accuracies per epoch to ``path``.

    Raises
    ------
    ImportError
        If matplotlib is not installed, with the command that installs it.
    """
    try:
        # A Figure of its own, not pyplot: the caller's backend and figures stay as they are.
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("--plot needs matplotlib: pip install 'xplayers[plot]'") from exc
    fig = Figure(figsize=(7, 7))
    ax_loss, ax_acc = fig.subplots(2, 1)
    ax_loss.plot(loss_history, linewidth=0.8)
    ax_loss.set(title="Training loss", xlabel="iteration", ylabel="loss")
    epochs = range(len(train_acc_history))
    ax_acc.plot(epochs, train_acc_history, "-o", label="train", markersize=3)
    ax_acc.plot(epochs, val_acc_history, "-o", label="val", markersize=3)
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)

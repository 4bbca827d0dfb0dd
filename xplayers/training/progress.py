"""What the Solver prints: the progress bar, loss and accuracy lines, and its summary."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["accuracy_line", "loss_line", "progress_bar", "say", "summary"]


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar over ``total`` iterations, or None (disabled, tqdm not installed, or output
    that is not a terminal or a notebook, which would fill with carriage returns)."""
    if not enabled or not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="it", leave=False, dynamic_ncols=True)


def say(bar: Any, message: str) -> None:
    """Print ``message`` above the progress ``bar`` (or plainly when there is none)."""
    if bar is not None:
        bar.write(message)
    else:
        print(message)


def loss_line(iteration: int, num_iterations: int, loss: float) -> str:
    """The course's ``(Iteration t / T) loss: ...`` line."""
    return f"(Iteration {iteration} / {num_iterations}) loss: {loss:f}"


def accuracy_line(epoch: int, num_epochs: int, train_acc: float, val_acc: float,
                  val_loss: float | None) -> str:
    """The course's ``(Epoch e / E) train acc: ...; val_acc: ...`` line."""
    loss_text = "" if val_loss is None else f"; val_loss: {val_loss:f}"
    return (f"(Epoch {epoch} / {num_epochs}) train acc: {train_acc:f}; "
            f"val_acc: {val_acc:f}{loss_text}")


def summary(solver: Any) -> str:
    """One line: where ``solver`` stands (epoch, last loss, last and best accuracies)."""
    rule = solver.update_rule_name
    rule = rule if isinstance(rule, str) else getattr(rule, "__name__", "custom")
    parts = [f"epoch {solver.epoch}/{solver.num_epochs}"]
    if solver.loss_history:
        parts.append(f"loss {solver.loss_history[-1]:.4f}")
    if solver.val_acc_history:
        parts.append(f"train acc {solver.train_acc_history[-1]:.4f}, "
                     f"val acc {solver.val_acc_history[-1]:.4f} "
                     f"(best {solver.best_val_acc:.4f})")
    else:
        parts.append("not trained yet")
    return (f"Solver({', '.join(parts)}; {type(solver.model).__name__}, {rule}, "
            f"device {solver.device})")

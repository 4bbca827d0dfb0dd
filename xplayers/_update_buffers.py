"""The Solver's update of every parameter into spare buffers, swapped in only when all succeed.

A built-in update rule (:data:`xplayers.optim.OPTIMIZERS`) writes the next weights and state
into ``out`` arrays. :class:`SwapUpdater` keeps, per parameter, the arrays of the step before
(the weights and state that the last step replaced) and passes them as ``out``: a step then
allocates no parameter or state arrays, and until :meth:`SwapUpdater.commit` nothing the model
or the configs hold has been written, so a step that fails anywhere leaves them as they were.
After the commit the replaced arrays become the next step's spares, so an array taken from
``model.params`` is overwritten two steps later (take a copy to keep it).

Any other update rule (a callable of the course's form) is called as before, on a copy of its
config, with no ``out``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from .optim import OPTIMIZERS, STATE_KEYS

__all__ = ["SwapUpdater"]


class SwapUpdater:
    """Updates a model's parameters with ``rule``, reusing the arrays the last step replaced.

    Parameters
    ----------
    rule : callable ``(w, dw, config) -> (next_w, config)``
        An update rule; the built-in ones get spare arrays as ``out``.
    """

    def __init__(self, rule: Callable[..., Any]) -> None:
        self.rule = rule
        self._state_keys: tuple[str, ...] | None = next(
            (STATE_KEYS[name] for name, r in OPTIMIZERS.items() if r is rule), None)
        self._spares: dict[str, tuple[Any, ...]] = {}

    def compute(self, params: Mapping[str, Any], grads: Mapping[str, Any],
                configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict, dict]:
        """``(updated, new_configs)`` for every parameter; writes only spare arrays."""
        outs = self._usable_spares(params, grads, configs)
        updated: dict[str, Any] = {}
        new_configs: dict[str, Any] = {}
        for name, w in params.items():
            config = dict(configs[name])
            spare = outs.get(name)
            if spare is None:
                updated[name], new_configs[name] = self.rule(w, grads[name], config)
            else:
                updated[name], new_configs[name] = self.rule(w, grads[name], config, out=spare)
        return updated, new_configs

    def commit(self, params: MutableMapping[str, Any],
               configs: MutableMapping[str, dict[str, Any]],
               updated: Mapping[str, Any], new_configs: Mapping[str, dict[str, Any]]) -> None:
        """Swap the results in; the arrays they replace become the next step's spares."""
        spares: dict[str, tuple[Any, ...]] = {}
        if self._state_keys is not None:
            for name, w in params.items():
                old = (w, *(configs[name].get(key) for key in self._state_keys))
                if all(a is not None for a in old):
                    spares[name] = old
        params.update(updated)
        configs.update(new_configs)
        self._spares = spares

    def _usable_spares(self, params: Mapping[str, Any], grads: Mapping[str, Any],
                       configs: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
        """The spares that fit their parameter and that nothing live refers to.

        A spare is dropped when it is one of the arrays the step reads (tied or reassigned
        parameters, a gradient, a state array), is shared by two parameters, no longer matches
        its parameter's shape, dtype or type, does not own its memory, or when the config
        asks for ``in_place``.
        """
        if not self._spares:
            return {}
        live = {id(a) for a in params.values()}
        live.update(id(a) for a in grads.values())
        for name in params:
            live.update(id(configs[name].get(key)) for key in self._state_keys or ())
        seen: set[int] = set()
        usable = {}
        for name, spare in self._spares.items():
            w = params.get(name)
            if w is None or configs[name].get("in_place", False):
                continue
            ids = [id(a) for a in spare]
            if (any(i in live or i in seen for i in ids) or len(set(ids)) != len(ids)
                    or not all(_fits(a, w) for a in spare)):
                continue
            seen.update(ids)
            usable[name] = spare
        return usable


def _fits(spare: Any, w: Any) -> bool:
    """``spare`` can hold ``w``'s next value: same type, shape, dtype and device, owning its
    memory."""
    flags = getattr(spare, "flags", None)
    return (type(spare) is type(w) and tuple(spare.shape) == tuple(w.shape)
            and spare.dtype == w.dtype and getattr(spare, "device", None) == getattr(
                w, "device", None) and getattr(flags, "owndata", True)
            and getattr(flags, "c_contiguous", True))

"""Every parameter of a model updated by one rule in one call, as ``torch.optim``'s foreach step.

:func:`update_all` gives, for each parameter, what the rule's public function gives, bit for
bit, and writes nothing: a caller that fails half-way keeps its old parameters and state. On
CuPy, parameters with the same dtype and scalars are updated by **one** kernel launch: the
weights and each state array are laid end to end in one flat buffer, and the rule's
multi-tensor ``ElementwiseKernel`` (:func:`~xplayers.optim.kernels.gather_definition`) runs
once over it, reading each gradient where it lies; the new weights and state come back as
views of the fresh flat outputs. The next step finds them laid end to end already and uses
their buffer as it is, so a step costs one launch however many parameters the model has
(the first step also lays out the weights and zeroes the state). Elsewhere the gradients are
laid end to end too and the rule's engine runs once over the flat buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from ..backend.fast_paths import library_of
from .kernels import gather_update, update
from .rules import OPTIMIZERS, SPEC_BY_NAME, finish, prepare
from .specs import UpdateSpec

__all__ = ["update_all"]

# The libraries where launches, not arithmetic, decide a small net's step time.
FUSED_LIBRARIES = frozenset({"cupy"})


def update_all(
    rule: str | Callable[..., Any],
    params: Mapping[str, Any],
    grads: Mapping[str, Any],
    configs: Mapping[str, Mapping[str, Any]],
    *,
    fuse: bool | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Update every parameter by ``rule``; nothing given is modified.

    Parameters
    ----------
    rule : str or callable
        A name in :data:`~xplayers.optim.OPTIMIZERS`, one of its functions, or any callable
        ``(w, dw, config) -> (next_w, config)`` (called once per parameter).
    params, grads : mapping of name to array
        The weights and their gradients (each gradient shaped like its weight).
    configs : mapping of name to dict
        Each parameter's config; copied, never modified.
    fuse : bool, optional
        Whether registered rules update parameters of one dtype and scalars in one launch
        (default: on CuPy only).

    Returns
    -------
    new_params : dict
    new_configs : dict
        New dicts, as ``rule(params[n], grads[n], dict(configs[n]))`` gives for each ``n``.
    """
    spec = _spec_of(rule)
    if spec is None:
        func = OPTIMIZERS[rule] if isinstance(rule, str) else rule
        return _each(func, params, grads, configs)
    prepared = {name: prepare(spec, w, grads[name], dict(configs[name]), zeros=False)
                for name, w in params.items()}
    groups: dict[tuple, list[str]] = {}
    new_params: dict[str, Any] = {}
    new_configs: dict[str, Any] = {}
    for name, (xp, config, arrays, scalars, extra) in prepared.items():
        library = library_of(xp)
        if fuse or (fuse is None and library in FUSED_LIBRARIES):
            key = (library, str(arrays[0].dtype), str(getattr(arrays[0], "device", "")), scalars)
            groups.setdefault(key, []).append(name)
        else:
            arrays = tuple(xp.zeros_like(arrays[0]) if a is None else a for a in arrays)
            next_w, *state = update(xp, spec, arrays, scalars)
            new_params[name] = next_w
            new_configs[name] = finish(spec, config, tuple(state), extra)
    for names in groups.values():
        xp = prepared[names[0]][0]
        outs = fused_update(xp, spec, [prepared[n][2] for n in names], prepared[names[0]][3])
        for name, (next_w, *state) in zip(names, outs, strict=True):
            _, config, _, _, extra = prepared[name]
            new_params[name] = next_w
            new_configs[name] = finish(spec, config, tuple(state), extra)
    return ({name: new_params[name] for name in params},
            {name: new_configs[name] for name in params})


def _spec_of(rule: str | Callable[..., Any]) -> UpdateSpec | None:
    if isinstance(rule, str):
        return SPEC_BY_NAME.get(rule) if rule in OPTIMIZERS else None
    name = getattr(rule, "__name__", None)
    return SPEC_BY_NAME[name] if name in OPTIMIZERS and OPTIMIZERS[name] is rule else None


def _each(func: Callable[..., Any], params: Mapping[str, Any], grads: Mapping[str, Any],
          configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict, dict]:
    new_params, new_configs = {}, {}
    for name, w in params.items():
        new_params[name], new_configs[name] = func(w, grads[name], dict(configs[name]))
    return new_params, new_configs


def fused_update(xp: ModuleType, spec: UpdateSpec, arrays: list[tuple[Any, ...]],
                 scalars: tuple[float, ...]) -> list[tuple]:
    """``update`` of every ``(w, g, *state)`` in ``arrays`` by one call on flat buffers.

    A state slot that is None for every parameter (absent) starts as one flat zero buffer;
    None beside arrays, as zeros like ``w``. Returns, per parameter, ``(next_w, *new_state)``
    as views of the flat outputs.
    """
    shapes = [tuple(a[0].shape) for a in arrays]
    sizes = [_size(shape) for shape in shapes]
    total = sum(sizes)
    flats = []
    for slot in (0, *range(2, len(arrays[0]))):  # the gradients (slot 1) last
        parts = [a[slot] for a in arrays]
        if all(p is None for p in parts):
            flats.append(xp.zeros((total,), dtype=arrays[0][0].dtype))
        else:
            parts = [xp.zeros_like(a[0]) if p is None else p
                     for a, p in zip(arrays, parts, strict=True)]
            flats.append(_flat(xp, parts, sizes))
    grads = [a[1] for a in arrays]
    outs = gather_update(xp, spec, grads, tuple(flats), scalars)
    if outs is NotImplemented:  # off CuPy: lay the gradients end to end too
        outs = update(xp, spec, (flats[0], _flat(xp, grads, sizes), *flats[1:]), scalars)
    results, start = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        results.append(tuple(xp.reshape(out[start:start + size], shape) for out in outs))
        start += size
    return results


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _flat(xp: ModuleType, parts: list[Any], sizes: list[int]) -> Any:
    """The 1-d buffer that ``parts`` are consecutive views of, or their concatenation."""
    base = getattr(parts[0], "base", None)
    if (base is not None and getattr(base, "ndim", 0) == 1 and base.shape[0] == sum(sizes)
            and base.dtype == parts[0].dtype and base.flags.c_contiguous):
        start, item = _address(base), base.dtype.itemsize
        for part, size in zip(parts, sizes, strict=True):
            if (part.base is not base or not part.flags.c_contiguous
                    or _address(part) != start):
                break
            start += size * item
        else:
            return base
    concat = getattr(xp, "concat", None) or xp.concatenate  # the Array API's name first
    return concat([xp.reshape(p, (-1,)) for p in parts])


def _address(a: Any) -> int:
    """The address of ``a``'s first element (CuPy: device pointer)."""
    ptr = getattr(getattr(a, "data", None), "ptr", None)
    return a.__array_interface__["data"][0] if ptr is None else ptr

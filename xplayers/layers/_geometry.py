"""Shapes of convolution and pooling windows, checked once, with errors that show the shapes.

Both layers slide a window over the (padded) input; output sizes follow PyTorch,
``1 + (H + 2 * pad - HH) // stride``, so a stride that does not tile the input evenly simply
leaves the last rows and columns unvisited.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..backend.checks import as_integer, check_ndim


def _check_param_dict(func: str, where: str, params: Any, keys: str) -> Mapping[str, Any]:
    """``params`` itself, or ``ValueError`` when it is not a dict (None, say)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"{func}: {where} must be a dict with {keys}, got {params!r}")
    return params


def _int_param(func: str, where: str, params: Mapping[str, Any], key: str,
               default: int | None, minimum: int) -> int:
    if key not in params:
        if default is None:
            raise ValueError(f"{func}: {where}[{key!r}] is required")
        return default
    value = params[key]
    number = as_integer(value)
    if number is None:
        raise ValueError(f"{func}: {where}[{key!r}] must be an integer, got {value!r}")
    if number < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ValueError(f"{func}: {where}[{key!r}] must be {kind}, got {number}")
    return number


def window(start: int, count: int, stride: int) -> slice:
    """The slice that picks ``count`` positions ``start, start + stride, ...``."""
    return slice(start, start + stride * (count - 1) + 1, stride)


class _SlidingWindows:
    """What both geometries share: x (N, C, H, W) and the offsets of a window slid by
    ``stride`` to Ho x Wo positions; subclasses give the window's size."""

    n: int
    c: int
    h: int
    w: int
    stride: int
    ho: int
    wo: int

    def window_size(self) -> tuple[int, int]:
        """The window's height and width."""
        raise NotImplementedError

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    def offsets(self) -> Iterator[tuple[int, int, int]]:
        """``(k, i, j)`` for every offset in the window, row by row: ``k = i * width + j``
        (a convolution's ``w`` memory order)."""
        height, width = self.window_size()
        for i in range(height):
            for j in range(width):
                yield i * width + j, i, j

    def rows(self, i: int) -> slice:
        """Rows met by window row ``i``, one per output row (of the padded input, for a
        convolution)."""
        return window(i, self.ho, self.stride)

    def cols(self, j: int) -> slice:
        """The columns met by window column ``j``."""
        return window(j, self.wo, self.stride)


@dataclass(frozen=True)
class ConvGeometry(_SlidingWindows):
    """Sizes of one convolution: x (N, C, H, W), w (F, C, HH, WW), out (N, F, Ho, Wo)."""

    n: int
    c: int
    h: int
    w: int
    f: int
    hh: int
    ww: int
    stride: int
    pad: int
    ho: int
    wo: int

    def window_size(self) -> tuple[int, int]:
        return (self.hh, self.ww)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.f, self.ho, self.wo)

    @property
    def hp(self) -> int:
        return self.h + 2 * self.pad

    @property
    def wp(self) -> int:
        return self.w + 2 * self.pad


def conv_geometry(func: str, x: Any, w: Any, b: Any, conv_param: Mapping[str, Any]) -> ConvGeometry:
    """Check the shapes of a convolution's arguments and return its geometry.

    Raises
    ------
    ValueError
        For wrong ranks, a channel mismatch between ``x`` and ``w``, a bias that is not (F,),
        a non-positive stride or negative pad, or a filter larger than the padded input.
    """
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_ndim(func, "w", w, 4, "(F, C, HH, WW)")
    conv_param = _check_param_dict(func, "conv_param", conv_param,
                                   "'stride' and 'pad' (e.g. {'stride': 1, 'pad': 1})")
    stride = _int_param(func, "conv_param", conv_param, "stride", 1, 1)
    pad = _int_param(func, "conv_param", conv_param, "pad", 0, 0)
    n, c, h, width = (int(s) for s in x.shape)
    f, wc, hh, ww = (int(s) for s in w.shape)
    if wc != c:
        raise ValueError(
            f"{func}: w has {wc} input channels but x has {c}: x has shape "
            f"{tuple(x.shape)} (N, C, H, W), w has shape {tuple(w.shape)} (F, C, HH, WW); "
            f"expected w of shape ({f}, {c}, {hh}, {ww})"
        )
    if b is not None and tuple(b.shape) != (f,):
        raise ValueError(
            f"{func}: b has shape {tuple(b.shape)}, expected ({f},) (one bias per filter of "
            f"w with shape {tuple(w.shape)})"
        )
    if f < 1:
        raise ValueError(f"{func}: w has no filters: shape {tuple(w.shape)}, expected "
                         "(F, C, HH, WW) with F >= 1")
    if hh < 1 or ww < 1:
        raise ValueError(f"{func}: w has an empty filter: shape {tuple(w.shape)}")
    hp, wp = h + 2 * pad, width + 2 * pad
    if hh > hp or ww > wp:
        raise ValueError(
            f"{func}: the {hh}x{ww} filter (w shape {tuple(w.shape)}) is larger than the "
            f"padded input {hp}x{wp} (x shape {tuple(x.shape)}, pad {pad})"
        )
    return ConvGeometry(
        n=n, c=c, h=h, w=width, f=f, hh=hh, ww=ww, stride=stride, pad=pad,
        ho=1 + (hp - hh) // stride, wo=1 + (wp - ww) // stride,
    )


@dataclass(frozen=True)
class PoolGeometry(_SlidingWindows):
    """Sizes of one max-pool: x (N, C, H, W), windows ph x pw, out (N, C, Ho, Wo)."""

    n: int
    c: int
    h: int
    w: int
    ph: int
    pw: int
    stride: int
    ho: int
    wo: int

    def window_size(self) -> tuple[int, int]:
        return (self.ph, self.pw)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.ho, self.wo)

    @property
    def overlapping(self) -> bool:
        """True when neighbouring windows share input pixels (stride < window)."""
        return self.stride < self.ph or self.stride < self.pw


def pool_geometry(func: str, x: Any, pool_param: Mapping[str, Any]) -> PoolGeometry:
    """Check a max-pool's input and parameters and return its geometry.

    Raises
    ------
    ValueError
        For an ``x`` that is not 4-d, a missing or non-positive ``pool_height``,
        ``pool_width`` or ``stride``, or a window larger than the input.
    """
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    pool_param = _check_param_dict(func, "pool_param", pool_param,
                                   "'pool_height', 'pool_width' and 'stride'")
    ph = _int_param(func, "pool_param", pool_param, "pool_height", None, 1)
    pw = _int_param(func, "pool_param", pool_param, "pool_width", None, 1)
    stride = _int_param(func, "pool_param", pool_param, "stride", None, 1)
    n, c, h, width = (int(s) for s in x.shape)
    if ph > h or pw > width:
        raise ValueError(
            f"{func}: the {ph}x{pw} pooling window is larger than the {h}x{width} input "
            f"(x shape {tuple(x.shape)})"
        )
    return PoolGeometry(
        n=n, c=c, h=h, w=width, ph=ph, pw=pw, stride=stride,
        ho=1 + (h - ph) // stride, wo=1 + (width - pw) // stride,
    )

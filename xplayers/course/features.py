"""The course's ``cs231n.features``: HOG and hue-histogram features of images, any backend.

The same numbers as the course's functions (whose HOG cells come from
``scipy.ndimage.uniform_filter`` and whose hue from ``matplotlib.colors.rgb_to_hsv``), computed
with whole-array operations on the image's own backend: neither SciPy nor matplotlib is
needed. ``extract_features`` calls each feature function once per image, as the course's
interface requires (each function takes one image).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import get_array_module

__all__ = ["color_histogram_hsv", "extract_features", "hog_feature", "rgb2gray"]

# The course's grey weights (its blue weight is 0.144, not the usual 0.114; kept as published).
_GRAY_WEIGHTS = (0.299, 0.587, 0.144)
_ORIENTATIONS = 9
_CELL = 8


def _floating(xp: ModuleType, x: Any) -> Any:
    if xp.isdtype(x.dtype, "real floating"):
        return x
    return xp.astype(x, xp.float64)


def extract_features(
    imgs: Any, feature_fns: Sequence[Callable[[Any], Any]], verbose: bool = False
) -> Any:
    """Apply every feature function to every image and concatenate the results per image.

    Parameters
    ----------
    imgs : array, shape (N, H, W, C) (or (N, H, W))
    feature_fns : list of callables
        Each takes one image (``imgs[i].squeeze()``) and returns a 1-D array of length F_k.
    verbose : bool
        Report progress every 1000 images.

    Returns
    -------
    features : float64 array, shape (N, F_1 + ... + F_k), imgs' backend
    """
    func = "extract_features"
    xp = get_array_module(imgs=imgs)
    if not feature_fns:
        raise ValueError(f"{func}: feature_fns must hold at least one function, got "
                         f"{feature_fns!r}")
    num_images = imgs.shape[0]
    if num_images == 0:
        return xp.asarray([], dtype=xp.float64, device=imgs.device)
    unit_axes = tuple(a for a, n in enumerate(imgs.shape[1:]) if n == 1)  # .squeeze()
    rows: list[Any] = []
    for i in range(num_images):
        image = imgs[i, ...]
        if unit_axes:
            image = xp.squeeze(image, axis=unit_axes)
        parts = []
        for fn in feature_fns:
            feats = fn(image)
            if feats.ndim != 1:
                raise ValueError(f"{func}: feature functions must return one-dimensional "
                                 f"arrays, {fn!r} returned shape {tuple(feats.shape)}")
            parts.append(xp.astype(feats, xp.float64))
        row = xp.concat(parts)
        if rows and row.shape != rows[0].shape:
            raise ValueError(f"{func}: image {i} gave {row.shape[0]} features, image 0 gave "
                             f"{rows[0].shape[0]}: every image needs the same feature length")
        rows.append(row)
        if verbose and i % 1000 == 999:
            print(f"Done extracting features for {i + 1} / {num_images} images")
    return xp.stack(rows)


def rgb2gray(rgb: Any) -> Any:
    """The course's grey image ``rgb[..., :3] @ [0.299, 0.587, 0.144]``, shape ``rgb.shape[:-1]``.
    """
    xp = get_array_module(rgb=rgb)
    if rgb.ndim < 1 or rgb.shape[-1] < 3:
        raise ValueError(f"rgb2gray: rgb must have shape (..., 3) (RGB last), got shape "
                         f"{tuple(rgb.shape)}")
    rgb = xp.astype(rgb[..., :3], xp.float64)
    weights = xp.asarray(_GRAY_WEIGHTS, dtype=xp.float64, device=rgb.device)
    return rgb @ weights


def hog_feature(im: Any) -> Any:
    """Histogram of oriented gradients, as the course's (9 orientations, 8x8-pixel cells).

    Each cell holds, per 20-degree orientation bin of ``atan2(gy, gx) + 90`` degrees, the
    mean gradient magnitude over its 64 pixels.

    Parameters
    ----------
    im : array, shape (H, W, 3) (RGB, turned grey by :func:`rgb2gray`) or (H, W) (grey)
        H, W >= 8.

    Returns
    -------
    feat : float64 array, shape ((W // 8) * (H // 8) * 9,)
        Cells in the course's order (the cell grid transposed, orientation fastest).
    """
    func = "hog_feature"
    xp = get_array_module(im=im)
    if im.ndim == 3:
        image = rgb2gray(im)
    elif im.ndim == 2:
        image = xp.astype(im, xp.float64)
    else:
        raise ValueError(f"{func}: im must have shape (H, W, 3) or (H, W), got shape "
                         f"{tuple(im.shape)}")
    sx, sy = image.shape
    if sx < _CELL or sy < _CELL:
        raise ValueError(f"{func}: im must be at least {_CELL}x{_CELL} pixels (one cell), got "
                         f"shape {tuple(im.shape)}")
    # Forward differences; the last column (row) has none, as in the course.
    gx = xp.concat([image[:, 1:] - image[:, :-1],
                    xp.zeros((sx, 1), dtype=image.dtype, device=image.device)], axis=1)
    gy = xp.concat([image[1:, :] - image[:-1, :],
                    xp.zeros((1, sy), dtype=image.dtype, device=image.device)], axis=0)
    magnitude = xp.sqrt(gx**2 + gy**2)
    orientation = xp.atan2(gy, gx + 1e-15) * (180 / math.pi) + 90
    width = 180 / _ORIENTATIONS
    lower = xp.asarray([width * i for i in range(_ORIENTATIONS)], dtype=image.dtype,
                       device=image.device)
    upper = xp.asarray([width * (i + 1) for i in range(_ORIENTATIONS)], dtype=image.dtype,
                       device=image.device)
    ori = orientation[..., None]
    # The course's bins: lower <= ori < upper, and ori > 0 (orientations outside [0, 180)
    # and exactly 0 count nowhere).
    in_bin = (ori >= lower) & (ori < upper) & (ori > 0)
    weighted = xp.where(in_bin, magnitude[..., None], xp.zeros((), dtype=image.dtype,
                                                                device=image.device))
    cx, cy = sx // _CELL, sy // _CELL
    blocks = xp.reshape(weighted[:cx * _CELL, :cy * _CELL, :],
                        (cx, _CELL, cy, _CELL, _ORIENTATIONS))
    cells = xp.sum(xp.sum(blocks, axis=3), axis=1) / (_CELL * _CELL)
    return xp.reshape(xp.permute_dims(cells, (1, 0, 2)), (-1,))


def _hue(xp: ModuleType, rgb: Any) -> Any:
    """Hue in [0, 1) of RGB values in [0, 1] (last axis), as ``matplotlib.colors.rgb_to_hsv``."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    top = xp.maximum(xp.maximum(r, g), b)
    delta = top - xp.minimum(xp.minimum(r, g), b)
    safe = xp.where(delta > 0, delta, xp.ones_like(delta))
    zero = xp.zeros_like(delta)
    # Where two channels tie for the maximum, blue wins over green, green over red.
    hue = xp.where(r == top, (g - b) / safe, zero)
    hue = xp.where(g == top, 2.0 + (b - r) / safe, hue)
    hue = xp.where(b == top, 4.0 + (r - g) / safe, hue)
    hue = xp.where(delta > 0, hue, zero)
    return (hue / 6.0) % 1.0


def color_histogram_hsv(
    im: Any, nbin: int = 10, xmin: float = 0, xmax: float = 255, normalized: bool = True
) -> Any:
    """Histogram of the hue of an RGB image, as the course's.

    Parameters
    ----------
    im : array, shape (H, W, 3), values in [0, xmax]
    nbin : int
        Equal bins over [xmin, xmax] of ``hue * xmax``.
    xmin, xmax : float
    normalized : bool
        True: each bin's fraction of the pixels (the course's density times bin width);
        False: each bin's pixel count times the bin width.

    Returns
    -------
    imhist : float64 array, shape (nbin,), im's backend
    """
    func = "color_histogram_hsv"
    xp = get_array_module(im=im)
    if im.ndim != 3 or im.shape[-1] != 3:
        raise ValueError(f"{func}: im must have shape (H, W, 3) (RGB), got shape "
                         f"{tuple(im.shape)}")
    if isinstance(nbin, bool) or not isinstance(nbin, (int, np.integer)) or nbin < 1:
        raise ValueError(f"{func}: nbin must be a positive integer, got {nbin!r}")
    if not float(xmax) > float(xmin):
        raise ValueError(f"{func}: xmax must be larger than xmin, got xmin={xmin!r}, "
                         f"xmax={xmax!r}")
    rgb = _floating(xp, im) / xmax
    if float(xp.max(rgb)) > 1 or float(xp.min(rgb)) < 0:
        raise ValueError(f"{func}: im's values must lie in [0, xmax] = [0, {xmax}], got "
                         f"values from {float(xp.min(im))} to {float(xp.max(im))}")
    values = xp.reshape(_hue(xp, rgb) * xmax, (-1, 1))
    host_edges = np.linspace(xmin, xmax, int(nbin) + 1)
    edges = xp.asarray(host_edges, dtype=xp.float64, device=values.device)
    lower, upper = edges[:-1], edges[1:]
    # numpy.histogram's bins: [lower, upper), the last one closed on the right.
    is_last = xp.arange(int(nbin), device=values.device) == int(nbin) - 1
    inside = (values >= lower) & ((values < upper) | (is_last & (values <= upper)))
    counts = xp.astype(xp.sum(xp.astype(inside, xp.int64), axis=0), xp.float64)
    widths = xp.asarray(np.diff(host_edges), dtype=xp.float64, device=values.device)
    if normalized:
        # numpy.histogram(density=True) is counts / widths / total; the course multiplies
        # by the widths again.
        return counts / widths / xp.sum(counts) * widths
    return counts * widths

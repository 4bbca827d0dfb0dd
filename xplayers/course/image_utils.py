"""The course's ``cs231n.image_utils``: reading images and the SqueezeNet pre-processing.

``image_from_url`` reads local files (a path or a ``file://`` URL) directly; a web URL is
fetched with a short timeout, and where that fails (no network, say) it prints why, naming
the URL, and returns None, as the course's does, so a notebook's ``if img is None`` skips it.
Images are read with Pillow.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SQUEEZENET_MEAN", "SQUEEZENET_STD", "blur_image", "deprocess_image",
           "image_from_url", "load_image", "preprocess_image"]

SQUEEZENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
SQUEEZENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _read(source: Any) -> np.ndarray:
    from PIL import Image

    with Image.open(source) as image:
        return np.asarray(image).copy()


def image_from_url(url: str | os.PathLike[str], timeout: float = 5.0) -> np.ndarray | None:
    """The image at ``url`` as a NumPy array (H, W, C) uint8, or None when it cannot be had.

    Parameters
    ----------
    url : str or path-like
        An ``http(s)://`` URL, a ``file://`` URL or a local path.
    timeout : float
        Seconds to wait for a web server before giving up.

    Raises
    ------
    FileNotFoundError
        For a local path that does not exist.
    """
    text = os.fspath(url)
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = Path(urllib.request.url2pathname(parsed.path) if parsed.scheme == "file"
                    else text)
        if not path.is_file():
            raise FileNotFoundError(f"image_from_url: no image file at {str(path)!r}")
        return _read(path)
    try:
        with urllib.request.urlopen(text, timeout=timeout) as response:
            return _read(BytesIO(response.read()))
    except urllib.error.HTTPError as exc:
        print("HTTP Error: ", exc.code, text)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"URL Error: {reason} {text} (no network, or the image is gone; images can "
              "also be read from local files)")
    return None


def load_image(filename: str | os.PathLike[str], size: int | None = None) -> np.ndarray:
    """An image file as a NumPy array, its shorter side scaled to ``size`` (nearest pixel)."""
    from PIL import Image

    img = _read(filename)
    if size is not None:
        orig_shape = np.array(img.shape[:2])
        scale = float(size) / orig_shape[np.argmin(orig_shape)]
        new_shape = (orig_shape * scale).astype(int)
        # (width, height) given as (rows, columns), as the course's version does
        resized = Image.fromarray(img).resize(tuple(new_shape), resample=Image.Resampling.NEAREST)
        img = np.array(resized)
    return img


def preprocess_image(img: np.ndarray) -> np.ndarray:
    """uint8 pixels (..., 3) to SqueezeNet's input: ``(img / 255 - mean) / std``, float32."""
    return (img.astype(np.float32) / 255.0 - SQUEEZENET_MEAN) / SQUEEZENET_STD


def deprocess_image(img: np.ndarray, rescale: bool = False) -> np.ndarray:
    """Undo :func:`preprocess_image` (``rescale``: stretch to [0, 1] first) to uint8 pixels."""
    img = img * SQUEEZENET_STD + SQUEEZENET_MEAN
    if rescale:
        vmin, vmax = img.min(), img.max()
        img = (img - vmin) / (vmax - vmin)
    return np.clip(255 * img, 0.0, 255.0).astype(np.uint8)


def blur_image(X: Any) -> Any:
    """A gentle 3x3 blur of images (N, 3, H, W), NumPy or CuPy, as the course's regulariser."""
    from ..backend.devices import device_name, to_device
    from .fast_layers import conv_forward_fast

    w_blur = np.zeros((3, 3, 3, 3), dtype=X.dtype)
    for i in range(3):
        w_blur[i, i] = np.asarray([[1, 2, 1], [2, 188, 2], [1, 2, 1]]) / 200.0
    device = device_name(X)
    w_blur, b_blur = to_device((w_blur, np.zeros(3, dtype=X.dtype)), device)
    return conv_forward_fast(X, w_blur, b_blur, {"stride": 1, "pad": 1})[0]

"""``xplayers.course.features``: the course's HOG and hue histogram, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close

from xplayers import to_numpy
from xplayers.course.features import color_histogram_hsv, extract_features, hog_feature, rgb2gray


def _course_hog(im):
    """The course's hog_feature (SciPy's uniform_filter picks each 8x8 cell's mean)."""
    ndimage = pytest.importorskip("scipy.ndimage")
    image = np.dot(im[..., :3], [0.299, 0.587, 0.144])
    sx, sy = image.shape
    gx, gy = np.zeros(image.shape), np.zeros(image.shape)
    gx[:, :-1] = np.diff(image, n=1, axis=1)
    gy[:-1, :] = np.diff(image, n=1, axis=0)
    grad_mag = np.sqrt(gx**2 + gy**2)
    grad_ori = np.arctan2(gy, (gx + 1e-15)) * (180 / np.pi) + 90
    hist = np.zeros((sx // 8, sy // 8, 9))
    for i in range(9):
        temp = np.where(grad_ori < 180 / 9 * (i + 1), grad_ori, 0)
        temp = np.where(grad_ori >= 180 / 9 * i, temp, 0)
        temp_mag = np.where(temp > 0, grad_mag, 0)
        hist[:, :, i] = ndimage.uniform_filter(temp_mag, size=(8, 8))[4::8, 4::8].T
    return hist.ravel()


def _loop_hue(im):
    """Hue by the textbook per-pixel definition (matplotlib's tie order: blue, green, red)."""
    out = np.zeros(im.shape[:2])
    for i in range(im.shape[0]):
        for j in range(im.shape[1]):
            r, g, b = im[i, j]
            mx, mn = max(r, g, b), min(r, g, b)
            if mx == mn:
                continue
            d = mx - mn
            h = 4 + (r - g) / d if b == mx else 2 + (b - r) / d if g == mx else (g - b) / d
            out[i, j] = (h / 6.0) % 1.0
    return out


def _loop_histogram(values, edges):
    counts = np.zeros(len(edges) - 1)
    for v in values.ravel():
        for k in range(len(edges) - 1):
            last = k == len(edges) - 2
            if edges[k] <= v < edges[k + 1] or (last and v == edges[k + 1]):
                counts[k] += 1
                break
    return counts


def _images(rng, n=3):
    imgs = rng.integers(0, 256, size=(n, 32, 32, 3)).astype(np.float64)
    imgs[0, :8] = imgs[0, :8, :, :1]  # grey pixels (no hue) and ties between channels
    imgs[1, 8:16, :, 2] = imgs[1, 8:16, :, 1]
    return imgs


def test_hog_matches_the_course(backend, rng):
    for im in _images(rng):
        assert_close(hog_feature(backend.asarray(im)), _course_hog(im), rtol=1e-12, atol=1e-12)


def test_hog_of_a_grey_image_and_of_an_rgb2gray_image_agree(rng):
    im = _images(rng)[2]
    np.testing.assert_array_equal(hog_feature(rgb2gray(im)), hog_feature(im))
    assert hog_feature(im).shape == (4 * 4 * 9,)


@pytest.mark.parametrize("normalized", [True, False])
def test_hue_histogram_matches_a_loop_reference(backend, rng, normalized):
    for im in _images(rng):
        hist = color_histogram_hsv(backend.asarray(im), nbin=7, normalized=normalized)
        edges = np.linspace(0, 255, 8)
        counts = _loop_histogram(_loop_hue(im / 255) * 255, edges)
        expected = counts / counts.sum() if normalized else counts * np.diff(edges)
        assert_close(hist, expected, rtol=1e-12, atol=1e-12)


def test_hue_histogram_is_matplotlibs_bit_for_bit(rng):
    colors = pytest.importorskip("matplotlib.colors")
    for im in _images(rng):
        for normalized in (True, False):
            bins = np.linspace(0, 255, 11)
            hsv = colors.rgb_to_hsv(im / 255) * 255
            imhist, edges = np.histogram(hsv[:, :, 0], bins=bins, density=normalized)
            np.testing.assert_array_equal(color_histogram_hsv(im, normalized=normalized),
                                          imhist * np.diff(edges))


def test_extract_features_concatenates_per_image(backend, rng, capsys):
    imgs = _images(rng)
    fns = [hog_feature, lambda img: color_histogram_hsv(img, nbin=5)]
    feats = extract_features(backend.asarray(imgs), fns, verbose=True)
    expected = np.stack([np.concatenate([_course_hog(im), color_histogram_hsv(im, nbin=5)])
                         for im in imgs])
    assert_close(feats, expected, rtol=1e-12, atol=1e-12)
    assert np.asarray(to_numpy(feats)).dtype == np.float64
    assert capsys.readouterr().out == ""  # progress every 1000 images only


def test_features_name_bad_input(rng):
    with pytest.raises(ValueError, match=r"im must have shape \(H, W, 3\) or \(H, W\)"):
        hog_feature(np.zeros((2, 32, 32, 3)))
    with pytest.raises(ValueError, match=r"values must lie in \[0, xmax\]"):
        color_histogram_hsv(np.full((4, 4, 3), 300.0))
    with pytest.raises(ValueError, match="nbin must be a positive integer"):
        color_histogram_hsv(np.zeros((4, 4, 3)), nbin=0)
    with pytest.raises(ValueError, match="one-dimensional"):
        extract_features(np.zeros((2, 8, 8, 3)), [lambda im: im])
    with pytest.raises(ValueError, match=r"rgb must have shape \(\.\.\., 3\)"):
        rgb2gray(np.zeros((4, 4, 2)))

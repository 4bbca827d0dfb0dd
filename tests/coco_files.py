"""Small COCO captioning data sets in the course's own file formats, written for a test.

The layout of the course's ``cs231n/datasets/coco_captioning`` folder: ``coco2014_captions.h5``
(``train_captions``, ``train_image_idxs``, ``val_captions``, ``val_image_idxs``, int32),
``{train,val}2014_vgg16_fc7_pca.h5`` and ``..._fc7.h5`` (a float32 ``features`` dataset),
``coco2014_vocab.json`` (``idx_to_word`` list, ``word_to_idx`` dict, ``<NULL>`` 0,
``<START>`` 1, ``<END>`` 2, ``<UNK>`` 3) and ``{train,val}2014_urls.txt`` (here, paths of
small local PNG images). Each image gets one caption that its features determine, so a
model can learn it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

WORDS = ["a", "man", "woman", "dog", "cat", "on", "with", "red", "blue", "bike", "ball",
         "sits", "runs", "in", "the", "park", "street", "table", "near", "small"]
VOCAB = ["<NULL>", "<START>", "<END>", "<UNK>", *WORDS]


def write_coco(folder: Path, num_train: int = 300, num_val: int = 40, dim: int = 512,
               full_dim: int = 4096, length: int = 17, seed: int = 0,
               with_fc7: bool = True) -> Path:
    """Write the course's files into ``folder`` (created); returns ``folder``."""
    import h5py
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = folder / "images"
    images.mkdir(exist_ok=True)
    captions_out = {}
    for split, n in (("train", num_train), ("val", num_val)):
        features = rng.standard_normal((n, dim)).astype(np.float32)
        captions = np.zeros((n, length), dtype=np.int32)
        captions[:, 0] = 1
        for i in range(n):
            size = 3 + i % (length - 5)
            words = 4 + (i * 7 + np.arange(size) * (1 + i % 5)) % len(WORDS)
            captions[i, 1 : 1 + size] = words
            captions[i, 1 + size] = 2
        captions_out[f"{split}_captions"] = captions
        captions_out[f"{split}_image_idxs"] = np.arange(n, dtype=np.int32)
        with h5py.File(folder / f"{split}2014_vgg16_fc7_pca.h5", "w") as handle:
            handle["features"] = features
        if with_fc7:
            with h5py.File(folder / f"{split}2014_vgg16_fc7.h5", "w") as handle:
                handle["features"] = np.tile(features, (1, full_dim // dim + 1))[:, :full_dim]
        urls = []
        for i in range(n):
            path = images / f"{split}_{i}.png"
            pixels = rng.integers(0, 256, size=(8, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path)
            urls.append(str(path))
        (folder / f"{split}2014_urls.txt").write_text("\n".join(urls) + "\n")
    with h5py.File(folder / "coco2014_captions.h5", "w") as handle:
        for key, value in captions_out.items():
            handle[key] = value
    vocab = {"idx_to_word": VOCAB, "word_to_idx": {w: i for i, w in enumerate(VOCAB)}}
    (folder / "coco2014_vocab.json").write_text(json.dumps(vocab))
    return folder

"""xplayers.course's assignment-3 modules: rnn_layers, classifiers.rnn, captioning_solver,
coco_utils (the course's files from a local folder) and image_utils."""

from __future__ import annotations

import time

import numpy as np
import pytest
from coco_files import VOCAB, write_coco

import xplayers.layers as layers
import xplayers.models as models
from xplayers.course import captioning_solver, classifiers, coco_utils, image_utils, rnn_layers

pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_coco(tmp_path_factory.mktemp("coco") / "coco_captioning", num_train=30,
                      num_val=8, dim=16, full_dim=48)


def test_modules_re_export_the_library():
    assert rnn_layers.lstm_forward is layers.lstm_forward
    assert rnn_layers.temporal_softmax_loss is layers.temporal_softmax_loss
    assert rnn_layers.affine_forward is layers.affine_forward
    assert classifiers.rnn.CaptioningRNN is models.CaptioningRNN
    assert classifiers.CaptioningRNN is models.CaptioningRNN
    from xplayers.training.captioning_solver import CaptioningSolver

    assert captioning_solver.CaptioningSolver is CaptioningSolver
    x = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(rnn_layers.sigmoid(x), expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("pca", [True, False])
def test_load_coco_data_from_the_folder_given(coco, pca):
    data = coco_utils.load_coco_data(base_dir=coco, pca_features=pca)
    assert sorted(data) == sorted(["train_captions", "train_image_idxs", "val_captions",
                                   "val_image_idxs", "train_features", "val_features",
                                   "idx_to_word", "word_to_idx", "train_urls", "val_urls"])
    assert data["train_captions"].shape == (30, 17) and data["train_captions"].dtype == np.int32
    assert data["train_features"].shape == (30, 16 if pca else 48)
    assert data["val_features"].dtype == np.float32 and data["val_urls"].shape == (8,)
    assert data["idx_to_word"] == VOCAB and data["word_to_idx"]["<END>"] == 2


def test_load_coco_data_finds_the_folder(coco, tmp_path, monkeypatch):
    monkeypatch.delenv("XPLAYERS_COCO_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        coco_utils.load_coco_data()
    message = str(info.value)
    assert "cs231n/datasets/coco_captioning" in message and "coco2014_captions.h5" in message
    assert "XPLAYERS_COCO_DIR" in message
    monkeypatch.setenv("XPLAYERS_COCO_DIR", str(coco))
    assert coco_utils.load_coco_data()["train_captions"].shape == (30, 17)
    monkeypatch.delenv("XPLAYERS_COCO_DIR")
    (tmp_path / "cs231n" / "datasets").mkdir(parents=True)
    (tmp_path / "cs231n" / "datasets" / "coco_captioning").symlink_to(coco)
    assert coco_utils.load_coco_data()["val_captions"].shape == (8, 17)


def test_missing_files_are_named(coco, tmp_path):
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(coco, partial)
    (partial / "val2014_vgg16_fc7_pca.h5").unlink()
    (partial / "val2014_urls.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"partial \(the base_dir given\): missing "
                                                r"val2014_vgg16_fc7_pca\.h5, val2014_urls\.txt"):
        coco_utils.load_coco_data(base_dir=partial)


def test_max_train_and_minibatches_use_the_global_state(coco):
    np.random.seed(0)  # noqa: NPY002
    data = coco_utils.load_coco_data(coco, max_train=12)
    np.random.seed(0)  # noqa: NPY002
    mask = np.random.randint(30, size=12)  # noqa: NPY002
    full = coco_utils.load_coco_data(coco)
    np.testing.assert_array_equal(data["train_captions"], full["train_captions"][mask])
    np.random.seed(1)  # noqa: NPY002
    captions, features, urls = coco_utils.sample_coco_minibatch(full, batch_size=5, split="val")
    np.random.seed(1)  # noqa: NPY002
    pick = np.random.choice(8, 5)  # noqa: NPY002
    np.testing.assert_array_equal(captions, full["val_captions"][pick])
    np.testing.assert_array_equal(features, full["val_features"][pick])
    assert list(urls) == list(full["val_urls"][pick])
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        coco_utils.sample_coco_minibatch(full, split="test")


def test_decode_captions():
    idx_to_word = ["<NULL>", "<START>", "<END>", "a", "cat"]
    captions = np.array([[1, 3, 4, 2, 0, 0], [1, 4, 0, 3, 2, 4]])
    assert coco_utils.decode_captions(captions, idx_to_word) == [
        "<START> a cat <END>", "<START> cat a <END>"]
    assert coco_utils.decode_captions(captions[0], dict(enumerate(idx_to_word))) == \
        "<START> a cat <END>"


def test_image_from_url_reads_local_files(coco, tmp_path):
    path = (coco / "train2014_urls.txt").read_text().split()[0]
    img = image_utils.image_from_url(path)
    assert img.shape == (8, 10, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(image_utils.image_from_url("file://" + path), img)
    # the course resizes with (rows, columns) as (width, height): an 8x10 image gives 20x16
    assert image_utils.load_image(path, size=16).shape[:2] == (20, 16)
    with pytest.raises(FileNotFoundError, match="no image file at"):
        image_utils.image_from_url(str(tmp_path / "nope.png"))


def test_image_from_url_without_a_server_says_so_quickly(capsys):
    start = time.perf_counter()
    assert image_utils.image_from_url("http://127.0.0.1:9/img.jpg", timeout=2) is None
    assert time.perf_counter() - start < 30
    assert "URL Error" in capsys.readouterr().out


def test_pre_and_deprocess_invert_each_other():
    img = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    x = image_utils.preprocess_image(img)
    assert x.dtype == np.float32
    assert np.abs(image_utils.deprocess_image(x).astype(int) - img).max() <= 1
    blurred = image_utils.blur_image(np.ones((1, 3, 4, 4), dtype=np.float32))
    assert blurred.shape == (1, 3, 4, 4) and blurred.dtype == np.float32
    assert blurred[0, 0, 1, 1] == pytest.approx(1.0)

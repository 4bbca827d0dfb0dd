"""Damaged, foreign and crafted checkpoints: ValueError naming the file, or an exact round trip.

Every byte of a real checkpoint is flipped and the file cut at every offset; each result must
either raise ``ValueError`` (never TypeError, KeyError, NotImplementedError, MemoryError, nor
NumPy's advice to allow pickle) or load exactly what was saved.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet, TwoLayerNet, load_model
from xplayers.solver import Solver

META = {"format": "xplayers-checkpoint", "version": 1, "class": "TwoLayerNet",
        "config": {"input_dim": 3, "hidden_dim": 2, "num_classes": 2}, "extra": {}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained batchnorm net saved by a Solver (model, best parameters, position)."""
    folder = tmp_path_factory.mktemp("damage")
    data = make_blobs(num_classes=2, num_per_class=8, dim=2, seed=0)
    model = FullyConnectedNet([2], input_dim=2, num_classes=2, normalization="batchnorm",
                              init_seed=0)
    solver = Solver(model, data, update_rule="sgd_momentum", num_epochs=1, batch_size=4,
                    verbose=False, device="cpu", seed=0, checkpoint_name=str(folder / "run"))
    solver.train()
    path = folder / "run_epoch_1.npz"
    original = load_model(path, "cpu")
    return path.read_bytes(), original


def sweep_offsets(data, data_stride):
    """Every offset of the zip structures (local headers, central directory, end record),
    and every ``data_stride``-th offset inside the members (CRC-checked .npy bytes)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    structure: set[int] = set()
    data_start = []
    for info in infos:
        local = 30 + len(info.filename.encode()) + len(info.extra)
        structure.update(range(info.header_offset, info.header_offset + local))
        data_start.append((info.header_offset + local, info.compress_size))
    central = max(start + size for start, size in data_start)
    structure.update(range(central, len(data)))
    inside = {offset for start, size in data_start
              for offset in range(start, start + size, data_stride)}
    return sorted(structure | inside)


def load_or_value_error(path):
    """The loaded model, or None after a ValueError that names the file."""
    try:
        return load_model(path, "cpu")
    except ValueError as exc:
        text = str(exc)
        assert str(path) in text, text
        assert "allow_pickle" not in text, text
        assert "\n" not in text, text
        return None


def assert_same(loaded, original):
    assert type(loaded) is type(original)
    assert loaded.config == original.config
    assert loaded.checkpoint_extra == original.checkpoint_extra
    for group in ("params", "state"):
        want = original.params if group == "params" else original.state()
        got = loaded.params if group == "params" else loaded.state()
        assert set(got) == set(want)
        for name, value in want.items():
            assert got[name].dtype == value.dtype
            np.testing.assert_array_equal(got[name], value)


def test_every_flipped_byte_is_an_error_or_an_exact_round_trip(saved, tmp_path):
    data, original = saved
    path = tmp_path / "flipped.npz"
    outcomes = {"error": 0, "same": 0}
    offsets = sweep_offsets(data, data_stride=9)
    assert len(offsets) > 2000
    for offset in offsets:
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
        loaded = load_or_value_error(path)
        if loaded is None:
            outcomes["error"] += 1
        else:
            assert_same(loaded, original)
            outcomes["same"] += 1
    assert outcomes["error"] > len(offsets) // 2


def test_every_truncation_is_an_error(saved, tmp_path):
    data, _ = saved
    path = tmp_path / "cut.npz"
    sizes = sweep_offsets(data, data_stride=9)
    assert len(sizes) > 2000
    for size in sizes:
        path.write_bytes(data[:size])
        assert load_or_value_error(path) is None, size


def central_directory_offsets(data):
    offsets, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:
        offsets.append(found)
        start = found + 4
    return offsets


@pytest.mark.parametrize(("field", "value", "message"), [
    (8, 0x01, "is encrypted"),                       # general purpose flag: encrypted
    (10, 12, "unsupported compression method"),      # bzip2
    (10, 99, "unsupported compression method"),      # AES / unknown
    (10, 8, "cannot read checkpoint"),               # claims deflate, holds stored bytes
])
def test_flipped_zip_header_flags_are_clear_errors(saved, tmp_path, field, value, message):
    data, _ = saved
    for entry in central_directory_offsets(data)[:3]:
        damaged = bytearray(data)
        damaged[entry + field] = value
        path = tmp_path / "flags.npz"
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match=message):
            load_model(path, "cpu")


def archive(path, entries, meta=META, raw=None):
    """Write an .npz by hand: ``entries`` of arrays, ``raw`` members of raw bytes."""
    with zipfile.ZipFile(path, "w") as zf:
        if meta is not None:
            entries = {"__meta__": np.array(json.dumps(meta)), **entries}
        for name, array in entries.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=True)
            zf.writestr(f"{name}.npy", buffer.getvalue())
        for name, content in (raw or {}).items():
            zf.writestr(name, content)
    return path


def two_layer_entries(**changes):
    model = TwoLayerNet(3, 2, 2, seed=0)
    entries = {f"param/{k}": v for k, v in model.params.items()}
    entries.update(changes)
    return {k: v for k, v in entries.items() if v is not None}


def npy_bytes(header_shape, payload=b""):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": header_shape})
    return buffer.getvalue() + payload


def save_npy(path, array):
    with path.open("wb") as handle:  # closed here, so the bytes are on disk before the load
        np.save(handle, array)


FILE_CASES = {
    "npy instead of npz": (lambda p: save_npy(p, np.ones(3)),
                           "single .npy array, not an .npz"),
    "text file": (lambda p: p.write_text("W1 = [1, 2, 3]\n"), "truncated, corrupt or not an"),
    "empty file": (lambda p: p.write_bytes(b""), "the file is empty"),
    "zip of other things": (lambda p: archive(p, {}, meta=None, raw={"notes.txt": "hi"}),
                            "entry 'notes.txt' is not an .npy array"),
    "meta not json": (lambda p: archive(p, two_layer_entries(), meta=None,
                                        raw={"__meta__.npy": npy_bytes((), b"")}),
                      "cannot read checkpoint"),
    "huge npy header": (lambda p: archive(p, two_layer_entries(), raw={
        "param/W3.npy": npy_bytes((2**20, 2**20), b"\0" * 16)}), "announces"),
    "pickled meta": (lambda p: archive(p, {"__meta__": np.array([META], dtype=object)},
                                       meta=None), "Python objects"),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_foreign_and_broken_files(tmp_path, case):
    make_file, message = FILE_CASES[case]
    path = tmp_path / "bad.npz"
    make_file(path)
    with pytest.raises(ValueError, match=message) as info:
        load_model(path, "cpu")
    assert str(path) in str(info.value) and "allow_pickle" not in str(info.value)


def test_paths_that_are_not_files(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_model(tmp_path, "cpu")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_model(tmp_path / "missing.npz", "cpu")


def with_meta(**changes):
    meta = json.loads(json.dumps(META))
    for key, value in changes.items():
        if key.startswith("config."):
            meta["config"][key[len("config."):]] = value
        else:
            meta[key] = value
    return meta


META_CASES = {
    "meta is a list": ([1, 2], "format tag missing"),
    "wrong format tag": (with_meta(format="other"), "format tag missing"),
    "version 2": (with_meta(version=2), "version 2"),
    "class not a string": (with_meta(**{"class": 3}), r"'class' must be a str"),
    "config not a dict": (with_meta(config=[3, 2, 2]), r"'config' must be a dict"),
    "extra not a dict": (with_meta(extra="x"), r"'extra' must be a dict"),
    "unknown class": (with_meta(**{"class": "ResNet"}), "not one of the known models"),
    "unknown config key": (with_meta(**{"config.hiden_dim": 2}), r"keys \['hiden_dim'\]"),
    "huge input_dim": (with_meta(**{"config.input_dim": 2**40}), "do not match the model"),
    "string size": (with_meta(**{"config.hidden_dim": "2"}), "hidden_dim must be a positive"),
    "negative size": (with_meta(**{"config.num_classes": -2}), "num_classes must be a posit"),
    "float size": (with_meta(**{"config.input_dim": 3.0}), "input_dim must be a positive"),
    "complex dtype": (with_meta(**{"config.dtype": "complex64"}), "dtype must be float32"),
    "bad reg": (with_meta(**{"config.reg": "lots"}), "invalid configuration"),
    "negative seed": (with_meta(**{"config.seed": -3}), "invalid configuration"),
}


@pytest.mark.parametrize("case", META_CASES)
def test_malformed_metadata_and_configs(tmp_path, case):
    meta, message = META_CASES[case]
    path = archive(tmp_path / "m.npz", two_layer_entries(), meta=meta)
    with pytest.raises(ValueError, match=message) as info:
        load_model(path, "cpu")
    assert str(path) in str(info.value)


def test_meta_that_is_not_one_string(tmp_path):
    path = archive(tmp_path / "m.npz", {"__meta__": np.array([json.dumps(META)] * 2),
                                        **two_layer_entries()}, meta=None)
    with pytest.raises(ValueError, match="must be one string"):
        load_model(path, "cpu")


def bn_entries(**changes):
    rng = np.random.default_rng(0)
    model = FullyConnectedNet([4], input_dim=3, num_classes=2, normalization="batchnorm",
                              seed=0)
    model.loss(rng.standard_normal((6, 3)).astype(np.float32), np.array([0, 1] * 3))
    entries = {f"param/{k}": v for k, v in model.params.items()}
    entries.update({f"state/{k}": v for k, v in model.state().items()})
    entries.update(changes)
    meta = {**META, "class": "FullyConnectedNet", "config": model.config}
    return {k: v for k, v in entries.items() if v is not None}, meta


ARRAY_CASES = {
    "missing parameter": ({"param/W2": None}, r"missing \['W2'\]"),
    "extra parameter": ({"param/W9": np.ones(2, np.float32)}, r"unexpected \['W9'\]"),
    "misshapen parameter": ({"param/b1": np.ones(5, np.float32)}, r"'b1' has shape \(5,\)"),
    "integer parameter": ({"param/b1": np.ones(4, np.int64)}, "'b1' has dtype int64"),
    "complex parameter": ({"param/b1": np.ones(4, np.complex64)}, "dtype complex64"),
    "missing running_var": ({"state/running_var1": None}, r"missing \['running_var1'\]"),
    "misshapen running_mean": ({"state/running_mean1": np.ones(3, np.float32)},
                               r"'running_mean1' has shape \(3,\)"),
    "renamed running_mean": ({"state/running_mean1": None,
                              "state/running_meam1": np.ones(4, np.float32)},
                             r"unexpected \['running_meam1'\]"),
    "integer running_var": ({"state/running_var1": np.ones(4, np.int32)}, "dtype int32"),
    "entry outside the groups": ({"weights/W1": np.ones(2, np.float32)},
                                 "unexpected entry 'weights/W1'"),
}


@pytest.mark.parametrize("case", ARRAY_CASES)
def test_arrays_must_match_the_model(tmp_path, case):
    changes, message = ARRAY_CASES[case]
    entries, meta = bn_entries(**changes)
    path = archive(tmp_path / "m.npz", entries, meta=meta)
    with pytest.raises(ValueError, match=message) as info:
        load_model(path, "cpu")
    assert str(path) in str(info.value)


def test_running_stats_for_a_model_without_normalization(tmp_path):
    entries = two_layer_entries(**{"state/running_mean1": np.ones(2, np.float32)})
    path = archive(tmp_path / "m.npz", entries)
    with pytest.raises(ValueError, match=r"running statistics do not match.*unexpected"):
        load_model(path, "cpu")


def test_hand_written_archive_round_trips(tmp_path):
    entries, meta = bn_entries()
    loaded = load_model(archive(tmp_path / "m.npz", entries, meta=meta), "cpu")
    for name, value in entries.items():
        group, key = name.split("/")
        got = loaded.params[key] if group == "param" else loaded.state()[key]
        np.testing.assert_array_equal(got, value)


def test_param_shapes_agree_with_the_built_models():
    from xplayers.models import MODELS, CaptioningRNN, ThreeLayerConvNet

    words = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3}
    models = [TwoLayerNet(7, 5, 3), FullyConnectedNet([6, 4], input_dim=5, num_classes=3),
              FullyConnectedNet([6], input_dim=5, normalization="layernorm"),
              ThreeLayerConvNet((2, 7, 5), num_filters=3, filter_size=3, hidden_dim=4),
              CaptioningRNN(words, input_dim=5, wordvec_dim=4, hidden_dim=6),
              CaptioningRNN(words, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type="lstm")]
    assert {type(m) for m in models} == set(MODELS.values())
    for model in models:
        shapes = type(model).param_shapes(model.config)
        assert shapes == {k: tuple(v.shape) for k, v in model.params.items()}


def test_a_user_model_without_param_shapes_still_loads(tmp_path):
    from xplayers.models import Model

    class Linear(Model):
        def __init__(self, size=3, dtype="float32"):
            super().__init__({"size": size, "dtype": dtype})
            self.params = {"W": np.ones((size, 2), dtype=self.dtype)}

    Linear(4).save(tmp_path / "linear.npz")
    assert load_model(tmp_path / "linear.npz", "cpu").params["W"].shape == (4, 2)
    bad = archive(tmp_path / "bad.npz", {"param/W": np.ones((3, 2), np.float32)},
                  meta={**META, "class": "Linear", "config": {"size": 4}})
    with pytest.raises(ValueError, match=r"'W' has shape \(3, 2\)"):
        load_model(bad, "cpu")


def test_a_subclass_reusing_a_name_does_not_change_what_loads(tmp_path):
    from xplayers.models import Model

    class TwoLayerNet(Model):  # the same name as the built-in model
        pass

    path = tmp_path / "m.npz"
    load_target = load_model(archive(path, two_layer_entries()), "cpu")
    assert type(load_target).__module__ == "xplayers.models.two_layer"

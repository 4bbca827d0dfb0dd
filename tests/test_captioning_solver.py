"""CaptioningSolver: the course's loop and sampling, update rules, resuming, bad data."""

from __future__ import annotations

import numpy as np
import pytest

from xplayers.models import CaptioningRNN
from xplayers.optim import adam
from xplayers.training.captioning_solver import CaptioningSolver

VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4, "c": 5, "d": 6}


def _data(rng, n=20, images=6, d=8):
    captions = np.zeros((n, 6), dtype=np.int32)
    captions[:, 0] = 1
    idxs = rng.integers(images, size=n).astype(np.int32)
    for i, image in enumerate(idxs):  # each image has its own words: a learnable task
        length = 1 + image % 3
        captions[i, 1 : 1 + length] = 3 + (image + np.arange(length)) % 4
        captions[i, 1 + length] = 2
    return {"train_captions": captions, "train_image_idxs": idxs,
            "train_features": rng.standard_normal((images, d)).astype(np.float32)}


def _model(cell_type="rnn", seed=0):
    return CaptioningRNN(VOCAB, input_dim=8, wordvec_dim=6, hidden_dim=16,
                         cell_type=cell_type, seed=seed)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_overfits_a_small_set(rng, cell_type):
    data = _data(rng)
    solver = CaptioningSolver(_model(cell_type), data, update_rule="adam", num_epochs=60,
                              batch_size=10, optim_config={"learning_rate": 2e-2},
                              lr_decay=0.99, verbose=False, device="cpu", seed=0)
    solver.train()
    assert len(solver.loss_history) == 60 * 2
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert solver.epoch == 60
    assert solver.optim_configs["Wx"]["learning_rate"] == pytest.approx(2e-2 * 0.99**60)


def test_matches_the_course_loop_step_for_step(rng):
    data = _data(rng)
    np.random.seed(231)  # noqa: NPY002
    solver = CaptioningSolver(_model(seed=1), data, update_rule="adam", num_epochs=3,
                              batch_size=7, optim_config={"learning_rate": 1e-2},
                              lr_decay=0.5, verbose=False, device="cpu")
    solver.train()
    # the course's CaptioningSolver, written out: np.random.choice each step, adam, decay
    np.random.seed(231)  # noqa: NPY002
    model = _model(seed=1)
    configs = {k: {"learning_rate": 1e-2} for k in model.params}
    losses = []
    per_epoch = 20 // 7
    for t in range(3 * per_epoch):
        mask = np.random.choice(20, 7)  # noqa: NPY002
        captions = data["train_captions"][mask]
        features = data["train_features"][data["train_image_idxs"][mask]]
        loss, grads = model.loss(features, captions)
        losses.append(float(loss))
        for k, w in model.params.items():
            model.params[k], configs[k] = adam(w, grads[k], configs[k])
        if (t + 1) % per_epoch == 0:
            for config in configs.values():
                config["learning_rate"] *= 0.5
    assert solver.loss_history == losses
    for k, w in model.params.items():
        np.testing.assert_array_equal(solver.model.params[k], w)


def test_prints_the_course_lines(rng, capsys):
    solver = CaptioningSolver(_model(), _data(rng), num_epochs=2, batch_size=5, print_every=3,
                              optim_config={"learning_rate": 1e-3}, device="cpu", seed=0)
    solver.train()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("(Iteration")]
    assert [line.split(")")[0] for line in lines] == [
        "(Iteration 1 / 8", "(Iteration 4 / 8", "(Iteration 7 / 8"]


def test_seed_leaves_global_state_alone(rng):
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    CaptioningSolver(_model(), _data(rng), num_epochs=1, batch_size=5, verbose=False,
                     device="cpu", seed=3).train()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_resume_gives_the_uninterrupted_run(rng, tmp_path):
    data = _data(rng)
    kwargs = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
                  batch_size=6, verbose=False, device="cpu", seed=5)
    whole = CaptioningSolver(_model("lstm"), data, num_epochs=4, **kwargs)
    whole.train()
    first = CaptioningSolver(_model("lstm"), data, num_epochs=2,
                             checkpoint_name=str(tmp_path / "cap"), **kwargs)
    first.train()
    resumed = CaptioningSolver.from_checkpoint(tmp_path / "cap_epoch_2.npz", data,
                                               num_epochs=4, checkpoint_name=None)
    assert resumed.epoch == 2 and resumed.model.word_to_idx == VOCAB
    resumed.train()
    assert resumed.loss_history == whole.loss_history
    for k, w in whole.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[k], w)


def test_diverging_run_warns_once_and_carries_on(rng):
    solver = CaptioningSolver(_model(), _data(rng), num_epochs=3, batch_size=5,
                              optim_config={"learning_rate": 1e30}, verbose=False,
                              device="cpu", seed=0)
    with pytest.warns(RuntimeWarning, match="the training loss became") as record, \
            np.errstate(all="ignore"):
        solver.train()
    assert len([w for w in record if "training loss" in str(w.message)]) == 1
    assert len(solver.loss_history) == 12 and not np.isfinite(solver.loss_history[-1])


def test_bad_data_is_named(rng, tmp_path):
    data = _data(rng)
    with pytest.raises(ValueError, match=r"data is missing \['train_features'\]"):
        CaptioningSolver(_model(), {k: v for k, v in data.items() if k != "train_features"})
    bad = dict(data, train_captions=data["train_captions"] + 7)
    with pytest.raises(ValueError, match=r"word indices in \[0, 7\)"):
        CaptioningSolver(_model(), bad, device="cpu")
    bad = dict(data, train_image_idxs=data["train_image_idxs"] + 6)
    with pytest.raises(ValueError, match=r"train_image_idxs'\] must lie in \[0, 6\)"):
        CaptioningSolver(_model(), bad, device="cpu")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        CaptioningSolver(_model(), data, batch_size=0, device="cpu")
    with pytest.raises(ValueError, match="unknown update rule 'nope'"):
        CaptioningSolver(_model(), data, update_rule="nope", device="cpu")
    _model().save(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="holds no CaptioningSolver state"):
        CaptioningSolver.from_checkpoint(tmp_path / "plain.npz", data)


def test_a_step_reads_nothing_back_from_the_device(rng, monkeypatch):
    """Host reads of array_api_strict arrays (standing in for a GPU) during training steps."""
    strict = pytest.importorskip("array_api_strict")
    import xplayers.training.captioning_solver as module

    device = strict.Device("device1")
    reads: list[str] = []
    array_class = strict._array_object.Array
    for name in ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__",
                 "tolist", "item"):
        original = getattr(array_class, name, None)
        if original is not None:
            def counted(self, *args, _name=name, _original=original, **kwargs):
                reads.append(_name)
                return _original(self, *args, **kwargs)
            monkeypatch.setattr(array_class, name, counted)

    def to_strict(x, target=None):
        if isinstance(x, tuple):
            return tuple(to_strict(v) for v in x)
        return strict.asarray(x, device=device) if isinstance(x, np.ndarray) else x

    monkeypatch.setattr(module, "to_device", to_strict)
    for cell_type in ("rnn", "lstm"):
        model = _model(cell_type)
        model.params = {k: to_strict(v) for k, v in model.params.items()}
        model.to = lambda target, model=model: model
        solver = CaptioningSolver(model, _data(rng), update_rule="adam", num_epochs=2,
                                  batch_size=5, verbose=False, device="cpu", seed=0)
        step, in_steps = solver._step, []

        def counting_step(*args, step=step, in_steps=in_steps):
            before = len(reads)
            step(*args)
            in_steps.append(len(reads) - before)

        solver._step = counting_step
        solver.train()
        assert len(in_steps) == 8 and in_steps == [0] * 8, in_steps
        assert len(solver.loss_history) == 8 and np.isfinite(solver.loss_history).all()


@pytest.mark.gpu
def test_trains_on_the_gpu_as_on_the_cpu(rng):
    from xplayers import cuda_available, to_numpy
    from xplayers.backend.cuda import cuda_status

    if not cuda_available():
        pytest.skip(f"no usable GPU: {cuda_status()[1]}")
    data = _data(rng)
    runs = {}
    for device in ("cpu", "cuda"):
        runs[device] = CaptioningSolver(_model("lstm"), data, update_rule="adam", num_epochs=3,
                                        batch_size=5, optim_config={"learning_rate": 1e-2},
                                        verbose=False, device=device, seed=0)
        runs[device].train()
    assert runs["cuda"].model.device.startswith("cuda")
    np.testing.assert_allclose(runs["cuda"].loss_history, runs["cpu"].loss_history, rtol=1e-3)
    from xplayers import to_device

    # the CPU's parameters on the GPU write the CPU's captions
    gpu_model, cpu_model = runs["cuda"].model, runs["cpu"].model
    gpu_model.params = to_device(dict(cpu_model.params), "cuda")
    features = data["train_features"][:4]
    on_gpu = gpu_model.sample(to_device(features, "cuda"), max_length=5)
    np.testing.assert_array_equal(to_numpy(on_gpu), cpu_model.sample(features, 5))
    # host features, as the course's sampling cell passes them, are moved to the GPU
    np.testing.assert_array_equal(to_numpy(gpu_model.sample(features, 5)), to_numpy(on_gpu))

"""The configurable CNN: exact hand-set outputs, determinism, RC invariance, receptive field by perturbation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drg.errors import InputError
from drg.models import build, motif_kernels, receptive_window
from drg.models.config import ModelConfig

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def onehot(seq: str) -> torch.Tensor:
    x = torch.zeros(1, 4, len(seq))
    for i, base in enumerate(seq):
        x[0, CODE[base], i] = 1.0
    return x


def random_onehot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return torch.nn.functional.one_hot(idx, 4).transpose(1, 2).float()


def test_hand_set_model_counts_base_a():
    model = build({"input_length": 6, "first_layer": {"n_kernels": 1, "kernel_size": 1, "bias": False,
                                                       "activation": "none"},
                   "reduction": "mean", "heads": [{"n_outputs": 1}]}).eval()
    with torch.no_grad():
        model.first_layer.conv.set_kernels(torch.tensor([[[1.0], [0.0], [0.0], [0.0]]]))
        model.heads[0].linear.weight.fill_(2.0)
        model.heads[0].linear.bias.fill_(1.0)
    out = model(torch.cat([onehot("AACGTA"), onehot("CCCCCC")]))
    assert out.shape == (2, 1)
    assert out[:, 0].tolist() == [2.0, 1.0]  # 2 * (3/6) + 1 and 2 * 0 + 1


def test_hand_set_motif_detector_with_global_max():
    model = build({"input_length": 8, "first_layer": {"n_kernels": 1, "kernel_size": 2, "bias": True,
                                                       "activation": "relu", "pooling": {"size": "global"}},
                   "heads": [{"n_outputs": 1, "output_activation": "linear"}]}).eval()
    kernel = torch.zeros(1, 4, 2)
    kernel[0, CODE["C"], 0] = kernel[0, CODE["G"], 1] = 1.0
    with torch.no_grad():
        model.first_layer.conv.set_kernels(kernel)
        model.first_layer.conv.bias.fill_(-1.0)
        model.heads[0].linear.weight.fill_(1.0)
        model.heads[0].linear.bias.zero_()
    assert model(onehot("AACGTTTT")).item() == 1.0
    assert model(onehot("AACTTTTT")).item() == 0.0


def test_single_and_multi_head_outputs():
    one = build({"input_length": 20, "first_layer": {"n_kernels": 4, "kernel_size": 5},
                 "heads": [{"n_outputs": 3, "track_names": ["a", "b", "c"]}]})
    assert one(random_onehot(2, 20)).shape == (2, 3)
    assert one.output_names == ["a", "b", "c"] and one.n_outputs == [3]
    two = build({"input_length": 20, "first_layer": {"n_kernels": 4, "kernel_size": 5},
                 "heads": [{"name": "x", "n_outputs": 3}, {"name": "y", "n_outputs": 1, "fc_layers": 2, "fc_size": 8,
                                                           "output_activation": "softmax"}]})
    out = two(random_onehot(2, 20))
    assert isinstance(out, list) and [tuple(o.shape) for o in out] == [(2, 3), (2, 1)]
    assert two.output_names is None and two.n_outputs == [3, 1] and two.head_names == ["x", "y"]


def test_determinism_by_seed_and_untouched_global_rng():
    cfg = {"input_length": 30, "first_layer": {"n_kernels": 6, "kernel_size": 5}, "tower": {"n_layers": 2},
           "heads": [{"n_outputs": 2, "fc_layers": 1, "fc_size": 8}]}
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build(cfg), build(cfg)
    after = torch.rand(1)
    assert before == after
    c = build({**cfg, "seed": 1})
    for (key, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), key
    assert any(not torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))
    assert build(cfg, seed=1).state_dict()["first_layer.conv.weight"].equal(c.state_dict()["first_layer.conv.weight"])


@pytest.mark.parametrize("kernel_size", [7, 8])
@pytest.mark.parametrize("strand_pool", ["max", "mean", "softmax"])
def test_rc_first_layer_with_global_pooling_is_rc_invariant(kernel_size, strand_pool):
    model = build({"input_length": 41, "first_layer": {"n_kernels": 8, "kernel_size": kernel_size,
                                                        "reverse_complement": True, "strand_pool": strand_pool,
                                                        "pooling": {"mode": "max", "size": "global"}},
                   "heads": [{"n_outputs": 3, "fc_layers": 1, "fc_size": 16}]}).eval()
    x = random_onehot(4, 41, seed=kernel_size)
    torch.testing.assert_close(model(x), model(torch.flip(x, dims=(1, 2))), rtol=0, atol=1e-6)


def test_model_without_rc_is_not_rc_invariant():
    model = build({"input_length": 41, "first_layer": {"n_kernels": 8, "kernel_size": 7,
                                                        "pooling": {"mode": "max", "size": "global"}}}).eval()
    x = random_onehot(4, 41)
    assert not torch.allclose(model(x), model(torch.flip(x, dims=(1, 2))))


RF_CONFIGS = [
    {"first_layer": {"n_kernels": 4, "kernel_size": 5}},
    {"first_layer": {"n_kernels": 4, "kernel_size": 6, "reverse_complement": True, "strand_pool": "mean"}},
    {"first_layer": {"n_kernels": 4, "kernel_size": 4, "pooling": {"mode": "mean", "size": 3}},
     "tower": {"n_layers": 3, "kernel_size": [3, 4, 3], "dilations": [1, 2, 4], "pooling": {"mode": "mean", "size": 2},
               "pool_every": 2}},
    {"first_layer": {"n_kernels": 4, "kernel_size": 7, "reverse_complement": True,
                     "pooling": {"mode": "softmax", "size": 4}},
     "tower": {"n_layers": 2, "dilations": [2, 3], "residual_every": 1},
     "pooled_tower": {"n_layers": 2, "kernel_size": 2, "pooling": {"mode": "mean", "size": 2}}},
]


@pytest.mark.parametrize("config", RF_CONFIGS)
def test_receptive_field_by_perturbation(config):
    length = 97
    model = build({"input_length": length, **config}).eval()
    x = random_onehot(1, length, seed=3)
    with torch.no_grad():
        base = model.features(x)
    centre = base.shape[-1] // 2
    start, end = receptive_window(model, centre)
    assert 0 < start and end < length, "choose a length where the window lies inside the sequence"

    def changed(position: int) -> bool:
        y = x.clone()
        y[0, :, position] = torch.roll(y[0, :, position], 1)
        with torch.no_grad():
            return not torch.equal(model.features(y)[..., centre], base[..., centre])

    assert changed(start) and changed(end - 1)
    assert not changed(start - 1) and not changed(end)


@pytest.mark.parametrize("length", [50, 51, 64, 97])
@pytest.mark.parametrize("pool", [2, 3, 5])
def test_shape_arithmetic_matches_modules(length, pool):
    cfg = ModelConfig.from_dict({
        "input_length": length,
        "first_layer": {"n_kernels": 5, "kernel_size": 4, "pooling": {"mode": "max", "size": pool}},
        "tower": {"n_layers": 2, "growth": 1.5, "pooling": {"mode": "softmax", "size": 2}},
        "pooled_tower": {"n_layers": 1, "channels": 7, "pooling": {"mode": "mean_max", "size": 3}, "residual_every": 0},
    })
    model = build(cfg).eval()
    with torch.no_grad():
        features = model.features(random_onehot(2, length))
    expected = cfg.check_shapes()["pooled_tower"]
    assert tuple(features.shape[1:]) == expected == model.feature_shape
    l2 = math.ceil(math.ceil(math.ceil(length / pool) / 2) / 2)
    assert expected == (14, math.ceil(l2 / 3))


def test_pooling_to_nothing_is_an_error_naming_the_block():
    with pytest.raises(InputError, match="tower layer 2: pooling window 4 is longer than the incoming length 2"):
        build({"input_length": 30, "first_layer": {"pooling": {"size": 4}},
               "tower": {"n_layers": 3, "pooling": {"size": 4}}})
    with pytest.raises(InputError, match=r"first_layer: valid convolution .* = -4"):
        build({"input_length": 10, "first_layer": {"kernel_size": 15, "padding": "valid"}})


def test_valid_padding_and_wrong_inputs():
    model = build({"input_length": 20, "first_layer": {"n_kernels": 2, "kernel_size": 5, "padding": "valid"}})
    assert model.features(random_onehot(1, 20)).shape == (1, 2, 16)
    with pytest.raises(InputError, match="input length 20"):
        model(random_onehot(1, 21))
    with pytest.raises(InputError, match="expected input"):
        model(torch.zeros(1, 5, 20))
    pooled = build({"input_length": 20, "first_layer": {"n_kernels": 2, "kernel_size": 5}, "reduction": "max"})
    assert pooled(random_onehot(1, 33)).shape == (1, 1)


def _write_motifs(path, motifs):
    from drg.motifs import write_meme

    write_meme(motifs, path)
    return str(path)


def _motifs():
    from drg.motifs import Motif

    short = Motif.from_counts(np.array([[8, 1, 1, 0], [0, 9, 1, 0], [1, 1, 8, 0]], dtype=float), name="SHORT")
    long = Motif.from_counts(np.array([[3, 3, 2, 2], [10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0],
                                       [0, 0, 0, 10], [2, 3, 3, 2]], dtype=float), name="LONG", pseudocount=0.5)
    return short, long


def test_motif_kernels_centre_and_crop():
    short, long = _motifs()
    kernels = motif_kernels([short, long], 4)
    np.testing.assert_allclose(kernels[0, :, 0:3], short.pwm(0.1).T, rtol=1e-6)  # (4 - 3) // 2 = 0 offset
    assert np.all(kernels[0, :, 3] == 0)
    np.testing.assert_allclose(kernels[1], long.pwm(0.1)[1:5].T, rtol=1e-6)  # highest-IC window
    ic = motif_kernels([short], 7, scale="ic")
    ppm = short.ppm / short.ppm.sum(1, keepdims=True)
    np.testing.assert_allclose(ic[0, :, 2:5], (ppm * short.information_content[:, None]).T, rtol=1e-6)


@pytest.mark.parametrize("freeze", [False, True])
def test_pwm_initialisation_and_freezing(tmp_path, freeze):
    short, long = _motifs()
    path = _write_motifs(tmp_path / "m.meme", [short, long])
    cfg = {"input_length": 30, "first_layer": {"n_kernels": 5, "kernel_size": 5,
                                                "pwm_init": {"path": path, "motifs": ["LONG", "SHORT"],
                                                             "freeze": freeze}}}
    model = build(cfg)
    from drg.motifs import read_motifs

    short, long = read_motifs(path)  # as stored in the file
    conv = model.first_layer.conv
    kernels = conv.kernels().detach().numpy()
    np.testing.assert_allclose(kernels[0], motif_kernels([long], 5)[0], rtol=1e-6)
    np.testing.assert_allclose(kernels[1, :, 1:4], short.pwm(0.1).T, rtol=1e-6)
    assert conv.bias[:2].tolist() == [0.0, 0.0]
    assert kernels.shape == (5, 4, 5) and not np.allclose(kernels[2:], 0)
    model(random_onehot(3, 30)).sum().backward()
    if freeze:
        assert conv.frozen_weight.shape == (2, 4, 5) and not conv.frozen_weight.requires_grad
        assert conv.frozen_weight.grad is None and conv.weight.shape == (3, 4, 5)
        assert all(p is not conv.frozen_weight for p in model.parameters() if p.requires_grad)
    else:
        assert conv.frozen_weight is None and conv.weight.grad is not None


def test_pwm_errors(tmp_path):
    short, long = _motifs()
    path = _write_motifs(tmp_path / "m.meme", [short, long])
    with pytest.raises(InputError, match="not found"):
        build({"input_length": 30, "first_layer": {"pwm_init": {"path": path, "motifs": ["NOPE"]}}})
    with pytest.raises(InputError, match="2 motifs for 1"):
        build({"input_length": 30, "first_layer": {"n_kernels": 1, "pwm_init": {"path": path}}})


def test_attention_block_runs_and_sees_everything():
    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 5,
                                                        "pooling": {"size": 4}},
                   "attention": {"n_layers": 2, "n_heads": 2, "positional": "learned"}}).eval()
    x = random_onehot(2, 40)
    with torch.no_grad():
        base = model.features(x)
        y = x.clone()
        y[:, :, 0] = torch.roll(y[:, :, 0], 1, dims=1)
        moved = model.features(y)
    assert base.shape == (2, 8, 10)
    assert not torch.equal(moved[..., -1], base[..., -1])  # the last position sees the first base
    assert model.attention.layers[0].linear1.weight.data_ptr() != model.attention.layers[1].linear1.weight.data_ptr()
    assert not torch.equal(model.attention.layers[0].linear1.weight, model.attention.layers[1].linear1.weight)

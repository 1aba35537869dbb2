"""Layers of the configurable CNN: hand-set weights, brute-force twins of pooling, strand symmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drg.models.config import pool_length, pool_padding, same_padding
from drg.models.layers import ConvTower, FCTower, Pool1d, StrandConv1d, activation

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def onehot(seq: str) -> torch.Tensor:
    x = torch.zeros(1, 4, len(seq))
    for i, base in enumerate(seq):
        x[0, CODE[base], i] = 1.0
    return x


def rc(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=(1, 2))


@pytest.mark.parametrize(("k", "d", "expected"), [(1, 1, (0, 0)), (3, 1, (1, 1)), (4, 1, (1, 2)), (3, 2, (2, 2)),
                                                   (2, 3, (1, 2)), (15, 1, (7, 7))])
def test_same_padding_rule(k, d, expected):
    assert same_padding(k, d) == expected
    assert sum(expected) == d * (k - 1)


def test_identity_kernel_of_base_a():
    conv = StrandConv1d(4, 1, 3, bias=False, padding=same_padding(3))
    kernel = torch.zeros(1, 4, 3)
    kernel[0, 0, 1] = 1.0
    conv.set_kernels(kernel)
    x = onehot("ACGTAAGA")
    assert conv(x)[0, 0].tolist() == [1, 0, 0, 0, 1, 1, 0, 1]


def test_even_kernel_reads_to_the_right():
    conv = StrandConv1d(4, 1, 2, bias=True, padding=same_padding(2))
    kernel = torch.zeros(1, 4, 2)
    kernel[0, CODE["A"], 0] = 1.0
    kernel[0, CODE["C"], 1] = 1.0
    conv.set_kernels(kernel)
    with torch.no_grad():
        conv.bias.fill_(-0.5)
    # position i reads bases i and i + 1 (padding (0, 1))
    assert conv(onehot("ACGTAC"))[0, 0].tolist() == [1.5, -0.5, -0.5, -0.5, 1.5, -0.5]


def test_reverse_complement_scores_the_other_strand():
    conv = StrandConv1d(4, 1, 2, bias=False, padding=(0, 0), reverse_complement=True, strand_pool="max")
    kernel = torch.zeros(1, 4, 2)
    kernel[0, CODE["G"], 0] = 1.0
    kernel[0, CODE["T"], 1] = 1.0  # GT on the reverse strand is AC on the forward strand
    conv.set_kernels(kernel)
    assert conv(onehot("ACGGG"))[0, 0].tolist() == [2.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("pool", ["max", "mean", "softmax"])
@pytest.mark.parametrize("k", [3, 4, 7])
def test_rc_strand_pool_output_mirrors(pool, k):
    torch.manual_seed(0)
    conv = StrandConv1d(4, 6, k, padding=same_padding(k), reverse_complement=True, strand_pool=pool)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 31)), 4).transpose(1, 2).float()
    torch.testing.assert_close(conv(rc(x)), conv(x).flip(-1), rtol=0, atol=1e-5)


def test_softmax_strand_pool_formula():
    torch.manual_seed(1)
    conv = StrandConv1d(4, 2, 3, padding=(1, 1), reverse_complement=True, strand_pool="softmax")
    x = torch.rand(2, 4, 9)
    f = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (1, 1)), conv.kernels(), conv.bias)
    r = torch.nn.functional.conv1d(torch.nn.functional.pad(rc(x), (1, 1)), conv.kernels(), conv.bias).flip(-1)
    wf = torch.exp(f) / (torch.exp(f) + torch.exp(r))
    torch.testing.assert_close(conv(x), wf * f + (1 - wf) * r)


def _brute_pool(x: np.ndarray, mode: str, size: int, stride: int, fill=None) -> np.ndarray:
    n, c, length = x.shape
    pad = math.ceil((size - length % stride) / 2) if length % stride else 0
    out_len = (length + 2 * pad - size) // stride + 1
    out = np.zeros((n, c, out_len))
    for i in range(out_len):
        lo = i * stride - pad
        idx = [j for j in range(lo, lo + size) if 0 <= j < length]
        window = x[..., idx]
        if mode == "max":
            value = window.max(-1)
        elif mode == "mean":
            value = window.mean(-1)
        else:
            if fill is not None:
                n_pad = size - len(idx)
                window = np.concatenate([window, np.full((n, c, n_pad), fill)], axis=-1)
            w = np.exp(window - window.max(-1, keepdims=True))
            w /= w.sum(-1, keepdims=True)
            value = (window * w).sum(-1)
        out[..., i] = value
    return out


@pytest.mark.parametrize("mode", ["max", "mean", "softmax"])
@pytest.mark.parametrize(("length", "size", "stride"), [(10, 4, 4), (9, 4, 4), (12, 3, 3), (13, 2, 2), (5, 5, 5),
                                                          (11, 5, 2), (7, 3, 1)])
def test_pooling_matches_brute_force(mode, length, size, stride):
    if mode == "softmax" and stride != size:
        pytest.skip("softmax pooling uses stride == size")
    rng = np.random.default_rng(length * size)
    x = rng.normal(size=(2, 3, length))
    pool = Pool1d(mode, size, stride)
    got = pool(torch.from_numpy(x)).numpy()
    assert got.shape[-1] == pool.out_length(length) == pool_length(length, size, stride)
    np.testing.assert_allclose(got, _brute_pool(x, mode, size, stride), atol=1e-10)


@pytest.mark.parametrize(("length", "size"), [(10, 4), (9, 4), (11, 3)])
def test_softmax_pool_batch_min_padding(length, size):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 2, length))
    got = Pool1d("softmax", size, softmax_padding="batch_min")(torch.from_numpy(x)).numpy()
    pad = pool_padding(length, size, size)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad)), constant_values=x.min())
    n_windows = padded.shape[-1] // size
    windows = padded[..., : n_windows * size].reshape(2, 2, n_windows, size)
    w = np.exp(windows) / np.exp(windows).sum(-1, keepdims=True)
    np.testing.assert_allclose(got, (windows * w).sum(-1), atol=1e-10)


@pytest.mark.parametrize(("length", "size", "expected"), [(10, 4, 3), (12, 4, 3), (9, 4, 3), (1, 1, 1), (101, 2, 51),
                                                            (100, 2, 50), (7, 7, 1), (8, 7, 2)])
def test_pool_length_is_ceil(length, size, expected):
    assert pool_length(length, size, size) == expected == math.ceil(length / size)
    assert Pool1d("max", size)(torch.zeros(1, 1, length)).shape[-1] == expected


def test_mean_max_and_global():
    x = torch.tensor([[[1.0, 3.0, 2.0, 6.0]]])
    assert Pool1d("mean_max", 2)(x).tolist() == [[[2.0, 4.0], [3.0, 6.0]]]
    assert Pool1d("max", None)(x).tolist() == [[[6.0]]]
    assert Pool1d("mean", None)(x).tolist() == [[[3.0]]]
    w = torch.softmax(x, -1)
    torch.testing.assert_close(Pool1d("softmax", None)(x), (x * w).sum(-1, keepdim=True))


def test_shortcut_max_pool_pads_with_zero():
    x = -torch.ones(1, 1, 3)
    assert Pool1d("max", 2)(x).tolist() == [[[-1.0, -1.0]]]
    assert Pool1d("max", 2, max_pad_value=0.0)(x).tolist() == [[[0.0, -1.0]]]


def _tower(residual_from="sum", pooling=None, channels=(3, 3), batch_norm=False):
    return ConvTower(3, list(channels), [3, 3], [1, 2], bias=True, activation_name="gelu", preactivation=True,
                     batch_norm=batch_norm, dropout=0.0, residual_every=1, residual_from=residual_from,
                     pool_every=1, pooling=pooling)


def test_tower_with_zero_convolutions_is_identity_through_shortcuts():
    tower = _tower()
    for layer in tower.layers:
        torch.nn.init.zeros_(layer.conv.weight)
        torch.nn.init.zeros_(layer.conv.bias)
    x = torch.randn(2, 3, 11)
    torch.testing.assert_close(tower(x), x)


@pytest.mark.parametrize("residual_from", ["sum", "conv"])
def test_tower_matches_explicit_computation(residual_from):
    torch.manual_seed(5)
    tower = _tower(residual_from, pooling={"mode": "max", "size": 2}, channels=(4, 4))
    x = torch.randn(2, 3, 9)
    gelu = torch.nn.functional.gelu
    l0, l1 = tower.layers
    c0 = l0.conv(torch.nn.functional.pad(gelu(x), (1, 1)))
    y0 = c0 + l0.shortcut.project(x)
    p0 = torch.nn.functional.max_pool1d(y0, 2, 2, padding=1)
    c1 = l1.conv(torch.nn.functional.pad(gelu(p0), (2, 2)))
    res = y0 if residual_from == "sum" else c0
    short = torch.nn.functional.max_pool1d(torch.nn.functional.pad(res, (1, 1)), 2, 2)  # zero-padded max
    expected = torch.nn.functional.max_pool1d(c1 + short, 2, 2, padding=1)
    torch.testing.assert_close(tower(x), expected)


@pytest.mark.parametrize(("n_layers", "widths"), [(1, [100]), (2, [110, 100]), (3, [110, 110, 100]),
                                                  (4, [110, 121, 109, 100])])
def test_fc_width_schedule(n_layers, widths):
    fc = FCTower(37, n_layers=n_layers, size=100, projection=True, widening=1.1, residual_every=0,
                 activation_name="relu", batch_norm=False, dropout=0.0)
    assert [b.linear.out_features for b in fc.layers] == widths
    assert fc.projection.in_features == 37 and fc.out_features == 100


def test_activation_names():
    x = torch.linspace(-2, 2, 5)
    torch.testing.assert_close(activation("exponential")(x), torch.exp(x))
    torch.testing.assert_close(activation("none")(x), x)
    torch.testing.assert_close(activation("softplus")(x), torch.nn.functional.softplus(x))

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from drg.attribution import attribute
from drg.attribution._receptive import ReceptiveFieldISM, Unsupported
from drg.attribution.mutagenesis import saturation_mutagenesis
from drg.errors import DRGWarning

from ._toy import EdgeCNN, LinearConv, SmallCNN, TwoInputs, brute_ism, make, one_hot

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _all_edits_fast(model, x):
    """Every edit through the receptive-field engine directly (no fallback possible)."""
    engine = ReceptiveFieldISM(model)
    xt = torch.from_numpy(x)
    y0 = engine.prepare(xt)
    n, c, length = x.shape
    seq, base, pos = torch.meshgrid(torch.arange(n), torch.arange(c), torch.arange(length), indexing="ij")
    seq, base, pos = seq.reshape(-1), base.reshape(-1), pos.reshape(-1)
    y = engine.predict_edits(seq, pos, base)
    out = np.zeros((n, y.shape[1], c, length), dtype=np.float32)
    out[seq.numpy(), :, base.numpy(), pos.numpy()] = (y - y0[seq]).numpy()
    return out


@pytest.mark.parametrize(
    "factory,length",
    [
        (lambda L: make(SmallCNN), 31),  # pooled length not a multiple of the pool size
        (lambda L: make(SmallCNN, 3, 6, 4), 40),
        (lambda L: make(EdgeCNN, L), 37),  # even 'same' kernel, BN, padded/strided pool, valid conv, flatten head
        (lambda L: make(EdgeCNN, L, seed=3), 16),
        (lambda L: make(LinearConv), 9),
    ],
)
def test_receptive_field_engine_equals_brute_force(factory, length):
    model = factory(length)
    x = one_hot(3, length, seed=length)
    brute = brute_ism(model, x)
    np.testing.assert_allclose(_all_edits_fast(model, x), brute, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DRGWarning)
        got = saturation_mutagenesis(model, x, fast=True, device="cpu", batch_size=37)
    np.testing.assert_allclose(got, brute, atol=1e-5)


def test_raw_is_zero_at_reference_and_matches_brute_force():
    model = make(SmallCNN)
    x = one_hot(4, 30, seed=7)
    got = attribute(model, x, "ism", gauge="raw", device="cpu")
    assert got.shape == (4, 4, 4, 30)
    assert np.all(got[np.broadcast_to(x[:, None] == 1, got.shape)] == 0)
    np.testing.assert_allclose(got, brute_ism(model, x), atol=1e-5)
    np.testing.assert_allclose(saturation_mutagenesis(model, x, fast=False, device="cpu"), got, atol=1e-5)


def test_corrected_is_mean_centred():
    model = make(SmallCNN)
    x = one_hot(2, 25, seed=8)
    raw = attribute(model, x, "ism", gauge="raw", device="cpu")
    cor = attribute(model, x, "ism", gauge="corrected", device="cpu")
    np.testing.assert_allclose(cor, raw - raw.mean(2, keepdims=True), atol=1e-6)


def test_window_and_batch_size():
    model = make(SmallCNN)
    x = one_hot(3, 33, seed=9)
    full = saturation_mutagenesis(model, x, device="cpu")
    part = saturation_mutagenesis(model, x, start=5, end=-3, batch_size=7, device="cpu")
    np.testing.assert_allclose(part[..., 5:30], full[..., 5:30], atol=1e-6)
    assert np.all(part[..., :5] == 0) and np.all(part[..., 30:] == 0)
    np.testing.assert_allclose(saturation_mutagenesis(model, x, batch_size=5, fast=False, device="cpu"), full,
                               atol=1e-5)


def test_non_one_hot_column_gets_all_four_edits():
    model = make(SmallCNN)
    x = one_hot(1, 20, seed=10)
    x[0, :, 4] = 0  # an N
    got = saturation_mutagenesis(model, x, device="cpu")
    xe = np.repeat(x, 4, 0)
    xe[np.arange(4), np.arange(4), 4] = 1
    with torch.no_grad():
        want = (model(torch.from_numpy(xe)) - model(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(got[0, :, :, 4], want.T, atol=1e-5)


class Strided(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 3, 4, stride=2)
        self.dense = nn.Linear(3, 2)

    def forward(self, x):
        return self.dense(torch.relu(self.conv(x)).amax(-1))


def test_unsupported_models_fall_back_exactly():
    model = make(Strided)
    with pytest.raises(Unsupported):
        ReceptiveFieldISM(model)
    x = one_hot(2, 15, seed=11)
    with pytest.warns(DRGWarning):
        got = saturation_mutagenesis(model, x, fast=True, device="cpu")
    np.testing.assert_allclose(got, brute_ism(model, x), atol=1e-5)


def test_multi_input_ism_mutates_each_input():
    model = make(TwoInputs)
    x1, x2 = one_hot(2, 12, seed=1), one_hot(2, 10, seed=2)
    d1, d2 = saturation_mutagenesis(model, [x1, x2], tracks=[1], device="cpu")
    assert d1.shape == (2, 1, 4, 12) and d2.shape == (2, 1, 4, 10)
    t1, t2 = torch.from_numpy(x1), torch.from_numpy(x2)
    with torch.no_grad():
        y0 = model(t1, t2)[:, 1]
        e = t2.clone()
        e[1, :, 7] = torch.tensor([0.0, 0.0, 0.0, 1.0]) if x2[1, 3, 7] == 0 else torch.tensor([1.0, 0.0, 0.0, 0.0])
        base = int(e[1, :, 7].argmax())
        want = model(t1, e)[1, 1] - y0[1]
    np.testing.assert_allclose(d2[1, 0, base, 7], want.item(), atol=1e-6)

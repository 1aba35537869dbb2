from __future__ import annotations

import numpy as np
import torch

from drg.attribution import attribute

from ._toy import Linear, LinearConv, SmallCNN, brute_ism, make, one_hot


def test_tism_equals_finite_difference_on_linear_model():
    model = make(Linear, 12)
    x = one_hot(2, 12, seed=1)
    tism = attribute(model, x, "tism", gauge="raw", device="cpu")
    eps = 1e-2
    xt = torch.from_numpy(x).double()
    w, b = model.weight.detach().double(), model.bias.detach().double()

    def f(z):
        return torch.einsum("ncl,tcl->nt", z, w) + b

    ref = x.argmax(1)
    for i in range(2):
        for pos in range(12):
            for base in range(4):
                step = torch.zeros_like(xt[i])
                step[base, pos] += eps
                step[ref[i, pos], pos] -= eps
                fd = (f(xt[i : i + 1] + step) - f(xt[i : i + 1])) / eps
                np.testing.assert_allclose(tism[i, :, base, pos], fd[0].numpy(), atol=1e-5)


def test_tism_equals_ism_on_model_linear_in_input():
    model = make(LinearConv)
    x = one_hot(3, 25, seed=2)
    tism = attribute(model, x, "tism", gauge="raw", device="cpu")
    ism = attribute(model, x, "ism", gauge="raw", device="cpu")
    np.testing.assert_allclose(tism, ism, atol=1e-5)
    np.testing.assert_allclose(ism, brute_ism(model, x), atol=1e-5)
    assert np.abs(tism).max() > 1e-2


def test_multi_track_tism_equals_per_track():
    model = make(SmallCNN)
    x = one_hot(4, 45, seed=3)
    allt = attribute(model, x, "tism", gauge="raw", device="cpu")
    for t in range(4):
        np.testing.assert_allclose(allt[:, t], attribute(model, x, "tism", tracks=t, gauge="raw", device="cpu")[:, 0],
                                   atol=1e-6)
    assert np.all((allt * x[:, None]).sum(2) == 0)


def test_tism_gauges_follow_gradient_gauges():
    model = make(SmallCNN)
    x = one_hot(2, 30, seed=5)
    np.testing.assert_allclose(attribute(model, x, "tism", gauge="corrected", device="cpu"),
                               attribute(model, x, "gradient", gauge="corrected", device="cpu"), atol=1e-6)
    np.testing.assert_allclose(attribute(model, x, "tism", gauge="hypothetical", device="cpu"),
                               attribute(model, x, "gradient", gauge="hypothetical", device="cpu"), atol=1e-6)

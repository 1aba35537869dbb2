"""Integrated gradients, expected gradients and SmoothGrad."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from drg.attribution.integrated import (
    expected_integrated_gradients,
    integrated_gradients,
    smoothgrad,
)
from drg.errors import DRGWarning, InputError


def one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    return x


def net(seed=0, length=24):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, 8, 5, padding=2), nn.GELU(), nn.Flatten(), nn.Linear(8 * length, 3)).eval()


def grad(model, X, t):
    Xt = torch.from_numpy(X).requires_grad_(True)
    (g,) = torch.autograd.grad(model(Xt)[:, t].sum(), Xt)
    return g.numpy()


def predict(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy().astype(np.float64)


def test_ig_completeness_and_brute_force():
    model, X = net(), one_hot(3, 24, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DRGWarning)
        ig = integrated_gradients(model, X, [0, 2], n_steps=200, baseline="uniform", batch_size=33)
    x0 = np.full_like(X, 0.25)
    np.testing.assert_allclose(ig.sum(axis=(2, 3)), (predict(model, X) - predict(model, x0))[:, [0, 2]], atol=1e-4)
    # brute force trapezoid with 5 points
    ig5 = integrated_gradients(model, X, [2], n_steps=5, baseline="uniform", warn_threshold=1.0)
    alphas, w = np.linspace(0, 1, 5), np.array([0.5, 1, 1, 1, 0.5]) / 4
    g = sum(wk * grad(model, (x0 + a * (X - x0)).astype(np.float32), 2) for a, wk in zip(alphas, w))
    np.testing.assert_allclose(ig5[:, 0], g * (X - x0), atol=1e-6)


def test_ig_gauges_and_linear_model():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(4 * 10, 2)).eval()
    X = one_hot(2, 10)
    W = lin[1].weight.detach().numpy().reshape(2, 4, 10)
    ig = integrated_gradients(lin, X, None, n_steps=2, baseline="zero")
    np.testing.assert_allclose(ig, W[None] * X[:, None], atol=1e-6)
    x0 = np.full((4, 10), 0.25, dtype=np.float32)
    hyp = integrated_gradients(lin, X, None, n_steps=2, baseline=x0, gauge="hypothetical")
    np.testing.assert_allclose(hyp, np.broadcast_to(W - (W * 0.25).sum(1, keepdims=True), hyp.shape), atol=1e-6)
    np.testing.assert_allclose(integrated_gradients(lin, X, None, n_steps=3, gauge="local"),
                               np.broadcast_to(W, (2, 2, 4, 10)), atol=1e-6)


def test_ig_matches_captum_up_to_its_step_weights():
    captum = pytest.importorskip("captum.attr")
    model, X = net(2), one_hot(2, 24, seed=3)
    ours = integrated_gradients(model, X, [1], n_steps=20, baseline="zero", warn_threshold=1.0)
    theirs = captum.IntegratedGradients(model).attribute(torch.from_numpy(X), torch.zeros(2, 4, 24), target=1,
                                                         n_steps=20, method="riemann_trapezoid")
    np.testing.assert_allclose(ours[:, 0], theirs.detach().numpy() * 20 / 19, atol=1e-6)


def test_ig_warns_when_steps_too_few():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.Softplus(beta=20), nn.Flatten(),
                          nn.Linear(4 * 12, 1)).eval()
    with torch.no_grad():
        model[0].weight.mul_(20)
    with pytest.warns(DRGWarning, match="completeness"):
        integrated_gradients(model, one_hot(2, 12), None, n_steps=2, baseline="uniform")


def test_smoothgrad_sigma_zero_is_gradient_and_seeded():
    model, X = net(), one_hot(3, 24, seed=4)
    s0 = smoothgrad(model, X, [0, 1], n_samples=3, sigma=0.0)
    for t in (0, 1):
        np.testing.assert_allclose(s0[:, t], grad(model, X, t), atol=1e-6)
    a = smoothgrad(model, X, [1], n_samples=4, sigma=0.3, seed=1, batch_size=3)
    b = smoothgrad(model, X, [1], n_samples=4, sigma=0.3, seed=1, batch_size=100)
    c = smoothgrad(model, X, [1], n_samples=4, sigma=0.3, seed=2)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(a - c).max() > 1e-4
    # brute force with the documented noise stream
    base = np.random.SeedSequence(1).entropy
    gs = []
    for i in range(3):
        noise = np.random.default_rng([base, i]).standard_normal((4, 4, 24), dtype=np.float32) * np.float32(0.3)
        gs.append(grad(model, X[i] + noise, 1).mean(0))
    np.testing.assert_allclose(a[:, 0], np.stack(gs), atol=1e-5)
    corrected = smoothgrad(model, X, [1], n_samples=4, sigma=0.3, seed=1, gauge="corrected")
    np.testing.assert_allclose(corrected, a - a.mean(2, keepdims=True), atol=1e-6)


def test_expected_gradients():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(4 * 16, 2)).eval()
    X = one_hot(3, 16, seed=5)
    R = np.stack([one_hot(3, 16, seed=s) for s in (10, 11)], axis=1)
    eg = expected_integrated_gradients(lin, X, None, baseline=R, n_samples=4)
    W = lin[1].weight.detach().numpy().reshape(2, 4, 16)
    # linear model: every path gradient is W, samples cycle over the two references
    target = W[None] * (X[:, None] - R.mean(1)[:, None])
    np.testing.assert_allclose(eg, target, atol=1e-5)
    eg1 = expected_integrated_gradients(net(length=16), X, [0], n_samples=3, seed=0)
    eg2 = expected_integrated_gradients(net(length=16), X, [0], n_samples=3, seed=0, batch_size=2)
    np.testing.assert_allclose(eg1, eg2, atol=1e-6)


def test_bad_arguments():
    model, X = net(), one_hot(1, 24)
    for kwargs in ({"n_steps": 1}, {"baseline": "median"}, {"baseline": np.zeros((3, 24))}, {"gauge": "raw"}):
        with pytest.raises(InputError):
            integrated_gradients(model, X, None, **kwargs)
    with pytest.raises(InputError):
        smoothgrad(model, X, None, sigma=-1)

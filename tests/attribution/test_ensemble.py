"""Ensembles of models and MC dropout."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from drg.attribution.ensemble import ensemble_attribute, fixed_dropout


def one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    return x


def net(seed, p=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, 6, 3, padding=1), nn.ReLU(), nn.Dropout(p), nn.Flatten(),
                         nn.Linear(6 * 12, 2)).eval()


def grad(model, X):
    Xt = torch.from_numpy(X).requires_grad_(True)
    (g,) = torch.autograd.grad(model(Xt)[:, 1].sum(), Xt)
    return g.numpy()


def test_identical_models_have_zero_std():
    m = net(0)
    X = one_hot(3, 12)
    res = ensemble_attribute([m, copy.deepcopy(m), copy.deepcopy(m)], X, "gradient", tracks=[1], gauge="local")
    assert res.n == 3
    np.testing.assert_allclose(res.std, 0, atol=1e-7)
    np.testing.assert_allclose(res.mean[:, 0], grad(m, X), atol=1e-6)


def test_mean_and_std_over_folds():
    models = [net(s) for s in range(3)]
    X = one_hot(2, 12, seed=1)
    res = ensemble_attribute(models, X, "gradient", tracks=[1], gauge="local")
    grads = np.stack([grad(m, X) for m in models])
    np.testing.assert_allclose(res.mean[:, 0], grads.mean(0), atol=1e-6)
    np.testing.assert_allclose(res.std[:, 0], grads.std(0), atol=1e-6)


def test_mc_dropout_fixed_masks():
    m = net(0, p=0.5)
    X = one_hot(3, 12, seed=2)
    res = ensemble_attribute(m, X, "gradient", tracks=[1], gauge="local", mc_dropout=4, seed=0)
    assert res.n == 4 and res.std.max() > 0
    again = ensemble_attribute(m, X, "gradient", tracks=[1], gauge="local", mc_dropout=4, seed=0)
    np.testing.assert_array_equal(res.mean, again.mean)
    assert not m.training and not m[2]._forward_hooks
    # one mask per sample: the same for every example and forward pass; kept units scaled by 1/(1-p)
    with fixed_dropout(m, 7), torch.no_grad():
        h = torch.ones(2, 6, 12)
        a, b = m[2](h), m[2](h)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[0], a[1])
    assert set(torch.unique(a).tolist()) <= {0.0, 2.0}
    # DeepLIFT under a fixed mask still converges (x and references see the same thinned network)
    res = ensemble_attribute(m, X, "deeplift_shap", tracks=[1], gauge="global", mc_dropout=2, n_shuffles=3)
    assert np.isfinite(res.mean).all()

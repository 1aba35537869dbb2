"""DeepLIFT/DeepSHAP: convergence, equality to tangermeme's implementation, gauges, references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from drg.attribution.deeplift import deeplift_shap, make_references
from drg.errors import DRGWarning, InputError


def one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    return x


class Net(nn.Module):
    """conv -> act -> max pool -> conv -> act -> (residual) -> linear: every nonlinearity is a module."""

    def __init__(self, act=nn.ReLU, length=30, pool=3, tracks=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.c1 = nn.Conv1d(4, 8, 5, padding=2)
        self.a1 = act()
        self.pool = nn.MaxPool1d(pool)
        self.c2 = nn.Conv1d(8, 8, 3, padding=1)
        self.a2 = act()
        self.lin = nn.Linear(8 * (length // pool), tracks)

    def forward(self, x):
        h = self.pool(self.a1(self.c1(x)))
        h = h + self.a2(self.c2(h))
        return self.lin(h.flatten(1))


def predict(model, x):
    with torch.no_grad():
        return model(torch.as_tensor(x)).numpy().astype(np.float64)


ACTS = [nn.ReLU, nn.GELU, nn.ELU, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.SiLU]


@pytest.mark.parametrize("act", ACTS, ids=lambda a: a.__name__)
def test_convergence_per_reference(act):
    model = Net(act).eval()
    X = one_hot(4, 30, seed=1)
    R = make_references(X, "shuffle", 3, seed=2)
    # With one reference at a time, the contributions sum exactly to f(x) - f(r).
    for j in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DRGWarning)
            attr = deeplift_shap(model, X, None, references=R[:, j:j + 1], gauge="input", batch_size=5)
        diff = predict(model, X) - predict(model, R[:, j])
        np.testing.assert_allclose(attr.sum(axis=(2, 3)), diff, atol=2e-5)


def test_average_over_references_and_global_gauge():
    model = Net(nn.GELU).eval()
    X = one_hot(3, 30, seed=3)
    R = make_references(X, "shuffle", 4, seed=0)
    hyp = deeplift_shap(model, X, [0, 2], references=R)
    glob = deeplift_shap(model, X, [0, 2], references=R, gauge="global")
    target = predict(model, X)[:, [0, 2]] - np.stack([predict(model, R[:, j]) for j in range(4)]).mean(0)[:, [0, 2]]
    np.testing.assert_allclose(glob.sum(axis=(2, 3)), target, atol=2e-5)
    np.testing.assert_allclose((hyp * X[:, None]).sum(axis=(2, 3)), target, atol=2e-5)
    # the average of per-reference runs
    single = np.mean([deeplift_shap(model, X, [0, 2], references=R[:, j:j + 1]) for j in range(4)], axis=0)
    np.testing.assert_allclose(hyp, single, atol=1e-6)


def test_linear_model_equals_gradient_times_difference():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding=1), nn.Flatten(), nn.Linear(6 * 20, 2)).eval()
    X = one_hot(2, 20)
    attr = deeplift_shap(model, X, [1], references="uniform", gauge="local")
    Xt = torch.from_numpy(X).requires_grad_(True)
    (g,) = torch.autograd.grad(model(Xt)[:, 1].sum(), Xt)
    np.testing.assert_allclose(attr[:, 0], g.numpy(), atol=1e-6)
    corrected = deeplift_shap(model, X, [1], references="uniform", gauge="corrected")
    np.testing.assert_allclose(corrected[:, 0], g.numpy() - g.numpy().mean(1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("act", [nn.ReLU, nn.GELU, nn.ELU, nn.Tanh], ids=lambda a: a.__name__)
def test_equals_tangermeme(act):
    tdls = pytest.importorskip("tangermeme.deep_lift_shap")
    model = Net(act, seed=4).eval()
    X = one_hot(5, 30, seed=5)
    R = make_references(X, "shuffle", 6, seed=1)
    ours = deeplift_shap(model, X, [0, 1], references=R, batch_size=7)
    for k in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = tdls.deep_lift_shap(model, torch.from_numpy(X), target=k, references=torch.from_numpy(R),
                                         hypothetical=True, device="cpu").numpy()
        np.testing.assert_allclose(ours[:, k], theirs, atol=1e-6)
    inp = deeplift_shap(model, X, [0], references=R, gauge="input")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = tdls.deep_lift_shap(model, torch.from_numpy(X), target=0, references=torch.from_numpy(R),
                                     hypothetical=False, device="cpu").numpy()
    np.testing.assert_allclose(inp[:, 0], theirs, atol=1e-6)


def test_batching_does_not_change_results():
    model = Net(nn.GELU).eval()
    X = one_hot(5, 30, seed=6)
    a = deeplift_shap(model, X, None, n_shuffles=5, seed=3, batch_size=2)
    b = deeplift_shap(model, X, None, n_shuffles=5, seed=3, batch_size=64)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_unruled_nonlinearity_warns():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.c = nn.Conv1d(4, 4, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.c(x)).pow(2).sum(dim=(1, 2))[:, None]

    X = one_hot(3, 20, seed=7)
    with pytest.warns(DRGWarning, match="examples do not converge"):
        deeplift_shap(Functional(), X, None, n_shuffles=3)


def test_model_state_is_restored_and_inputs_checked():
    model = Net(nn.ReLU).train()
    X = one_hot(2, 30)
    deeplift_shap(model, X, [0], n_shuffles=2)
    assert model.training and "forward" not in model.a1.__dict__
    with pytest.raises(InputError):
        deeplift_shap(model, X[:, :3], [0])
    with pytest.raises(InputError):
        deeplift_shap(model, X, [5])
    with pytest.raises(InputError):
        deeplift_shap(model, X, [0], gauge="tism")
    with pytest.raises(InputError):
        make_references(X, np.zeros((3, 2, 4, 30)))


def test_shuffle_references_keep_composition():
    X = one_hot(2, 40, seed=8)
    R = make_references(X, "shuffle", 3, seed=0)
    assert R.shape == (2, 3, 4, 40)
    np.testing.assert_array_equal(R.sum(-1), np.repeat(X.sum(-1)[:, None], 3, axis=1))


def test_drg_max_pool_module_gets_the_pooling_rule():
    from drg.models.layers import Pool1d

    class DRGNet(nn.Module):
        def __init__(self, pool):
            super().__init__()
            torch.manual_seed(3)
            self.c1 = nn.Conv1d(4, 6, 5, padding=2)
            self.a1 = nn.ReLU()
            self.pool = pool
            self.lin = nn.LazyLinear(2)

        def forward(self, x):
            return self.lin(self.pool(self.a1(self.c1(x))).flatten(1))

    X = one_hot(3, 31, seed=9)
    R = make_references(X, "shuffle", 3, seed=0)
    drg_model = DRGNet(Pool1d("max", 4)).eval()
    drg_model(torch.from_numpy(X))
    # DRG pads ceil((4 - 31 % 4) / 2) = 1 position on both sides
    torch_model = copy_with_pool(drg_model, nn.MaxPool1d(4, 4, padding=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DRGWarning)
        a = deeplift_shap(drg_model, X, None, references=R)
    np.testing.assert_allclose(a, deeplift_shap(torch_model, X, None, references=R), atol=1e-6)
    global_model = DRGNet(Pool1d("max", None)).eval()
    global_model(torch.from_numpy(X))
    glob = deeplift_shap(global_model, X, None, references=R[:, :1], gauge="global")
    diff = predict(global_model, X) - predict(global_model, R[:, 0])
    np.testing.assert_allclose(glob.sum(axis=(2, 3)), diff, atol=1e-5)


def copy_with_pool(model, pool):
    import copy

    other = copy.deepcopy(model)
    other.pool = pool
    return other

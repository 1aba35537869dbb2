"""Loss functions against hand-computed values and torch/scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from drg.errors import InputError
from drg.training.losses import LOSS_NAMES, get_loss, pairwise_difference_mse, pearson_r


def _pair(n=6, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(n, t, generator=g, dtype=torch.float64)
    target = pred + 0.7 * torch.randn(n, t, generator=g, dtype=torch.float64)
    return pred, target


def test_mse_hand_computed():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert get_loss("mse")(pred, target).item() == pytest.approx((0 + 4 + 9 + 0) / 4)


def test_poisson_matches_formula():
    pred = torch.tensor([[0.1, -0.5], [1.0, 0.3]], dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0], [3.0, 2.0]], dtype=torch.float64)
    expected = (torch.exp(pred) - target * pred).mean().item()
    assert get_loss("poisson")(pred, target).item() == pytest.approx(expected)
    rate = torch.exp(pred)
    assert get_loss("poisson", log_input=False)(rate, target).item() == pytest.approx(expected, rel=1e-6)


def test_pearson_tracks_and_regions_equal_scipy():
    pred, target = _pair()
    p, t = pred.numpy(), target.numpy()
    per_region = [stats.pearsonr(p[i], t[i])[0] for i in range(p.shape[0])]
    per_track = [stats.pearsonr(p[:, j], t[:, j])[0] for j in range(p.shape[1])]
    assert get_loss("pearson_tracks", eps=0.0)(pred, target).item() == pytest.approx(1 - np.mean(per_region))
    assert get_loss("pearson_regions", eps=0.0)(pred, target).item() == pytest.approx(1 - np.mean(per_track))
    np.testing.assert_allclose(pearson_r(pred, target, dim=1, eps=0.0).numpy(), per_region, rtol=1e-10)


def test_correlation_mse_is_drg_mixture():
    pred, target = _pair(seed=1)
    r = np.array([stats.pearsonr(a, b)[0] for a, b in zip(pred.numpy(), target.numpy(), strict=True)])
    mse = ((pred - target) ** 2).mean().item()
    expected = 0.95 * np.mean(1 - r) + 0.05 * mse
    assert get_loss("correlation_mse", eps=0.0)(pred, target).item() == pytest.approx(expected)
    # DRG alias, and the element-wise formulation DRG uses (reduction='none' then mean) gives the same value
    drg = get_loss("Correlationmse", eps=0.0)(pred, target).item()
    elementwise = (0.95 * (1 - torch.as_tensor(r))[:, None].expand_as(pred) + 0.05 * (pred - target) ** 2).mean()
    assert drg == pytest.approx(elementwise.item())
    assert get_loss("MSECorrelation").dim == "regions"


def test_cosine_hand_computed():
    pred = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    target = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    # region 1: orthogonal -> 1; region 2: parallel -> 0
    assert get_loss("cosine", eps=0.0)(pred, target).item() == pytest.approx(0.5)


def test_bce_and_ce_equal_torch():
    pred, _ = _pair()
    labels = (torch.rand(pred.shape, generator=torch.Generator().manual_seed(3)) > 0.5).double()
    assert get_loss("bce")(pred, labels).item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(pred, labels).item())
    manual = -(labels * torch.log(torch.sigmoid(pred)) + (1 - labels) * torch.log(1 - torch.sigmoid(pred)))
    assert get_loss("bce")(pred, labels).item() == pytest.approx(manual.mean().item())
    classes = torch.tensor([0, 4, 2, 1, 3, 0])
    expected = -torch.log_softmax(pred, dim=1)[torch.arange(6), classes].mean()
    assert get_loss("ce")(pred, classes).item() == pytest.approx(expected.item())
    onehot = torch.nn.functional.one_hot(classes, 5).double()
    assert get_loss("ce")(pred, onehot).item() == pytest.approx(expected.item())


def test_profile_multinomial_equals_scipy_pmf():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    counts = torch.randint(0, 5, (2, 3, 7), generator=g).double()
    log_counts = torch.randn(2, 3, generator=g, dtype=torch.float64)
    probs = torch.softmax(logits, dim=-1).numpy()
    nll = [-stats.multinomial.logpmf(counts[i, j].numpy(), n=int(counts[i, j].sum()), p=probs[i, j])
           for i in range(2) for j in range(3)]
    count_mse = ((log_counts - torch.log1p(counts.sum(-1))) ** 2).mean().item()
    loss = get_loss("profile", count_weight=2.5)((logits, log_counts), counts)
    assert loss.item() == pytest.approx(np.mean(nll) + 2.5 * count_mse, rel=1e-9)
    # without the multinomial coefficient the value shifts by a constant only
    partial = get_loss("profile", count_weight=0.0, full=False)((logits, log_counts), counts).item()
    assert partial == pytest.approx(-(counts * torch.log_softmax(logits, -1)).sum(-1).mean().item())
    with pytest.raises(InputError, match="logits, log_counts"):
        get_loss("profile")(logits, counts)


def test_pairwise_term_equals_brute_force():
    pred, target = _pair(n=4, t=6, seed=5)
    pd_ = pred[:, None, :] - pred[:, :, None]
    td_ = target[:, None, :] - target[:, :, None]
    brute = ((pd_ - td_) ** 2).mean().item()
    assert pairwise_difference_mse(pred, target).item() == pytest.approx(brute)
    base = get_loss("mse")(pred, target).item()
    assert get_loss("mse", pairwise_weight=0.3)(pred, target).item() == pytest.approx(base + 0.3 * brute)


def test_none_returns_zero_and_is_excluded():
    pred, target = _pair()
    loss = get_loss("none")
    assert loss.excluded and not get_loss("mse").excluded
    value = loss(pred, target)
    assert value.item() == 0.0 and value.dtype == pred.dtype
    assert get_loss("None").excluded


@pytest.mark.parametrize("name", [n for n in LOSS_NAMES if n not in ("profile", "none", "ce")])
def test_gradients_finite_batch_of_one_and_constant(name):
    target = torch.full((1, 4), 2.0)  # constant region, batch of one
    pred = torch.zeros(1, 4, requires_grad=True)
    if name == "bce":
        target = torch.ones(1, 4)
    loss = get_loss(name)(pred, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()


def test_gradients_profile_and_ce_finite():
    logits = torch.zeros(1, 2, 5, requires_grad=True)
    log_counts = torch.zeros(1, 2, requires_grad=True)
    loss = get_loss("profile")((logits, log_counts), torch.zeros(1, 2, 5))
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(logits.grad).all()


def test_unknown_name_and_bad_shapes():
    with pytest.raises(InputError, match="did you mean 'pearson_tracks'"):
        get_loss("pearson_track")
    with pytest.raises(InputError, match="invalid parameters"):
        get_loss("mse", ratio=3)
    with pytest.raises(InputError, match="shape"):
        get_loss("mse")(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(InputError, match="ratio"):
        get_loss("correlation_mse", ratio=1.5)

"""Tests for drg.data.normalization: hand-computed methods, invariants, chaining, reuse and inversion."""

from __future__ import annotations

import numpy as np
import pytest

from drg.data.normalization import Normalized, denormalize, normalize
from drg.data.targets import Targets
from drg.errors import DRGWarning, InputError


def test_log_methods():
    x = np.array([[0.0, 1.0], [3.0, 7.0]])
    np.testing.assert_allclose(normalize(x, "log1p"), np.log([[1, 2], [4, 8]]))
    np.testing.assert_allclose(normalize(x, "log2"), [[0, 1], [2, 3]])
    np.testing.assert_allclose(normalize(x + 1, "log2", pseudocount=0.0), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(normalize(x, "none"), x)


@pytest.mark.parametrize("method", ["log1p", "log2", "cpm", "median_of_ratios"])
def test_negative_values_rejected(method):
    x = np.array([[1.0, -2.0], [-1.0, 4.0], [3.0, 3.0]])
    with pytest.raises(InputError) as err:
        normalize(x, method)
    assert repr(method) in str(err.value) and "2 negative" in str(err.value)


def test_cpm_hand():
    x = np.array([[1.0, 30.0], [3.0, 10.0], [0.0, 60.0]])
    np.testing.assert_allclose(normalize(x, "cpm"), [[250_000, 300_000], [750_000, 100_000], [0, 600_000]])
    np.testing.assert_allclose(normalize(x, "cpm", axis=1)[0], [1e6 / 31, 30e6 / 31])
    with pytest.raises(InputError, match="total of 0"):
        normalize(np.array([[0.0, 1.0], [0.0, 2.0]]), "cpm")


def test_quantile_hand_with_ties():
    x = np.array([[5, 4, 3], [2, 1, 4], [3, 4, 6], [4, 2, 8]], dtype=float)
    # rank means: 2, 3, 14/3, 17/3; the two 4s of column 2 share ranks 3 and 4 -> (14/3 + 17/3) / 2
    expected = np.array([[17 / 3, 31 / 6, 2], [2, 2, 3], [3, 31 / 6, 14 / 3], [14 / 3, 3, 17 / 3]])
    np.testing.assert_allclose(normalize(x, "quantile"), expected)


def test_quantile_invariants_and_reference():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, size=(200, 5)) * np.array([1, 2, 5, 10, 0.5])
    q, params = normalize(x, "quantile", return_params=True)
    sorted_cols = np.sort(q, axis=0)
    for j in range(1, 5):
        np.testing.assert_allclose(sorted_cols[:, j], sorted_cols[:, 0])
    np.testing.assert_allclose(sorted_cols[:, 0], np.sort(x, axis=0).mean(axis=1))
    # ranks are preserved within each track
    np.testing.assert_array_equal(np.argsort(q, axis=0), np.argsort(x, axis=0))
    # new data mapped onto the fitted distribution, also with another number of rows
    y = rng.gamma(2.0, size=(50, 5))
    qy = normalize(y, "quantile", reference=params)
    dist = params[0]["distribution"]
    assert qy.min() >= dist.min() - 1e-12 and qy.max() <= dist.max() + 1e-12
    np.testing.assert_allclose(qy.min(axis=0), dist.min())
    np.testing.assert_allclose(qy.max(axis=0), dist.max())
    with pytest.raises(InputError, match="finite"):
        normalize(np.array([[1.0, np.nan], [2.0, 3.0]]), "quantile")


def test_median_of_ratios_hand():
    x = np.array([[1.0, 4.0], [2.0, 8.0], [4.0, 4.0], [0.0, 5.0]])
    # geometric means of rows without zeros: 2, 4, 4; ratios track 0: .5 .5 1 -> .5; track 1: 2 2 1 -> 2
    out, params = normalize(x, "median_of_ratios", return_params=True)
    np.testing.assert_allclose(params[0]["size_factors"], [0.5, 2.0])
    np.testing.assert_allclose(out, [[2, 2], [4, 4], [8, 2], [0, 2.5]])
    assert np.isneginf(params[0]["log_geometric_means"][3])
    with pytest.raises(InputError, match="zero"):
        normalize(np.array([[0.0, 1.0], [1.0, 0.0]]), "median_of_ratios")


def test_standardize_invariants_and_axis():
    rng = np.random.default_rng(1)
    x = rng.normal(5, 3, size=(100, 4))
    z = normalize(x, "standardize")
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1)
    r = normalize(x, "standardize", axis=1)
    np.testing.assert_allclose(r.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(r.std(axis=1), 1)
    with pytest.warns(DRGWarning, match="1 constant"):
        c = normalize(np.array([[1.0, 2.0], [1.0, 4.0]]), "standardize")
    np.testing.assert_allclose(c, [[0, -1], [0, 1]])


def test_chaining_equals_composition():
    rng = np.random.default_rng(2)
    x = rng.poisson(20, size=(30, 3)).astype(float)
    chained = normalize(x, ["cpm", "log1p", "standardize"])
    manual = normalize(normalize(normalize(x, "cpm"), "log1p"), "standardize")
    np.testing.assert_allclose(chained, manual)
    np.testing.assert_allclose(normalize(x, ["cpm", "log1p"]), np.log1p(x / x.sum(axis=0) * 1e6))
    with pytest.raises(InputError, match="unknown normalisation"):
        normalize(x, ["cpm", "tpm"])


def test_params_reference_and_inverse():
    rng = np.random.default_rng(3)
    train = rng.poisson(50, size=(40, 3)).astype(float) + 1
    test = rng.poisson(50, size=(10, 3)).astype(float) + 1
    res = normalize(train, ["log2", "standardize"], return_params=True)
    assert isinstance(res, Normalized)
    steps = res.params
    assert [p["method"] for p in steps] == ["log2", "standardize"]
    applied = normalize(test, ["log2", "standardize"], reference=steps)
    mean, std = np.log2(train + 1).mean(axis=0), np.log2(train + 1).std(axis=0)
    np.testing.assert_allclose(applied, (np.log2(test + 1) - mean) / std)
    np.testing.assert_allclose(denormalize(applied, steps), test)
    np.testing.assert_allclose(denormalize(res.values, steps), train)
    for chain in (["cpm", "log1p"], ["median_of_ratios"], ["standardize"]):
        out = normalize(train, chain, return_params=True)
        np.testing.assert_allclose(denormalize(out.values, out.params), train, rtol=1e-10)
    q = normalize(train, "quantile", return_params=True)
    with pytest.raises(InputError, match="inverted"):
        denormalize(q.values, q.params)
    with pytest.raises(InputError, match="reference"):
        normalize(train, "cpm", reference=steps)


def test_targets_in_targets_out():
    t = Targets(np.array([[1, 2], [3, 4]], dtype=np.float32), ["a", "b"], ["X", "Y"], "atac")
    out = normalize(t, "log1p")
    assert isinstance(out, Targets) and out.modality == "atac" and list(out.names) == ["a", "b"]
    assert out.values.dtype == np.float32
    np.testing.assert_allclose(out.values, np.log1p(t.values), rtol=1e-6)
    assert normalize(np.ones((2, 2), dtype=np.float32), "none").dtype == np.float32
    with pytest.raises(InputError, match="2-D"):
        normalize(np.ones(3), "cpm")


def test_package_export_is_callable():
    import drg.data
    import drg.data.normalization  # noqa: F401  (importing the module must not shadow the function)
    from drg.data import normalize as exported

    np.testing.assert_allclose(exported(np.array([[1.0, 3.0]]), "cpm", axis=1), [[250_000, 750_000]])
    np.testing.assert_allclose(drg.data.normalize(np.array([[3.0]]), "log2"), [[2.0]])

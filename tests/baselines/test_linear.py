"""fit_linear against scikit-learn fitted directly, alpha selection by brute force, planted signals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.preprocessing import StandardScaler

from drg.baselines import LinearBaseline, fit_linear
from drg.errors import InputError

SKLEARN = {"ridge": (Ridge, {}), "lasso": (Lasso, {"max_iter": 5000}),
           "elasticnet": (ElasticNet, {"l1_ratio": 0.3, "max_iter": 5000})}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    F = rng.poisson(1.5, size=(400, 30)).astype(np.float32)
    F[:, 7] = 2.0  # a constant feature
    w = np.zeros((30, 3))
    w[[0, 3, 5], 0] = [1.0, -2.0, 0.5]
    w[[1, 3], 1] = [1.5, 1.0]
    w[[10, 20], 2] = [-1.0, 1.0]
    y = F @ w + 0.5 * rng.standard_normal((400, 3)) + np.array([1.0, -3.0, 0.0])
    return F, y


def sklearn_fit(kind, Z, y, alpha):
    cls, kwargs = SKLEARN[kind]
    return [cls(alpha=alpha, **kwargs).fit(Z, y[:, t]) for t in range(y.shape[1])]


@pytest.mark.parametrize("kind", ["ridge", "lasso", "elasticnet"])
def test_fit_linear_equals_sklearn_on_standardised_features(problem, kind):
    F, y = problem
    alpha = 25.0 if kind == "ridge" else 0.05
    model = fit_linear(F, y, model=kind, alpha=alpha, l1_ratio=0.3)
    Z = StandardScaler().fit_transform(F.astype(np.float64))
    reference = sklearn_fit(kind, Z, y, alpha)
    np.testing.assert_allclose(model.coef, np.stack([r.coef_ for r in reference]), atol=1e-6)
    np.testing.assert_allclose(model.intercept, [r.intercept_ for r in reference], atol=1e-6)
    expected = np.column_stack([r.predict(Z) for r in reference])
    np.testing.assert_allclose(model.predict(F), expected, atol=1e-4)
    np.testing.assert_array_equal(model.alpha, [alpha] * 3)


def test_unstandardised_ridge_equals_sklearn(problem):
    F, y = problem
    model = fit_linear(F, y, alpha=3.0, standardize=False)
    reference = Ridge(alpha=3.0).fit(F.astype(np.float64), y)
    np.testing.assert_allclose(model.coef, reference.coef_, atol=1e-8)
    np.testing.assert_allclose(model.predict(F), reference.predict(F), atol=1e-4)


@pytest.mark.parametrize("kind", ["ridge", "lasso"])
def test_sparse_input_gives_the_dense_fit(problem, kind):
    F, y = problem
    alpha = 25.0 if kind == "ridge" else 0.05
    dense = fit_linear(F, y, model=kind, alpha=alpha)
    sparse = fit_linear(scipy.sparse.csr_matrix(F), y, model=kind, alpha=alpha)
    np.testing.assert_allclose(sparse.coef, dense.coef, atol=1e-4)
    np.testing.assert_allclose(sparse.predict(scipy.sparse.csr_matrix(F)), dense.predict(F), atol=1e-3)


@pytest.mark.parametrize("kind", ["ridge", "lasso"])
def test_alpha_chosen_per_track_by_validation_error(problem, kind):
    F, y = problem
    train, val = np.arange(300), np.arange(300, 400)
    grid = [1000.0, 100.0, 10.0, 1.0] if kind == "ridge" else [0.5, 0.1, 0.02, 0.004]
    model = fit_linear(F[train], y[train], model=kind, alpha="cv", alphas=grid, F_val=F[val], y_val=y[val])
    scaler = StandardScaler().fit(F[train].astype(np.float64))
    Zt, Zv = scaler.transform(F[train].astype(np.float64)), scaler.transform(F[val].astype(np.float64))
    errors = np.array([[np.mean((r.predict(Zv) - y[val, t]) ** 2)
                        for t, r in enumerate(sklearn_fit(kind, Zt, y[train], a))] for a in grid])
    np.testing.assert_allclose(model.alpha_scores.loc[grid].to_numpy(), errors, rtol=1e-4)
    np.testing.assert_array_equal(model.alpha, np.asarray(grid)[errors.argmin(axis=0)])
    for t in range(3):  # the kept model of each track is the one fitted with its alpha
        r = sklearn_fit(kind, Zt, y[train], model.alpha[t])[t]
        np.testing.assert_allclose(model.coef[t], r.coef_, atol=1e-4)  # warm-started path: solver tolerance


def test_alpha_by_inner_cross_validation(problem):
    F, y = problem
    grid = np.array([3000.0, 300.0, 30.0, 3.0])
    model = fit_linear(F, y, alpha="cv", alphas=grid, cv=4, seed=1)
    folds = np.random.default_rng(1).permutation(len(F)) % 4
    errors = np.zeros((len(grid), 3))
    for f in range(4):
        inner, held = folds != f, folds == f
        scaler = StandardScaler().fit(F[inner].astype(np.float64))
        for a, alpha in enumerate(grid):
            r = Ridge(alpha=alpha).fit(scaler.transform(F[inner].astype(np.float64)), y[inner])
            errors[a] += ((r.predict(scaler.transform(F[held].astype(np.float64))) - y[held]) ** 2).sum(axis=0)
    errors /= len(F)
    np.testing.assert_allclose(model.alpha_scores.to_numpy(), errors, rtol=1e-6)
    np.testing.assert_array_equal(model.alpha, grid[errors.argmin(axis=0)])
    reference = Ridge(alpha=model.alpha[0]).fit(StandardScaler().fit_transform(F.astype(np.float64)), y[:, 0])
    np.testing.assert_allclose(model.coef[0], reference.coef_, atol=1e-6)


def test_planted_features_are_the_top_features(problem):
    F, y = problem
    model = fit_linear(F, y, model="lasso", alpha=0.05, feature_names=[f"x{j}" for j in range(30)],
                       track_names=["a", "b", "c"])
    top = model.top_features(2)
    assert list(top.columns) == ["track", "rank", "feature", "coefficient"]
    assert set(top[top.track == "a"].feature) == {"x0", "x3"}
    assert set(top[top.track == "b"].feature) == {"x1", "x3"}
    assert set(top[top.track == "c"].feature) == {"x10", "x20"}
    assert top.loc[(top.track == "a") & (top["rank"] == 1), "feature"].item() == "x3"
    coefs = model.coefficients()
    assert coefs.shape == (30, 3) and list(coefs.columns) == ["a", "b", "c"]
    assert coefs.loc["x7"].abs().max() == 0  # constant feature


def test_planted_kmer_signal_is_recovered():
    from drg.baselines import kmer_features
    from drg.baselines.runner import kmer_baseline
    from drg.data import Split

    rng = np.random.default_rng(5)
    seqs = ["".join(rng.choice(list("ACGT"), size=100)) for _ in range(1500)]
    counts = kmer_features(seqs, 4)
    planted = ["AAGT", "CGCG", "ACGT", "ATGG"]  # canonical (both-strand) 4-mers
    w = np.array([[1.0, 0.0], [0.0, 1.5], [-1.0, 1.0], [0.5, -0.5]])
    clean = counts.toarray()[:, [counts.names.index(p) for p in planted]] @ w
    y = clean + 0.3 * clean.std(axis=0) * rng.standard_normal(clean.shape)
    split = Split(np.arange(1000), np.arange(1000, 1250), np.arange(1250, 1500))
    result = kmer_baseline(seqs, y, split, k=4)
    assert result.predictions.shape == (250, 2)
    assert (result.pearson > 0.9).all() and result.pearson_mean > 0.9
    expected = [np.corrcoef(result.predictions[:, t], y[1250:, t])[0, 1] for t in range(2)]
    np.testing.assert_allclose(result.pearson, expected, rtol=1e-5)
    top = result.model.top_features(3)
    assert set(top[top.track == "track_0"].feature) == {"AAGT", "ACGT", "ATGG"}


def test_predict_accepts_feature_matrix_and_checks_width(problem):
    from drg.baselines import FeatureMatrix

    F, y = problem
    fm = FeatureMatrix(F, [f"x{j}" for j in range(30)])
    model = fit_linear(fm, y, alpha=1.0)
    assert isinstance(model, LinearBaseline) and model.feature_names[3] == "x3"
    np.testing.assert_array_equal(model.predict(fm), model.predict(F))
    with pytest.raises(InputError, match="30 features"):
        model.predict(F[:, :5])


def test_bad_arguments_raise_input_error(problem):
    F, y = problem
    with pytest.raises(InputError, match="model must be"):
        fit_linear(F, y, model="svm")
    with pytest.raises(InputError, match="alpha must be"):
        fit_linear(F, y, alpha=-1.0)
    with pytest.raises(InputError, match="alpha must be"):
        fit_linear(F, y, alpha="best")
    with pytest.raises(InputError, match="y_train"):
        fit_linear(F, y[:10])
    with pytest.raises(InputError, match="non-finite"):
        fit_linear(F, np.where(np.arange(400)[:, None] == 3, np.nan, y))
    with pytest.raises(InputError, match="F_val"):
        fit_linear(F, y, F_val=F[:, :3], y_val=y)
    with pytest.raises(InputError, match="l1_ratio"):
        fit_linear(F, y, model="elasticnet", l1_ratio=0.0)
    with pytest.raises(InputError, match="alphas"):
        fit_linear(F, y, alphas=[1.0, -2.0])

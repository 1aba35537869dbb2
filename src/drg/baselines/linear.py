"""Penalised linear models of many tracks at once: ridge, lasso and elastic net, one model per track.

Features are standardised on the training rows (mean 0, standard deviation 1; sparse matrices are only
scaled, and the centring is folded into the intercept, which gives the same fit), so coefficients are
comparable across features and the penalty treats them alike. Objectives are scikit-learn's:

- ridge: ``||y - X w - b||^2 + alpha ||w||^2``
- lasso: ``||y - X w - b||^2 / (2 n) + alpha ||w||_1``
- elastic net: ``||y - X w - b||^2 / (2 n) + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio) ||w||^2 / 2``

Dense ridge is solved for every track and every ``alpha`` from one eigendecomposition of the training
Gram matrix, so choosing ``alpha`` per track on a validation set (or by inner cross-validation) costs about
one fit. Sparse ridge, lasso and elastic net call scikit-learn per ``alpha`` (warm-started along the path).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError

__all__ = ["LinearBaseline", "default_alphas", "fit_linear"]

ModelKind = Literal["ridge", "lasso", "elasticnet"]


@dataclass
class LinearBaseline:
    """A fitted per-track linear model.

    Attributes
    ----------
    kind
        ``"ridge"``, ``"lasso"`` or ``"elasticnet"``.
    coef
        ``(T, F)`` coefficients on the standardised features (effect of one standard deviation).
    intercept
        ``(T,)`` intercepts (on the standardised features).
    mean, scale
        ``(F,)`` feature means and standard deviations of the training rows (``mean`` is 0 for sparse
        input, and both are 0/1 without standardisation); constant features get scale 1.
    alpha
        ``(T,)`` penalty of each track's model.
    l1_ratio
        Elastic-net mixing (1 for lasso, 0 for ridge).
    feature_names
        ``(F,)`` feature names.
    track_names
        ``(T,)`` track names.
    alpha_scores
        Validation (or inner cross-validation) mean squared error of every candidate ``alpha`` (rows) and
        track (columns), when ``alpha`` was chosen; else an empty table.
    """

    kind: str
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    alpha: np.ndarray
    l1_ratio: float
    feature_names: list[str]
    track_names: list[str]
    alpha_scores: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_features(self) -> int:
        """Number of features ``F``."""
        return int(self.coef.shape[1])

    @property
    def n_tracks(self) -> int:
        """Number of tracks ``T``."""
        return int(self.coef.shape[0])

    def predict(self, F: Any) -> np.ndarray:
        """Predictions ``(N, T)`` float32 for features ``F (N, F)`` (array, sparse matrix or FeatureMatrix)."""
        values = _values(F)
        if values.shape[1] != self.n_features:
            raise InputError(f"the model has {self.n_features} features but the matrix has {values.shape[1]}")
        weights = (self.coef / self.scale[None, :]).T
        offset = self.intercept - (self.mean / self.scale) @ self.coef.T
        pred = values @ weights
        return (np.asarray(pred, dtype=np.float64) + offset[None, :]).astype(np.float32)

    def coefficients(self) -> pd.DataFrame:
        """Coefficients as a table: one row per feature, one column per track."""
        return pd.DataFrame(self.coef.T, index=pd.Index(self.feature_names, name="feature"),
                            columns=self.track_names)

    def top_features(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` features of largest absolute coefficient per track.

        Returns
        -------
        pandas.DataFrame
            Columns ``track, rank`` (1 = largest), ``feature, coefficient``; tracks in model order.
        """
        rows = []
        names = np.asarray(self.feature_names, dtype=object)
        for t, track in enumerate(self.track_names):
            c = self.coef[t]
            nonzero = np.flatnonzero(c != 0)
            order = nonzero[np.argsort(-np.abs(c[nonzero]), kind="stable")][:n]
            for rank, j in enumerate(order, start=1):
                rows.append((track, rank, names[j], float(c[j])))
        return pd.DataFrame(rows, columns=["track", "rank", "feature", "coefficient"])


def _values(F: Any) -> Any:
    import scipy.sparse

    values = getattr(F, "values", F)
    if scipy.sparse.issparse(values):
        return values.tocsr()
    return np.asarray(values)


def _targets(y: Any, n: int, what: str) -> np.ndarray:
    y = np.asarray(getattr(y, "values", y), dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise InputError(f"{what} must have shape ({n}, T) to match the features, got {y.shape}")
    if not np.isfinite(y).all():
        raise InputError(f"{what} holds {int((~np.isfinite(y)).sum())} non-finite values")
    return y


def default_alphas(kind: ModelKind, F: Any, y: np.ndarray, *, l1_ratio: float = 0.5, n_alphas: int = 13) -> np.ndarray:
    """Candidate penalties, largest first.

    Ridge: ``n * 10^[-5 .. 1]`` (``n`` training rows; the penalty is relative to the Gram matrix of
    standardised features, whose diagonal is ``n``). Lasso / elastic net: from the smallest ``alpha`` that
    sets every coefficient of some track to 0 down to a thousandth of it (scikit-learn's path).
    """
    n = F.shape[0]
    if kind == "ridge":
        return n * np.logspace(1, -5, n_alphas)
    yc = y - y.mean(axis=0)  # centred targets make the centring of F unnecessary
    top = float(np.max(np.abs(np.asarray(F.T @ yc)))) / (n * max(l1_ratio, 1e-3))
    top = top if top > 0 else 1.0
    return top * np.logspace(0, -3, n_alphas)


def _standardize(F: Any, standardize: bool) -> tuple[Any, np.ndarray, np.ndarray]:
    """Standardised copy of the training features and the ``mean``/``scale`` used."""
    import scipy.sparse

    n_features = F.shape[1]
    if not standardize:
        return F.astype(np.float64), np.zeros(n_features), np.ones(n_features)
    if scipy.sparse.issparse(F):
        Fd = F.astype(np.float64)
        mean = np.asarray(Fd.mean(axis=0)).ravel()
        var = np.asarray(Fd.multiply(Fd).mean(axis=0)).ravel() - mean**2
        scale = np.sqrt(np.maximum(var, 0.0))
        scale[scale <= 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
        return Fd @ scipy.sparse.diags(1.0 / scale), np.zeros(n_features), scale
    Fd = np.asarray(F, dtype=np.float64)
    mean = Fd.mean(axis=0)
    scale = Fd.std(axis=0)
    scale[scale <= 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
    return (Fd - mean) / scale, mean, scale


class _RidgePath:
    """Dense ridge for many ``alpha`` from one eigendecomposition of the centred Gram matrix."""

    def __init__(self, Z: np.ndarray, y: np.ndarray) -> None:
        n = Z.shape[0]
        self.z_mean = Z.mean(axis=0)
        self.y_mean = y.mean(axis=0)
        gram = Z.T @ Z - n * np.outer(self.z_mean, self.z_mean)  # centred without copying Z
        self.eigval, self.eigvec = np.linalg.eigh(gram)
        self.eigval = np.maximum(self.eigval, 0.0)
        self.proj = self.eigvec.T @ (Z.T @ (y - self.y_mean))  # (F, T); centred y makes centring Z unnecessary

    def coef(self, alpha: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(T, F)`` coefficients and ``(T,)`` intercepts for one ``alpha`` (scalar or one per track)."""
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), self.y_mean.shape)
        shrink = 1.0 / (self.eigval[:, None] + alpha[None, :])
        coef = (self.eigvec @ (shrink * self.proj)).T
        intercept = self.y_mean - coef @ self.z_mean
        return coef, intercept


def _sklearn_model(kind: str, alpha: float, l1_ratio: float, max_iter: int, tol: float, seed: int) -> Any:
    from sklearn.linear_model import ElasticNet, Lasso, Ridge

    if kind == "ridge":
        return Ridge(alpha=alpha, tol=min(tol, 1e-6), random_state=seed)
    if kind == "lasso":
        return Lasso(alpha=alpha, max_iter=max_iter, tol=tol, warm_start=True, random_state=seed)
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, max_iter=max_iter, tol=tol, warm_start=True,
                      random_state=seed)


def _fit_sklearn(kind: str, Z: Any, y: np.ndarray, alphas: np.ndarray, l1_ratio: float, max_iter: int,
                 tol: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(coef (T, F), intercept (T,))`` for each ``alpha`` (largest first, warm-started per track)."""
    from sklearn.exceptions import ConvergenceWarning

    n_tracks = y.shape[1]
    out = []
    if kind == "ridge":  # sparse input: scikit-learn fits every track at once
        for alpha in alphas:
            model = _sklearn_model(kind, float(alpha), l1_ratio, max_iter, tol, seed).fit(Z, y)
            out.append((np.atleast_2d(model.coef_).astype(np.float64), np.atleast_1d(model.intercept_)))
        return out
    coefs = np.zeros((len(alphas), n_tracks, Z.shape[1]))
    intercepts = np.zeros((len(alphas), n_tracks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for t in range(n_tracks):
            model = None
            for a, alpha in enumerate(alphas):
                if model is None:
                    model = _sklearn_model(kind, float(alpha), l1_ratio, max_iter, tol, seed)
                else:
                    model.set_params(alpha=float(alpha))
                model.fit(Z, y[:, t])
                coefs[a, t] = model.coef_
                intercepts[a, t] = model.intercept_
    return [(coefs[a], intercepts[a]) for a in range(len(alphas))]


_EIGEN_MAX_FEATURES = 8192
"""Dense ridge with at most this many features is solved by eigendecomposition of the Gram matrix."""


def _uses_eigen(kind: str, Z: Any) -> bool:
    import scipy.sparse

    return kind == "ridge" and not scipy.sparse.issparse(Z) and Z.shape[1] <= _EIGEN_MAX_FEATURES


def _path(kind: str, Z: Any, y: np.ndarray, alphas: np.ndarray, l1_ratio: float, max_iter: int, tol: float,
          seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(coef (T, F), intercept (T,))`` of every track for each ``alpha``."""
    if _uses_eigen(kind, Z):
        path = _RidgePath(Z, y)
        return [path.coef(alpha) for alpha in alphas]
    return _fit_sklearn(kind, Z, y, alphas, l1_ratio, max_iter, tol, seed)


def _fit_per_track(kind: str, Z: Any, y: np.ndarray, alpha: np.ndarray, l1_ratio: float, max_iter: int,
                   tol: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``(T, F)`` and intercepts ``(T,)`` with penalty ``alpha[t]`` for track ``t``."""
    if _uses_eigen(kind, Z):
        return _RidgePath(Z, y).coef(alpha)
    coef = np.zeros((y.shape[1], Z.shape[1]))
    intercept = np.zeros(y.shape[1])
    for value in np.unique(alpha):
        here = np.flatnonzero(alpha == value)
        coef[here], intercept[here] = _fit_sklearn(kind, Z, y[:, here], np.array([value]), l1_ratio, max_iter,
                                                   tol, seed)[0]
    return coef, intercept


def _mse(Z: Any, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    pred = np.asarray(Z @ coef.T) + intercept[None, :]
    return ((pred - y) ** 2).mean(axis=0)


def fit_linear(
    F_train: Any,
    y_train: Any,
    *,
    model: ModelKind = "ridge",
    alpha: float | Literal["cv"] = "cv",
    alphas: Any = None,
    l1_ratio: float = 0.5,
    standardize: bool = True,
    F_val: Any = None,
    y_val: Any = None,
    cv: int = 5,
    feature_names: Any = None,
    track_names: Any = None,
    max_iter: int = 5000,
    tol: float = 1e-4,
    seed: int = 0,
) -> LinearBaseline:
    """Fit one penalised linear model per track.

    Parameters
    ----------
    F_train
        ``(N, F)`` training features: array, ``scipy.sparse`` matrix or
        :class:`~drg.baselines.FeatureMatrix` (whose names become ``feature_names``).
    y_train
        ``(N, T)`` or ``(N,)`` training targets.
    model
        ``"ridge"``, ``"lasso"`` or ``"elasticnet"`` (objectives in the module docstring).
    alpha
        The penalty, or ``"cv"`` to choose it per track among ``alphas`` by the mean squared error on
        ``F_val``/``y_val`` when given, else by ``cv``-fold cross-validation on the training rows (folds
        drawn with ``seed``); the chosen model is the one fitted on all training rows.
    alphas
        Candidate penalties for ``alpha="cv"`` (default :func:`default_alphas`).
    l1_ratio
        Elastic-net mixing in ``(0, 1]`` (``model="elasticnet"`` only).
    standardize
        Scale features to unit variance (and centre dense ones) on the training rows first.
    F_val, y_val
        Validation rows for choosing ``alpha``.
    cv
        Inner folds when ``alpha="cv"`` and no validation rows are given (at least 2).
    feature_names, track_names
        ``(F,)`` and ``(T,)`` names (default ``f0 ..`` and ``track_0 ..``).
    max_iter, tol
        Coordinate-descent settings of lasso and elastic net.
    seed
        Seed of the inner folds and the solvers.

    Returns
    -------
    LinearBaseline
        Coefficients, intercepts and the standardisation; ``alpha_scores`` holds the validation errors
        when ``alpha="cv"``.

    See Also
    --------
    drg.baselines.kmer_features, drg.baselines.pwm_features : features to fit on.
    drg.baselines.run_baseline : features, fit and evaluation from a config.
    """
    if model not in ("ridge", "lasso", "elasticnet"):
        raise InputError(f"model must be 'ridge', 'lasso' or 'elasticnet', got {model!r}")
    if model == "elasticnet" and not 0 < l1_ratio <= 1:
        raise InputError(f"l1_ratio must be in (0, 1], got {l1_ratio}")
    l1 = {"ridge": 0.0, "lasso": 1.0}.get(model, float(l1_ratio))
    if feature_names is None:
        feature_names = getattr(F_train, "names", None)
    X = _values(F_train)
    if X.ndim != 2:
        raise InputError(f"F_train must be a 2-D (N, F) matrix, got shape {X.shape}")
    n, n_features = X.shape
    if n < 2:
        raise InputError(f"at least 2 training rows are needed, got {n}")
    y = _targets(y_train, n, "y_train")
    names = [str(x) for x in (feature_names if feature_names is not None else [f"f{j}" for j in range(n_features)])]
    if len(names) != n_features:
        raise InputError(f"{len(names)} feature names for {n_features} features")
    tracks = [str(x) for x in (track_names if track_names is not None else [f"track_{t}" for t in range(y.shape[1])])]
    if len(tracks) != y.shape[1]:
        raise InputError(f"{len(tracks)} track names for {y.shape[1]} tracks")

    Z, mean, scale = _standardize(X, standardize)
    scores = pd.DataFrame()
    if isinstance(alpha, str):
        if alpha != "cv":
            raise InputError(f"alpha must be a number or 'cv', got {alpha!r}")
        grid = np.sort(np.asarray(default_alphas(model, Z, y, l1_ratio=l1) if alphas is None else alphas,
                                  dtype=np.float64).ravel())[::-1]
        if grid.size == 0 or not np.isfinite(grid).all() or (grid <= 0).any():
            raise InputError(f"alphas must be positive numbers, got {list(grid)}")
        if F_val is not None:
            Vz, yv = _validation(F_val, y_val, X.shape[1], mean, scale)
            path = _path(model, Z, y, grid, l1, max_iter, tol, seed)
            errors = np.stack([_mse(Vz, yv, c, b) for c, b in path])
            pick = np.argmin(errors, axis=0)
            chosen = grid[pick]
            tracks_index = np.arange(y.shape[1])
            coef = np.stack([path[a][0][t] for t, a in zip(tracks_index, pick)])
            intercept = np.array([path[a][1][t] for t, a in zip(tracks_index, pick)])
        else:
            if y_val is not None:
                raise InputError("y_val given without F_val")
            errors = _inner_cv(model, X, y, standardize, grid, l1, cv, max_iter, tol, seed)
            chosen = grid[np.argmin(errors, axis=0)]
            coef, intercept = _fit_per_track(model, Z, y, chosen, l1, max_iter, tol, seed)
        scores = pd.DataFrame(errors, index=pd.Index(grid, name="alpha"), columns=tracks)
    else:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not np.isfinite(alpha) \
                or alpha <= 0:
            raise InputError(f"alpha must be a positive number or 'cv', got {alpha!r}")
        chosen = np.full(y.shape[1], float(alpha))
        coef, intercept = _fit_per_track(model, Z, y, chosen, l1, max_iter, tol, seed)
    return LinearBaseline(model, coef, intercept, mean, scale, chosen, l1, names, tracks, scores)


def _scaled(V: Any, mean: np.ndarray, scale: np.ndarray) -> Any:
    """Rows standardised with training ``mean``/``scale`` (sparse rows are only scaled)."""
    import scipy.sparse

    if scipy.sparse.issparse(V):
        return (V.astype(np.float64) @ scipy.sparse.diags(1.0 / scale)).tocsr()
    return (np.asarray(V, dtype=np.float64) - mean) / scale


def _validation(F_val: Any, y_val: Any, n_features: int, mean: np.ndarray, scale: np.ndarray) -> tuple[Any, np.ndarray]:
    V = _values(F_val)
    if V.ndim != 2 or V.shape[1] != n_features:
        raise InputError(f"F_val must have {n_features} columns like F_train, got shape {V.shape}")
    if V.shape[0] == 0:
        raise InputError("the validation set is empty; give validation rows or leave F_val out")
    if y_val is None:
        raise InputError("F_val given without y_val")
    return _scaled(V, mean, scale), _targets(y_val, V.shape[0], "y_val")


def _inner_cv(model: str, X: Any, y: np.ndarray, standardize: bool, grid: np.ndarray, l1: float, cv: int,
              max_iter: int, tol: float, seed: int) -> np.ndarray:
    """Cross-validated mean squared error ``(A, T)`` of every candidate ``alpha`` and track."""
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or not 2 <= cv <= X.shape[0]:
        raise InputError(f"cv must be an integer between 2 and the number of training rows, got {cv!r}")
    folds = np.random.default_rng(seed).permutation(X.shape[0]) % cv
    errors = np.zeros((len(grid), y.shape[1]))
    for f in range(cv):
        inner, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        Zi, mi, si = _standardize(X[inner], standardize)
        Zh = _scaled(X[held], mi, si)
        for a, (c, b) in enumerate(_path(model, Zi, y[inner], grid, l1, max_iter, tol, seed)):
            errors[a] += _mse(Zh, y[held], c, b) * len(held)
    return errors / X.shape[0]

"""Normalisation of target matrices (regions x tracks), with the fitted parameters kept for reuse and inversion.

Methods (``values`` is (N, T): N regions in rows, T tracks in columns; ``axis`` names the axis that statistics
are gathered along, 0 = over regions, i.e. per track):

``"log1p"``
    ``log(1 + x)`` (``pseudocount`` is not used).
``"log2"``
    ``log2(x + pseudocount)``.
``"cpm"``
    counts per million: each track divided by its total and multiplied by 1e6.
``"quantile"``
    every track gets the same distribution: the mean over tracks of the sorted values. Tied values inside a
    track all get the mean of the reference values over the ranks they occupy, so ties stay tied.
``"median_of_ratios"``
    DESeq2 size factors: the log geometric mean of each region across tracks is taken over regions with no
    zero in any track (regions with a zero are excluded, as DESeq2 does); a track's size factor is the
    median over those regions of ``x / geometric mean``; values are divided by it.
``"standardize"``
    z-score ``(x - mean) / std`` (population std); constant tracks keep std 1 and are only centred.
``"none"``
    unchanged.

Methods chain in order: ``normalize(X, ["cpm", "log1p"])``. With ``return_params=True`` the fitted statistics
of each step are returned too; passing them back as ``reference`` applies the same transform to new data (e.g.
test regions scaled with training statistics), and :func:`denormalize` maps values (e.g. model predictions)
back to the original scale.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

from drg.data.targets import Targets
from drg.errors import DRGWarning, InputError

Method = Literal["log1p", "log2", "cpm", "quantile", "median_of_ratios", "standardize", "none"]
_METHODS = ("log1p", "log2", "cpm", "quantile", "median_of_ratios", "standardize", "none")


class Normalized(NamedTuple):
    """Result of :func:`normalize` with ``return_params=True``.

    Attributes
    ----------
    values
        Normalised array (N, T) or Targets.
    params
        One dict per step: ``{"method": ..., "axis": ..., <fitted arrays>}``; feed to ``reference=`` or
        :func:`denormalize`.
    """

    values: np.ndarray | Targets
    params: list[dict[str, Any]]


def normalize(
    values: np.ndarray | Targets,
    method: Method | Sequence[Method],
    *,
    axis: int = 0,
    pseudocount: float = 1.0,
    reference: Sequence[dict[str, Any]] | None = None,
    return_params: bool = False,
) -> np.ndarray | Targets | Normalized:
    """Normalise a regions x tracks matrix with one method or a chain of methods.

    Parameters
    ----------
    values
        (N, T) array or :class:`Targets` (a Targets comes back with the same names and tracks).
    method
        A method name or a list applied in order; see the module documentation.
    axis
        Axis along which statistics are computed: 0 (default) per track over regions, 1 per region over
        tracks (e.g. ``standardize`` each region across cell types).
    pseudocount
        Added before ``log2``.
    reference
        Parameters returned by an earlier call (``return_params=True``); each step reuses those fitted
        statistics (track totals, quantile distribution, geometric means, means and stds) instead of fitting.
    return_params
        Also return the fitted parameters.

    Returns
    -------
    numpy.ndarray or Targets or Normalized
        Array of the same shape (float32 for float32/Targets input, float64 otherwise); a :class:`Normalized`
        when ``return_params``.

    Raises
    ------
    InputError
        Unknown method, negative values for log/count methods (naming the method and how many), tracks
        with zero total, non-finite values for quantile normalisation.
    """
    methods = [method] if isinstance(method, str) else list(method)
    for m in methods:
        if m not in _METHODS:
            raise InputError(f"unknown normalisation method {m!r}; choose from {', '.join(_METHODS)}")
    if axis not in (0, 1, -1, -2):
        raise InputError(f"axis must be 0 or 1 for a (regions, tracks) matrix, got {axis}")
    axis = axis % 2
    if reference is not None:
        reference = list(reference)
        if [r.get("method") for r in reference] != methods:
            raise InputError(f"reference parameters are for {[r.get('method') for r in reference]}, "
                             f"not {methods}")
    target = values if isinstance(values, Targets) else None
    x = np.asarray(target.values if target is not None else values)
    if x.ndim != 2:
        raise InputError(f"normalize expects a 2-D (regions, tracks) matrix, got shape {x.shape}")
    out_dtype = np.float32 if x.dtype == np.float32 else np.float64
    work = x.astype(np.float64)
    if axis == 1:
        work = work.T
    params: list[dict[str, Any]] = []
    for k, m in enumerate(methods):
        ref = None if reference is None else reference[k]
        work, p = _STEPS[m](work, pseudocount, ref)
        p = {"method": m, "axis": axis, **p}
        params.append(p)
    if axis == 1:
        work = work.T
    result: np.ndarray | Targets = work.astype(out_dtype)
    if target is not None:
        result = Targets(result, target.names.copy(), target.tracks.copy(), target.modality)
    return Normalized(result, params) if return_params else result


def denormalize(values: np.ndarray | Targets, params: Sequence[dict[str, Any]]) -> np.ndarray | Targets:
    """Undo a chain of normalisations (e.g. map predictions back to counts), steps in reverse order.

    Parameters
    ----------
    values
        (N, T) array or Targets on the normalised scale. ``cpm`` and ``median_of_ratios`` need the same
        tracks; ``standardize`` with ``axis=1`` needs the same regions.
    params
        The ``params`` of :func:`normalize` with ``return_params=True``.

    Returns
    -------
    numpy.ndarray or Targets
        Values on the original scale.

    Raises
    ------
    InputError
        For ``quantile``, which is not invertible.
    """
    target = values if isinstance(values, Targets) else None
    x = np.asarray(target.values if target is not None else values)
    out_dtype = np.float32 if x.dtype == np.float32 else np.float64
    work = x.astype(np.float64)
    for p in reversed(list(params)):
        m, axis = p["method"], p["axis"]
        w = work.T if axis == 1 else work
        if m == "log1p":
            w = np.expm1(w)
        elif m == "log2":
            w = np.exp2(w) - p["pseudocount"]
        elif m == "cpm":
            w = w * (np.asarray(p["totals"]) / 1e6)
        elif m == "median_of_ratios":
            w = w * np.asarray(p["size_factors"])
        elif m == "standardize":
            w = w * np.asarray(p["std"]) + np.asarray(p["mean"])
        elif m == "quantile":
            raise InputError("quantile normalisation cannot be inverted")
        work = w.T if axis == 1 else w
    result: np.ndarray | Targets = work.astype(out_dtype)
    if target is not None:
        result = Targets(result, target.names.copy(), target.tracks.copy(), target.modality)
    return result


# ------------------------------------------------------------------------------------- the steps, per track
# Each step works on a matrix whose rows are the axis statistics are taken along (columns are "tracks").


def _no_negatives(x: np.ndarray, method: str) -> None:
    neg = int((x < 0).sum())
    if neg:
        raise InputError(f"method {method!r} needs non-negative values, found {neg} negative value(s) "
                         f"(minimum {np.nanmin(x):g})")


def _log1p(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    _no_negatives(x, "log1p")
    return np.log1p(x), {}


def _log2(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    if pseudocount < 0:
        raise InputError(f"pseudocount must be >= 0, got {pseudocount}")
    _no_negatives(x, "log2")
    return np.log2(x + pseudocount), {"pseudocount": float(pseudocount)}


def _check_columns(stat: np.ndarray, ref: dict | None, key: str, method: str) -> np.ndarray:
    if ref is None:
        return stat
    value = np.asarray(ref[key], dtype=np.float64)
    if value.shape != stat.shape:
        raise InputError(f"reference {key!r} for {method!r} has shape {value.shape}, data need {stat.shape}")
    return value


def _cpm(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    _no_negatives(x, "cpm")
    totals = _check_columns(np.nansum(x, axis=0), ref, "totals", "cpm")
    zero = np.flatnonzero(totals <= 0)
    if zero.size:
        raise InputError(f"method 'cpm': {zero.size} track(s) have a total of 0 (first at position {zero[0]})")
    return x / totals * 1e6, {"totals": totals}


def _quantile(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    if not np.isfinite(x).all():
        raise InputError(f"method 'quantile' needs finite values, found {int((~np.isfinite(x)).sum())} NaN/inf")
    n, t = x.shape
    order = np.argsort(x, axis=0, kind="stable")
    sorted_x = np.take_along_axis(x, order, axis=0)
    if ref is None:
        dist = sorted_x.mean(axis=1)
    else:
        ref_dist = np.asarray(ref["distribution"], dtype=np.float64)
        if ref_dist.size == n:
            dist = ref_dist
        else:  # different number of rows: read the reference distribution at the same quantiles
            grid = np.linspace(0.0, 1.0, ref_dist.size)
            dist = np.interp(np.linspace(0.0, 1.0, n), grid, ref_dist)
    cum = np.concatenate([[0.0], np.cumsum(dist)])
    out = np.empty_like(x)
    for j in range(t):
        col = sorted_x[:, j]
        # runs of equal values: [first, last] ranks get the mean of dist over that run
        starts = np.flatnonzero(np.concatenate([[True], col[1:] != col[:-1]]))
        ends = np.concatenate([starts[1:], [n]])
        run_means = (cum[ends] - cum[starts]) / (ends - starts)
        out[order[:, j], j] = np.repeat(run_means, ends - starts)
    return out, {"distribution": dist}


def _median_of_ratios(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    _no_negatives(x, "median_of_ratios")
    with np.errstate(divide="ignore", invalid="ignore"):
        logx = np.log(x)
    if ref is None:
        log_geo = logx.mean(axis=1)  # -inf for any zero in the row
    else:
        log_geo = np.asarray(ref["log_geometric_means"], dtype=np.float64)
        if log_geo.shape != (x.shape[0],):
            raise InputError(f"reference geometric means are for {log_geo.shape[0]} regions, data have "
                             f"{x.shape[0]}")
    usable = np.isfinite(log_geo)
    if not usable.any():
        raise InputError("method 'median_of_ratios': every region has a zero in some track, so no geometric "
                         "mean is available (DESeq2 excludes such regions)")
    size_factors = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        ok = usable & np.isfinite(logx[:, j])
        if not ok.any():
            raise InputError(f"method 'median_of_ratios': track at position {j} is zero on every usable region")
        size_factors[j] = np.exp(np.median(logx[ok, j] - log_geo[ok]))
    return x / size_factors, {"size_factors": size_factors, "log_geometric_means": log_geo}


def _standardize(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    mean = _check_columns(np.nanmean(x, axis=0), ref, "mean", "standardize")
    std = np.nanstd(x, axis=0) if ref is None else _check_columns(np.nanstd(x, axis=0), ref, "std", "standardize")
    const = std == 0
    if const.any():
        warnings.warn(f"standardize: {int(const.sum())} constant column(s) (first at position "
                      f"{int(np.flatnonzero(const)[0])}) are only centred (std set to 1)", DRGWarning,
                      stacklevel=3)
        std = np.where(const, 1.0, std)
    return (x - mean) / std, {"mean": mean, "std": std}


def _none(x: np.ndarray, pseudocount: float, ref: dict | None) -> tuple[np.ndarray, dict]:
    return x, {}


_STEPS = {
    "log1p": _log1p,
    "log2": _log2,
    "cpm": _cpm,
    "quantile": _quantile,
    "median_of_ratios": _median_of_ratios,
    "standardize": _standardize,
    "none": _none,
}

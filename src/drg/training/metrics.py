"""Performance metrics of predictions against measured targets, per track and per region.

All functions take ``pred`` and ``target`` as (N, T) arrays (regions x tracks; (N,) is one track) and are
vectorised over the other axis, so 100,000 regions x 200 tracks take a few seconds. Per-track metrics run
across regions for every track; per-region metrics run across tracks for every region.

Regression metrics: ``pearson``, ``spearman`` (Pearson of average ranks), ``mse`` and ``r2`` (coefficient
of determination ``1 - SS_res / SS_tot``, not the squared correlation). Classification metrics (targets 0/1,
predictions any score): ``auroc`` (rank statistic, ties averaged) and ``auprc`` (average precision, the
step-wise area ``sum_k (R_k - R_{k-1}) P_k`` over distinct score thresholds). A constant vector makes
correlations and R² NaN (a one-class vector makes AUROC/AUPRC NaN) with one :class:`~drg.errors.DRGWarning`
naming how many and which; nothing raises.

Class grouping follows DRG's class files (two whitespace-separated columns ``track class``):
:func:`split_outclasses` computes metrics within each class of tracks, and ``mean_classes`` (DRG's
``average_outclasses``) averages the tracks of each class before computing the metric.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, open_text

Task = Literal["regression", "classification"]
REGRESSION_METRICS: tuple[str, ...] = ("pearson", "spearman", "mse", "r2")
CLASSIFICATION_METRICS: tuple[str, ...] = ("auroc", "auprc")
_N_SHOWN = 5


# ----------------------------------------------------------------------------------------------- input checks


def _as_matrix(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"{what} must be a 2-D (regions, tracks) array, got shape {a.shape}")
    return a


def _prepare(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = _as_matrix(pred, "predictions"), _as_matrix(target, "targets")
    if p.shape != t.shape:
        raise InputError(f"predictions have shape {p.shape} but targets have shape {t.shape}")
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise InputError(f"cannot compute metrics of an empty matrix of shape {p.shape}")
    for a, what in ((p, "predictions"), (t, "targets")):
        bad = ~np.isfinite(a)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(f"{what} contain {int(bad.sum())} non-finite values (first at row {row + 1}, "
                             f"column {col + 1}); remove or fill them before computing metrics")
    return p, t


def _labels(labels: Sequence[str] | np.ndarray | None, n: int, prefix: str) -> np.ndarray:
    if labels is None:
        return np.array([f"{prefix}{i}" for i in range(n)])
    out = np.asarray(labels).astype(str).reshape(-1)
    if out.shape[0] != n:
        raise InputError(f"{out.shape[0]} {prefix.rstrip('_')} names for {n} {prefix.rstrip('_')}s")
    return out


def _warn_nan(mask: np.ndarray, labels: np.ndarray, what: str, kind: str) -> None:
    if mask.any():
        shown = ", ".join(repr(str(x)) for x in labels[mask][:_N_SHOWN])
        more = ", ..." if int(mask.sum()) > _N_SHOWN else ""
        warnings.warn(f"{int(mask.sum())} of {mask.size} {kind} {what}; their metrics are NaN: {shown}{more}",
                      DRGWarning, stacklevel=3)


def _rank_rows_kernel(rows: np.ndarray, orders: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    k, m = rows.shape
    for i in range(k):
        row = rows[i]
        order = orders[i]
        start = 0
        while start < m:
            stop = start + 1
            while stop < m and row[order[stop]] == row[order[start]]:
                stop += 1
            value = (start + stop - 1) / 2.0 + 1.0
            for j in range(start, stop):
                out[i, order[j]] = value
            start = stop


_RANK_KERNEL = None


def _rank(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties averaged) along axis 0 of a 2-D array (as ``scipy.stats.rankdata``)."""
    global _RANK_KERNEL
    if _RANK_KERNEL is None:
        import numba

        _RANK_KERNEL = numba.njit(cache=True, nogil=True)(_rank_rows_kernel)
    rows = np.ascontiguousarray(a.T, dtype=np.float64)
    out = np.empty(rows.shape, dtype=np.float64)
    _RANK_KERNEL(rows, np.argsort(rows, axis=1), out)
    return out.T


# ----------------------------------------------------------------------------------------------- column kernels


def _pearson_cols(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    pc = p - p.mean(axis=0)
    tc = t - t.mean(axis=0)
    num = np.einsum("ij,ij->j", pc, tc)
    den = np.sqrt(np.einsum("ij,ij->j", pc, pc) * np.einsum("ij,ij->j", tc, tc))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r[den == 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def _constant_cols(a: np.ndarray) -> np.ndarray:
    return np.all(a == a[:1], axis=0)


def _r2_cols(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    r2[ss_tot == 0] = np.nan
    return r2


def auroc(score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of every column (Mann-Whitney statistic, tied scores averaged).

    Parameters
    ----------
    score
        (N, K) or (N,) scores; higher means more likely positive.
    label
        Same shape, 0/1 labels.

    Returns
    -------
    numpy.ndarray
        (K,) AUROC; NaN where a column has only one class.
    """
    s, y = _as_matrix(score, "scores"), _as_matrix(label, "labels") > 0.5
    ranks = _rank(s)
    n_pos = y.sum(axis=0).astype(np.float64)
    n_neg = y.shape[0] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y).sum(axis=0) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def auprc(score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Average precision of every column, ``sum_k (R_k - R_{k-1}) P_k`` over distinct score thresholds.

    Tied scores form one threshold, as in scikit-learn's ``average_precision_score``.

    Parameters
    ----------
    score
        (N, K) or (N,) scores.
    label
        Same shape, 0/1 labels.

    Returns
    -------
    numpy.ndarray
        (K,) average precision; NaN where a column has no positive.
    """
    s, y = _as_matrix(score, "scores"), (_as_matrix(label, "labels") > 0.5).astype(np.float64)
    n = s.shape[0]
    order = np.argsort(-s, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=0)
    y_sorted = np.take_along_axis(y, order, axis=0)
    tps = np.cumsum(y_sorted, axis=0)
    precision = tps / np.arange(1, n + 1, dtype=np.float64)[:, None]
    # index of the last element of every tie group: the first position >= i where the score changes
    is_end = np.ones_like(s_sorted, dtype=bool)
    is_end[:-1] = s_sorted[:-1] != s_sorted[1:]
    end = np.where(is_end, np.arange(n)[:, None], n - 1)
    end = np.minimum.accumulate(end[::-1], axis=0)[::-1]
    prec_at_end = np.take_along_axis(precision, end, axis=0)
    n_pos = y.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (y_sorted * prec_at_end).sum(axis=0) / n_pos
    ap[n_pos == 0] = np.nan
    return ap


def _column_metrics(p: np.ndarray, t: np.ndarray, labels: np.ndarray, task: Task, kind: str,
                    warn: bool) -> pd.DataFrame:
    """Metrics of every column of (M, K) arrays; ``labels`` names the K columns."""
    if task == "regression":
        const_t, const_p = _constant_cols(t), _constant_cols(p)
        if warn:
            _warn_nan(const_t, labels, "have constant targets", kind)
            _warn_nan(const_p & ~const_t, labels, "have constant predictions", kind)
        data = {
            "pearson": _pearson_cols(p, t),
            "spearman": _pearson_cols(_rank(p), _rank(t)),
            "mse": ((p - t) ** 2).mean(axis=0),
            "r2": _r2_cols(p, t),
        }
        bad = const_t | const_p
        data["pearson"][bad] = np.nan
        data["spearman"][bad] = np.nan
    elif task == "classification":
        if not np.isin(t, (0.0, 1.0)).all():
            raise InputError("classification targets must be 0 or 1; found other values "
                             f"(e.g. {t[~np.isin(t, (0.0, 1.0))][0]!r})")
        one_class = _constant_cols(t)
        if warn:
            _warn_nan(one_class, labels, "have only one class", kind)
        data = {"auroc": auroc(p, t), "auprc": auprc(p, t), "positives": t.mean(axis=0)}
    else:
        raise InputError(f"task must be 'regression' or 'classification', got {task!r}")
    frame = pd.DataFrame(data, index=pd.Index(labels, name=kind.rstrip("s")))
    return frame


# ----------------------------------------------------------------------------------------------- public API


def per_track_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    tracks: Sequence[str] | np.ndarray | None = None,
    task: Task = "regression",
    *,
    warn: bool = True,
) -> pd.DataFrame:
    """Metrics of every track across regions.

    Parameters
    ----------
    pred, target
        (N, T) predictions and measured values (regions x tracks).
    tracks
        (T,) track names (default ``track_0`` ...).
    task
        ``"regression"``: columns pearson, spearman, mse, r2. ``"classification"`` (0/1 targets):
        auroc, auprc and positives (fraction of positive regions).
    warn
        Warn about tracks whose metrics are NaN (constant or one-class).

    Returns
    -------
    pandas.DataFrame
        One row per track, indexed by track name.
    """
    p, t = _prepare(pred, target)
    return _column_metrics(p, t, _labels(tracks, p.shape[1], "track_"), task, "tracks", warn)


def per_region_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    names: Sequence[str] | np.ndarray | None = None,
    task: Task = "regression",
    *,
    warn: bool = True,
) -> pd.DataFrame:
    """Metrics of every region across tracks (how well the profile over cell types is predicted).

    Parameters
    ----------
    pred, target
        (N, T) predictions and measured values.
    names
        (N,) region names (default ``region_0`` ...).
    task, warn
        As in :func:`per_track_metrics`.

    Returns
    -------
    pandas.DataFrame
        One row per region, indexed by region name. With fewer than two tracks, correlations are NaN.
    """
    p, t = _prepare(pred, target)
    labels = _labels(names, p.shape[0], "region_")
    if p.shape[1] < 2 and task == "regression" and warn:
        warnings.warn("per-region correlations need at least 2 tracks; they are NaN for this single-track "
                      "data", DRGWarning, stacklevel=2)
        warn = False
    return _column_metrics(p.T, t.T, labels, task, "regions", warn)


def summary_metrics(
    pred: np.ndarray | None = None,
    target: np.ndarray | None = None,
    *,
    task: Task = "regression",
    per_track: pd.DataFrame | None = None,
    per_region: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Means and medians of per-track and per-region metrics.

    Parameters
    ----------
    pred, target
        (N, T) arrays; needed unless both tables are given.
    task
        As in :func:`per_track_metrics`.
    per_track, per_region
        Already computed tables (skips recomputation).

    Returns
    -------
    dict
        ``<metric>_mean`` / ``<metric>_median`` over tracks (``pearson_mean`` is the mean over tracks of
        the per-track Pearson r), ``region_<metric>_mean`` / ``region_<metric>_median`` over regions,
        ``n_regions``, ``n_tracks`` and ``n_nan_tracks`` (tracks whose first metric is NaN). NaN entries
        are ignored in the means; a statistic over only NaN values is NaN.
    """
    if per_track is None or per_region is None:
        if pred is None or target is None:
            raise InputError("summary_metrics needs pred and target, or both metric tables")
        if per_track is None:
            per_track = per_track_metrics(pred, target, task=task)
        if per_region is None:
            per_region = per_region_metrics(pred, target, task=task)
    out: dict[str, float] = {"n_regions": len(per_region), "n_tracks": len(per_track)}
    for prefix, table in (("", per_track), ("region_", per_region)):
        for col in table.columns:
            values = table[col].to_numpy(dtype=np.float64)
            finite = values[np.isfinite(values)]
            out[f"{prefix}{col}_mean"] = float(finite.mean()) if finite.size else float("nan")
            out[f"{prefix}{col}_median"] = float(np.median(finite)) if finite.size else float("nan")
    first = per_track.columns[0]
    out["n_nan_tracks"] = int(per_track[first].isna().sum())
    return out


# ----------------------------------------------------------------------------------------------- classes


def read_classes(path: PathLike) -> pd.Series:
    """Read a DRG class file: two whitespace-separated columns ``track class`` per line.

    Empty lines and lines starting with ``#`` are skipped.

    Returns
    -------
    pandas.Series
        Class per track (index: track names).

    Raises
    ------
    InputError
        Naming the file and 1-based line for lines without exactly two fields and for duplicate tracks.
    """
    tracks: list[str] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split()
            if len(fields) != 2:
                raise InputError(f"expected two fields 'track class', found {len(fields)}", path=path,
                                 line=lineno)
            if fields[0] in seen:
                raise InputError(f"track {fields[0]!r} already assigned on line {seen[fields[0]]}", path=path,
                                 line=lineno)
            seen[fields[0]] = lineno
            tracks.append(fields[0])
            labels.append(fields[1])
    if not tracks:
        raise InputError("class file has no 'track class' lines", path=path)
    return pd.Series(labels, index=pd.Index(tracks, name="track"), name="class")


ClassesLike = PathLike | Mapping[str, str] | pd.Series | Sequence[str] | np.ndarray


def match_classes(classes: ClassesLike, tracks: Sequence[str] | np.ndarray) -> np.ndarray:
    """Class label of every track.

    Parameters
    ----------
    classes
        A class file path, a mapping/Series ``track -> class``, or a sequence of T labels in track order.
    tracks
        (T,) track names.

    Returns
    -------
    numpy.ndarray
        (T,) class labels (str).

    Raises
    ------
    InputError
        When tracks have no class (how many and the first ones are named).
    """
    tracks = np.asarray(tracks).astype(str)
    if isinstance(classes, str | Path):
        classes = read_classes(classes)
    if isinstance(classes, Mapping | pd.Series):
        mapping = pd.Series(classes) if not isinstance(classes, pd.Series) else classes
        mapping.index = mapping.index.astype(str)
        out = mapping.reindex(tracks)
        missing = out.isna().to_numpy()
        if missing.any():
            shown = ", ".join(repr(str(x)) for x in tracks[missing][:_N_SHOWN])
            raise InputError(f"{int(missing.sum())} of {len(tracks)} tracks have no class: {shown}")
        return out.astype(str).to_numpy()
    labels = np.asarray(classes).astype(str).reshape(-1)
    if labels.shape[0] != tracks.shape[0]:
        raise InputError(f"{labels.shape[0]} class labels for {tracks.shape[0]} tracks")
    return labels


class AveragedTracks(NamedTuple):
    """Result of :func:`average_outclasses`.

    Attributes
    ----------
    pred, target
        (N, C) class means of predictions and targets.
    classes
        (C,) class names in sorted order.
    """

    pred: np.ndarray
    target: np.ndarray
    classes: np.ndarray


def average_outclasses(pred: np.ndarray, target: np.ndarray, classes: ClassesLike,
                       tracks: Sequence[str] | np.ndarray | None = None) -> AveragedTracks:
    """Average the tracks of each class (DRG ``--average_outclasses``) before metrics are computed.

    Parameters
    ----------
    pred, target
        (N, T) arrays.
    classes
        Class of every track (see :func:`match_classes`).
    tracks
        (T,) track names, needed when ``classes`` maps names.

    Returns
    -------
    AveragedTracks
        (N, C) means per class, classes sorted.
    """
    p, t = _prepare(pred, target)
    labels = match_classes(classes, _labels(tracks, p.shape[1], "track_"))
    uniq, inverse = np.unique(labels, return_inverse=True)
    onehot = np.zeros((p.shape[1], uniq.size))
    onehot[np.arange(p.shape[1]), inverse] = 1.0
    onehot /= onehot.sum(axis=0)
    return AveragedTracks(p @ onehot, t @ onehot, uniq)


class ClassMetrics(NamedTuple):
    """Result of :func:`split_outclasses`.

    Attributes
    ----------
    per_track
        Per-track metrics with a ``class`` column (tracks, or class means when ``mean_classes`` is given).
    per_region
        ``{class: per-region metrics across the tracks of that class}``.
    summary
        One row per class: ``n_tracks`` and the mean/median of every per-track and per-region metric.
    """

    per_track: pd.DataFrame
    per_region: dict[str, pd.DataFrame]
    summary: pd.DataFrame


def split_outclasses(
    pred: np.ndarray,
    target: np.ndarray,
    classes: ClassesLike,
    tracks: Sequence[str] | np.ndarray | None = None,
    names: Sequence[str] | np.ndarray | None = None,
    *,
    mean_classes: ClassesLike | None = None,
    task: Task = "regression",
    warn: bool = True,
) -> ClassMetrics:
    """Metrics computed separately for each class of tracks (DRG ``--split_outclasses``).

    Per-track metrics do not depend on the grouping; per-region metrics run across the tracks of one class
    only. With ``mean_classes`` (DRG ``--average_outclasses``), the tracks of each mean-class are first
    averaged within each split class, and the metrics are computed on those averages.

    Parameters
    ----------
    pred, target
        (N, T) arrays.
    classes
        Split class of every track (file, mapping or sequence, see :func:`match_classes`).
    tracks, names
        (T,) track and (N,) region names.
    mean_classes
        Optional averaging class of every track.
    task, warn
        As in :func:`per_track_metrics`.

    Returns
    -------
    ClassMetrics
    """
    p, t = _prepare(pred, target)
    tracks = _labels(tracks, p.shape[1], "track_")
    names = _labels(names, p.shape[0], "region_")
    split = match_classes(classes, tracks)
    means = None if mean_classes is None else match_classes(mean_classes, tracks)
    track_tables, region_tables, rows = [], {}, []
    for label in np.unique(split):
        cols = np.flatnonzero(split == label)
        cp, ct, ctracks = p[:, cols], t[:, cols], tracks[cols]
        if means is not None:
            avg = average_outclasses(cp, ct, means[cols], ctracks)
            cp, ct, ctracks = avg.pred, avg.target, avg.classes
        pt = _column_metrics(cp, ct, ctracks, task, "tracks", warn)
        pt.insert(0, "class", label)
        track_tables.append(pt)
        with warnings.catch_warnings():
            if cp.shape[1] < 2:
                warnings.simplefilter("ignore", DRGWarning)
            pr = _column_metrics(cp.T, ct.T, names, task, "regions", warn and cp.shape[1] >= 2)
        region_tables[str(label)] = pr
        row: dict[str, float | int | str] = {"class": str(label), "n_tracks": int(cp.shape[1])}
        stats = summary_metrics(per_track=pt.drop(columns="class"), per_region=pr)
        row.update({k: v for k, v in stats.items() if k not in ("n_regions", "n_tracks", "n_nan_tracks")})
        rows.append(row)
    summary = pd.DataFrame(rows).set_index("class")
    return ClassMetrics(pd.concat(track_tables), region_tables, summary)


# ----------------------------------------------------------------------------------------------- baseline


class Baseline(NamedTuple):
    """Result of :func:`shuffled_baseline`.

    Attributes
    ----------
    per_track, per_region
        Metrics of the predictions against permuted targets, averaged over the permutations.
    summary
        :func:`summary_metrics` of those tables.
    """

    per_track: pd.DataFrame
    per_region: pd.DataFrame
    summary: dict[str, float]


def shuffled_baseline(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    n: int = 1,
    seed: int = 0,
    permute: Literal["regions", "tracks"] = "regions",
    tracks: Sequence[str] | np.ndarray | None = None,
    names: Sequence[str] | np.ndarray | None = None,
    task: Task = "regression",
) -> Baseline:
    """Metrics of the predictions against shuffled targets: the performance expected by chance.

    Parameters
    ----------
    pred, target
        (N, T) arrays.
    n
        Number of permutations; metrics are averaged over them.
    seed
        Seed of the permutations (same seed, same baseline).
    permute
        ``"regions"``: the rows of the target are permuted (one permutation for all tracks), so each
        prediction is compared with another region's measurement; per-track correlations are then centred
        on 0 and per-region correlations measure how much a generic cell-type profile explains.
        ``"tracks"``: the columns are permuted (DRG's baseline for per-track metrics: each track's
        prediction is compared with another track's measurement).
    tracks, names, task
        As in :func:`per_track_metrics` / :func:`per_region_metrics`.

    Returns
    -------
    Baseline
        Averaged per-track and per-region tables and their summary. Warnings about constant vectors are
        not repeated here.
    """
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    if permute not in ("regions", "tracks"):
        raise InputError(f"permute must be 'regions' or 'tracks', got {permute!r}")
    p, t = _prepare(pred, target)
    rng = np.random.default_rng(seed)
    track_sum: pd.DataFrame | None = None
    region_sum: pd.DataFrame | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DRGWarning)
        for _ in range(n):
            if permute == "regions":
                shuffled = t[rng.permutation(t.shape[0])]
            else:
                shuffled = t[:, rng.permutation(t.shape[1])]
            pt = per_track_metrics(p, shuffled, tracks, task, warn=False)
            pr = per_region_metrics(p, shuffled, names, task, warn=False)
            track_sum = pt if track_sum is None else track_sum + pt
            region_sum = pr if region_sum is None else region_sum + pr
    assert track_sum is not None and region_sum is not None
    per_track, per_region = track_sum / n, region_sum / n
    return Baseline(per_track, per_region, summary_metrics(per_track=per_track, per_region=per_region))

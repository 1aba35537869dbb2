"""Seqlet calling: spans of high attribution in attribution maps.

Two callers share one output table (:data:`SEQLET_COLUMNS`, one row per seqlet, coordinates 0-based and
half-open within the attributed sequence):

- :func:`call_seqlets_zscore`, DRG's rule: reference attributions divided by a standard deviation, positions
  above a cut joined into runs of one sign that may hold short gaps;
- :func:`call_seqlets_pvalue`, a recursive p-value rule: every span of a seqlet, down to the minimum length,
  must be significant against the null distribution of span sums.

Both reduce an attribution map to one score per position with :func:`reference_scores`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError

SEQLET_COLUMNS: tuple[str, ...] = (
    "example_idx", "region", "track_idx", "track", "start", "end", "strand", "sign", "score", "p_value",
)
"""Columns of a seqlet table. ``start``/``end`` are 0-based half-open; ``strand`` is always ``+`` (seqlets
are called on the given strand), ``sign`` is +1 or -1 (the sign of the attributions), ``score`` is the sum of
the reference scores over ``[start, end)``, ``p_value`` is NaN for the z-score caller."""

Reduce = Literal["reference", "maxabs"]
Normalization = Literal["global", "sequence", "track", "std", "none"]


def _as_4d(attributions: Any, what: str = "attributions") -> np.ndarray:
    try:
        import torch

        if isinstance(attributions, torch.Tensor):
            attributions = attributions.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    a = np.asarray(attributions)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[2] != 4:
        raise InputError(f"{what} must have shape (N, 4, L) or (N, T, 4, L), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
    return a


def reference_scores(attributions: Any, X: Any = None, reduce: Reduce = "reference") -> np.ndarray:
    """One score per position from attribution maps.

    Parameters
    ----------
    attributions
        ``(N, 4, L)`` or ``(N, T, 4, L)`` attributions (bases A, C, G, T).
    X
        ``(N, 4, L)`` one-hot sequences; required for ``reduce="reference"``.
    reduce
        ``"reference"``: the attribution of the observed base, ``sum_b X[b] * A[b]`` (DRG's and tangermeme's
        projected attributions); ``"maxabs"``: the value with the largest magnitude across the four bases
        (sign kept), for maps such as ISM where every base carries a value.

    Returns
    -------
    numpy.ndarray
        ``(N, T, L)`` float32 scores (T = 1 for 3-d input).
    """
    a = _as_4d(attributions)
    if reduce == "reference":
        if X is None:
            raise InputError("reduce='reference' needs the one-hot sequences X")
        x = np.asarray(X)
        if x.shape != (a.shape[0], 4, a.shape[3]):
            raise InputError(f"X must have shape {(a.shape[0], 4, a.shape[3])}, got {x.shape}")
        return np.einsum("ntbl,nbl->ntl", a, x.astype(a.dtype, copy=False)).astype(np.float32, copy=False)
    if reduce == "maxabs":
        idx = np.abs(a).argmax(axis=2)[:, :, None]
        return np.take_along_axis(a, idx, axis=2)[:, :, 0].astype(np.float32, copy=False)
    raise InputError(f"unknown reduce {reduce!r}; expected 'reference' or 'maxabs'")


def _names(names: Any, n: int, prefix: str, what: str) -> np.ndarray:
    if names is None:
        return np.array([f"{prefix}{i}" for i in range(n)], dtype=object)
    names = np.asarray(names).astype(str).astype(object)
    if names.shape != (n,):
        raise InputError(f"{len(names)} {what} names for {n} {what}s")
    return names


def _table(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, signs: np.ndarray, scores: np.ndarray,
           n_tracks: int, pvals: np.ndarray | None, regions: Any, tracks: Any, n: int) -> pd.DataFrame:
    regions = _names(regions, n, "region", "region")
    tracks = _names(tracks, n_tracks, "track", "track")
    ex = rows // n_tracks
    tr = rows % n_tracks
    frame = pd.DataFrame({
        "example_idx": ex.astype(np.int64), "region": regions[ex], "track_idx": tr.astype(np.int64),
        "track": tracks[tr], "start": starts.astype(np.int64), "end": ends.astype(np.int64), "strand": "+",
        "sign": signs.astype(np.int8), "score": scores.astype(np.float64),
        "p_value": np.full(len(ex), np.nan) if pvals is None else pvals.astype(np.float64),
    }, columns=list(SEQLET_COLUMNS))
    return frame.sort_values(["example_idx", "track_idx", "start"], kind="stable").reset_index(drop=True)


def _span_sums(scores2d: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    if rows.size == 0:
        return np.zeros(0)
    csum = np.zeros((scores2d.shape[0], scores2d.shape[1] + 1))
    np.cumsum(scores2d, axis=1, out=csum[:, 1:])
    return csum[rows, ends] - csum[rows, starts]


def attribution_std(attributions: Any, normalization: Normalization = "global", std: float | None = None) -> Any:
    """The standard deviation DRG divides reference attributions by before cutting.

    The spread of one (sequence, track) map is its root mean square over all bases and positions,
    ``sqrt(mean(A**2))``. ``"sequence"`` averages it over tracks (one value per sequence), ``"track"`` over
    sequences (one per track), ``"global"`` over both; ``"std"`` uses the given ``std``; ``"none"`` is 1.

    Returns
    -------
    float or numpy.ndarray
        Broadcastable to ``(N, T, L)``.
    """
    a = _as_4d(attributions)
    if normalization == "std":
        if std is None or not std > 0:
            raise InputError("normalization='std' needs a positive std=")
        return float(std)
    if normalization == "none":
        return 1.0
    rms = np.sqrt(np.mean(np.square(a, dtype=np.float64), axis=(2, 3)))  # (N, T)
    if normalization == "global":
        value = rms.mean()
    elif normalization == "sequence":
        value = rms.mean(axis=1)[:, None, None]
    elif normalization == "track":
        value = rms.mean(axis=0)[None, :, None]
    else:
        raise InputError(f"unknown normalization {normalization!r}; expected global, sequence, track, std or none")
    if np.any(np.asarray(value) <= 0):
        raise InputError("attributions are all zero for some sequence or track; cannot normalise by their spread")
    return value


def call_seqlets_zscore(
    attributions: Any,
    X: Any = None,
    *,
    cut: float = 2.0,
    max_gap: int = 1,
    min_size: int = 4,
    normalization: Normalization = "global",
    std: float | None = None,
    smooth_gap: bool = True,
    reduce: Reduce = "reference",
    regions: Any = None,
    tracks: Any = None,
) -> pd.DataFrame:
    """Call seqlets with DRG's z-score rule.

    The reference scores (:func:`reference_scores`) are divided by :func:`attribution_std` to give
    z-scores. Scanning each (sequence, track) left to right, a position with ``|z| > cut`` opens a seqlet
    and fixes its sign; later positions of that sign and ``|z| > cut`` join it. Any other position counts
    as a gap when the mean z-score in the window ``[i - w, i + w]`` (``w = max_gap`` with ``smooth_gap``,
    else 0), times the seqlet's sign, is below ``cut``; otherwise it is skipped without counting. When the
    gap count exceeds ``max_gap`` the seqlet closes and is kept when it holds at least ``min_size`` called
    positions; scanning then resumes right after its last called position, so that a seqlet of the other
    sign that starts inside the gap is found.

    Parameters
    ----------
    attributions
        ``(N, 4, L)`` or ``(N, T, 4, L)``.
    X
        ``(N, 4, L)`` one-hot sequences (needed for ``reduce="reference"``).
    cut
        z-score threshold.
    max_gap
        Largest number of gap positions inside a seqlet.
    min_size
        Smallest number of called (above-cut) positions in a seqlet.
    normalization, std
        See :func:`attribution_std`.
    smooth_gap
        Use the window mean described above to decide what counts as a gap (DRG's default).
    reduce
        See :func:`reference_scores`.
    regions, tracks
        Names of the N sequences and T tracks (default ``region0...``, ``track0...``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEQLET_COLUMNS`; ``end`` is one past the last called position.
    """
    from drg.motifs import _seqlet_kernels as k

    if max_gap < 0 or min_size < 1:
        raise InputError(f"max_gap must be >= 0 and min_size >= 1, got {max_gap} and {min_size}")
    a = _as_4d(attributions)
    scores = reference_scores(a, X, reduce)
    sd = attribution_std(a, normalization, std)
    n, t, length = scores.shape
    stats = np.ascontiguousarray((scores / sd).reshape(n * t, length), dtype=np.float64)
    rows, firsts, lasts, _ = k.zscore_runs(stats, float(cut), int(max_gap), int(min_size),
                                           int(max_gap) if smooth_gap else 0)
    ends = lasts + 1
    sums = _span_sums(scores.reshape(n * t, length).astype(np.float64), rows, firsts, ends)
    signs = np.sign(stats[rows, firsts]).astype(np.int8) if rows.size else np.zeros(0, np.int8)
    return _table(rows, firsts, ends, signs, sums, t, None, regions, tracks, n)


def _range(values: np.ndarray) -> tuple[float, float]:
    return float(values.min()), float(values.max())


def _decode(x: np.ndarray, null: np.ndarray, threshold: float, min_len: int, max_len: int, n_bins: int,
            batch_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from drg.motifs import _seqlet_kernels as k

    empty = (np.zeros(0, np.int64),) * 3 + (np.zeros(0),)
    own = null is x
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if own:
        null = x
    elif null.dtype not in (np.float32, np.float64):
        null = null.astype(np.float64)
    lo, hi = _range(x)
    nlo, nhi = (lo, hi) if own else _range(null)
    if not all(np.isfinite(v) for v in (lo, hi, nlo, nhi)):
        raise InputError("scores and null must be finite (found NaN or infinity)")
    lo, hi = min(lo, nlo), max(hi, nhi)
    if not hi > lo or threshold <= 0:
        return empty
    width = (hi - lo) / (n_bins - 1)
    bins = np.empty(x.shape, np.int16 if n_bins <= np.iinfo(np.int16).max else np.int32)
    f = k.bin_rows(np.ascontiguousarray(x), lo, width, n_bins, bins, own)
    if not own:
        f = k.bin_histogram(np.ascontiguousarray(null).ravel(), lo, width, n_bins)
    survival = k.span_survival(f, max_len)
    cutoffs = k.passing_sums(survival, float(threshold))
    cap = x.shape[1] // min_len + 1
    parts = []
    for r0 in range(0, x.shape[0], batch_rows):
        rows, starts, ends, pvals = k.recursive_decode(bins[r0:r0 + batch_rows], survival, cutoffs,
                                                       float(threshold), min_len, max_len, cap)
        parts.append((rows + r0, starts, ends, pvals))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


def recursive_seqlet_spans(
    scores: Any,
    null: Any = None,
    *,
    threshold: float = 0.01,
    min_len: int = 4,
    max_len: int = 25,
    n_bins: int = 1000,
    batch_rows: int = 4096,
) -> pd.DataFrame:
    """Positive seqlets of per-position scores by the recursive p-value rule (the core of
    :func:`call_seqlets_pvalue`).

    Parameters
    ----------
    scores
        ``(R, L)`` per-position scores.
    null
        Scores whose distribution is the null (any shape); ``None`` uses ``scores`` themselves.
    threshold, min_len, max_len, n_bins, batch_rows
        See :func:`call_seqlets_pvalue`.

    Returns
    -------
    pandas.DataFrame
        ``row``, ``start``, ``end`` (0-based half-open), ``p_value``, in row and call order.
    """
    x = np.asarray(scores)
    if x.ndim != 2 or x.size == 0:
        raise InputError(f"scores must be a non-empty (R, L) array, got shape {x.shape}")
    if not 1 <= min_len <= max_len:
        raise InputError(f"need 1 <= min_len <= max_len, got {min_len} and {max_len}")
    if n_bins < 2:
        raise InputError(f"n_bins must be >= 2, got {n_bins}")
    if not threshold <= 1:
        raise InputError(f"threshold must be a p-value of at most 1, got {threshold}")
    nul = x if null is None else np.asarray(null)
    if nul.size == 0:
        raise InputError("the null is empty")
    rows, starts, ends, pvals = _decode(x, nul, threshold, min_len, max_len, n_bins, batch_rows)
    return pd.DataFrame({"row": rows, "start": starts, "end": ends, "p_value": pvals})


def call_seqlets_pvalue(
    attributions: Any,
    X: Any = None,
    *,
    null: Any = None,
    X_null: Any = None,
    threshold: float = 0.01,
    min_len: int = 4,
    max_len: int = 25,
    n_bins: int = 1000,
    sign: Literal["positive", "negative", "both"] = "positive",
    reduce: Reduce = "reference",
    regions: Any = None,
    tracks: Any = None,
    batch_rows: int = 4096,
) -> pd.DataFrame:
    """Call seqlets with a recursive p-value rule (after tangermeme's recursive seqlets).

    1. Scores per position (:func:`reference_scores`) are placed in ``n_bins`` equal bins spanning the
       observed and null scores (values outside go to the end bins).
    2. The null distribution of a span's binned sum, for every length up to ``max_len``, treats positions
       as independent draws from the histogram of the null scores (exact convolutions).
    3. A span of length ``min_len..max_len`` is a candidate when every span inside it of length at least
       ``min_len`` (itself included) has a null survival p-value below ``threshold``.
    4. Per (sequence, track), candidates are accepted from the longest length down, within a length by
       increasing p-value (the largest p-value over the span's prefixes; ties by start), skipping those that
       overlap an accepted seqlet.

    The null comes from the caller: pass ``null`` (attributions of dinucleotide-shuffled sequences,
    computed with the same model and settings, e.g. from :func:`drg.genome.shuffle.dinucleotide_shuffle`
    with ``X_null``), so that a p-value measures how unusual a span is among sequences of the same
    dinucleotide composition. Without ``null`` the scores themselves form an empirical null (their bulk is
    background; the signal in it makes the test conservative). Positions are treated as independent,
    which they are not, so p-values rank spans rather than give error rates. With several tracks each
    track gets its own null (attribution scales differ between tracks).

    Parameters
    ----------
    attributions
        ``(N, 4, L)`` or ``(N, T, 4, L)``.
    X
        ``(N, 4, L)`` one-hot sequences (needed for ``reduce="reference"``).
    null
        ``(M, 4, L')`` / ``(M, T, 4, L')`` null attributions (reduced with ``X_null`` like the input), or
        ready ``(M, T, L')`` / ``(M, L')`` reference scores; ``None`` for the empirical null.
    X_null
        ``(M, 4, L')`` one-hot of the null sequences (needed with 4-base null maps and ``reduce="reference"``).
    threshold
        p-value cut of the recursive rule.
    min_len, max_len
        Seqlet length range.
    n_bins
        Number of score bins.
    sign
        Call seqlets of positive scores, of negative scores (on negated scores and null), or both; with
        ``"both"`` a negative seqlet overlapping a positive one is dropped.
    reduce
        See :func:`reference_scores`.
    regions, tracks
        Names of the N sequences and T tracks.
    batch_rows
        (sequence, track) rows decoded per compiled call (bounds memory).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEQLET_COLUMNS`, ``p_value`` the null survival p-value of the seqlet's own span.
    """
    a = _as_4d(attributions)
    scores = reference_scores(a, X, reduce)
    n, t, length = scores.shape
    if null is None:
        null_scores = scores
    else:
        nul = np.asarray(null)
        if nul.ndim >= 3 and nul.shape[-2] == 4 and (nul.ndim == 4 or nul.shape[-1] != 4):
            null_scores = reference_scores(nul, X_null, reduce)
        else:
            null_scores = nul.reshape(nul.shape[0], -1, nul.shape[-1]) if nul.ndim == 3 else nul[:, None]
        if null_scores.shape[1] != t:
            raise InputError(f"null has {null_scores.shape[1]} tracks, attributions have {t}")
    signs = {"positive": (1,), "negative": (-1,), "both": (1, -1)}.get(sign)
    if signs is None:
        raise InputError(f"unknown sign {sign!r}; expected positive, negative or both")
    parts = []
    for s in signs:
        for track in range(t):
            spans = recursive_seqlet_spans(s * scores[:, track], s * null_scores[:, track], threshold=threshold,
                                           min_len=min_len, max_len=max_len, n_bins=n_bins, batch_rows=batch_rows)
            spans["row"] = spans["row"] * t + track
            spans["sign"] = s
            parts.append(spans)
    spans = pd.concat(parts, ignore_index=True)
    if sign == "both" and len(spans):
        spans = _drop_overlapping_negative(spans, n * t, length)
    rows = spans["row"].to_numpy()
    starts, ends = spans["start"].to_numpy(), spans["end"].to_numpy()
    sums = _span_sums(scores.reshape(n * t, length).astype(np.float64), rows, starts, ends)
    return _table(rows, starts, ends, spans["sign"].to_numpy(), sums, t, spans["p_value"].to_numpy(),
                  regions, tracks, n)


def _drop_overlapping_negative(spans: pd.DataFrame, n_rows: int, length: int) -> pd.DataFrame:
    pos = spans[spans["sign"] > 0]
    cover = np.zeros((n_rows, length + 1), np.int32)
    np.add.at(cover, (pos["row"].to_numpy(), pos["start"].to_numpy()), 1)
    np.add.at(cover, (pos["row"].to_numpy(), pos["end"].to_numpy()), -1)
    csum = np.concatenate([np.zeros((n_rows, 1), np.int64), np.cumsum(np.cumsum(cover, axis=1), axis=1)], axis=1)
    neg = spans[spans["sign"] < 0]
    covered = csum[neg["row"].to_numpy(), neg["end"].to_numpy()] - csum[neg["row"].to_numpy(), neg["start"].to_numpy()]
    return pd.concat([pos, neg[covered == 0]], ignore_index=True)


def call_seqlets(attributions: Any, X: Any = None, method: Literal["zscore", "pvalue"] = "pvalue",
                 **kwargs: Any) -> pd.DataFrame:
    """Call seqlets with :func:`call_seqlets_zscore` (``method="zscore"``) or :func:`call_seqlets_pvalue`."""
    if method == "zscore":
        return call_seqlets_zscore(attributions, X, **kwargs)
    if method == "pvalue":
        return call_seqlets_pvalue(attributions, X, **kwargs)
    raise InputError(f"unknown seqlet method {method!r}; expected 'zscore' or 'pvalue'")

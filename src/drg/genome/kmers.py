"""k-mer and gapped k-mer counts of DNA sequences, as feature matrices.

Features are named by their letters in A, C, G, T order (``"ACG"``); gapped k-mers use ``.`` for a
position that is not looked at (``"AC.G"``). Each sequence becomes a row of letter codes; one compiled pass
per sequence (:func:`count_patterns`) adds every window's k-mer to its column, with reverse-complement pairs
mapped to one column up front.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np

from drg.errors import InputError

_LETTERS = "ACGT"
_MAX_FEATURES = 1 << 26


class KmerFeatures(NamedTuple):
    """Counts of k-mers (or gapped k-mers) per sequence.

    Attributes
    ----------
    counts
        ``(N, F)``: int32 counts, or float32 frequencies when ``normalize=True``.
    names
        The ``F`` feature names, in the column order of ``counts``.
    """

    counts: np.ndarray
    names: list[str]


def _codes(X_or_seqs: Any) -> np.ndarray:
    """Letter codes ``(N, L)`` (0..3 for A, C, G, T; 4 for anything unknown or padding)."""
    from drg.genome.onehot import _one_hot_codes, one_hot_encode

    if isinstance(X_or_seqs, (str, bytes, list, tuple)) or (
        isinstance(X_or_seqs, np.ndarray) and X_or_seqs.dtype.kind in "USO"
    ):
        X_or_seqs = one_hot_encode(X_or_seqs, align="left")
    return _one_hot_codes(X_or_seqs, name="X_or_seqs")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rc_kmer_index(k: int) -> np.ndarray:
    """Index of the reverse complement of every k-mer index (base 4, A=0 .. T=3, first letter most significant)."""
    index = np.arange(4**k, dtype=np.int64)
    rc = np.zeros_like(index)
    rest = index.copy()
    for _ in range(k):
        rc = rc * 4 + (3 - rest % 4)
        rest //= 4
    return rc


def kmer_counts(
    X_or_seqs: Any,
    k: int,
    *,
    reverse_complement: bool = False,
    normalize: bool = False,
) -> KmerFeatures:
    """Count every k-mer in each sequence.

    Parameters
    ----------
    X_or_seqs
        One-hot ``(N, 4, L)`` or ``(4, L)`` (numpy or torch), or sequence strings (one string or a list;
        unequal lengths are fine).
    k
        k-mer length, 1 to 12.
    reverse_complement
        Merge each k-mer with its reverse complement into one canonical feature, named by the
        lexicographically smaller of the two and counting occurrences of both. A palindromic k-mer
        (its own reverse complement, such as ``"ACGT"``) is counted once per occurrence.
    normalize
        Divide each row by its total, giving frequencies that sum to 1 (rows without any k-mer stay 0).

    Returns
    -------
    KmerFeatures
        ``counts (N, F)`` (int32, or float32 when normalised) and ``names`` of the ``F`` features in
        lexicographic A < C < G < T order: ``F = 4**k``, or the canonical subset with
        ``reverse_complement=True``. Windows containing an unknown base (``N``, IUPAC code, padding) are
        not counted.

    See Also
    --------
    gapped_kmer_counts : k-mers with gap positions.
    """
    k = _check_int(k, "k", 1)
    if k > 12:
        raise InputError(f"k must be at most 12 (4**k features), got {k}")
    return count_patterns(_codes(X_or_seqs), kmer_patterns(k), k, reverse_complement=reverse_complement,
                          normalize=normalize)


def kmer_patterns(k: int, gaps: int = 0) -> list[tuple[int, ...]]:
    """Informative offsets of every gapped pattern of ``k`` positions in a window of ``k + gaps``.

    The first and last window positions are always informative; patterns come in lexicographic order of
    their gap positions. ``gaps = 0`` gives the single plain k-mer pattern ``(0, 1, ..., k - 1)``.
    """
    span = k + gaps
    patterns = []
    for gap_positions in itertools.combinations(range(1, span - 1), gaps):
        gap_set = set(gap_positions)
        patterns.append(tuple(p for p in range(span) if p not in gap_set))
    return patterns


def _layout(masks: list[tuple[int, ...]], k: int, reverse_complement: bool) -> tuple[np.ndarray, list[str]]:
    """Output column of every raw feature (pattern-major, then base-4 k-mer index) and the column names.

    With ``reverse_complement`` a feature and its reverse complement (pattern mirrored, letters complemented)
    share the column of whichever comes first in the raw order, and only those columns are kept.
    """
    span = masks[0][-1] + 1
    n_kmers = 4**k
    kmers = ["".join(p) for p in itertools.product(_LETTERS, repeat=k)]
    names = []
    for offsets in masks:
        template = ["."] * span
        for kmer in kmers:
            for off, letter in zip(offsets, kmer):
                template[off] = letter
            names.append("".join(template))
    raw = np.arange(n_kmers * len(masks))
    if not reverse_complement:
        return raw.astype(np.int32), names
    rc_kmer = _rc_kmer_index(k)
    position = {offsets: m for m, offsets in enumerate(masks)}
    rc = np.empty(len(raw), dtype=np.int64)
    for m, offsets in enumerate(masks):
        mirrored = tuple(sorted(span - 1 - off for off in offsets))
        rc[m * n_kmers:(m + 1) * n_kmers] = position[mirrored] * n_kmers + rc_kmer
    keep = raw <= rc
    column_of_kept = np.cumsum(keep) - 1
    return column_of_kept[np.minimum(raw, rc)].astype(np.int32), [names[i] for i in np.flatnonzero(keep)]


def count_patterns(codes: np.ndarray, masks: list[tuple[int, ...]], k: int, *, reverse_complement: bool = False,
                   sparse: bool = False, normalize: bool = False) -> KmerFeatures:
    """Count the patterns ``masks`` (from :func:`kmer_patterns`) in letter codes ``(N, L)``.

    The one counting engine behind :func:`kmer_counts`, :func:`gapped_kmer_counts` and
    :func:`drg.baselines.kmer_features`: a compiled pass over each sequence, parallel over sequences.

    Parameters
    ----------
    codes
        ``(N, L)`` letter codes (0..3 for A, C, G, T; anything larger is an unknown base).
    masks, k
        Patterns and their number of informative positions.
    reverse_complement
        Merge reverse-complement pairs into one column (see :func:`kmer_counts`).
    sparse
        Return ``counts`` as a float32 ``scipy.sparse.csr_matrix`` instead of a dense int32 array.
    normalize
        Divide each row by its total (float32 frequencies; rows without any k-mer stay 0).
    """
    from drg.genome._kmer_kernels import _count_kmers_dense, _count_kmers_sparse

    colmap, names = _layout(masks, k, reverse_complement)
    n_kmers = 4**k
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    mask_array = np.asarray(masks, dtype=np.int64).reshape(len(masks), k)
    n, n_features = codes.shape[0], len(names)
    if sparse:
        import scipy.sparse

        indptr, indices, data = _count_kmers_sparse(codes, mask_array, colmap, n_kmers)
        counts: Any = scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, n_features))
        if normalize:
            totals = np.asarray(counts.sum(axis=1)).ravel()
            scale = np.where(totals > 0, 1.0 / np.maximum(totals, 1), 0.0).astype(np.float32)
            counts = scipy.sparse.csr_matrix(scipy.sparse.diags(scale) @ counts, dtype=np.float32)
        return KmerFeatures(counts, names)
    if n_features * max(n, 1) > _MAX_FEATURES * 4:
        raise InputError(f"{n} sequences x {n_features} features is too large a dense count matrix; use a "
                         "smaller k, fewer sequences per call, or sparse counts (drg.baselines.kmer_features)")
    dense = np.zeros((n, n_features), dtype=np.int32)
    _count_kmers_dense(codes, mask_array, colmap, n_kmers, dense)
    if normalize:
        totals = dense.sum(axis=1, keepdims=True, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return KmerFeatures(np.where(totals > 0, dense / totals, 0.0).astype(np.float32), names)
    return KmerFeatures(dense, names)


def gapped_kmer_counts(
    X_or_seqs: Any,
    k: int,
    gaps: int,
    *,
    reverse_complement: bool = False,
    normalize: bool = False,
) -> KmerFeatures:
    """Count gapped k-mers: ``k`` informative positions spread over a window of ``k + gaps`` positions.

    The patterns counted are every choice of ``gaps`` gap positions among the interior positions of a
    window of length ``l = k + gaps``; the first and last positions of the window are always informative,
    so each pattern has a fixed span ``l`` and each occurrence in a sequence is counted exactly once (one
    per start position). Patterns with gaps at the ends would be shifted copies of shorter gapped k-mers,
    and gkm-SVM's per-l-mer counting would count one occurrence once for every l-mer containing it; neither
    is done here. With ``gaps = 0`` this equals :func:`kmer_counts`.

    There are ``C(l - 2, gaps)`` patterns (``C(k + gaps - 2, gaps)``, for ``k >= 2``), ordered by their gap
    positions in lexicographic order (for ``k = 3, gaps = 1``: ``"X.XX"`` then ``"XX.X"``), and within a
    pattern the k-mers in A < C < G < T order, giving ``F = C(l - 2, gaps) * 4**k`` features named like
    ``"A.CG"``. A window counts when its ``k`` informative positions are known bases; gap positions may
    hold anything, including ``N``.

    Parameters
    ----------
    X_or_seqs
        One-hot ``(N, 4, L)`` or ``(4, L)`` (numpy or torch), or sequence strings.
    k
        Number of informative positions: at most 10 (``4**k`` k-mers per pattern), and at least 2 when
        ``gaps > 0``.
    gaps
        Number of gap positions inside the window, at least 0.
    reverse_complement
        Merge each feature with its reverse complement (the pattern mirrored and the letters complemented,
        ``"AC.G"`` <-> ``"C.GT"``) into one, named by whichever comes first in the column order.
        Palindromic features are counted once per occurrence.
    normalize
        Divide each row by its total (float32 frequencies summing to 1).

    Returns
    -------
    KmerFeatures
        ``counts (N, F)`` (int32, or float32 when normalised) and the ``F`` feature ``names``.

    See Also
    --------
    kmer_counts : ungapped k-mers.
    """
    k = _check_int(k, "k", 1)
    gaps = _check_int(gaps, "gaps", 0)
    if k > 10:
        raise InputError(f"k must be at most 10 for gapped k-mers, got {k}")
    if gaps > 0 and k < 2:
        raise InputError("gapped k-mers need k >= 2 (the first and last window positions are informative)")
    return count_patterns(_codes(X_or_seqs), kmer_patterns(k, gaps), k, reverse_complement=reverse_complement,
                          normalize=normalize)

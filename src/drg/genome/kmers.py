"""k-mer and gapped k-mer counts of DNA sequences, as feature matrices.

Features are named by their letters in A, C, G, T order (``"ACG"``); gapped k-mers use ``.`` for a
position that is not looked at (``"AC.G"``). Counting is vectorised: each sequence becomes a row of letter
codes, and a rolling base-4 index of every window is histogrammed with one ``np.bincount``.
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


def _window_indices(codes: np.ndarray, offsets: list[int], span: int) -> tuple[np.ndarray, np.ndarray]:
    """Base-4 index ``(N, W)`` of the letters at ``offsets`` in each window of ``span`` columns, and validity.

    Windows start at columns ``0 .. L - span`` (``W = L - span + 1``); a window is valid when none of the
    letters at ``offsets`` is unknown.
    """
    n_seq, length = codes.shape
    n_win = length - span + 1
    index = np.zeros((n_seq, n_win), dtype=np.int64)
    valid = np.ones((n_seq, n_win), dtype=bool)
    for off in offsets:
        part = codes[:, off : off + n_win]
        index *= 4
        index += part
        valid &= part < 4
    return index, valid


def _histogram(index: np.ndarray, valid: np.ndarray, n_kmers: int, block: np.ndarray) -> None:
    """Add the valid window indices of every sequence to ``block (N, n_kmers)``."""
    n_seq = index.shape[0]
    rows = np.broadcast_to(np.arange(n_seq, dtype=np.int64)[:, None], index.shape)
    flat = rows[valid] * n_kmers + index[valid]
    block += np.bincount(flat, minlength=n_seq * n_kmers).reshape(n_seq, n_kmers)


def _finish(
    counts: np.ndarray, names: list[str], rc_index: np.ndarray | None, normalize: bool
) -> KmerFeatures:
    """Merge reverse-complement pairs (when ``rc_index`` is given) and normalise rows."""
    if rc_index is not None:
        features = np.arange(len(names))
        keep = features <= rc_index
        merged = counts[:, keep].copy()
        partner = rc_index[keep]
        non_palindromic = partner != features[keep]
        merged[:, non_palindromic] += counts[:, partner[non_palindromic]]
        counts = merged
        names = [name for name, k in zip(names, keep) if k]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            freqs = np.where(totals > 0, counts / totals, 0.0)
        return KmerFeatures(freqs.astype(np.float32), names)
    return KmerFeatures(counts.astype(np.int32, copy=False), names)


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
    codes = _codes(X_or_seqs)
    return _gapped(codes, [tuple(range(k))], k, reverse_complement, normalize)


def _gapped(
    codes: np.ndarray, masks: list[tuple[int, ...]], k: int, reverse_complement: bool, normalize: bool
) -> KmerFeatures:
    """Count the patterns given by ``masks`` (informative offsets within a span of ``max + 1``)."""
    span = masks[0][-1] + 1
    n_kmers = 4**k
    n_features = n_kmers * len(masks)
    if n_features * max(codes.shape[0], 1) > _MAX_FEATURES * 4:
        raise InputError(
            f"{codes.shape[0]} sequences x {n_features} features is too large a count matrix; "
            "use a smaller k or fewer sequences per call"
        )
    counts = np.zeros((codes.shape[0], n_features), dtype=np.int64)
    if codes.shape[1] >= span:
        for m, offsets in enumerate(masks):
            index, valid = _window_indices(codes, list(offsets), span)
            _histogram(index, valid, n_kmers, counts[:, m * n_kmers : (m + 1) * n_kmers])
    kmers = ["".join(p) for p in itertools.product(_LETTERS, repeat=k)]
    names = []
    for offsets in masks:
        template = ["."] * span
        for kmer in kmers:
            for off, letter in zip(offsets, kmer):
                template[off] = letter
            names.append("".join(template))
    rc_index = None
    if reverse_complement:
        rc_kmer = _rc_kmer_index(k)
        mask_position = {offsets: m for m, offsets in enumerate(masks)}
        rc_index = np.empty(n_features, dtype=np.int64)
        for m, offsets in enumerate(masks):
            mirrored = tuple(sorted(span - 1 - off for off in offsets))
            rc_index[m * n_kmers : (m + 1) * n_kmers] = mask_position[mirrored] * n_kmers + rc_kmer
    return _finish(counts, names, rc_index, normalize)


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
    span = k + gaps
    masks = []
    for gap_positions in itertools.combinations(range(1, span - 1), gaps):
        gap_set = set(gap_positions)
        masks.append(tuple(p for p in range(span) if p not in gap_set))
    codes = _codes(X_or_seqs)
    return _gapped(codes, masks, k, reverse_complement, normalize)

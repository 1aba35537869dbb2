"""Sequence features for classical baselines: k-mer and gapped k-mer counts, and PWM-scan statistics.

Both feature families start from letter codes of one-hot ``(N, 4, L)`` sequences (or strings) and are
computed by compiled kernels, so 20,000 sequences of 200 bp take well under a second for 6-mers. k-mer
features follow :func:`drg.genome.kmer_counts` and :func:`drg.genome.gapped_kmer_counts` exactly (same
feature set, names and column order) and may be returned as a ``scipy.sparse`` CSR matrix when the dense
matrix would be large (``k >= 7``). PWM features follow :func:`drg.motifs.scan_motifs` (FIMO's background,
pseudocount, integer score scaling and exact p-values): the number of windows at or above the p-value
threshold on either strand (what ``scan_motifs`` reports for the region) and/or the best log-odds score
(bits) of any window on either strand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numba import njit, prange

from drg.errors import InputError
from drg.utils import PathLike

__all__ = ["FeatureMatrix", "kmer_features", "pwm_features", "sequence_codes"]

_DENSE_LIMIT = 64_000_000
"""Largest number of matrix entries returned dense when ``sparse=None`` (about 256 MB of float32)."""


@dataclass
class FeatureMatrix:
    """A regions x features matrix with its feature and region names.

    Attributes
    ----------
    values
        ``(N, F)`` float32 array, or a ``scipy.sparse.csr_matrix`` of the same shape.
    names
        The ``F`` feature names, in column order.
    regions
        ``(N,)`` region names, or None.
    """

    values: Any
    names: list[str]
    regions: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        shape = getattr(self.values, "shape", None)
        if shape is None or len(shape) != 2:
            raise InputError(f"feature values must be a 2-D matrix, got shape {shape}")
        if shape[1] != len(self.names):
            raise InputError(f"{shape[1]} feature columns but {len(self.names)} feature names")
        if self.regions is not None:
            self.regions = np.asarray(self.regions).astype(str)
            if len(self.regions) != shape[0]:
                raise InputError(f"{shape[0]} feature rows but {len(self.regions)} region names")

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, F)``."""
        return int(self.values.shape[0]), int(self.values.shape[1])

    @property
    def is_sparse(self) -> bool:
        """True when ``values`` is a scipy sparse matrix."""
        import scipy.sparse

        return bool(scipy.sparse.issparse(self.values))

    def toarray(self) -> np.ndarray:
        """Dense ``(N, F)`` array of the values."""
        return self.values.toarray() if self.is_sparse else np.asarray(self.values)

    def rows(self, index: Any) -> FeatureMatrix:
        """The rows ``index`` (integer positions or a boolean mask) as a new matrix."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        values = self.values[index]
        regions = None if self.regions is None else self.regions[index]
        return FeatureMatrix(values, list(self.names), regions)

    def to_frame(self) -> Any:
        """``pandas.DataFrame`` (regions x features; sparse columns when the matrix is sparse)."""
        import pandas as pd

        index = None if self.regions is None else pd.Index(self.regions, name="name")
        if self.is_sparse:
            return pd.DataFrame.sparse.from_spmatrix(self.values, index=index, columns=self.names)
        return pd.DataFrame(self.values, index=index, columns=self.names)

    @classmethod
    def hstack(cls, matrices: Sequence[FeatureMatrix]) -> FeatureMatrix:
        """Join matrices of the same regions column-wise (sparse when any of them is sparse)."""
        import scipy.sparse

        matrices = list(matrices)
        if not matrices:
            raise InputError("no feature matrices to join")
        n = matrices[0].shape[0]
        for m in matrices[1:]:
            if m.shape[0] != n:
                raise InputError(f"feature matrices have different numbers of rows ({n} and {m.shape[0]})")
            if matrices[0].regions is not None and m.regions is not None and not np.array_equal(
                    matrices[0].regions, m.regions):
                raise InputError("feature matrices describe different regions (region names differ)")
        names = [name for m in matrices for name in m.names]
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise InputError(f"feature names repeat across the joined matrices (e.g. {dup[:3]})")
        regions = next((m.regions for m in matrices if m.regions is not None), None)
        if len(matrices) == 1:
            return FeatureMatrix(matrices[0].values, names, regions)
        if any(m.is_sparse for m in matrices):
            values: Any = scipy.sparse.hstack([m.values for m in matrices], format="csr", dtype=np.float32)
        else:
            values = np.hstack([np.asarray(m.values, dtype=np.float32) for m in matrices])
        return FeatureMatrix(values, names, regions)


def sequence_codes(X: Any) -> np.ndarray:
    """Letter codes ``(N, L)`` uint8 (0..3 = A, C, G, T; 4 = unknown base, all-zero column or padding).

    Parameters
    ----------
    X
        One-hot ``(N, 4, L)`` or ``(4, L)`` (numpy or torch), or DNA strings (one or a list; shorter strings
        are padded on the right with unknown bases).
    """
    from drg.genome.kmers import _codes

    codes = _codes(X)
    return np.ascontiguousarray(codes, dtype=np.uint8)


# ------------------------------------------------------------------------------------------ compiled kernels
@njit(cache=True, parallel=True)
def _pwm_scan_stats(codes, tables, widths, min_scores, counts, best):
    """Per sequence and motif: windows scoring at least ``min_scores[j]`` (any strand) and the best score.

    ``tables`` is ``(M, S, R, 64)``: integer scores of the letter triplets at window offsets ``3r, 3r + 1,
    3r + 2`` (strand 0 forward, 1 reverse complement; offsets past the motif's width score 0), so a window
    costs ``ceil(w / 3)`` look-ups per strand. Windows with an unknown letter are skipped; ``best`` stays at
    the int64 minimum when a sequence has no valid window.
    """
    n, length = codes.shape
    n_motifs, n_strands = tables.shape[0], tables.shape[1]
    lowest = np.iinfo(np.int64).min
    for i in prange(n):
        triplet = np.zeros(length + 2, np.int64)
        next_bad = np.empty(length + 1, np.int64)
        next_bad[length] = length
        for p in range(length - 1, -1, -1):
            next_bad[p] = p if codes[i, p] > 3 else next_bad[p + 1]
        for p in range(length):
            a = min(codes[i, p], 3)
            b = min(codes[i, p + 1], 3) if p + 1 < length else 0
            c = min(codes[i, p + 2], 3) if p + 2 < length else 0
            triplet[p] = 16 * a + 4 * b + c
        scores = np.empty(length, np.int64)
        for j in range(n_motifs):
            w = widths[j]
            n_rows = (w + 2) // 3
            n_win = length - w + 1
            threshold = min_scores[j]
            hits = 0
            top = lowest
            for s in range(n_strands):
                table = tables[j, s]
                for p in range(n_win):
                    scores[p] = table[0, triplet[p]]
                for r in range(1, n_rows):
                    row = table[r]
                    shift = 3 * r
                    for p in range(n_win):
                        scores[p] += row[triplet[p + shift]]
                for p in range(n_win):
                    if next_bad[p] >= p + w:
                        score = scores[p]
                        if score >= threshold:
                            hits += 1
                        top = max(top, score)
            counts[i, j] = hits
            best[i, j] = top


def _triplet_table(M: np.ndarray, n_rows: int) -> np.ndarray:
    """``(n_rows, 64)`` scores of letter triplets at offsets ``3r .. 3r + 2`` of the ``(w, 4)`` matrix ``M``."""
    w = M.shape[0]
    padded = np.zeros((3 * n_rows, 4), dtype=np.int64)
    padded[:w] = M
    trip = padded.reshape(n_rows, 3, 4)
    return (trip[:, 0, :, None, None] + trip[:, 1, None, :, None] + trip[:, 2, None, None, :]).reshape(n_rows, 64)


# --------------------------------------------------------------------------------------------------- k-mers
def kmer_features(
    X: Any,
    k: int = 6,
    *,
    gaps: int = 0,
    canonical: bool = True,
    normalize: bool = False,
    sparse: bool | None = None,
    regions: Sequence[str] | np.ndarray | None = None,
) -> FeatureMatrix:
    """Count k-mers (or gapped k-mers) in every sequence.

    The features, their names and their column order are those of :func:`drg.genome.kmer_counts`
    (``gaps=0``) and :func:`drg.genome.gapped_kmer_counts` (``gaps > 0``: ``k`` informative positions in a
    window of ``k + gaps``, first and last informative, named like ``"A.CG"``); only the counting is
    shared with them, and the result can be sparse.

    Parameters
    ----------
    X
        One-hot ``(N, 4, L)`` or ``(4, L)``, or DNA strings. Windows holding an unknown base at an
        informative position are not counted.
    k
        Number of informative positions: 1 to 12 (at most 10 and at least 2 with ``gaps > 0``).
    gaps
        Gap positions inside each window (0 for plain k-mers).
    canonical
        Merge each feature with its reverse complement, so both strands count towards one column named by
        whichever of the two comes first (the lexicographically smaller k-mer). A palindrome counts once per
        occurrence.
    normalize
        Divide each row by its total, giving frequencies (rows without any k-mer stay 0).
    sparse
        Return a ``scipy.sparse.csr_matrix``; ``None`` chooses sparse when ``N x F`` exceeds 64 million
        entries (for 20,000 regions: ``k >= 7``).
    regions
        ``(N,)`` region names kept with the matrix.

    Returns
    -------
    FeatureMatrix
        ``values (N, F)`` float32 counts (or frequencies), ``F = C(k + gaps - 2, gaps) * 4**k``, about half
        that when ``canonical``.

    See Also
    --------
    drg.genome.kmer_counts, drg.genome.gapped_kmer_counts : the same counts as a dense int32 matrix.
    pwm_features : motif-scan features.
    """

    from drg.genome.kmers import _check_int

    k = _check_int(k, "k", 1)
    gaps = _check_int(gaps, "gaps", 0)
    if gaps == 0 and k > 12:
        raise InputError(f"k must be at most 12 (4**k features), got {k}")
    if gaps > 0 and not 2 <= k <= 10:
        raise InputError(f"gapped k-mers need 2 <= k <= 10, got k={k}")
    from drg.genome.kmers import count_patterns, kmer_patterns

    codes = sequence_codes(X)
    masks = kmer_patterns(k, gaps)
    n_features = len(count_patterns(codes[:0], masks, k, reverse_complement=canonical).names)
    as_sparse = (codes.shape[0] * n_features > _DENSE_LIMIT) if sparse is None else bool(sparse)
    counted = count_patterns(codes, masks, k, reverse_complement=canonical, sparse=as_sparse,
                             normalize=normalize)
    values = counted.counts if as_sparse else np.asarray(counted.counts, dtype=np.float32)
    names = counted.names
    return FeatureMatrix(values, names, None if regions is None else np.asarray(regions))


# ----------------------------------------------------------------------------------------------------- PWMs
def _motif_list(motifs: Any) -> list[Any]:
    from drg.motifs.io import load_bundled_jaspar, read_motifs
    from drg.motifs.motif import Motif

    if motifs is None or (isinstance(motifs, str) and motifs.lower() == "jaspar"):
        return load_bundled_jaspar()
    if isinstance(motifs, Motif):
        return [motifs]
    if isinstance(motifs, (str, bytes)) or hasattr(motifs, "__fspath__"):
        return read_motifs(motifs)
    out = list(motifs)
    for i, m in enumerate(out):
        if not isinstance(m, Motif):
            raise InputError(f"motif {i + 1}: expected a drg.motifs.Motif, got {type(m).__name__}")
    return out


def _motif_label(motif: Any) -> str:
    return f"{motif.id}:{motif.name}" if motif.name and motif.name != motif.id else str(motif.id)


def pwm_features(
    X: Any,
    motifs: Sequence[Any] | PathLike | None = None,
    *,
    threshold: float = 1e-4,
    statistic: Literal["count", "max", "both"] = "both",
    background: Any = None,
    pseudocount: float = 0.1,
    both_strands: bool = True,
    regions: Sequence[str] | np.ndarray | None = None,
    batch_size: int = 4096,
    verbose: bool = False,
) -> FeatureMatrix:
    """Per-region motif-scan statistics of every motif, with the statistics of :func:`drg.motifs.scan_motifs`.

    Parameters
    ----------
    X
        One-hot ``(N, 4, L)`` or ``(4, L)``, or DNA strings. Windows holding an unknown base are skipped.
    motifs
        Motifs (a list of :class:`~drg.motifs.Motif`), a MEME/JASPAR file, or None (or ``"jaspar"``) for the
        bundled JASPAR 2024 CORE vertebrates non-redundant collection.
    threshold
        p-value threshold of a hit (FIMO ``--thresh``).
    statistic
        ``"count"``: number of windows with ``p <= threshold`` on either strand (a window matching on both
        strands counts twice, as ``scan_motifs`` reports two hits); ``"max"``: best log-odds score (bits) of
        any window on either strand; ``"both"``: both, count columns first.
    background, pseudocount, both_strands
        As in :func:`drg.motifs.scan_motifs` (FIMO's NRDB background by default).
    regions
        ``(N,)`` region names kept with the matrix.
    batch_size
        Sequences per compiled call (the progress bar advances per batch).
    verbose
        Show a progress bar.

    Returns
    -------
    FeatureMatrix
        ``values (N, F)`` float32 with ``F = M`` or ``2 M`` columns named ``"<id>:<name>:count"`` and
        ``"<id>:<name>:max"`` (``"<id>:..."`` when a motif has no separate name). A region without any
        valid window gets count 0 and the motif's lowest possible score as its maximum.

    See Also
    --------
    drg.motifs.scan_motifs : the hits themselves.
    kmer_features : k-mer counts.
    """
    from drg.motifs.scan import _background, _pvalue_table, _scaled_matrix
    from drg.utils import progress

    if statistic not in ("count", "max", "both"):
        raise InputError(f"statistic must be 'count', 'max' or 'both', got {statistic!r}")
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    motif_list = _motif_list(motifs)
    if not motif_list:
        raise InputError("no motifs to scan")
    codes = sequence_codes(X)
    n = codes.shape[0]
    n_motifs = len(motif_list)
    width = max(m.ppm.shape[0] for m in motif_list)
    n_strands = 2 if both_strands else 1
    n_rows = (width + 2) // 3
    tables = np.zeros((n_motifs, n_strands, n_rows, 64), dtype=np.int64)
    lowest = np.zeros(n_motifs, dtype=np.int64)
    widths = np.zeros(n_motifs, dtype=np.int64)
    min_scores = np.zeros(n_motifs, dtype=np.int64)
    offsets = np.zeros(n_motifs)
    scales = np.ones(n_motifs)
    for j, motif in enumerate(motif_list):
        bg = _background(background, motif, both_strands)
        M, offset, scale = _scaled_matrix(motif, bg, pseudocount)
        pv = _pvalue_table(M, bg)
        above = np.flatnonzero(pv <= threshold)
        w = M.shape[0]
        widths[j], offsets[j], scales[j] = w, offset, scale
        min_scores[j] = int(above[0]) if above.size else np.iinfo(np.int64).max
        lowest[j] = M.min(axis=1).sum()
        tables[j, 0] = _triplet_table(M, n_rows)
        if both_strands:
            tables[j, 1] = _triplet_table(M[::-1, ::-1], n_rows)
    counts = np.zeros((n, n_motifs), dtype=np.int32)
    best = np.zeros((n, n_motifs), dtype=np.int64)
    batches = range(0, n, batch_size)
    for start in progress(batches, total=len(batches), description="scanning motifs", verbose=verbose):
        stop = min(start + batch_size, n)
        _pwm_scan_stats(codes[start:stop], tables, widths, min_scores, counts[start:stop], best[start:stop])
    no_window = best == np.iinfo(np.int64).min
    best = np.where(no_window, lowest[None, :], best)
    bits = (best / scales[None, :] + widths[None, :] * offsets[None, :]).astype(np.float32)
    labels = [_motif_label(m) for m in motif_list]
    parts, names = [], []
    if statistic in ("count", "both"):
        parts.append(counts.astype(np.float32))
        names += [f"{label}:count" for label in labels]
    if statistic in ("max", "both"):
        parts.append(bits)
        names += [f"{label}:max" for label in labels]
    values = parts[0] if len(parts) == 1 else np.hstack(parts)
    return FeatureMatrix(values, names, None if regions is None else np.asarray(regions))

"""FIMO-style motif scanning: every window of every sequence scored by a log-odds matrix, exact p-values.

For each motif this follows MEME Suite 5.4's ``fimo``:

1. The background defaults to FIMO's: the DNA frequencies of the non-redundant database (NRDB,
   ``A 0.281774, C 0.222020, G 0.228876, T 0.267330``), not the motif file's; when both strands are scanned it is
   averaged with its reverse complement (``A = T``, ``C = G``), as FIMO does for a complementable alphabet.
2. The motif pseudocount is added with that background, ``p' = (p * nsites + pseudocount * bg) / (nsites +
   pseudocount)``, and the log-odds matrix is ``log2(p' / bg)``.
3. The matrix is scaled to integers as FIMO does (``offset = floor(min)``, ``scale = floor(1000 / (max -
   offset))``, entry ``round((x - offset) * scale)``), so the score of a window is an integer and its exact
   p-value under the 0-order background is read from the score distribution computed by convolution.
4. Windows with ``p <= threshold`` are reported; the score reported is the scaled score converted back to
   bits (``score / scale + width * offset``), as FIMO reports it. A reverse-strand hit is the window scored
   by the reverse-complement matrix; its coordinates are those of the window on the given strand and its
   sequence is read on the reverse strand.

Windows containing a letter other than A, C, G, T (for example N, or an all-zero one-hot column) are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.motifs.motif import DEFAULT_NSITES, Motif

_RANGE = 1000
"""Integer range of a scaled log-odds column (FIMO's ``PSSM_RANGE``)."""
NRDB_BACKGROUND = np.array([0.281774, 0.222020, 0.228876, 0.267330])
"""MEME Suite's DNA background (NRDB letter frequencies, A, C, G, T): FIMO's default ``--bfile``."""
_CODES = np.full(256, 4, dtype=np.int8)
for _i, _c in enumerate("ACGT"):
    _CODES[ord(_c)] = _i
    _CODES[ord(_c.lower())] = _i
_CODES[ord("U")] = _CODES[ord("u")] = 3


def _encode(sequences: Any) -> tuple[list[np.ndarray], list[str] | None]:
    """Integer codes (0..3 = A, C, G, T; 4 = anything else) of each sequence."""
    if isinstance(sequences, str):
        sequences = [sequences]
    if isinstance(sequences, np.ndarray) and sequences.dtype.kind in "iufb":
        X = sequences
        if X.ndim == 2:
            X = X[None]
        if X.ndim != 3 or X.shape[1] != 4:
            raise InputError(f"one-hot sequences must have shape (N, 4, L), got {sequences.shape}")
        codes = np.argmax(X, axis=1).astype(np.int8)
        codes[X.sum(axis=1) <= 0] = 4
        return list(codes), None
    if hasattr(sequences, "numpy") and not isinstance(sequences, (list, tuple)):
        return _encode(sequences.detach().cpu().numpy())
    out = []
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise InputError(f"sequence {i + 1}: expected a string, got {type(seq).__name__}")
        out.append(_CODES[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)])
    return out, None


def _scaled_matrix(motif: Motif, bg: np.ndarray, pseudocount: float) -> tuple[np.ndarray, float, float]:
    n = motif.nsites if motif.nsites else DEFAULT_NSITES
    ppm = motif.ppm / motif.ppm.sum(axis=1, keepdims=True)
    freqs = (ppm * n + pseudocount * bg) / (n + pseudocount)
    with np.errstate(divide="ignore"):
        lo = np.log2(freqs / bg)
    finite = lo[np.isfinite(lo)]
    if finite.size == 0:
        raise InputError("motif has no finite log-odds score; use a positive pseudocount", record=motif.id)
    small, large = float(finite.min()), float(finite.max())
    if large == small:
        small = large - 1.0
    offset = np.floor(small)
    scale = np.floor(_RANGE / (large - offset))
    y = (lo - offset) * scale
    scaled = np.where(y >= 0, np.floor(y + 0.5), np.ceil(y - 0.5))
    scaled[~np.isfinite(lo)] = -(10**6)  # a letter of probability 0 can never match
    return scaled.astype(np.int64), float(offset), float(scale)


def _pvalue_table(scaled: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``pv[s] = P(score >= s)`` for integer window scores ``s`` in ``0 .. width * 1000`` under ``bg``."""
    w = scaled.shape[0]
    pdf = np.zeros(w * _RANGE + 1)
    pdf[0] = 1.0
    hi = 0
    for row in scaled:
        new = np.zeros_like(pdf)
        for a in range(4):
            s = int(row[a])
            if s < 0:
                continue
            new[s : s + hi + 1] += pdf[: hi + 1] * bg[a]
        hi += int(max(row.max(), 0))
        pdf = new
    return np.minimum(np.cumsum(pdf[::-1])[::-1], 1.0)


def _background(background: Any, motif: Motif, both_strands: bool) -> np.ndarray:
    if background is None or (isinstance(background, str) and background == "nrdb"):
        bg = NRDB_BACKGROUND
    elif isinstance(background, str) and background == "motif":
        bg = motif.background
    elif isinstance(background, str) and background == "uniform":
        bg = np.full(4, 0.25)
    elif isinstance(background, str):
        raise InputError(f"background must be 'nrdb', 'motif', 'uniform' or 4 numbers, got {background!r}")
    else:
        bg = background
    bg = np.asarray(bg, dtype=np.float64).reshape(-1)
    if bg.shape != (4,) or not np.isfinite(bg).all() or (bg <= 0).any():
        raise InputError(f"background must be 4 positive numbers, got {bg}", record=motif.id)
    bg = bg / bg.sum()
    return (bg + bg[::-1]) / 2.0 if both_strands else bg


def scan_motifs(
    motifs: Sequence[Motif] | Motif,
    sequences: Any,
    *,
    threshold: float = 1e-4,
    background: Any = None,
    pseudocount: float = 0.1,
    both_strands: bool = True,
    names: Sequence[str] | None = None,
    qvalues: bool = False,
) -> pd.DataFrame:
    """Find motif occurrences with FIMO's statistics.

    Parameters
    ----------
    motifs
        Motifs to scan (a :class:`~drg.motifs.Motif` or a list).
    sequences
        DNA strings, or one-hot ``X: (N, 4, L)`` (A, C, G, T; all-zero columns count as N).
    threshold
        Report windows with p-value at most this (FIMO ``--thresh``).
    background
        Background used for the pseudocount, the log-odds and the p-values: ``None`` or ``"nrdb"`` (FIMO's
        default, :data:`NRDB_BACKGROUND`), ``"motif"`` (each motif's own background, FIMO ``--bfile
        --motif--``), ``"uniform"`` (``--bfile --uniform--``), or four numbers A, C, G, T. With
        ``both_strands`` it is averaged with its reverse complement, as FIMO does.
    pseudocount
        Motif pseudocount (FIMO ``--motif-pseudo``).
    both_strands
        Also scan the reverse strand (FIMO's default; ``False`` is ``--norc``).
    names
        Sequence names (default ``seq1``, ``seq2``, ...).
    qvalues
        Add Benjamini-Hochberg q-values per motif, over every window scanned (``q = p * n_windows / rank``,
        made monotone); FIMO estimates them from all scores instead, so these are close but not identical.

    Returns
    -------
    pandas.DataFrame
        One row per hit, FIMO's columns: ``motif_id``, ``motif_alt_id``, ``sequence_name``, ``start``,
        ``stop`` (**1-based, inclusive**, on the given strand's coordinates like FIMO; subtract 1 from
        ``start`` for 0-based half-open), ``strand`` (``+``/``-``), ``score`` (log-odds bits), ``p_value``,
        ``matched_sequence`` (read on the hit's strand), and ``q_value`` when requested. Sorted by motif
        (input order), then p-value, then sequence and start.
    """
    from drg.motifs._scan_kernels import scan_windows

    if isinstance(motifs, Motif):
        motifs = [motifs]
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    seqs, _ = _encode(sequences)
    if names is None:
        names = [f"seq{i + 1}" for i in range(len(seqs))]
    elif len(names) != len(seqs):
        raise InputError(f"{len(names)} names given for {len(seqs)} sequences")
    lengths = np.array([s.size for s in seqs], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    codes = np.concatenate(seqs).astype(np.int8) if seqs else np.zeros(0, np.int8)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    comp = np.frombuffer(b"TGCAN", dtype=np.uint8)
    frames = []
    for motif in motifs:
        bg = _background(background, motif, both_strands)
        M, offset, scale = _scaled_matrix(motif, bg, pseudocount)
        pv = _pvalue_table(M, bg)
        above = np.nonzero(pv <= threshold)[0]
        w = M.shape[0]
        n_windows = int(np.clip(lengths - w + 1, 0, None).sum()) * (2 if both_strands else 1)
        parts = []
        if above.size:
            min_score = int(above[0])
            strands = [("+", M)] + ([("-", M[::-1, ::-1].copy())] if both_strands else [])
            for strand, matrix in strands:
                seq_i, pos, score = scan_windows(codes, starts, np.ascontiguousarray(matrix), min_score)
                parts.append((strand, seq_i, pos, score))
        rows = []
        for strand, seq_i, pos, score in parts:
            if seq_i.size == 0:
                continue
            idx = starts[seq_i][:, None] + pos[:, None] + np.arange(w)[None, :]
            window = codes[idx]
            text = (comp[window[:, ::-1]] if strand == "-" else letters[window]).view(f"S{w}").ravel()
            rows.append(
                pd.DataFrame(
                    {
                        "motif_id": motif.id,
                        "motif_alt_id": motif.name if motif.name != motif.id else "",
                        "sequence_name": np.asarray(names, dtype=object)[seq_i],
                        "start": pos + 1,
                        "stop": pos + w,
                        "strand": strand,
                        "score": score / scale + w * offset,
                        "p_value": pv[score],
                        "matched_sequence": [t.decode() for t in text],
                    }
                )
            )
        table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        if len(table):
            table = table.sort_values(["p_value", "sequence_name", "start"], kind="stable", ignore_index=True)
            if qvalues:
                ranks = np.arange(1, len(table) + 1)
                q = np.minimum(1.0, table["p_value"].to_numpy() * n_windows / ranks)
                table["q_value"] = np.minimum.accumulate(q[::-1])[::-1]
            frames.append(table)
    columns = [
        "motif_id", "motif_alt_id", "sequence_name", "start", "stop", "strand", "score", "p_value",
        "matched_sequence",
    ] + (["q_value"] if qvalues else [])
    if not frames:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


fimo = scan_motifs
"""Alias of :func:`scan_motifs`."""

"""Motif-motif comparison with the Tomtom statistics of Gupta et al. (2007), as MEME Suite 5.4 computes them.

For each query motif:

1. Both query and target probabilities get MEME's motif pseudocount,
   ``p' = (p * nsites + pseudocount * bg) / (nsites + pseudocount)``, with the (strand-symmetrised) background
   of the first query motif.
2. Every query column is scored against every column of every target and of every target's reverse
   complement (the *background* of column scores). With complete scores each query column's scores are
   shifted so that their median (MEME's slightly low median: element ``floor(n/2) - 1`` of the sorted
   scores, averaged with element ``ceil(n/2) - 1``) is zero.
3. All scores are scaled to integers ``0 .. 100`` with an integer offset and scale shared by the query.
4. Null distributions of the summed scaled score of each contiguous range of query columns come from
   convolving the per-column score histograms (columns independent).
5. For every target and strand the best alignment offset is chosen, and its p-value is computed:

   * *complete scores* (the default, MEME's default): an unaligned query column scores the median (0), the
     alignment score covers all query columns, and the p-value is that of the maximum over every alignment
     of both strands of a target of that length (the null distribution of the maximum, alignments
     independent);
   * *incomplete scores* (``-incomplete-scores``): only aligned columns count, each alignment gets the
     p-value of its overlap's null distribution, and the best one is corrected for the number of alignments
     tried on both strands, ``1 - (1 - p)^n``.

6. E-value = p-value x number of targets; q-values by Benjamini-Hochberg over both strands of all targets
   (per query). MEME estimates the fraction of true nulls from the p-values when a query has more than 100
   of them (both strands of more than 50 targets), by a randomised bootstrap; here it is fixed at 1 by
   default (``pi_zero``), which gives q-values equal to or larger than MEME's.

Each (query, target) pair is reported for the strand with the smaller p-value (ties: larger overlap, then
the forward strand), as MEME's ``tomtom.tsv`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.motifs.motif import ALPHABET, DEFAULT_NSITES, Motif

Distance = Literal["pearson", "ed", "sandelin", "allr", "kullback", "blic1", "blic5"]
MAX_LENGTH = 500
"""Longest motif (columns) :func:`tomtom` accepts."""
DISTANCES: tuple[str, ...] = ("pearson", "ed", "sandelin", "allr", "kullback", "blic1", "blic5")
COLUMNS: tuple[str, ...] = (
    "query",
    "target",
    "offset",
    "p_value",
    "e_value",
    "q_value",
    "overlap",
    "query_consensus",
    "target_consensus",
    "orientation",
)


class TomtomMatrices(NamedTuple):
    """Results of :func:`tomtom_matrices`, each array of shape ``(n_queries, n_targets)``.

    Attributes
    ----------
    p_value, e_value, q_value
        float64 statistics of the best alignment (the better strand).
    offset
        int32 MEME ``Optimal_offset``: position of the target's first column relative to the query's first
        column, in the reported orientation of the target (negative: the target starts before the query).
    overlap
        int32 number of aligned columns.
    strand
        int8, 0 when the target matched as given (``+``), 1 for its reverse complement (``-``).
    """

    p_value: np.ndarray
    e_value: np.ndarray
    q_value: np.ndarray
    offset: np.ndarray
    overlap: np.ndarray
    strand: np.ndarray


def _as_motifs(motifs: Any, what: str) -> list[Motif]:
    if isinstance(motifs, (str, Path)):
        from drg.motifs.io import read_motifs

        return read_motifs(motifs)
    if isinstance(motifs, Motif):
        return [motifs]
    if isinstance(motifs, np.ndarray) and motifs.ndim == 2:
        motifs = [motifs]
    out: list[Motif] = []
    for i, item in enumerate(motifs):
        if isinstance(item, Motif):
            out.append(item)
        else:
            array = np.asarray(item, dtype=np.float64)
            if array.ndim != 2 or 4 not in array.shape:
                raise InputError(f"{what} {i + 1}: expected a Motif or an (L, 4) probability matrix, got {array.shape}")
            out.append(Motif(name=f"{what}{i + 1}", id=f"{what}{i + 1}", ppm=array if array.shape[1] == 4 else array.T))
    if not out:
        raise InputError(f"no {what} motifs given")
    return out


def _symmetric_background(background: Any, motifs: Sequence[Motif]) -> np.ndarray:
    bg = np.asarray(motifs[0].background if background is None else background, dtype=np.float64).reshape(-1)
    if bg.shape != (4,) or not np.isfinite(bg).all() or (bg <= 0).any():
        raise InputError(f"background must be 4 positive numbers (A, C, G, T), got {bg}")
    bg = bg / bg.sum()
    return (bg + bg[::-1]) / 2.0


def _smoothed_all(motifs: Sequence[Motif], bg: np.ndarray, pseudocount: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Every motif's probabilities with MEME's motif pseudocount (one array operation over all of them)."""
    nsites = np.array([m.nsites if m.nsites else DEFAULT_NSITES for m in motifs], dtype=np.float64)
    lengths = np.array([m.ppm.shape[0] for m in motifs])
    ppm = np.concatenate([m.ppm for m in motifs])
    n = np.repeat(nsites, lengths)[:, None]
    freqs = (ppm / ppm.sum(axis=1, keepdims=True) * n + pseudocount * bg) / (n + pseudocount)
    return np.split(freqs, np.cumsum(lengths)[:-1]), nsites


def meme_consensus(freqs: np.ndarray) -> str:
    """MEME Tomtom's consensus: the most probable letter of each column (first of A, C, G, T on ties).

    Parameters
    ----------
    freqs
        (L, 4) probabilities (Tomtom reports them after the motif pseudocount).
    """
    return "".join(ALPHABET[int(i)] for i in np.argmax(np.asarray(freqs, dtype=np.float32), axis=1))


def _prepare(
    queries: Any, targets: Any, background: Any, pseudocount: float, reverse_complement: bool
) -> tuple[list[Motif], list[Motif], dict[str, Any]]:
    qs = _as_motifs(queries, "query")
    ts = _as_motifs(targets, "target")
    bg = _symmetric_background(background, qs)
    if pseudocount < 0:
        raise InputError(f"pseudocount must be >= 0, got {pseudocount}")
    q_freqs, q_nsites = _smoothed_all(qs, bg, pseudocount)
    t_freqs, t_nsites = _smoothed_all(ts, bg, pseudocount)
    if reverse_complement:
        entries = [f for freqs in t_freqs for f in (freqs, freqs[::-1, ::-1])]
        entry_nsites = np.repeat(t_nsites, 2)
    else:
        entries, entry_nsites = t_freqs, t_nsites
    if pseudocount == 0:
        for what, group in (("query", q_freqs), ("target", t_freqs)):
            for i, freqs in enumerate(group):
                if (freqs <= 0).any():
                    raise InputError(f"{what} motif {i + 1} has zero probabilities; use a positive pseudocount")
    q_len = np.array([f.shape[0] for f in q_freqs], dtype=np.int64)
    t_len = np.array([f.shape[0] for f in entries], dtype=np.int64)
    for what, lengths in (("query", q_len), ("target", t_len[:: 2 if reverse_complement else 1])):
        if lengths.max() > MAX_LENGTH:
            i = int(np.argmax(lengths))
            raise InputError(f"{what} motif {i + 1} has {lengths[i]} columns; at most {MAX_LENGTH} are supported")
    # entries grouped by length; a group's columns stored column-major (column j of every entry, then j + 1)
    order = np.argsort(t_len, kind="stable")
    g_len, g_count = np.unique(t_len, return_counts=True)
    g_first = np.concatenate([[0], np.cumsum(g_count)])
    t_start = np.concatenate([[0], np.cumsum(t_len)])
    rows = [
        (t_start[order[g_first[g] : g_first[g + 1]]][None, :] + np.arange(length)[:, None]).ravel()
        for g, length in enumerate(g_len)
    ]
    perm = np.concatenate(rows)
    arrays = {
        "Q": np.ascontiguousarray(np.concatenate(q_freqs), dtype=np.float64),
        "q_start": np.concatenate([[0], np.cumsum(q_len)]).astype(np.int64),
        "q_nsites": q_nsites,
        "T": np.ascontiguousarray(np.concatenate(entries)[perm], dtype=np.float64),
        "t_col_nsites": np.repeat(entry_nsites, t_len)[perm],
        "g_len": g_len.astype(np.int64),
        "g_off": np.concatenate([[0], np.cumsum(g_len * g_count)]).astype(np.int64),
        "g_first": g_first.astype(np.int64),
        "entries": order.astype(np.int64),
        "bg": bg,
        "q_freqs": q_freqs,
        "entry_freqs": entries,
    }
    return qs, ts, arrays


def tomtom_matrices(
    queries: Any,
    targets: Any,
    dist: Distance = "pearson",
    min_overlap: int = 1,
    complete_scores: bool = True,
    *,
    internal: bool = False,
    reverse_complement: bool = True,
    pseudocount: float = 0.1,
    background: Any = None,
    pi_zero: float = 1.0,
    n_jobs: int = -1,
) -> TomtomMatrices:
    """All-pairs Tomtom statistics as ``(n_queries, n_targets)`` arrays (see :func:`tomtom` for parameters).

    Returns
    -------
    TomtomMatrices
        p-, E- and q-values, offsets, overlaps and strands of the best alignment of every pair.
    """
    if dist not in DISTANCES:
        raise InputError(f"unknown distance {dist!r}; expected one of {', '.join(DISTANCES)}")
    if min_overlap < 1:
        raise InputError(f"min_overlap must be >= 1, got {min_overlap}")
    if not 0 < pi_zero <= 1:
        raise InputError(f"pi_zero must be in (0, 1], got {pi_zero}")
    _, ts, a = _prepare(queries, targets, background, pseudocount, reverse_complement)
    return _run(a, dist, min_overlap, complete_scores, internal, reverse_complement, pi_zero, n_jobs, len(ts))


def _run(a, dist, min_overlap, complete_scores, internal, reverse_complement, pi_zero, n_jobs, n_targets):
    import numba

    from drg.motifs import _tomtom_kernels as kernels

    previous = numba.get_num_threads()
    if n_jobs is not None and n_jobs > 0:
        numba.set_num_threads(min(n_jobs, numba.config.NUMBA_NUM_THREADS))
    # queries differ in length and cost: hand them to the threads one at a time
    chunk = numba.set_parallel_chunksize(1)
    try:
        p, q, offset, overlap, strand = kernels.tomtom_all(
            kernels.DIST_CODES[dist], a["Q"], a["q_start"], a["q_nsites"], a["T"], a["t_col_nsites"],
            a["g_len"], a["g_off"], a["g_first"], a["entries"], a["bg"], bool(complete_scores), int(min_overlap),
            bool(internal), 2 if reverse_complement else 1, float(pi_zero),
        )
    finally:
        numba.set_parallel_chunksize(chunk)
        numba.set_num_threads(previous)
    return TomtomMatrices(p, p * n_targets, q, offset, overlap, strand)


def tomtom(
    queries: Any,
    targets: Any,
    dist: Distance = "pearson",
    min_overlap: int = 1,
    complete_scores: bool = True,
    *,
    thresh: float | None = None,
    evalue: bool = False,
    internal: bool = False,
    reverse_complement: bool = True,
    pseudocount: float = 0.1,
    background: Any = None,
    pi_zero: float = 1.0,
    n_jobs: int = -1,
) -> pd.DataFrame:
    """Compare query motifs with target motifs by Tomtom (MEME Suite 5.4 statistics).

    Parameters
    ----------
    queries, targets
        Motifs: a list of :class:`~drg.motifs.Motif`, a motif file path (MEME or JASPAR), or (L, 4)
        probability matrices (columns A, C, G, T; ``nsites`` taken as 20).
    dist
        Column similarity: ``"pearson"`` (correlation, the default here; MEME's own default is ``ed``),
        ``"ed"`` (negative Euclidean distance), ``"sandelin"`` (Sandelin-Wasserman, ``2 - sum (p - q)^2``),
        ``"allr"`` (average log-likelihood ratio, uses ``nsites``), ``"kullback"`` (negative average
        Kullback-Leibler divergence), ``"blic1"`` / ``"blic5"`` (Bayesian likelihood 2-component score with a
        1- or 5-component Dirichlet prior, uses ``nsites``).
    min_overlap
        Smallest number of aligned columns considered (reduced to the shorter motif's length when larger).
    complete_scores
        Score unaligned query columns as the column median (MEME's default); ``False`` is MEME's
        ``-incomplete-scores``.
    thresh
        Keep only pairs with q-value (or E-value with ``evalue=True``) at most this; ``None`` keeps all.
    evalue
        Apply ``thresh`` to E-values instead of q-values.
    internal
        Only alignments in which the shorter motif lies wholly inside the longer one (MEME ``-internal``).
    reverse_complement
        Also compare each target's reverse complement (MEME's default; ``False`` is ``-norc``).
    pseudocount
        Motif pseudocount applied to queries and targets (MEME ``-motif-pseudo``, default 0.1).
    background
        (4,) background for the pseudocount (and ``allr``/``blic``); default: the first query's background.
        It is made strand-symmetric as MEME does.
    pi_zero
        Assumed fraction of true null pairs in the q-value computation (1 gives Benjamini-Hochberg).
    n_jobs
        Threads for the compiled kernel (-1: numba's default, all cores).

    Returns
    -------
    pandas.DataFrame
        One row per (query, target) pair (filtered by ``thresh``), sorted by query in input order then by
        p-value, with the columns of MEME's ``tomtom.tsv``: ``query``, ``target`` (motif ids), ``offset``
        (``Optimal_offset``), ``p_value``, ``e_value``, ``q_value``, ``overlap``, ``query_consensus``,
        ``target_consensus`` (of the target in the reported orientation), ``orientation`` (``"+"`` or
        ``"-"``); plus ``query_index`` and ``target_index`` (0-based positions in the inputs).

    Notes
    -----
    p-values of complete scores are rounded to float32 as MEME does. MEME warns that fewer than 50 targets
    give unreliable p-values (the column-score background is the targets themselves).

    See Also
    --------
    tomtom_matrices : the same statistics as dense arrays, without building a table.
    """
    if dist not in DISTANCES:
        raise InputError(f"unknown distance {dist!r}; expected one of {', '.join(DISTANCES)}")
    if min_overlap < 1:
        raise InputError(f"min_overlap must be >= 1, got {min_overlap}")
    if not 0 < pi_zero <= 1:
        raise InputError(f"pi_zero must be in (0, 1], got {pi_zero}")
    qs, ts, a = _prepare(queries, targets, background, pseudocount, reverse_complement)
    res = _run(a, dist, min_overlap, complete_scores, internal, reverse_complement, pi_zero, n_jobs, len(ts))
    n_q, n_t = res.p_value.shape
    # rows: queries in input order, then p-value, then target order (a stable sort of each query's row)
    flat = (np.argsort(res.p_value, axis=1, kind="stable") + (np.arange(n_q) * n_t)[:, None]).reshape(-1)
    if thresh is not None:
        flat = flat[(res.e_value if evalue else res.q_value).reshape(-1)[flat] <= thresh]
    qi, ti = np.divmod(flat, n_t)
    p = res.p_value.reshape(-1)[flat]
    strand = res.strand.reshape(-1)[flat]
    q_cons = np.array([meme_consensus(f) for f in a["q_freqs"]], dtype=object)
    step = 2 if reverse_complement else 1
    t_cons = np.array([meme_consensus(f) for f in a["entry_freqs"]], dtype=object)
    return pd.DataFrame(
        {
            "query": np.array([m.id for m in qs], dtype=object)[qi],
            "target": np.array([m.id for m in ts], dtype=object)[ti],
            "offset": res.offset.reshape(-1)[flat],
            "p_value": p,
            "e_value": res.e_value.reshape(-1)[flat],
            "q_value": res.q_value.reshape(-1)[flat],
            "overlap": res.overlap.reshape(-1)[flat],
            "query_consensus": q_cons[qi],
            "target_consensus": t_cons[ti * step + strand],
            "orientation": np.array(["+", "-"], dtype=object)[strand],
            "query_index": qi,
            "target_index": ti,
        }
    )

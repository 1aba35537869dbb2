"""Compiled window scoring of :func:`drg.motifs.scan.scan_motifs` (private)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _window_scores(codes, s0, length, M, min_score, out_pos, out_score, fill):
    w = M.shape[0]
    c = 0
    for p in range(length - w + 1):
        score = 0
        ok = True
        for k in range(w):
            b = codes[s0 + p + k]
            if b > 3:
                ok = False
                break
            score += M[k, b]
        if ok and score >= min_score:
            if fill:
                out_pos[c] = p
                out_score[c] = score
            c += 1
    return c


@njit(cache=True, parallel=True)
def scan_windows(codes, starts, M, min_score):
    """Windows of every sequence whose integer score under ``M`` (W, 4) is at least ``min_score``.

    ``codes`` holds all sequences concatenated (0..3 = A, C, G, T, other values skip the window), sequence
    ``i`` being ``codes[starts[i]:starts[i + 1]]``. Returns ``(sequence index, 0-based start, score)``.
    """
    n_seq = starts.shape[0] - 1
    counts = np.zeros(n_seq + 1, np.int64)
    dummy_pos = np.empty(0, np.int64)
    dummy_score = np.empty(0, np.int64)
    for i in prange(n_seq):
        counts[i + 1] = _window_scores(
            codes, starts[i], starts[i + 1] - starts[i], M, min_score, dummy_pos, dummy_score, False
        )
    offsets = np.cumsum(counts)
    total = offsets[-1]
    seq_i = np.empty(total, np.int64)
    pos = np.empty(total, np.int64)
    score = np.empty(total, np.int64)
    for i in prange(n_seq):
        a = offsets[i]
        b = offsets[i + 1]
        if b > a:
            _window_scores(codes, starts[i], starts[i + 1] - starts[i], M, min_score, pos[a:b], score[a:b], True)
            seq_i[a:b] = i
    return seq_i, pos, score

"""Compiled k-mer counting behind :mod:`drg.genome.kmers`: one pass per sequence, parallel over sequences.

``masks`` ``(P, k)`` holds the informative offsets of each pattern (all patterns share one span), ``colmap``
maps a raw feature (pattern-major, then the base-4 index of its k letters) to its output column, so merging
reverse-complement pairs costs nothing while counting.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _row_kmers(codes, i, masks, colmap, n_kmers, out_cols):
    """Columns of the valid windows of sequence ``i`` (every pattern); returns how many were written."""
    n_masks, k = masks.shape
    length = codes.shape[1]
    span = masks[0, k - 1] + 1
    c = 0
    for m in range(n_masks):
        base = m * n_kmers
        for p in range(length - span + 1):
            index = 0
            ok = True
            for j in range(k):
                letter = codes[i, p + masks[m, j]]
                if letter > 3:
                    ok = False
                    break
                index = index * 4 + letter
            if ok:
                out_cols[c] = colmap[base + index]
                c += 1
    return c


@njit(cache=True, parallel=True)
def _count_kmers_dense(codes, masks, colmap, n_kmers, out):
    n_masks, k = masks.shape
    n_win = max(codes.shape[1] - masks[0, k - 1], 0)
    for i in prange(codes.shape[0]):
        cols = np.empty(n_masks * n_win, np.int32)
        c = _row_kmers(codes, i, masks, colmap, n_kmers, cols)
        for j in range(c):
            out[i, cols[j]] += 1


@njit(cache=True, parallel=True)
def _count_kmers_sparse(codes, masks, colmap, n_kmers):
    n = codes.shape[0]
    n_masks, k = masks.shape
    n_win = max(codes.shape[1] - masks[0, k - 1], 0)
    width = max(n_masks * n_win, 1)
    cols = np.empty((n, width), np.int32)
    vals = np.empty((n, width), np.float32)
    nnz = np.zeros(n + 1, np.int64)
    for i in prange(n):
        row = np.empty(width, np.int32)
        c = _row_kmers(codes, i, masks, colmap, n_kmers, row)
        row = np.sort(row[:c])
        u = 0
        for j in range(c):
            if u > 0 and cols[i, u - 1] == row[j]:
                vals[i, u - 1] += 1.0
            else:
                cols[i, u] = row[j]
                vals[i, u] = 1.0
                u += 1
        nnz[i + 1] = u
    indptr = np.cumsum(nnz)
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], np.float32)
    for i in prange(n):
        a = indptr[i]
        for j in range(indptr[i + 1] - a):
            indices[a + j] = cols[i, j]
            data[a + j] = vals[i, j]
    return indptr, indices, data

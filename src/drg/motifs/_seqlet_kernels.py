"""Compiled kernels behind :mod:`drg.motifs.seqlets` (z-score runs, span-sum null distributions, recursive decoding)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numba
import numpy as np


# --------------------------------------------------------------------------- z-score runs
@numba.njit(cache=True)
def _gap_call(stats, i, sign, cut, window):
    lo = max(0, i - window)
    hi = min(stats.shape[0], i + window + 1)
    total = 0.0
    for j in range(lo, hi):
        total += stats[j]
    return sign * (total / (hi - lo)) < cut


@numba.njit(cache=True)
def _zscore_row(stats, cut, max_gap, min_size, window, starts, lasts, counts):
    """Runs of one row; writes first/last position and number of called positions, returns the count."""
    n = stats.shape[0]
    m = 0
    gap = max_gap + 1
    sign = 1.0
    first = -1
    last = -1
    size = 0
    i = 0
    while i < n:
        v = stats[i]
        s = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
        closes = False
        if abs(v) > cut:
            if size == 0:
                sign = s
            if s == sign:
                if size == 0:
                    first = i
                last = i
                size += 1
                gap = 0
            elif _gap_call(stats, i, sign, cut, window):
                gap += 1
                closes = gap > max_gap
        elif _gap_call(stats, i, sign, cut, window):
            gap += 1
            closes = gap > max_gap
        if closes:
            if size >= min_size:
                starts[m] = first
                lasts[m] = last
                counts[m] = size
                m += 1
            if size > 0:
                i -= gap
            gap = max_gap + 1
            size = 0
        i += 1
    if size >= min_size:
        starts[m] = first
        lasts[m] = last
        counts[m] = size
        m += 1
    return m


@numba.njit(cache=True)
def zscore_runs(stats, cut, max_gap, min_size, window):
    """All runs of the rows of ``stats`` (R, L): row, first, last (inclusive) and positions called."""
    r, n = stats.shape
    cap = max(16, r)
    rows = np.empty(cap, np.int64)
    firsts = np.empty(cap, np.int64)
    lasts = np.empty(cap, np.int64)
    sizes = np.empty(cap, np.int64)
    buf_s = np.empty(n + 1, np.int64)
    buf_l = np.empty(n + 1, np.int64)
    buf_c = np.empty(n + 1, np.int64)
    total = 0
    for row in range(r):
        m = _zscore_row(stats[row], cut, max_gap, min_size, window, buf_s, buf_l, buf_c)
        if total + m > cap:
            cap = max(2 * cap, total + m)
            rows = _grow(rows, cap)
            firsts = _grow(firsts, cap)
            lasts = _grow(lasts, cap)
            sizes = _grow(sizes, cap)
        for j in range(m):
            rows[total] = row
            firsts[total] = buf_s[j]
            lasts[total] = buf_l[j]
            sizes[total] = buf_c[j]
            total += 1
    return rows[:total], firsts[:total], lasts[:total], sizes[:total]


@numba.njit(cache=True)
def _grow(a, size):
    b = np.empty(size, a.dtype)
    b[: a.shape[0]] = a
    return b


# --------------------------------------------------------------------------- null distributions
@numba.njit(cache=True)
def _bins(x, xmin, width, n_bins, out):
    """Bin of each value (a loop of its own so that the divisions vectorise); end bins take the rest."""
    for j in range(x.shape[0]):
        b = math.floor((x[j] - xmin) / width)
        out[j] = min(max(b, 0), n_bins - 1)


@numba.njit(cache=True)
def _count(bins, counts):
    """Add ``bins`` to ``counts`` (4, n_bins), value j to copy j mod 4 so that runs of one bin do not stall."""
    n = bins.shape[0]
    c0 = counts[0]
    c1 = counts[1]
    c2 = counts[2]
    c3 = counts[3]
    j = 0
    while j + 4 <= n:
        c0[bins[j]] += 1
        c1[bins[j + 1]] += 1
        c2[bins[j + 2]] += 1
        c3[bins[j + 3]] += 1
        j += 4
    while j < n:
        c0[bins[j]] += 1
        j += 1


@numba.njit(cache=True)
def _histogram(counts, n_values):
    n_bins = counts.shape[1]
    total = np.zeros(n_bins, np.float64)
    for j in range(n_bins):
        c = 0
        for s in range(counts.shape[0]):
            c += counts[s, j]
        total[j] = c
    return total / max(n_values, 1)


@numba.njit(cache=True)
def bin_histogram(values, xmin, width, n_bins):
    """Probability of each of ``n_bins`` equal bins starting at ``xmin`` (end bins take values outside)."""
    n = values.shape[0]
    counts = np.zeros((4, n_bins), np.int64)
    buf = np.empty(4096, np.int64)
    for b0 in range(0, n, 4096):
        m = min(4096, n - b0)
        _bins(values[b0:b0 + m], xmin, width, n_bins, buf)
        _count(buf[:m], counts)
    return _histogram(counts, n)


@numba.njit(cache=True)
def bin_rows(X, xmin, width, n_bins, out, count):
    """Bins of every value of ``X`` (R, L) into ``out`` (R, L); with ``count``, also their histogram."""
    r = X.shape[0]
    counts = np.zeros((4, n_bins), np.int64)
    for i in range(r):
        _bins(X[i], xmin, width, n_bins, out[i])
        if count:
            _count(out[i], counts)
    return _histogram(counts, X.size)


_BLOCK = 128
_BLAS: list = []


def _one_blas_thread() -> Any:
    """A context that keeps BLAS on one thread (threadpoolctl when installed; otherwise no change).

    The products in :func:`span_survival` are small; on a loaded machine, BLAS threads that spin while
    waiting for each other cost more than they save.
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - optional package
            _BLAS.append(None)
    controller = _BLAS[0]
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def span_survival(f: np.ndarray, max_len: int) -> np.ndarray:
    """``S[k, s] = P(sum of k independent bins >= s)`` for k = 0..max_len, s = 0..(n_bins-1)*max_len + 1.

    ``f`` is the probability of each bin. The distributions of sums are exact direct convolutions (no FFT),
    over the support of ``f`` only, so small tail probabilities keep their relative precision (every term
    is non-negative); the survival function is accumulated from the top for the same reason. Each
    convolution is one matrix product: blocks of ``_BLOCK`` outputs are the windows of the previous
    distribution times a banded matrix holding the reversed ``f``.
    """
    n_bins = f.shape[0]
    width = (n_bins - 1) * max_len + 2
    survival = np.zeros((max_len + 1, width))
    survival[0, 0] = 1.0
    nz = np.nonzero(f)[0]
    if nz.size == 0:
        return survival
    lo_f, hi_f = int(nz[0]), int(nz[-1]) + 1
    g = np.ascontiguousarray(f[lo_f:hi_f], dtype=np.float64)
    size = g.size
    span = _BLOCK + size - 1
    band = np.zeros((span, _BLOCK))
    reversed_g = g[::-1]
    for j in range(_BLOCK):
        band[j:j + size, j] = reversed_g
    pmf = np.ones(1)
    offset = 0
    with _one_blas_thread():
        for k in range(1, max_len + 1):
            pmf, offset = _convolve_step(pmf, band, size, lo_f, offset, survival, k)
    return survival


def _convolve_step(pmf: np.ndarray, band: np.ndarray, size: int, lo_f: int, offset: int, survival: np.ndarray,
                   k: int) -> tuple[np.ndarray, int]:
    """Distribution of the sum of ``k`` bins from that of ``k - 1``; fills row ``k`` of ``survival``."""
    span = band.shape[0]
    n_out = pmf.size + size - 1
    n_blocks = -(-n_out // _BLOCK)
    padded = np.zeros(n_blocks * _BLOCK + span)
    padded[size - 1:size - 1 + pmf.size] = pmf
    windows = np.lib.stride_tricks.as_strided(padded, (n_blocks, span), (_BLOCK * 8, 8), writeable=False)
    pmf = (np.ascontiguousarray(windows) @ band).ravel()[:n_out]
    offset += lo_f
    tail = np.cumsum(pmf[::-1])[::-1]
    survival[k, offset:offset + tail.size] = tail
    survival[k, :offset] = tail[0]
    return pmf, offset


def passing_sums(survival: np.ndarray, threshold: float) -> np.ndarray:
    """Smallest binned sum whose survival is below ``threshold``, per length (the row width when none).

    Each row of ``survival`` is non-increasing, so a span of length k passes its own test exactly when its
    binned sum is at least ``passing_sums(...)[k]``.
    """
    below = survival < threshold
    return np.where(below.any(axis=1), below.argmax(axis=1), survival.shape[1]).astype(np.int64)


# --------------------------------------------------------------------------- recursive decoding
@numba.njit(cache=True)
def _sort_by_p(p, k, m, tmp_p, tmp_k):
    """Stable sort of the first ``m`` entries of (p, k) by p (insertion for short runs, else merge sort)."""
    if m < 32:
        for a in range(1, m):
            pv = p[a]
            kv = k[a]
            b = a - 1
            while b >= 0 and p[b] > pv:
                p[b + 1] = p[b]
                k[b + 1] = k[b]
                b -= 1
            p[b + 1] = pv
            k[b + 1] = kv
        return
    order = np.argsort(p[:m], kind="mergesort")
    for a in range(m):
        tmp_p[a] = p[order[a]]
        tmp_k[a] = k[order[a]]
    for a in range(m):
        p[a] = tmp_p[a]
        k[a] = tmp_k[a]


@numba.njit(cache=True)
def _decode_row(bins, survival, cutoffs, threshold, min_len, max_len, csum, taken, cand_p, cand_k, n_cand, cur_k, cur_p, cur_q, nxt_k, nxt_p, nxt_q, tmp_p, tmp_k,
                out_start, out_end, out_p):
    n = bins.shape[0]
    csum[0] = 0
    for j in range(n):
        csum[j + 1] = csum[j] + bins[j]
    # shortest length: every start whose own span passes (binned sum at least the length's cutoff)
    m = 0
    if min_len <= n:
        cut = cutoffs[min_len]
        for k in range(n - min_len + 1):
            cur_k[m] = k
            m += 1 if csum[k + min_len] - csum[k] >= cut else 0
        for a in range(m):
            p = survival[min_len, csum[cur_k[a] + min_len] - csum[cur_k[a]]]
            cur_p[a] = p
            cur_q[a] = p
    n_lens = max_len - min_len + 1
    for length in range(min_len, max_len + 1):
        row = max_len - length
        if length > min_len:
            # a span passes when both spans one shorter inside it pass and its own p-value does
            cut = cutoffs[length]
            m2 = 0
            for a in range(m - 1):
                k = cur_k[a]
                if cur_k[a + 1] != k + 1:
                    continue
                s = csum[k + length] - csum[k]
                if s < cut:
                    continue
                p = max(survival[length, s], cur_p[a])
                q = max(p, cur_q[a + 1])
                if q < threshold:
                    nxt_k[m2] = k
                    nxt_p[m2] = p
                    nxt_q[m2] = q
                    m2 += 1
            for a in range(m2):
                cur_k[a] = nxt_k[a]
                cur_p[a] = nxt_p[a]
                cur_q[a] = nxt_q[a]
            m = m2
        for a in range(m):
            cand_p[row, a] = cur_p[a]
            cand_k[row, a] = cur_k[a]
        n_cand[row] = m
        _sort_by_p(cand_p[row], cand_k[row], m, tmp_p, tmp_k)
        if m == 0:
            for r2 in range(row - 1, -1, -1):
                n_cand[r2] = 0
            break
    found = 0
    if n_cand[n_lens - 1] == 0:
        return found
    for j in range(n):
        taken[j] = False
    for row in range(n_lens):
        length = max_len - row
        for a in range(n_cand[row]):
            start = cand_k[row, a]
            free = True
            for j in range(start, start + length):
                if taken[j]:
                    free = False
                    break
            if not free:
                continue
            for j in range(start, start + length):
                taken[j] = True
            out_start[found] = start
            out_end[found] = start + length
            out_p[found] = survival[length, csum[start + length] - csum[start]]
            found += 1
    return found


@numba.njit(cache=True)
def recursive_decode(bins, survival, cutoffs, threshold, min_len, max_len, cap):
    """Decode every row of binned scores ``bins`` (R, L); ``cap`` bounds the seqlets of a row.

    Returns the row, start, end and p-value of every seqlet, in row and call order.
    """
    r, n = bins.shape
    n_lens = max_len - min_len + 1
    starts = np.empty(r * cap, np.int64)
    ends = np.empty(r * cap, np.int64)
    pvals = np.empty(r * cap, np.float64)
    rows = np.empty(r * cap, np.int64)
    n_chunks = min(r, 64)
    counts = np.zeros(n_chunks, np.int64)
    for c in range(n_chunks):
        lo = c * r // n_chunks
        hi = (c + 1) * r // n_chunks
        csum = np.empty(n + 1, np.int64)
        taken = np.empty(n, np.bool_)
        cand_p = np.empty((n_lens, n + 1), np.float64)
        cand_k = np.empty((n_lens, n + 1), np.int64)
        n_cand = np.zeros(n_lens, np.int64)
        cur_k = np.empty(n + 1, np.int64)
        cur_p = np.empty(n + 1, np.float64)
        cur_q = np.empty(n + 1, np.float64)
        nxt_k = np.empty(n + 1, np.int64)
        nxt_p = np.empty(n + 1, np.float64)
        nxt_q = np.empty(n + 1, np.float64)
        tmp_p = np.empty(n + 1, np.float64)
        tmp_k = np.empty(n + 1, np.int64)
        o = lo * cap
        for row in range(lo, hi):
            found = _decode_row(
                bins[row], survival, cutoffs, threshold, min_len, max_len, csum, taken,
                cand_p, cand_k, n_cand, cur_k, cur_p, cur_q, nxt_k, nxt_p, nxt_q, tmp_p, tmp_k,
                starts[o:o + cap], ends[o:o + cap], pvals[o:o + cap],
            )
            for j in range(o, o + found):
                rows[j] = row
            o += found
        counts[c] = o - lo * cap
    total = 0
    for c in range(n_chunks):
        total += counts[c]
    out_rows = np.empty(total, np.int64)
    out_starts = np.empty(total, np.int64)
    out_ends = np.empty(total, np.int64)
    out_p = np.empty(total, np.float64)
    t = 0
    for c in range(n_chunks):
        src = (c * r // n_chunks) * cap
        for j in range(counts[c]):
            out_rows[t] = rows[src + j]
            out_starts[t] = starts[src + j]
            out_ends[t] = ends[src + j]
            out_p[t] = pvals[src + j]
            t += 1
    return out_rows, out_starts, out_ends, out_p

"""Compiled kernels behind :mod:`drg.motifs.seqlets` (z-score runs, span-sum null distributions, recursive decoding)."""

from __future__ import annotations

import math

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
def bin_histogram(values, xmin, width, n_bins):
    """Probability of each of ``n_bins`` equal bins starting at ``xmin`` (end bins take values outside)."""
    n = values.shape[0]
    n_chunks = 16
    counts = np.zeros((n_chunks, n_bins), np.int64)
    for c in numba.prange(n_chunks):
        lo = c * n // n_chunks
        hi = (c + 1) * n // n_chunks
        buf = np.empty(4096, np.int64)
        for b0 in range(lo, hi, 4096):
            m = min(4096, hi - b0)
            _bins(values[b0:b0 + m], xmin, width, n_bins, buf)
            for j in range(m):
                counts[c, buf[j]] += 1
    total = np.zeros(n_bins, np.float64)
    for c in range(n_chunks):
        for j in range(n_bins):
            total[j] += counts[c, j]
    return total / max(n, 1)


def span_survival(f: np.ndarray, max_len: int) -> np.ndarray:
    """``S[k, s] = P(sum of k independent bins >= s)`` for k = 0..max_len, s = 0..(n_bins-1)*max_len + 1.

    ``f`` is the probability of each bin. The distributions of sums are exact direct convolutions (no FFT),
    over the support of ``f`` only, so small tail probabilities keep their relative precision; the
    survival function is accumulated from the top for the same reason.
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
    pmf = np.ones(1)
    offset = 0
    for k in range(1, max_len + 1):
        pmf = np.convolve(pmf, g)
        offset += lo_f
        tail = np.cumsum(pmf[::-1])[::-1]
        survival[k, offset:offset + tail.size] = tail
        survival[k, :offset] = tail[0]
    return survival


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
def _decode_row(x, survival, xmin, width, n_bins, threshold, min_len, max_len,
                csum, taken, cand_p, cand_k, n_cand, cur_k, cur_p, cur_q, nxt_k, nxt_p, nxt_q, tmp_p, tmp_k,
                out_start, out_end, out_p):
    n = x.shape[0]
    csum[0] = 0
    _bins(x, xmin, width, n_bins, csum[1:])
    for j in range(n):
        csum[j + 1] += csum[j]
    # shortest length: every start whose own span passes
    m = 0
    if min_len <= n:
        for k in range(n - min_len + 1):
            p = survival[min_len, csum[k + min_len] - csum[k]]
            if p < threshold:
                cur_k[m] = k
                cur_p[m] = p
                cur_q[m] = p
                m += 1
    n_lens = max_len - min_len + 1
    for length in range(min_len, max_len + 1):
        row = max_len - length
        if length > min_len:
            # a span passes when both spans one shorter inside it pass and its own p-value does
            m2 = 0
            for a in range(m - 1):
                k = cur_k[a]
                if cur_k[a + 1] != k + 1:
                    continue
                p = max(survival[length, csum[k + length] - csum[k]], cur_p[a])
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
    for j in range(n):
        taken[j] = False
    found = 0
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
def recursive_decode(X, survival, xmin, width, n_bins, threshold, min_len, max_len, cap):
    """Decode every row of ``X`` (R, L); row r's seqlets go to slots ``r * cap ...``; returns the counts."""
    r, n = X.shape
    n_lens = max_len - min_len + 1
    starts = np.empty(r * cap, np.int64)
    ends = np.empty(r * cap, np.int64)
    pvals = np.empty(r * cap, np.float64)
    found = np.zeros(r, np.int64)
    n_chunks = min(r, 64)
    for c in numba.prange(n_chunks):
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
        for row in range(lo, hi):
            o = row * cap
            found[row] = _decode_row(
                X[row], survival, xmin, width, n_bins, threshold, min_len, max_len, csum, taken, cand_p,
                cand_k, n_cand, cur_k, cur_p, cur_q, nxt_k, nxt_p, nxt_q, tmp_p, tmp_k,
                starts[o:o + cap], ends[o:o + cap], pvals[o:o + cap],
            )
    return starts, ends, pvals, found

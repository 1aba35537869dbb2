"""Compiled kernels of :func:`drg.motifs.comparison.tomtom` (private; see that function for the method).

Layout shared by every kernel:

* query columns are stacked into one ``(sum of query lengths, 4)`` float64 array ``Q`` with ``q_start`` giving
  the first row of each query (``q_start[i]:q_start[i + 1]``);
* target *entries* are the targets and, when both strands are compared, their reverse complements
  (entry ``2 j`` is target ``j``, entry ``2 j + 1`` its reverse complement);
* entries are grouped by length, and the columns of a group are stored column-major in ``T`` (column 0 of
  every entry of the group, then column 1, ...), so that the score of one alignment configuration for a
  whole group is a sum of contiguous rows of integer scores;
* integer column scores are indexed ``[query column, target column]`` over all rows of ``T``.

Per query: integer scores and their per-column histograms (for the Pearson correlation with complete scores
from unit columns, the medians by bucketing on a fixed grid); the best alignment of every entry; survival
functions of the summed scores of ranges of query columns, convolved only over the sums the p-values read;
p-values once per (target length, score); q-values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

BINS = 100
"""Integer range a single column score is scaled to (MEME's ``BINS``)."""

DIST_CODES = {
    "pearson": 0,
    "ed": 1,
    "sandelin": 2,
    "allr": 3,
    "kullback": 4,
    "blic1": 5,
    "blic5": 6,
}

_SELECT_BINS = 1024
_PEARSON_BUCKETS = 2048
_UNNEEDED = 1 << 50
_DNA_HYPERS = np.array(
    [[1, 1, 1, 1], [5, 1, 1, 1], [1, 5, 1, 1], [1, 1, 5, 1], [1, 1, 1, 5], [2, 2, 2, 2]], dtype=np.float64
)


# --------------------------------------------------------------------------------------------- column scores
@njit(cache=True)
def _log_likelihood(hyper, counts):
    hyper_sum = 0.0
    count_sum = 0.0
    for a in range(4):
        hyper_sum += hyper[a]
        count_sum += counts[a]
    value = math.lgamma(hyper_sum) - math.lgamma(count_sum + hyper_sum)
    for a in range(4):
        value += math.lgamma(hyper[a] + counts[a]) - math.lgamma(hyper[a])
    return value


@njit(cache=True)
def _estimate_source(n_dirichlets, counts, out):
    """Posterior mean letter distribution of ``counts`` under a 1- or 5-component Dirichlet prior."""
    if n_dirichlets == 1:
        denominator = 0.0
        for a in range(4):
            denominator += counts[a] + _DNA_HYPERS[0, a]
        for a in range(4):
            out[a] = (counts[a] + _DNA_HYPERS[0, a]) / denominator
        return
    log_prior = math.log(1.0 / n_dirichlets)
    log_a = log_prior + _log_likelihood(_DNA_HYPERS[1], counts)
    log_sum = 0.0
    for k in range(2, n_dirichlets + 1):
        log_b = log_prior + _log_likelihood(_DNA_HYPERS[k], counts)
        if log_a < log_b:
            log_sum = log_b + math.log(1.0 + math.exp(log_a - log_b))
        else:
            log_sum = log_a + math.log(1.0 + math.exp(log_b - log_a))
        log_a = log_sum
    for a in range(4):
        out[a] = 0.0
    for k in range(1, n_dirichlets + 1):
        weight = math.exp(log_prior + _log_likelihood(_DNA_HYPERS[k], counts) - log_sum)
        denominator = 0.0
        for a in range(4):
            denominator += counts[a] + _DNA_HYPERS[k, a]
        for a in range(4):
            out[a] += weight * (counts[a] + _DNA_HYPERS[k, a]) / denominator


@njit(cache=True)
def _blic(n_dirichlets, qc, tc, bg, work):
    common = work[0]
    qs = work[1]
    ts = work[2]
    cs = work[3]
    for a in range(4):
        common[a] = qc[a] + tc[a]
    _estimate_source(n_dirichlets, qc, qs)
    _estimate_source(n_dirichlets, tc, ts)
    _estimate_source(n_dirichlets, common, cs)
    first = 0.0
    second = 0.0
    third = 0.0
    fourth = 0.0
    for a in range(4):
        first += 2.0 * common[a] * math.log(cs[a])
        second += qc[a] * math.log(qs[a])
        third += tc[a] * math.log(ts[a])
        fourth += common[a] * math.log(bg[a])
    return first - (second + third + fourth)


@njit(cache=True)
def _column_score(dist, q, t, nq, nt, bg, work):
    """MEME Tomtom's similarity of query column ``q`` and target column ``t`` (larger is more similar)."""
    if dist == 0:  # Pearson correlation
        num = 0.0
        d1 = 0.0
        d2 = 0.0
        for a in range(4):
            x = q[a] - 0.25
            y = t[a] - 0.25
            num += x * y
            d1 += x * x
            d2 += y * y
        den = math.sqrt(d1 * d2)
        return num / den if den != 0.0 else 0.0
    if dist == 1:  # negative Euclidean distance
        total = 0.0
        for a in range(4):
            total += (q[a] - t[a]) ** 2
        return -math.sqrt(total)
    if dist == 2:  # Sandelin-Wasserman
        total = 0.0
        for a in range(4):
            total += (q[a] - t[a]) ** 2
        return 2.0 - total
    if dist == 3:  # average log-likelihood ratio
        num = 0.0
        den = 0.0
        for a in range(4):
            num += nt * t[a] * math.log(q[a] / bg[a]) + nq * q[a] * math.log(t[a] / bg[a])
            den += nq * q[a] + nt * t[a]
        return num / den
    if dist == 4:  # negative symmetrised Kullback-Leibler divergence (log10)
        total = 0.0
        for a in range(4):
            total += (q[a] * math.log10(q[a] / t[a]) + t[a] * math.log10(t[a] / q[a])) / 2.0
        return -total
    qc = work[4]
    tc = work[5]
    for a in range(4):
        qc[a] = nq * q[a]
        tc[a] = nt * t[a]
    return _blic(1 if dist == 5 else 5, qc, tc, bg, work)


@njit(cache=True)
def _score_rows(dist, Q, q0, L, nq, T, t_col_nsites, bg, S):
    """Fill ``S[i, j]`` with the score of query column ``q0 + i`` against target column ``j`` (any distance)."""
    work = np.empty((6, 4))
    for i in range(L):
        for j in range(T.shape[0]):
            S[i, j] = _column_score(dist, Q[q0 + i], T[j], nq, t_col_nsites[j], bg, work)



# ------------------------------------------------------------------------------------------ Pearson scores
@njit(cache=True)
def _unit_columns(T):
    """``(4, N)`` target columns centred on 0.25 and scaled to unit length (zero for a uniform column).

    The Pearson correlation of two columns is then the dot product of their unit columns, which differs from
    MEME's ``num / sqrt(d1 * d2)`` in the last bits only; that changes no integer score once the scores are
    shifted by their (arbitrary) median, but could move an unshifted extreme such as ``-1`` across the integer
    that sets MEME's offset, so it serves complete scores only.
    """
    N = T.shape[0]
    U = np.zeros((4, N))
    for j in range(N):
        d = 0.0
        for a in range(4):
            y = T[j, a] - 0.25
            d += y * y
        if d > 0.0:
            r = math.sqrt(d)
            for a in range(4):
                U[a, j] = (T[j, a] - 0.25) / r
    return U


@njit(cache=True)
def _unit_query(q):
    """The unit column (see :func:`_unit_columns`) of one query column ``q`` (4,), as four scalars."""
    x0 = q[0] - 0.25
    x1 = q[1] - 0.25
    x2 = q[2] - 0.25
    x3 = q[3] - 0.25
    d = x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3
    if d > 0.0:
        r = math.sqrt(d)
        x0 /= r
        x1 /= r
        x2 /= r
        x3 /= r
    return x0, x1, x2, x3


@njit(cache=True)
def _pearson_buckets(U, x, bins, lanes):
    """Correlations of query unit column ``x`` with every target column: ``bins[j]`` is the bucket of the
    correlation with column ``j`` on a grid of ``_PEARSON_BUCKETS`` over ``[-1, 1]``; returns their exact
    (min, max), kept in 64 lanes so that the loop vectorises (``lanes``: (2, 64) scratch)."""
    N = U.shape[1]
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    u3 = U[3]
    x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
    half = _PEARSON_BUCKETS / 2.0
    top = _PEARSON_BUCKETS - 1
    mn = lanes[0]
    mx = lanes[1]
    mn[:] = np.inf
    mx[:] = -np.inf
    n64 = N - N % 64
    for j0 in range(0, n64, 64):
        for t in range(64):
            j = j0 + t
            s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
            bins[j] = min(max(np.int32((s + 1.0) * half), 0), top)
            mn[t] = min(mn[t], s)
            mx[t] = max(mx[t], s)
    lo = mn.min()
    hi = mx.max()
    for j in range(n64, N):
        s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
        bins[j] = min(max(np.int32((s + 1.0) * half), 0), top)
        lo = min(lo, s)
        hi = max(hi, s)
    return lo, hi


@njit(cache=True)
def _bucket_median(U, x, bins, counts, k1, k2, buffer):
    """Mean of the ``k1``-th and ``k2``-th smallest correlations (0-based, ``k2`` is ``k1`` or ``k1 + 1``):
    count the buckets, then recompute and sort the correlations of the buckets that hold them. Blocks of 64
    columns without such a bucket are skipped after a check that vectorises."""
    N = U.shape[1]
    x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
    _histogram4(bins, N, counts)
    cum = 0
    b1 = -1
    b2 = 0
    base = 0
    for b in range(counts.shape[1]):
        c = counts[0, b] + counts[1, b] + counts[2, b] + counts[3, b]
        if b1 < 0 and cum + c > k1:
            b1 = b
            base = cum
        if cum + c > k2:
            b2 = b
            break
        cum += c
    width = np.uint32(b2 - b1)
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    u3 = U[3]
    m = 0
    n64 = N - N % 64
    for j0 in range(0, n64, 64):
        d = np.uint32(0xFFFFFFFF)
        for t in range(64):
            d = min(d, np.uint32(bins[j0 + t] - b1))
        if d > width:
            continue
        for j in range(j0, j0 + 64):
            if np.uint32(bins[j] - b1) <= width:
                buffer[m] = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
                m += 1
    for j in range(n64, N):
        if np.uint32(bins[j] - b1) <= width:
            buffer[m] = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
            m += 1
    chosen = np.sort(buffer[:m])
    return (chosen[k1 - base] + chosen[k2 - base]) / 2.0


@njit(cache=True)
def _pearson_scores(U, Q, q0, L, Z, H):
    """Complete-score integer scores of one query for the Pearson correlation (see :func:`_quantise`)."""
    N = U.shape[1]
    k1 = max(int(math.floor(0.5 * N)) - 1, 0)
    k2 = max(int(math.ceil(0.5 * N)) - 1, k1)
    bins = np.empty(N, np.int16)
    counts = np.empty((4, _PEARSON_BUCKETS), np.int32)
    lanes = np.empty((2, 64))
    buffer = np.empty(N)
    X = np.empty((L, 4))
    quantile = np.empty(L)
    small = np.inf
    large = -np.inf
    for i in range(L):
        X[i, 0], X[i, 1], X[i, 2], X[i, 3] = _unit_query(Q[q0 + i])
        lo, hi = _pearson_buckets(U, X[i], bins, lanes)
        quantile[i] = _bucket_median(U, X[i], bins, counts, k1, k2, buffer)
        small = min(small, lo - quantile[i])
        large = max(large, hi - quantile[i])
    offset, scale = _offset_scale(small, large)
    partial = np.empty((4, BINS + 1), np.int64)
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    u3 = U[3]
    for i in range(L):
        x0, x1, x2, x3 = X[i, 0], X[i, 1], X[i, 2], X[i, 3]
        m = quantile[i]
        z = Z[i]
        for j in range(N):
            s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
            # y >= 0 by construction of ``offset``, so adding 0.5 and truncating rounds half away from zero
            z[j] = np.uint8(np.int32(((s - m) - offset) * scale + 0.5))
        _count(z, H[i], partial)
    return int(round(-offset * scale))


# ------------------------------------------------------------------------------------- any column score
@njit(cache=True)
def _min_max(row):
    """(min, max) of a 1-d array, 64 lanes at a time so that the loop vectorises."""
    n = row.shape[0]
    n64 = n - n % 64
    lo = np.inf
    hi = -np.inf
    if n64 > 0:
        mn = row[:64].copy()
        mx = row[:64].copy()
        for j in range(64, n64, 64):
            np.minimum(mn, row[j : j + 64], mn)
            np.maximum(mx, row[j : j + 64], mx)
        lo = mn.min()
        hi = mx.max()
    for j in range(n64, n):
        lo = min(lo, row[j])
        hi = max(hi, row[j])
    return lo, hi


@njit(cache=True)
def _histogram4(index, n, partial):
    """Count ``index[:n]`` into four partial histograms ``partial`` (4, n_bins), zeroed first; the caller adds
    the four rows. Interleaving four counters avoids the store-to-load stalls of repeated equal indices."""
    partial[:] = 0
    p0 = partial[0]
    p1 = partial[1]
    p2 = partial[2]
    p3 = partial[3]
    n4 = n - n % 4
    for j in range(0, n4, 4):
        p0[index[j]] += 1
        p1[index[j + 1]] += 1
        p2[index[j + 2]] += 1
        p3[index[j + 3]] += 1
    for j in range(n4, n):
        p0[index[j]] += 1


@njit(cache=True)
def _count(z, h, partial):
    """``h[v]`` += number of ``z == v`` (``partial``: (4, len(h)) scratch)."""
    _histogram4(z, z.shape[0], partial)
    for v in range(h.shape[0]):
        h[v] += partial[0, v] + partial[1, v] + partial[2, v] + partial[3, v]


@njit(cache=True)
def _kth_smallest(row, k, lo, hi, counts, bins, buffer):
    """Exact ``k``-th smallest (0-based) value of ``row`` (within ``[lo, hi]``) by bucketing, then sorting
    the one bucket that holds it. ``counts`` is (4, n_buckets) scratch, ``bins`` and ``buffer`` as long as
    ``row``."""
    n = row.shape[0]
    if lo == hi:
        return lo
    nb = counts.shape[1]
    inv = nb / (hi - lo)
    for j in range(n):
        bins[j] = min(np.int32((row[j] - lo) * inv), nb - 1)
    _histogram4(bins, n, counts)
    cum = 0
    target = 0
    for b in range(nb):
        c = counts[0, b] + counts[1, b] + counts[2, b] + counts[3, b]
        if cum + c > k:
            target = b
            break
        cum += c
    m = 0
    for j in range(n):
        if bins[j] == target:
            buffer[m] = row[j]
            m += 1
    chosen = np.sort(buffer[:m])
    return chosen[k - cum]


@njit(cache=True)
def _offset_scale(small, large):
    """MEME's integer offset and scale that map shifted scores in ``[small, large]`` onto ``0 .. BINS``."""
    if large == small:
        small = large - 1.0
    offset = math.floor(small)
    return offset, math.floor(BINS / (large - offset))


@njit(cache=True)
def _quantise(dist, Q, q0, L, nq, T, t_col_nsites, bg, complete, Z, H):
    """Integer scores of one query against every target column, for any column score.

    Fills ``Z[i, j]`` with MEME's integer score (``0 .. BINS``) of query column ``i`` against target column
    ``j`` and ``H[i, v]`` with the number of target columns that score ``v``; returns the integer a raw score
    of 0 (the median with complete scores) maps to.
    """
    N = T.shape[0]
    S = np.empty((L, N))
    _score_rows(dist, Q, q0, L, nq, T, t_col_nsites, bg, S)
    quantile = np.zeros(L)
    counts = np.empty((4, _SELECT_BINS), np.int32)
    bins = np.empty(N, np.int32)
    buffer = np.empty(N)
    k1 = max(int(math.floor(0.5 * N)) - 1, 0)
    k2 = max(int(math.ceil(0.5 * N)) - 1, k1)
    small = np.inf
    large = -np.inf
    for i in range(L):
        lo, hi = _min_max(S[i])
        if complete:
            v1 = _kth_smallest(S[i], k1, lo, hi, counts, bins, buffer)
            v2 = v1 if k2 == k1 else _kth_smallest(S[i], k2, lo, hi, counts, bins, buffer)
            quantile[i] = (v1 + v2) / 2.0
        small = min(small, lo - quantile[i])
        large = max(large, hi - quantile[i])
    offset, scale = _offset_scale(small, large)
    partial = np.empty((4, BINS + 1), np.int64)
    for i in range(L):
        row = S[i]
        z = Z[i]
        m = quantile[i]
        for j in range(N):
            z[j] = np.uint8(np.int32(((row[j] - m) - offset) * scale + 0.5))
        _count(z, H[i], partial)
    return int(round(-offset * scale))


# ---------------------------------------------------------------------------------------- null distributions
@njit(cache=True)
def _range_survival(H, L, n_cols, need, sf, sf_start, sf_len):
    """Survival functions of the sum of scaled scores over contiguous ranges of query columns.

    ``H[i, v]`` counts target columns whose scaled score against query column ``i`` is ``v``. For the range
    of columns ``s..e`` the result ``sf[sf_start[s, e] + x]`` is ``P(sum >= x)`` (capped at 1 as MEME does),
    each column score drawn independently from its histogram, for ``x`` from ``need[s, e]`` (all ``x >= 0``
    when it is ``<= 0``) to ``sf_len[s, e] - 1``; other entries are left unset. The distributions are only
    convolved over the sums that those entries (and the longer ranges') depend on.
    """
    R = H.shape[1] - 1
    prob = np.zeros((L, R + 1))
    hlo = np.zeros(L, np.int64)
    hhi = np.zeros(L, np.int64)
    for i in range(L):
        hlo[i] = -1
        for v in range(R + 1):
            if H[i, v] > 0:
                if hlo[i] < 0:
                    hlo[i] = v
                hhi[i] = v
            prob[i, v] = H[i, v] / n_cols
    cur = np.zeros(L * R + 1)
    new = np.zeros(L * R + 1)
    chain = np.empty(L, np.int64)
    for s in range(L):
        lowest = _UNNEEDED
        for e in range(L - 1, s - 1, -1):
            lowest = min(lowest, need[s, e])
            chain[e] = lowest
            lowest -= hhi[e]
        cur[0] = 1.0
        c_lo = 0  # sums cur holds: c_lo .. c_hi (c_lo is the support's lowest sum or higher)
        c_hi = 0
        support_lo = 0
        for e in range(s, L):
            support_lo += hlo[e]
            n_hi = c_hi + hhi[e]
            y_lo = max(support_lo, chain[e])
            if y_lo > n_hi:
                # chain[] grows faster than the largest sum: no longer range needs more than these zeros
                top = c_hi
                for e2 in range(e, L):
                    top += hhi[e2]
                    sf[sf_start[s, e2] + top + 1 : sf_start[s, e2] + sf_len[s, e2]] = 0.0
                break
            new[y_lo : n_hi + 1] = 0.0
            for v in range(hlo[e], hhi[e] + 1):
                w = prob[e, v]
                if w == 0.0:
                    continue
                a = max(y_lo, c_lo + v)
                dst = new[a : min(n_hi, c_hi + v) + 1]
                src = cur[a - v : a - v + dst.shape[0]]
                for y in range(dst.shape[0]):
                    dst[y] += src[y] * w
            cur, new = new, cur
            c_lo = y_lo
            c_hi = n_hi
            start = sf_start[s, e]
            for x in range(n_hi + 1, sf_len[s, e]):
                sf[start + x] = 0.0
            acc = 0.0
            for x in range(n_hi, y_lo - 1, -1):
                acc += cur[x]
                if acc > 1.0:
                    acc = 1.0
                sf[start + x] = acc
            if y_lo == support_lo:
                for x in range(y_lo - 1, -1, -1):
                    sf[start + x] = acc


@njit(cache=True, inline="always")
def _sf_at(sf, start, length, x):
    if x <= 0:
        return sf[start]
    if x >= length:
        return 0.0
    return sf[start + x]


@njit(cache=True, inline="always")
def _alignment_range(L, tlen, i):
    """Query columns ``(s, e)`` covered by alignment ``i`` (0-based, ``i = configuration - 1``)."""
    if i < L:
        s = L - i - 1
        return s, min(L, s + tlen) - 1
    return 0, min(L, tlen + L - i - 1) - 1


@njit(cache=True)
def _alignment_tables(L, tlen, o, sf_start, sf_len):
    """Per alignment of a target of length ``tlen``: the start of its range's survival function in ``sf``,
    that function's length and the complete-score shift of the unaligned query columns."""
    n = L + tlen - 1
    base = np.empty(n, np.int64)
    length = np.empty(n, np.int64)
    shift = np.empty(n, np.int64)
    for i in range(n):
        s, e = _alignment_range(L, tlen, i)
        base[i] = sf_start[s, e]
        length[i] = sf_len[s, e]
        shift[i] = o * (L - (e - s + 1))
    return base, length, shift


@njit(cache=True)
def _max_pvalue(sf, base, length, shift, x, norient):
    """``P(max over all alignments and orientations of the complete score >= x)`` for one target length.

    Computed as ``sum_a p_a prod_{b < a} (1 - p_b)`` so that small values keep their relative precision; the
    two orientations of an alignment (same p) count as ``p (2 - p)`` and ``(1 - p)^2``.
    """
    total = 0.0
    keep = 1.0
    for i in range(base.shape[0]):
        y = x - shift[i]
        if y <= 0:
            p = sf[base[i]]
        elif y >= length[i]:
            continue
        else:
            p = sf[base[i] + y]
        q = 1.0 - p
        if norient == 2:
            total += p * keep * (1.0 + q)
            keep *= q * q
        else:
            total += p * keep
            keep *= q
    return total


@njit(cache=True)
def _ev(p, n):
    if p * n < 0.001:
        return p * n
    return 1.0 - (1.0 - p) ** n


# --------------------------------------------------------------------------------------------- alignments
@njit(cache=True)
def _configurations(L, tlen, start, end):
    """Alignment configurations ``start .. end`` (target column 0 against query column ``L - c``), ordered
    by overlap (largest first), then configuration: the order in which MEME breaks ties."""
    m = min(L, tlen)
    out = np.empty(end - start + 1, np.int64)
    n = 0
    for c in range(m, L + tlen - m + 1):
        if start <= c <= end:
            out[n] = c
            n += 1
    for overlap in range(m - 1, 0, -1):
        for c in (overlap, L + tlen - overlap):
            if start <= c <= end:
                out[n] = c
                n += 1
    return out[:n]


@njit(cache=True)
def _group_sums(Z, L, off, tlen, n, acc):
    """``acc[c, k]`` = summed score of configuration ``c`` of the ``k``-th target of a group of ``n`` targets
    of length ``tlen`` whose columns are stored column-major from ``off`` (``Z[:, off + j * n + k]``)."""
    acc[: L + tlen, :n] = 0
    for i in range(L):
        for j in range(tlen):
            a = acc[L - i + j]
            z = Z[i, off + j * n : off + (j + 1) * n]
            for k in range(n):
                a[k] += z[k]


@njit(cache=True)
def _best_complete(acc, L, tlen, n, order, o, best, best_c):
    """Best complete score of each target (larger overlap, then first configuration on ties)."""
    best[:n] = -(1 << 62)
    for c in order:
        overlap = min(c, tlen, L, L + tlen - c)
        a = acc[c]
        shift = overlap * o
        for k in range(n):
            v = a[k] - shift
            if v > best[k]:
                best[k] = v
                best_c[k] = c


@njit(cache=True)
def _best_incomplete(acc, L, tlen, n, order, sf, sf_start, sf_len, best, best_c):
    """Smallest p-value of any alignment of each target (larger overlap, then first configuration on ties)."""
    best[:n] = np.inf
    for c in order:
        s, e = _alignment_range(L, tlen, c - 1)
        start = sf_start[s, e]
        length = sf_len[s, e]
        a = acc[c]
        for k in range(n):
            p = _sf_at(sf, start, length, a[k])
            if p < best[k]:
                best[k] = p
                best_c[k] = c


# --------------------------------------------------------------------------------------------- one query
@njit(cache=True)
def _one_query(
    dist, Q, q0, L, nq, T, U, t_col_nsites, g_len, g_off, g_first, entries, bg, complete, min_overlap,
    internal, norient, out_p, out_offset, out_overlap,
):
    """p-value, offset and overlap of the best alignment of query ``Q[q0:q0 + L]`` with every entry."""
    N = T.shape[0]
    n_groups = g_len.shape[0]
    Z = np.empty((L, N), np.uint8)
    H = np.zeros((L, BINS + 1), np.int64)
    if dist == 0 and complete:
        o = _pearson_scores(U, Q, q0, L, Z, H)
    else:
        o = _quantise(dist, Q, q0, L, nq, T, t_col_nsites, bg, complete, Z, H)

    sf_start = np.zeros((L, L), np.int64)
    sf_len = np.zeros((L, L), np.int64)
    total = 0
    for s in range(L):
        for e in range(s, L):
            sf_start[s, e] = total
            sf_len[s, e] = (e - s + 1) * BINS + 1
            total += (e - s + 1) * BINS + 1
    sf = np.empty(total)
    need = np.full((L, L), _UNNEEDED, np.int64)
    max_len = g_len.max()
    max_n = 0
    for g in range(n_groups):
        max_n = max(max_n, g_first[g + 1] - g_first[g])
    acc = np.empty((L + max_len, max_n), np.int32)
    best_s = np.empty(max_n, np.int64)
    best_p = np.empty(max_n)
    best_c = np.empty(max_n, np.int64)
    best_x = np.empty(entries.shape[0], np.int64)
    if not complete:
        need[:] = 0
        _range_survival(H, L, N, need, sf, sf_start, sf_len)
    for g in range(n_groups):
        tlen = g_len[g]
        n = g_first[g + 1] - g_first[g]
        start = 1
        end = L + tlen - 1
        if internal:
            start = min(L, tlen)
            end = max(L, tlen)
        elif min_overlap > 1:
            mo = min(min_overlap, L, tlen)
            start = mo
            end = L + tlen - mo
        order = _configurations(L, tlen, start, end)
        _group_sums(Z, L, g_off[g], tlen, n, acc)
        if complete:
            _best_complete(acc, L, tlen, n, order, o, best_s, best_c)
        else:
            _best_incomplete(acc, L, tlen, n, order, sf, sf_start, sf_len, best_p, best_c)
        lowest = _UNNEEDED
        for k in range(n):
            t = entries[g_first[g] + k]
            c = best_c[k]
            out_offset[t] = c - L
            out_overlap[t] = min(c, tlen, L, L + tlen - c)
            if complete:
                best_x[t] = best_s[k] + L * o
                lowest = min(lowest, best_x[t])
            else:
                out_p[t] = _ev(best_p[k], (end - start + 1) * norient)
        if complete:
            # the p-value of score x reads each alignment's range at x minus the unaligned columns' median
            for i in range(L + tlen - 1):
                s, e = _alignment_range(L, tlen, i)
                need[s, e] = min(need[s, e], lowest - o * (L - (e - s + 1)))
    if not complete:
        return

    # p-value of the maximum over all alignments, once per (target length, score)
    _range_survival(H, L, N, need, sf, sf_start, sf_len)
    for g in range(n_groups):
        tlen = g_len[g]
        first = g_first[g]
        n = g_first[g + 1] - first
        x_lo = best_x[entries[first]]
        x_hi = x_lo
        for k in range(n):
            x = best_x[entries[first + k]]
            x_lo = min(x_lo, x)
            x_hi = max(x_hi, x)
        memo = np.full(x_hi - x_lo + 1, -1.0)
        base, length, shift = _alignment_tables(L, tlen, o, sf_start, sf_len)
        for k in range(n):
            t = entries[first + k]
            x = best_x[t]
            p = memo[x - x_lo]
            if p < 0:
                p = float(np.float32(_max_pvalue(sf, base, length, shift, x, norient)))
                memo[x - x_lo] = p
            out_p[t] = p


# ------------------------------------------------------------------------------------------ all queries
@njit(cache=True)
def _ascending(p):
    """Indices that sort the non-negative floats ``p`` ascending (stable): LSD radix sort of their bits, 11
    bits a pass, skipping passes in which every key has the same digit."""
    m = p.shape[0]
    keys = p.view(np.uint64)
    order = np.arange(m)
    spare = np.empty(m, np.int64)
    counts = np.empty(2049, np.int64)
    mask = np.uint64(2047)
    for shift in range(0, 64, 11):
        sh = np.uint64(shift)
        counts[:] = 0
        for i in range(m):
            counts[((keys[i] >> sh) & mask) + np.uint64(1)] += 1
        if counts.max() == m:
            continue
        for b in range(2048):
            counts[b + 1] += counts[b]
        for i in range(m):
            k = order[i]
            d = (keys[k] >> sh) & mask
            spare[counts[d]] = k
            counts[d] += 1
        order, spare = spare, order
    return order


@njit(cache=True)
def _finish_query(p, overlap, offset, norient, n_targets, pi_zero, res_p, res_q, res_offset, res_overlap, res_strand):
    """Benjamini-Hochberg q-values over all entries of one query, then the best strand of each target."""
    m = p.shape[0]
    order = _ascending(p)
    q = np.empty(m)
    for r in range(m):
        i = order[r]
        fdr = pi_zero * p[i] * m / (r + 1)
        q[i] = min(1.0, fdr)
    running = q[order[m - 1]]
    for r in range(m - 2, -1, -1):
        i = order[r]
        if running < q[i]:
            q[i] = running
        running = q[i]
    for j in range(n_targets):
        best = j * norient
        if norient == 2:
            other = best + 1
            if p[other] < p[best] or (p[other] == p[best] and overlap[other] > overlap[best]):
                best = other
        res_p[j] = p[best]
        res_q[j] = q[best]
        res_offset[j] = offset[best]
        res_overlap[j] = overlap[best]
        res_strand[j] = best - j * norient


@njit(cache=True, parallel=True)
def tomtom_all(
    dist, Q, q_start, q_nsites, T, t_col_nsites, g_len, g_off, g_first, entries, bg, complete, min_overlap,
    internal, norient, pi_zero,
):
    """Compare every query with every target entry; return per (query, target) best-strand results.

    Target columns come grouped by target length (see the module notes): group ``g`` holds the entries
    ``entries[g_first[g]:g_first[g + 1]]``, all of length ``g_len[g]``, column-major from row ``g_off[g]``
    of ``T``, so that one query's alignment scores of a whole group are sums of contiguous rows.
    """
    n_queries = q_start.shape[0] - 1
    n_entries = entries.shape[0]
    n_targets = n_entries // norient
    U = _unit_columns(T) if dist == 0 else np.empty((4, 0))
    res_p = np.empty((n_queries, n_targets))
    res_q = np.empty((n_queries, n_targets))
    res_offset = np.empty((n_queries, n_targets), np.int32)
    res_overlap = np.empty((n_queries, n_targets), np.int32)
    res_strand = np.empty((n_queries, n_targets), np.int8)
    for i in prange(n_queries):
        p = np.empty(n_entries)
        offset = np.empty(n_entries, np.int32)
        overlap = np.empty(n_entries, np.int32)
        q0 = q_start[i]
        L = q_start[i + 1] - q0
        _one_query(
            dist, Q, q0, L, q_nsites[i], T, U, t_col_nsites, g_len, g_off, g_first, entries, bg, complete,
            min_overlap, internal, norient, p, offset, overlap,
        )
        _finish_query(
            p, overlap, offset, norient, n_targets, pi_zero, res_p[i], res_q[i], res_offset[i],
            res_overlap[i], res_strand[i],
        )
    return res_p, res_q, res_offset, res_overlap, res_strand

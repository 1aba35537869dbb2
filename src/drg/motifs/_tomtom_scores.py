"""Integer column scores of :func:`drg.motifs.comparison.tomtom` (private): MEME's column similarities, its
integer offset and scale, histogram helpers, the general quantisation (:func:`_quantise`, any similarity,
complete or incomplete scores) and the Pearson-correlation fast path for complete scores.

The fast path scores one query column against every target column in two sweeps:

1. float32 correlations put every target column into one of ``_PEARSON_BUCKETS`` buckets on ``[-1, 1]`` and
   give the (approximate) least and largest correlation. The float32 correlation is within ``4e-7`` of the
   float64 one (unit vectors, three terms; the bucket index adds ``1.2e-7``), well below ``_F32_MARGIN``,
   itself far below the bucket width, so:

   * the median is exact: its two ranks are selected from the float64 correlations of the buckets that hold
     them (see :func:`_bucket_median`);
   * the integer offset and scale (see :func:`_offset_scale`) are those of the float64 extremes whenever they
     do not change within ``_F32_MARGIN`` of the float32 extremes; otherwise the float64 extremes are
     computed.

2. float64 correlations minus the median are quantised to MEME's integer scores (a float32 sweep that
   recomputes in float64 only the scores that lie close to an integer measured slower).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BINS = 100
"""Integer range a single column score is scaled to (MEME's ``BINS``)."""

_PEARSON_BUCKETS = 2048
_F32_MARGIN = 4e-6
_SELECT_BINS = 1024
_DNA_HYPERS = np.array(
    [[1, 1, 1, 1], [5, 1, 1, 1], [1, 5, 1, 1], [1, 1, 5, 1], [1, 1, 1, 5], [2, 2, 2, 2]], dtype=np.float64
)


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
    # indices are never negative: unsigned, they skip the wraparound of negative indices
    for j in range(0, n4, 4):
        p0[np.uint64(index[j])] += 1
        p1[np.uint64(index[j + 1])] += 1
        p2[np.uint64(index[j + 2])] += 1
        p3[np.uint64(index[j + 3])] += 1
    for j in range(n4, n):
        p0[np.uint64(index[j])] += 1


@njit(cache=True)
def _count(z, h, partial):
    """``h[v]`` += number of ``z == v`` (``partial``: (4, len(h)) scratch)."""
    _histogram4(z, z.shape[0], partial)
    for v in range(h.shape[0]):
        h[v] += partial[0, v] + partial[1, v] + partial[2, v] + partial[3, v]


@njit(cache=True)
def _offset_scale(small, large):
    """MEME's integer offset and scale that map shifted scores in ``[small, large]`` onto ``0 .. BINS``."""
    if large == small:
        small = large - 1.0
    offset = math.floor(small)
    return offset, math.floor(BINS / (large - offset))


# ------------------------------------------------------------------------------------------ Pearson scores
@njit(cache=True, inline="always")
def _plane(y0, y1, y2, y3):
    """Coordinates of a vector of the plane ``y0 + y1 + y2 + y3 = 0`` in the orthonormal basis
    ``(1, -1, -1, 1) / 2``, ``(1, 0, 0, -1) / sqrt(2)``, ``(0, 1, -1, 0) / sqrt(2)`` (a complement flips the
    sign of the last two)."""
    r2 = math.sqrt(2.0)
    return (y0 - y1 - y2 + y3) / 2.0, (y0 - y3) / r2, (y1 - y2) / r2


@njit(cache=True)
def _unit_columns(T):
    """``(3, N)`` target columns centred on 0.25 and scaled to unit length (zero for a uniform column), as
    coordinates in the plane of centred columns (:func:`_plane`).

    The Pearson correlation of two columns is then the dot product of their three coordinates, which differs
    from MEME's ``num / sqrt(d1 * d2)`` in the last bits only; that changes no integer score once the scores are
    shifted by their (arbitrary) median, but could move an unshifted extreme such as ``-1`` across the integer
    that sets MEME's offset, so it serves complete scores only.
    """
    N = T.shape[0]
    U = np.zeros((3, N))
    for j in range(N):
        U[0, j], U[1, j], U[2, j] = _unit_query(T[j])
    return U


@njit(cache=True)
def _float32(U):
    """``U`` in float32 (its own function: inside a parallel kernel the conversion slowed the query loop)."""
    return U.astype(np.float32)


@njit(cache=True)
def _unit_query(q):
    """The unit column (see :func:`_unit_columns`) of one column ``q`` (4,), as three scalars."""
    x0 = q[0] - 0.25
    x1 = q[1] - 0.25
    x2 = q[2] - 0.25
    x3 = q[3] - 0.25
    d = x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3
    if d == 0.0:
        return 0.0, 0.0, 0.0
    r = math.sqrt(d)
    return _plane(x0 / r, x1 / r, x2 / r, x3 / r)


@njit(cache=True)
def _pearson_buckets(U32, x, bins, lanes):
    """float32 correlations of unit query column ``x`` (3,) with the float32 unit columns ``U32`` (3, N):
    ``bins[j]`` is the bucket of the correlation with column ``j`` on a grid of ``_PEARSON_BUCKETS`` over
    ``[-1, 1]``; returns their (min, max), kept in 64 lanes so that the loop vectorises (``lanes``: (2, 64)
    float32 scratch)."""
    N = U32.shape[1]
    u0 = U32[0]
    u1 = U32[1]
    u2 = U32[2]
    x0 = np.float32(x[0])
    x1 = np.float32(x[1])
    x2 = np.float32(x[2])
    one = np.float32(1.0)
    half = np.float32(_PEARSON_BUCKETS / 2.0)
    top = _PEARSON_BUCKETS - 1
    mn = lanes[0]
    mx = lanes[1]
    mn[:] = np.inf
    mx[:] = -np.inf
    n64 = N - N % 64
    for j0 in range(0, n64, 64):
        for t in range(64):
            j = j0 + t
            s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
            bins[j] = min(max(np.int32((s + one) * half), 0), top)
            mn[t] = min(mn[t], s)
            mx[t] = max(mx[t], s)
    lo = mn.min()
    hi = mx.max()
    for j in range(n64, N):
        s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
        bins[j] = min(max(np.int32((s + one) * half), 0), top)
        lo = min(lo, s)
        hi = max(hi, s)
    return float(lo), float(hi)


@njit(cache=True)
def _select(a, m, k):
    """Put the ``k``-th smallest of ``a[:m]`` at ``a[k]``, smaller values before it and larger after it
    (in-place quickselect, median-of-three pivots)."""
    lo = 0
    hi = m - 1
    while hi > lo:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True)
def _collect_ranks(U, x, bins, b1, b2, r1, r2, buffer):
    """The ``r1``-th and ``r2``-th smallest (0-based, ``r2`` is ``r1`` or ``r1 + 1``) float64 correlations of
    unit query column ``x`` with the columns whose bucket is ``b1 .. b2``. Blocks of 64 columns without such
    a bucket are skipped after a check that vectorises (16-bit lanes: buckets are below ``2**15``)."""
    N = U.shape[1]
    x0, x1, x2 = x[0], x[1], x[2]
    lo = np.uint16(b1)
    width = np.uint16(b2 - b1)
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    m = 0
    n64 = N - N % 64
    for j0 in range(0, n64, 64):
        d = np.uint16(0xFFFF)
        for t in range(64):
            d = min(d, np.uint16(np.uint16(bins[j0 + t]) - lo))
        if d > width:
            continue
        for j in range(j0, j0 + 64):
            if np.uint16(np.uint16(bins[j]) - lo) <= width:
                buffer[m] = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
                m += 1
    for j in range(n64, N):
        if np.uint16(np.uint16(bins[j]) - lo) <= width:
            buffer[m] = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
            m += 1
    _select(buffer, m, r1)
    v1 = buffer[r1]
    v2 = v1
    if r2 > r1:
        v2 = buffer[r2:m].min()
    return v1, v2


@njit(cache=True)
def _bucket_median(U, x, bins, counts, k1, k2, buffer):
    """Mean of the ``k1``-th and ``k2``-th smallest float64 correlations (0-based, ``k2`` is ``k1`` or
    ``k1 + 1``) of unit query column ``x`` with the unit columns ``U`` (3, N), given their float32 buckets
    ``bins``: count the buckets, then select the two ranks from the float64 correlations of the buckets
    ``b1 .. b2`` that hold them.

    A column's float32 bucket can differ from its float64 one only within ``_F32_MARGIN`` of a bucket edge.
    When both values lie at least that far inside ``b1 .. b2``, every column of a lower bucket is below and
    every column of a higher bucket above them, so their ranks are exact. Otherwise the buckets on either
    side join the selection: every column of a bucket below ``b1 - 1`` is then below every column of the buckets
    ``b1 .. b2``, and every column of a bucket above ``b2 + 1`` above them, which makes the ranks exact again.
    """
    _histogram4(bins, U.shape[1], counts)
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
    v1, v2 = _collect_ranks(U, x, bins, b1, b2, k1 - base, k2 - base, buffer)
    half = _PEARSON_BUCKETS / 2.0
    top = _PEARSON_BUCKETS - 1
    inside_lo = b1 == 0 or v1 >= b1 / half - 1.0 + _F32_MARGIN
    inside_hi = b2 == top or v2 < (b2 + 1) / half - 1.0 - _F32_MARGIN
    if not (inside_lo and inside_hi):
        if b1 > 0:
            b1 -= 1
            base -= counts[0, b1] + counts[1, b1] + counts[2, b1] + counts[3, b1]
        v1, v2 = _collect_ranks(U, x, bins, b1, min(b2 + 1, top), k1 - base, k2 - base, buffer)
    return (v1 + v2) / 2.0


@njit(cache=True)
def _exact_extremes(U, x):
    """(min, max) of the float64 correlations of unit query column ``x`` (3,) with the unit columns ``U``."""
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    x0, x1, x2 = x[0], x[1], x[2]
    lo = np.inf
    hi = -np.inf
    for j in range(U.shape[1]):
        s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
        lo = min(lo, s)
        hi = max(hi, s)
    return lo, hi


@njit(cache=True)
def _pearson_scores(U, U32, Q, q0, L, Z, H):
    """Complete-score integer scores of one query for the Pearson correlation.

    ``U`` (3, N) are the unit target columns (:func:`_unit_columns`), ``U32`` the same in float32. Fills
    ``Z[i, j]`` with MEME's integer score (``0 .. BINS``) of query column ``q0 + i`` against target column
    ``j`` and ``H[i, v]`` with the number of target columns that score ``v``; returns the integer the median
    maps to.
    """
    N = U.shape[1]
    k1 = max(int(math.floor(0.5 * N)) - 1, 0)
    k2 = max(int(math.ceil(0.5 * N)) - 1, k1)
    bins = np.empty(N, np.int16)
    counts = np.empty((4, _PEARSON_BUCKETS), np.int32)
    lanes = np.empty((2, 64), np.float32)
    buffer = np.empty(N)
    X = np.empty((L, 3))
    quantile = np.empty(L)
    lo = np.empty(L)
    hi = np.empty(L)
    small = np.inf
    large = -np.inf
    for i in range(L):
        X[i, 0], X[i, 1], X[i, 2] = _unit_query(Q[q0 + i])
        lo[i], hi[i] = _pearson_buckets(U32, X[i], bins, lanes)
        quantile[i] = _bucket_median(U, X[i], bins, counts, k1, k2, buffer)
        small = min(small, lo[i] - quantile[i])
        large = max(large, hi[i] - quantile[i])
    offset, scale = _offset_scale(small, large)
    o1, s1 = _offset_scale(small - _F32_MARGIN, large + _F32_MARGIN)
    o2, s2 = _offset_scale(small + _F32_MARGIN, large - _F32_MARGIN)
    if large - small <= 4 * _F32_MARGIN or o1 != o2 or s1 != s2:
        small = np.inf
        large = -np.inf
        for i in range(L):
            lo[i], hi[i] = _exact_extremes(U, X[i])
            small = min(small, lo[i] - quantile[i])
            large = max(large, hi[i] - quantile[i])
        offset, scale = _offset_scale(small, large)
    partial = np.empty((4, BINS + 1), np.int64)
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    for i in range(L):
        x0, x1, x2 = X[i, 0], X[i, 1], X[i, 2]
        m = quantile[i]
        z = Z[i]
        for j in range(N):
            s = x0 * u0[j] + x1 * u1[j] + x2 * u2[j]
            # y >= 0 by construction of ``offset``, so adding 0.5 and truncating rounds half away from zero
            z[j] = np.uint8(np.int32(((s - m) - offset) * scale + 0.5))
        _count(z, H[i], partial)
    return int(round(-offset * scale))


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

"""Compiled kernels of :func:`drg.motifs.comparison.tomtom` (private; see that function for the method).

Layout shared by every kernel:

* query columns are stacked into one ``(sum of query lengths, 4)`` float64 array ``Q`` with ``q_start`` giving
  the first row of each query (``q_start[i]:q_start[i + 1]``);
* target *entries* are the targets and, when both strands are compared, their reverse complements
  interleaved (entry ``2 j`` is target ``j``, entry ``2 j + 1`` its reverse complement), stacked the same way
  into ``T`` with ``t_start``;
* column scores are indexed ``[query column, target column]`` over all target columns of all entries.
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


@njit(cache=True)
def _unit_columns(T):
    """``(4, N)`` target columns centred on 0.25 and scaled to unit length (zero for a uniform column).

    The Pearson correlation of two columns is then the dot product of their unit columns.
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
def _pearson_row(U, q, row):
    """``row[j]`` = Pearson correlation of query column ``q`` (4,) with target column ``j``; returns the
    row's (min, max).

    Computed as the dot product of unit columns, which differs from MEME's ``num / sqrt(d1 * d2)`` in the
    last bits only; that changes no integer score once the scores are shifted by their (arbitrary) median,
    but could move an unshifted extreme such as ``-1`` across the integer that sets MEME's offset.
    """
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
    u0 = U[0]
    u1 = U[1]
    u2 = U[2]
    u3 = U[3]
    for j in range(row.shape[0]):
        row[j] = x0 * u0[j] + x1 * u1[j] + x2 * u2[j] + x3 * u3[j]
    return _min_max(row)


# ------------------------------------------------------------------------------------------ exact quantiles
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
    c0 = counts[0]
    c1 = counts[1]
    c2 = counts[2]
    c3 = counts[3]
    cum = 0
    target = 0
    for b in range(nb):
        c = c0[b] + c1[b] + c2[b] + c3[b]
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


# ---------------------------------------------------------------------------------------- null distributions
@njit(cache=True, inline="always")
def _axpy(dst, src, a, n):
    for y in range(n):
        dst[y] += src[y] * a


@njit(cache=True)
def _range_survival(H, L, n_cols, sf, sf_start, sf_len):
    """Survival functions of the sum of scaled scores over every contiguous range of query columns.

    ``H[i, v]`` counts target columns whose scaled score against query column ``i`` is ``v``. For the range
    of columns ``s..e`` the result ``sf[sf_start[s, e] + x]`` is ``P(sum >= x)`` (capped at 1 as MEME does)
    for ``x`` in ``0 .. sf_len[s, e] - 1``, each column score drawn independently from its histogram.
    """
    R = H.shape[1] - 1
    hr = np.zeros((L, R + 1))  # each column's probabilities over its support, reversed
    hlo = np.zeros(L, np.int64)
    hhi = np.zeros(L, np.int64)
    for i in range(L):
        first = -1
        last = -1
        for v in range(R + 1):
            if H[i, v] > 0:
                if first < 0:
                    first = v
                last = v
        hlo[i] = first
        hhi[i] = last
        for v in range(first, last + 1):
            hr[i, last - v] = H[i, v] / n_cols
    size = L * R + 1
    # ``cur`` holds the current distribution at index x + R (R zeros of padding on both sides).
    cur = np.zeros(size + 2 * R + 2)
    new = np.zeros(size + 2 * R + 2)
    for s in range(L):
        cur[:] = 0.0
        cur[R] = 1.0
        clo = 0
        chi = 0
        for e in range(s, L):
            lo_e = hlo[e]
            hi_e = hhi[e]
            width = hi_e - lo_e + 1
            nlo = clo + lo_e
            nhi = chi + hi_e
            h = hr[e]
            # new[y] = sum_v cur[y - v] h[v]; with u = hi_e - v the source index is y - hi_e + u.
            n_out = nhi - nlo + 1
            dst = new[nlo + R : nhi + R + 1]
            dst[:] = 0.0
            for u in range(width):
                _axpy(dst, cur[nlo + R + u - hi_e : nlo + R + u - hi_e + n_out], h[u], n_out)
            for y in range(clo, chi + 1):
                cur[y + R] = 0.0
            for y in range(nlo, nhi + 1):
                cur[y + R] = new[y + R]
            clo = nlo
            chi = nhi
            start = sf_start[s, e]
            length = sf_len[s, e]
            for x in range(nhi + 1, length):
                sf[start + x] = 0.0
            acc = 0.0
            for x in range(nhi, clo - 1, -1):
                acc += cur[x + R]
                if acc > 1.0:
                    acc = 1.0
                sf[start + x] = acc
            for x in range(clo - 1, -1, -1):
                sf[start + x] = acc


@njit(cache=True)
def _sf_at(sf, sf_start, sf_len, s, e, x):
    if x <= 0:
        return sf[sf_start[s, e]]
    if x >= sf_len[s, e]:
        return 0.0
    return sf[sf_start[s, e] + x]


@njit(cache=True)
def _alignment_tables(L, tlen, o, sf_start, sf_len):
    """Per alignment of a target of length ``tlen``: sf base index, sf length and complete-score shift."""
    n = L + tlen - 1
    base = np.empty(n, np.int64)
    length = np.empty(n, np.int64)
    shift = np.empty(n, np.int64)
    for i in range(n):
        if i < L:
            s = L - i - 1
            e = min(L, s + tlen) - 1
        else:
            s = 0
            e = min(L, tlen + L - i - 1) - 1
        base[i] = sf_start[s, e]
        length[i] = sf_len[s, e]
        shift[i] = o * (L - (e - s + 1))
    return base, length, shift


@njit(cache=True)
def _max_pvalue(sf, base, length, shift, x, norient):
    """``P(max over all alignments and orientations of the complete score >= x)`` for one target length.

    Computed as ``sum_a p_a prod_{b < a} (1 - p_b)`` so that small values keep their relative precision.
    """
    total = 0.0
    keep = 1.0
    for i in range(base.shape[0]):
        y = x - shift[i]
        if y <= 0:
            p = sf[base[i]]
        elif y >= length[i]:
            p = 0.0
        else:
            p = sf[base[i] + y]
        total += p * keep
        keep *= 1.0 - p
        if norient == 2:
            total += p * keep
            keep *= 1.0 - p
    return total


@njit(cache=True)
def _ev(p, n):
    if p * n < 0.001:
        return p * n
    return 1.0 - (1.0 - p) ** n


# --------------------------------------------------------------------------------------------- one query
@njit(cache=True)
def _quantise_row(row, quantile, offset, scale, Zi, Hi, partial):
    """``Zi[j]`` = MEME's integer score of ``row[j] - quantile``; ``Hi`` counts them (``partial``: (4, BINS + 1)
    scratch)."""
    n = row.shape[0]
    for j in range(n):
        # y >= 0 by construction of ``offset``, so adding 0.5 and truncating rounds half away from zero
        Zi[j] = np.uint8(np.int32(((row[j] - quantile) - offset) * scale + 0.5))
    _histogram4(Zi, n, partial)
    for v in range(Hi.shape[0]):
        Hi[v] += partial[0, v] + partial[1, v] + partial[2, v] + partial[3, v]


@njit(cache=True)
def _one_query(
    dist, Q, q0, L, nq, T, U, t_start, t_col_nsites, t_len_index, n_lengths, bg, complete, min_overlap,
    internal, norient, out_p, out_offset, out_overlap,
):
    N = T.shape[0]
    n_entries = t_start.shape[0] - 1
    fast = dist == 0 and complete  # Pearson from unit columns (relies on the median shift, see _pearson_row)
    S = np.empty((L, N))
    if not fast:
        _score_rows(dist, Q, q0, L, nq, T, t_col_nsites, bg, S)

    # per-column shift (the median with complete scores) and the range of shifted scores
    quantile = np.zeros(L)
    counts = np.empty((4, _SELECT_BINS), np.int32)
    bins = np.empty(N, np.int32)
    buffer = np.empty(N)
    k1 = int(math.floor(0.5 * N)) - 1
    k2 = int(math.ceil(0.5 * N)) - 1
    if k1 < 0:
        k1 = 0
    if k2 < k1:
        k2 = k1
    small = np.inf
    large = -np.inf
    for i in range(L):
        r = S[i]
        if fast:
            lo, hi = _pearson_row(U, Q[q0 + i], r)
        else:
            lo, hi = _min_max(r)
        if complete:
            v1 = _kth_smallest(r, k1, lo, hi, counts, bins, buffer)
            v2 = v1 if k2 == k1 else _kth_smallest(r, k2, lo, hi, counts, bins, buffer)
            quantile[i] = (v1 + v2) / 2.0
        small = min(small, lo - quantile[i])
        large = max(large, hi - quantile[i])
    if large == small:
        small = large - 1.0
    offset = math.floor(small)
    scale = math.floor(BINS / (large - offset))

    Z = np.empty((L, N), np.uint8)
    H = np.zeros((L, BINS + 1), np.int64)
    partial = np.empty((4, BINS + 1), np.int64)
    for i in range(L):
        _quantise_row(S[i], quantile[i], offset, scale, Z[i], H[i], partial)

    sf_start = np.zeros((L, L), np.int64)
    sf_len = np.zeros((L, L), np.int64)
    total = 0
    for s in range(L):
        for e in range(s, L):
            sf_start[s, e] = total
            sf_len[s, e] = (e - s + 1) * BINS + 1
            total += (e - s + 1) * BINS + 1
    sf = np.empty(total)
    _range_survival(H, L, N, sf, sf_start, sf_len)

    o_scaled = int(round(-offset * scale))  # scaled value of a raw score of 0 (the shifted median)
    max_len = 0
    for t in range(n_entries):
        max_len = max(max_len, t_start[t + 1] - t_start[t])
    acc = np.empty(L + max_len + 1, np.int32)
    best_x = np.empty(n_entries, np.int64)
    for t in range(n_entries):
        c0 = t_start[t]
        tlen = t_start[t + 1] - c0
        start = 1
        end = L + tlen - 1
        if internal:
            if L < tlen:
                start = L
                end = tlen
            else:
                start = tlen
                end = L
        elif min_overlap > 1:
            mo = min(min_overlap, L, tlen)
            start = mo
            end = L + tlen - mo
        # acc[c] = summed score of alignment c (target column j against query column j - c + L)
        for c in range(L + tlen):
            acc[c] = 0
        for i in range(L):
            base = L - i
            for j in range(tlen):
                acc[base + j] += Z[i, c0 + j]
        best_overlap = -1
        best_offset = 0
        if complete:
            # best complete score, then larger overlap, then first configuration, packed in one integer
            best_code = np.int64(-(1 << 62))
            for configuration in range(start, end + 1):
                overlap = min(configuration, tlen, L, L + tlen - configuration)
                code = (
                    (np.int64(acc[configuration] - overlap * o_scaled) << 20)
                    + (overlap << 10)
                    + (1023 - configuration)
                )
                best_code = max(best_code, code)
            best_configuration = 1023 - (best_code & 1023)
            best_overlap = (best_code >> 10) & 1023
            best_offset = best_configuration - L
            best_x[t] = (best_code >> 20) + L * o_scaled
        else:
            best_key = np.inf
            for configuration in range(start, end + 1):
                if configuration <= L:
                    qc = L - configuration
                    overlap = min(configuration, tlen)
                else:
                    qc = 0
                    overlap = min(L, tlen - configuration + L)
                key = _sf_at(sf, sf_start, sf_len, qc, qc + overlap - 1, acc[configuration])
                if key < best_key or (key == best_key and overlap > best_overlap):
                    best_key = key
                    best_overlap = overlap
                    best_offset = configuration - L
            out_p[t] = _ev(best_key, (end - start + 1) * norient)
        out_offset[t] = best_offset
        out_overlap[t] = best_overlap
    if not complete:
        return

    # p-value of the maximum over all alignments, once per (target length, score)
    x_lo = best_x.min()
    x_hi = best_x.max()
    memo = np.full((n_lengths, x_hi - x_lo + 1), -1.0)
    tab_base = np.zeros((n_lengths, L + max_len), np.int64)
    tab_length = np.zeros((n_lengths, L + max_len), np.int64)
    tab_shift = np.zeros((n_lengths, L + max_len), np.int64)
    tab_done = np.zeros(n_lengths, np.bool_)
    for t in range(n_entries):
        tlen = t_start[t + 1] - t_start[t]
        li = t_len_index[tlen]
        x = best_x[t]
        p = memo[li, x - x_lo]
        if p < 0:
            n_al = L + tlen - 1
            if not tab_done[li]:
                b_, l_, s_ = _alignment_tables(L, tlen, o_scaled, sf_start, sf_len)
                tab_base[li, :n_al] = b_
                tab_length[li, :n_al] = l_
                tab_shift[li, :n_al] = s_
                tab_done[li] = True
            p = _max_pvalue(sf, tab_base[li, :n_al], tab_length[li, :n_al], tab_shift[li, :n_al], x, norient)
            p = float(np.float32(p))
            memo[li, x - x_lo] = p
        out_p[t] = p


# ------------------------------------------------------------------------------------------ all queries
@njit(cache=True)
def _finish_query(p, overlap, offset, norient, n_targets, pi_zero, res_p, res_q, res_offset, res_overlap, res_strand):
    """Benjamini-Hochberg q-values over all entries of one query, then the best strand of each target."""
    m = p.shape[0]
    order = np.argsort(p)
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
    dist, Q, q_start, q_nsites, T, t_start, t_col_nsites, bg, complete, min_overlap, internal, norient,
    pi_zero,
):
    """Compare every query with every target entry; return per (query, target) best-strand results."""
    n_queries = q_start.shape[0] - 1
    n_entries = t_start.shape[0] - 1
    n_targets = n_entries // norient
    U = _unit_columns(T) if dist == 0 else np.empty((4, 0))
    max_len = 0
    for t in range(n_entries):
        max_len = max(max_len, t_start[t + 1] - t_start[t])
    t_len_index = np.full(max_len + 1, -1, np.int64)
    n_lengths = 0
    for t in range(n_entries):
        tlen = t_start[t + 1] - t_start[t]
        if t_len_index[tlen] < 0:
            t_len_index[tlen] = n_lengths
            n_lengths += 1
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
            dist, Q, q0, L, q_nsites[i], T, U, t_start, t_col_nsites, t_len_index, n_lengths, bg, complete,
            min_overlap, internal, norient, p, offset, overlap,
        )
        _finish_query(
            p, overlap, offset, norient, n_targets, pi_zero, res_p[i], res_q[i], res_offset[i],
            res_overlap[i], res_strand[i],
        )
    return res_p, res_q, res_offset, res_overlap, res_strand

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
    """Fill ``S[i, j]`` with the score of query column ``q0 + i`` against target column ``j``."""
    work = np.empty((6, 4))
    N = T.shape[0]
    if dist == 0:
        # Pearson: centre once per column, then MEME's formula.
        tc = np.empty((N, 4))
        td = np.empty(N)
        for j in range(N):
            d = 0.0
            for a in range(4):
                y = T[j, a] - 0.25
                tc[j, a] = y
                d += y * y
            td[j] = d
        for i in range(L):
            x0 = Q[q0 + i, 0] - 0.25
            x1 = Q[q0 + i, 1] - 0.25
            x2 = Q[q0 + i, 2] - 0.25
            x3 = Q[q0 + i, 3] - 0.25
            d1 = x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3
            for j in range(N):
                num = x0 * tc[j, 0] + x1 * tc[j, 1] + x2 * tc[j, 2] + x3 * tc[j, 3]
                den = math.sqrt(d1 * td[j])
                S[i, j] = num / den if den != 0.0 else 0.0
        return
    for i in range(L):
        for j in range(N):
            S[i, j] = _column_score(dist, Q[q0 + i], T[j], nq, t_col_nsites[j], bg, work)


# ------------------------------------------------------------------------------------------ exact quantiles
@njit(cache=True)
def _kth_smallest(row, k, counts, buffer):
    """Exact ``k``-th smallest (0-based) value of ``row`` by histogram bucketing then sorting one bucket."""
    n = row.shape[0]
    lo = row[0]
    hi = row[0]
    for j in range(n):
        v = row[j]
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    if lo == hi:
        return lo
    nb = counts.shape[0]
    inv = nb / (hi - lo)
    counts[:] = 0
    for j in range(n):
        b = int((row[j] - lo) * inv)
        if b >= nb:
            b = nb - 1
        counts[b] += 1
    cum = 0
    target = 0
    for b in range(nb):
        if cum + counts[b] > k:
            target = b
            break
        cum += counts[b]
    m = 0
    for j in range(n):
        b = int((row[j] - lo) * inv)
        if b >= nb:
            b = nb - 1
        if b == target:
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
def _one_query(
    dist, Q, q0, L, nq, T, t_start, t_col_nsites, bg, complete, min_overlap, internal, norient,
    out_p, out_offset, out_overlap,
):
    N = T.shape[0]
    n_entries = t_start.shape[0] - 1
    S = np.empty((L, N))
    _score_rows(dist, Q, q0, L, nq, T, t_col_nsites, bg, S)

    if complete:
        counts = np.empty(_SELECT_BINS, np.int64)
        buffer = np.empty(N)
        k1 = int(math.floor(0.5 * N)) - 1
        k2 = int(math.ceil(0.5 * N)) - 1
        if k1 < 0:
            k1 = 0
        if k2 < k1:
            k2 = k1
        for i in range(L):
            v1 = _kth_smallest(S[i], k1, counts, buffer)
            v2 = v1 if k2 == k1 else _kth_smallest(S[i], k2, counts, buffer)
            quantile = (v1 + v2) / 2.0
            for j in range(N):
                S[i, j] -= quantile

    small = S[0, 0]
    large = S[0, 0]
    for i in range(L):
        for j in range(N):
            v = S[i, j]
            if v < small:
                small = v
            if v > large:
                large = v
    if large == small:
        small = large - 1.0
    offset = math.floor(small)
    scale = math.floor(BINS / (large - offset))

    Zt = np.empty((N, L), np.int32)  # transposed so that an alignment diagonal stays in a few cache lines
    H = np.zeros((L, BINS + 1), np.int64)
    for i in range(L):
        for j in range(N):
            y = (S[i, j] - offset) * scale
            z = int(y + 0.5) if y >= 0 else int(y - 0.5)
            Zt[j, i] = z
            H[i, z] += 1
    Zflat = Zt.reshape(N * L)

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
    n_x = L * BINS + L * o_scaled + 2
    memo = np.full((max_len + 1, n_x), -1.0) if complete else np.empty((1, 1))
    tab_base = np.zeros((max_len + 1, L + max_len), np.int64)
    tab_length = np.zeros((max_len + 1, L + max_len), np.int64)
    tab_shift = np.zeros((max_len + 1, L + max_len), np.int64)
    tab_done = np.zeros(max_len + 1, np.bool_)
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
        best_key = np.inf
        best_overlap = -1
        best_offset = 0
        for configuration in range(start, end + 1):
            if configuration <= L:
                tc = 0
                qc = L - configuration
            else:
                qc = 0
                tc = configuration - L
            overlap = min(L - qc, tlen - tc)
            diagonal = Zflat[(c0 + tc) * L + qc :]
            score = 0
            for k in range(overlap):
                score += diagonal[k * (L + 1)]
            if complete:
                key = -float(score - overlap * o_scaled)
            else:
                key = _sf_at(sf, sf_start, sf_len, qc, qc + overlap - 1, score)
            if key < best_key or (key == best_key and overlap > best_overlap):
                best_key = key
                best_overlap = overlap
                best_offset = configuration - L
        if complete:
            x = int(-best_key) + L * o_scaled
            p = memo[tlen, x]
            if p < 0:
                n_al = L + tlen - 1
                if not tab_done[tlen]:
                    b_, l_, s_ = _alignment_tables(L, tlen, o_scaled, sf_start, sf_len)
                    tab_base[tlen, :n_al] = b_
                    tab_length[tlen, :n_al] = l_
                    tab_shift[tlen, :n_al] = s_
                    tab_done[tlen] = True
                p = _max_pvalue(
                    sf, tab_base[tlen, :n_al], tab_length[tlen, :n_al], tab_shift[tlen, :n_al], x, norient
                )
                p = float(np.float32(p))
                memo[tlen, x] = p
        else:
            p = _ev(best_key, (end - start + 1) * norient)
        out_p[t] = p
        out_offset[t] = best_offset
        out_overlap[t] = best_overlap


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
            dist, Q, q0, L, q_nsites[i], T, t_start, t_col_nsites, bg, complete, min_overlap, internal,
            norient, p, offset, overlap,
        )
        _finish_query(
            p, overlap, offset, norient, n_targets, pi_zero, res_p[i], res_q[i], res_offset[i],
            res_overlap[i], res_strand[i],
        )
    return res_p, res_q, res_offset, res_overlap, res_strand

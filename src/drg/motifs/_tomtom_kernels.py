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
the fast path of :mod:`drg.motifs._tomtom_scores`); the best alignment of every entry; survival
functions of the summed scores of ranges of query columns, convolved only over the sums the p-values read;
p-values once per (target length, score); q-values.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from drg.motifs._tomtom_scores import (
    BINS,
    _float32,
    _pearson_scores,
    _quantise,
    _unit_columns,
)

DIST_CODES = {
    "pearson": 0,
    "ed": 1,
    "sandelin": 2,
    "allr": 3,
    "kullback": 4,
    "blic1": 5,
    "blic5": 6,
}

_UNNEEDED = 1 << 50
_TAPS = 8  # weights per pass of the convolution (each pass loads and stores the output once)


# ---------------------------------------------------------------------------------------- null distributions
# fused multiply-adds: each product is added with one rounding instead of two (relative change ~1e-16)
@njit(cache=True, fastmath={"contract"})
def _range_survival(H, L, n_cols, need, sf, sf_start, sf_len):
    """Survival functions of the sum of scaled scores over contiguous ranges of query columns.

    ``H[i, v]`` counts target columns whose scaled score against query column ``i`` is ``v``. For the range
    of columns ``s..e`` the result ``sf[sf_start[s, e] + x]`` is ``P(sum >= x)`` (capped at 1 as MEME does),
    each column score drawn independently from its histogram, for ``x`` from ``need[s, e]`` (all ``x >= 0``
    when it is ``<= 0``) to ``sf_len[s, e] - 1``; other entries are left unset. The distributions are only
    convolved over the sums that those entries (and the longer ranges') depend on.
    """
    R = H.shape[1] - 1
    pad = R + _TAPS + 4  # zeros below the lowest kept sum: every shifted read stays in the buffer
    prob = np.zeros((L, R + _TAPS))  # weights padded with zeros to a multiple of the unroll
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
    # distributions of sums, offset by ``pad``; entries outside the kept sums are zero, so each output sum
    # adds the products of all weights in ascending order (the zero ones add +0.0, leaving it unchanged)
    size = L * R + 1 + 2 * pad
    cur = np.empty(size)
    new = np.empty(size)
    chain = np.empty(L, np.int64)
    for s in range(L):
        lowest = _UNNEEDED
        for e in range(L - 1, s - 1, -1):
            lowest = min(lowest, need[s, e])
            chain[e] = lowest
            lowest -= hhi[e]
        cur[:] = 0.0
        new[:] = 0.0
        cur[pad] = 1.0
        c_lo = 0  # lowest and largest sums cur holds
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
            w = prob[e]
            lo = y_lo + pad
            hi = n_hi + pad + 1
            new[lo:hi] = 0.0
            for v in range(hlo[e], hhi[e] + 1, _TAPS):
                w0 = w[v]
                w1 = w[v + 1]
                w2 = w[v + 2]
                w3 = w[v + 3]
                w4 = w[v + 4]
                w5 = w[v + 5]
                w6 = w[v + 6]
                w7 = w[v + 7]
                # only the sums that some of these weights reach from c_lo .. c_hi (the rest add zeros)
                a = max(lo, c_lo + v + pad)
                b = min(hi, c_hi + v + _TAPS + pad)
                out = new[a:b]
                s0 = cur[a - v : b - v]
                s1 = cur[a - v - 1 : b - v - 1]
                s2 = cur[a - v - 2 : b - v - 2]
                s3 = cur[a - v - 3 : b - v - 3]
                s4 = cur[a - v - 4 : b - v - 4]
                s5 = cur[a - v - 5 : b - v - 5]
                s6 = cur[a - v - 6 : b - v - 6]
                s7 = cur[a - v - 7 : b - v - 7]
                for y in range(out.shape[0]):
                    t = out[y]
                    t += s0[y] * w0
                    t += s1[y] * w1
                    t += s2[y] * w2
                    t += s3[y] * w3
                    t += s4[y] * w4
                    t += s5[y] * w5
                    t += s6[y] * w6
                    t += s7[y] * w7
                    out[y] = t
            # sums below y_lo are dropped (left from two steps ago): zero those the next step reads
            new[lo - pad : lo] = 0.0
            cur, new = new, cur
            c_lo = y_lo
            c_hi = n_hi
            start = sf_start[s, e]
            for x in range(n_hi + 1, sf_len[s, e]):
                sf[start + x] = 0.0
            acc = 0.0
            x = n_hi
            while x - 3 >= y_lo:
                # four sums from the top at once: the chain of additions through acc takes one step per four
                a0 = cur[x + pad]
                a1 = a0 + cur[x - 1 + pad]
                a2 = a1 + cur[x - 2 + pad]
                a3 = a2 + cur[x - 3 + pad]
                sf[start + x] = min(acc + a0, 1.0)
                sf[start + x - 1] = min(acc + a1, 1.0)
                sf[start + x - 2] = min(acc + a2, 1.0)
                acc = min(acc + a3, 1.0)
                sf[start + x - 3] = acc
                x -= 4
            for x in range(x, y_lo - 1, -1):
                acc += cur[x + pad]
                if acc > 1.0:
                    acc = 1.0
                sf[start + x] = acc
            if y_lo == support_lo:
                for x in range(y_lo - 1, -1, -1):
                    sf[start + x] = acc


@njit(cache=True, inline="always")
def _sf_at(sf, start, length, x):
    """``P(sum >= x)`` from the survival function at ``sf[start:start + length]``: ``x`` clipped to
    ``0 .. length``, where ``sf[start + length]`` is the 0 that follows every survival function."""
    return sf[start + min(max(x, 0), length)]


@njit(cache=True, inline="always")
def _alignment_range(L, tlen, i):
    """Query columns ``(s, e)`` covered by alignment ``i`` (0-based, ``i = configuration - 1``)."""
    if i < L:
        s = L - i - 1
        return s, min(L, s + tlen) - 1
    return 0, min(L, tlen + L - i - 1) - 1


@njit(cache=True)
def _alignment_tables(L, tlen, o, sf_start, sf_len, base, length, shift):
    """Per alignment of a target of length ``tlen``: the start of its range's survival function in ``sf``
    (``base``), that function's length (``length``) and the complete-score shift of the unaligned query
    columns (``shift``); returns the number of alignments."""
    n = L + tlen - 1
    for i in range(n):
        s, e = _alignment_range(L, tlen, i)
        base[i] = sf_start[s, e]
        length[i] = sf_len[s, e]
        shift[i] = o * (L - (e - s + 1))
    return n


@njit(cache=True)
def _max_pvalues(sf, base, length, shift, xs, n, norient, out, keep):
    """``out[j] = P(max over all alignments and orientations of the complete score >= xs[j])`` for ``j < n``
    and one target length, rounded to float32 as MEME does (``keep``: scratch as long as ``out``).

    Computed as ``sum_a p_a prod_{b < a} (1 - p_b)`` so that small values keep their relative precision; the
    two orientations of an alignment (same p) count as ``p (2 - p)`` and ``(1 - p)^2``. Alignment ``a`` reads
    its survival function at ``x - shift[a]`` (:func:`_sf_at`). The loop over the scores is innermost, so that
    it runs on vectors.
    """
    total = out[:n]
    product = keep[:n]
    total[:] = 0.0
    product[:] = 1.0
    for a in range(base.shape[0]):
        b = base[a]
        m = length[a]
        h = shift[a]
        if norient == 2:
            for j in range(n):
                p = _sf_at(sf, b, m, xs[j] - h)
                q = 1.0 - p
                total[j] += p * product[j] * (1.0 + q)
                product[j] *= q * q
        else:
            for j in range(n):
                p = _sf_at(sf, b, m, xs[j] - h)
                total[j] += p * product[j]
                product[j] *= 1.0 - p
    for j in range(n):
        total[j] = float(np.float32(total[j]))


@njit(cache=True)
def _ev(p, n):
    if p * n < 0.001:
        return p * n
    return 1.0 - (1.0 - p) ** n


# --------------------------------------------------------------------------------------------- alignments
@njit(cache=True)
def _configurations(L, tlen, start, end, out):
    """Alignment configurations ``start .. end`` (target column 0 against query column ``L - c``) into
    ``out``, ordered by overlap (largest first), then configuration: the order in which MEME breaks ties;
    returns their number."""
    m = min(L, tlen)
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
    return n


@njit(cache=True)
def _group_sums(Z, L, off, tlen, n, acc):
    """Summed scores of every alignment configuration of a group of ``n`` targets of length ``tlen`` whose
    columns are stored column-major from ``off`` (``Z[:, off + j * n + k]``): returns the ``(L + tlen, n)``
    view of the flat scratch ``acc`` whose row ``c`` (``1 .. L + tlen - 1``; row 0 unused) holds configuration
    ``c`` of each target. Query column ``i`` meets target column ``j = i + c - L``, so row ``c`` starts at
    ``(L - i) * n + j * n``: each query column adds its whole row of the group in one pass."""
    m = tlen * n
    sums = acc[: (L + tlen) * n]
    sums[:] = 0
    for i in range(L):
        dst = sums[(L - i) * n : (L - i) * n + m]
        src = Z[i, off : off + m]
        for t in range(m):
            dst[t] += np.uint16(src[t])
    return sums.reshape((L + tlen, n))


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
    dist, Q, q0, L, nq, T, U, U32, t_col_nsites, g_len, g_off, g_first, entries, bg, complete, min_overlap,
    internal, norient, out_p, out_offset, out_overlap,
):
    """p-value, offset and overlap of the best alignment of query ``Q[q0:q0 + L]`` with every entry."""
    N = T.shape[0]
    n_groups = g_len.shape[0]
    Z = np.empty((L, N), np.uint8)
    H = np.zeros((L, BINS + 1), np.int64)
    if dist == 0 and complete:
        o = _pearson_scores(U, U32, Q, q0, L, Z, H)
    else:
        o = _quantise(dist, Q, q0, L, nq, T, t_col_nsites, bg, complete, Z, H)

    sf_start = np.zeros((L, L), np.int64)
    sf_len = np.zeros((L, L), np.int64)
    total = 0
    for s in range(L):
        for e in range(s, L):
            sf_start[s, e] = total
            sf_len[s, e] = (e - s + 1) * BINS + 1
            total += (e - s + 1) * BINS + 2
    sf = np.empty(total)
    # each survival function is followed by a 0: P(sum >= x) for every x past the largest sum
    for s in range(L):
        for e in range(s, L):
            sf[sf_start[s, e] + sf_len[s, e]] = 0.0
    need = np.full((L, L), _UNNEEDED, np.int64)
    max_len = g_len.max()
    max_n = 0
    for g in range(n_groups):
        max_n = max(max_n, g_first[g + 1] - g_first[g])
    acc = np.empty((L + max_len) * max_n, np.uint16)  # sums of at most MAX_LENGTH scores of at most BINS
    best_s = np.empty(max_n, np.int64)
    best_p = np.empty(max_n)
    best_c = np.empty(max_n, np.int64)
    best_x = np.empty(entries.shape[0], np.int64)
    configurations = np.empty(L + max_len - 1, np.int64)
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
        order = configurations[: _configurations(L, tlen, start, end, configurations)]
        sums = _group_sums(Z, L, g_off[g], tlen, n, acc)
        if complete:
            _best_complete(sums, L, tlen, n, order, o, best_s, best_c)
        else:
            _best_incomplete(sums, L, tlen, n, order, sf, sf_start, sf_len, best_p, best_c)
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
    slot = np.full(L * BINS + 1, -1, np.int64)  # complete scores lie in 0 .. L * BINS
    xs = np.empty(max_n, np.int64)
    ps = np.empty(max_n)
    keep = np.empty(max_n)
    base = np.empty(L + max_len - 1, np.int64)
    length = np.empty(L + max_len - 1, np.int64)
    shift = np.empty(L + max_len - 1, np.int64)
    for g in range(n_groups):
        tlen = g_len[g]
        first = g_first[g]
        n = g_first[g + 1] - first
        # each distinct score once
        n_x = 0
        for k in range(n):
            x = best_x[entries[first + k]]
            if slot[x] < 0:
                slot[x] = n_x
                xs[n_x] = x
                n_x += 1
        n_a = _alignment_tables(L, tlen, o, sf_start, sf_len, base, length, shift)
        _max_pvalues(sf, base[:n_a], length[:n_a], shift[:n_a], xs, n_x, norient, ps, keep)
        for k in range(n):
            t = entries[first + k]
            out_p[t] = ps[slot[best_x[t]]]
        for j in range(n_x):
            slot[xs[j]] = -1


# ------------------------------------------------------------------------------------------ all queries
@njit(cache=True)
def _ascending(p):
    """Indices that sort the non-negative floats ``p`` ascending (stable): LSD radix sort of their bits, 11
    bits a pass, over the bits that are set in some key only (p-values rounded to float32 leave the low 29
    bits clear), skipping passes in which every key has the same digit. The digit counts of every pass come
    from one read of the keys, and each pass moves the keys along with the indices."""
    m = p.shape[0]
    keys = p.view(np.uint64)
    used = np.uint64(0)
    for i in range(m):
        used |= keys[i]
    first = 0
    while first < 64 and (used >> np.uint64(first)) & np.uint64(1) == 0:
        first += 1
    last = first
    for b in range(first, 64):
        if (used >> np.uint64(b)) & np.uint64(1):
            last = b
    n_pass = (last - first) // 11 + 1
    mask = np.uint64(2047)
    counts = np.zeros((n_pass, 2048), np.int64)
    for i in range(m):
        k = keys[i] >> np.uint64(first)
        for d in range(n_pass):
            counts[d, (k >> np.uint64(11 * d)) & mask] += 1
    order = np.arange(m)
    spare = np.empty(m, np.int64)
    moved = keys.copy()
    spare_keys = np.empty(m, np.uint64)
    for d in range(n_pass):
        c = counts[d]
        total = 0
        same = False
        for b in range(2048):
            v = c[b]
            if v == m:
                same = True
                break
            c[b] = total
            total += v
        if same:
            continue
        sh = np.uint64(first + 11 * d)
        for i in range(m):
            key = moved[i]
            digit = (key >> sh) & mask
            at = c[digit]
            c[digit] = at + 1
            spare_keys[at] = key
            spare[at] = order[i]
        order, spare = spare, order
        moved, spare_keys = spare_keys, moved
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
    U = _unit_columns(T) if dist == 0 else np.empty((3, 0))
    U32 = _float32(U)
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
            dist, Q, q0, L, q_nsites[i], T, U, U32, t_col_nsites, g_len, g_off, g_first, entries, bg, complete,
            min_overlap, internal, norient, p, offset, overlap,
        )
        _finish_query(
            p, overlap, offset, norient, n_targets, pi_zero, res_p[i], res_q[i], res_offset[i],
            res_overlap[i], res_strand[i],
        )
    return res_p, res_q, res_offset, res_overlap, res_strand

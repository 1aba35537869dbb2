"""Tomtom statistics against MEME Suite 5.4's own regression outputs, plus invariants and a brute-force twin."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.errors import InputError
from drg.motifs import Motif, read_meme
from drg.motifs.comparison import DISTANCES, meme_consensus, tomtom, tomtom_matrices

ORACLES = "oracles/tomtom_meme_tests/"


def _compare(shared, dist: str, complete: bool) -> pd.DataFrame:
    sample = shared(ORACLES + "sample.meme")
    name = f"tomtom.{'complete.' if complete else ''}out.{dist}.tsv"
    ref = pd.read_csv(shared(ORACLES + name), sep="\t", comment="#")
    ours = tomtom(sample, sample, dist=dist, complete_scores=complete)
    merged = ref.merge(ours, left_on=["Query_ID", "Target_ID"], right_on=["query", "target"], how="left")
    assert merged["p_value"].notna().all()
    return merged


@pytest.mark.parametrize("complete", [True, False], ids=["complete", "incomplete"])
@pytest.mark.parametrize("dist", DISTANCES)
def test_matches_meme_suite(shared, dist, complete):
    m = _compare(shared, dist, complete)
    log_diff = np.abs(np.log10(m["p-value"]) - np.log10(m["p_value"]))
    rel = np.abs(m["p-value"] - m["p_value"]) / m["p-value"]
    assert ((log_diff <= 0.05) | (rel <= 0.01)).all(), m.loc[~((log_diff <= 0.05) | (rel <= 0.01))]
    assert (m["Optimal_offset"] == m["offset"]).all()
    assert (m["Orientation"] == m["orientation"]).all()
    assert (m["Overlap"] == m["overlap"]).all()
    assert (m["Target_consensus"] == m["target_consensus"]).all()
    assert (m["Query_consensus"] == m["query_consensus"]).all()
    # fewer than 100 p-values per query: MEME uses pi0 = 1, i.e. Benjamini-Hochberg, as we do
    np.testing.assert_allclose(m["q_value"], m["q-value"], rtol=1e-3)
    np.testing.assert_allclose(m["e_value"], m["E-value"], rtol=1e-3)


def test_meme_threshold_selects_the_same_rows(shared):
    sample = shared(ORACLES + "sample.meme")
    ref = pd.read_csv(shared(ORACLES + "tomtom.complete.out.pearson.tsv"), sep="\t", comment="#")
    ours = tomtom(sample, sample, thresh=0.5)
    assert set(zip(ours["query"], ours["target"])) == set(zip(ref["Query_ID"], ref["Target_ID"]))


def test_matrices_agree_with_table_and_invariants(shared):
    motifs = read_meme(shared(ORACLES + "sample.meme"))
    res = tomtom_matrices(motifs, motifs)
    table = tomtom(motifs, motifs)
    assert len(table) == 25
    np.testing.assert_array_equal(res.p_value[table["query_index"], table["target_index"]], table["p_value"])
    np.testing.assert_allclose(res.e_value, res.p_value * len(motifs))
    assert (res.q_value >= res.p_value - 1e-12).all() and (res.q_value <= 1).all()
    # each motif is its own best match, in its own orientation at offset 0
    assert (np.argmin(res.p_value, axis=1) == np.arange(5)).all()
    assert (np.diag(res.offset) == 0).all() and (np.diag(res.strand) == 0).all()
    assert (np.diag(res.overlap) == [m.length for m in motifs]).all()


def test_reverse_complement_query_matches_on_minus_strand(shared):
    motifs = read_meme(shared(ORACLES + "sample.meme"))
    rc = [m.reverse_complement() for m in motifs]
    fwd = tomtom_matrices(motifs, motifs)
    rev = tomtom_matrices(rc, motifs)
    assert (np.diag(rev.strand) == 1).all()
    np.testing.assert_allclose(np.diag(rev.p_value), np.diag(fwd.p_value), rtol=1e-6)


def _brute_force_incomplete(motifs, q_index, dist_fn):
    """Direct transcription of the incomplete-score statistic for one query (pure Python)."""
    bg = np.full(4, 0.25)
    freqs = [((m.ppm / m.ppm.sum(1, keepdims=True)) * m.nsites + 0.1 * bg) / (m.nsites + 0.1) for m in motifs]
    entries = []
    for f in freqs:
        entries += [f, f[::-1, ::-1]]
    query = freqs[q_index]
    cols = np.concatenate(entries)
    S = np.array([[dist_fn(q, t) for t in cols] for q in query])
    offset = math.floor(S.min())
    scale = math.floor(100 / (S.max() - offset))
    Z = np.floor((S - offset) * scale + 0.5).astype(int)
    L, N = Z.shape

    def sf(s, e, x):
        pmf = np.array([1.0])
        for i in range(s, e + 1):
            h = np.bincount(Z[i], minlength=101) / N
            pmf = np.convolve(pmf, h)
        return min(1.0, pmf[x:].sum())

    out = []
    start = 0
    for f in entries:
        tl = f.shape[0]
        block = Z[:, start : start + tl]
        start += tl
        best = (np.inf, -1, 0)
        for c in range(1, L + tl):
            qc, tc = (L - c, 0) if c <= L else (0, c - L)
            ov = min(L - qc, tl - tc)
            score = sum(block[qc + k, tc + k] for k in range(ov))
            p = sf(qc, qc + ov - 1, score)
            if p < best[0] or (p == best[0] and ov > best[1]):
                best = (p, ov, c - L)
        n = 2 * (L + tl - 1)
        p = best[0] * n if best[0] * n < 0.001 else 1 - (1 - best[0]) ** n
        out.append((p, best[1], best[2]))
    return out


def test_incomplete_scores_brute_force_twin(shared):
    motifs = read_meme(shared(ORACLES + "sample.meme"))[:3]

    def ed(q, t):
        return -math.sqrt(((q - t) ** 2).sum())

    res = tomtom_matrices(motifs, motifs, dist="ed", complete_scores=False)
    for qi in range(3):
        expected = _brute_force_incomplete(motifs, qi, ed)
        for ti in range(3):
            strand = res.strand[qi, ti]
            p, ov, off = expected[2 * ti + strand]
            other = expected[2 * ti + 1 - strand][0]
            assert p <= other + 1e-15
            assert res.p_value[qi, ti] == pytest.approx(p, rel=1e-9)
            assert (res.overlap[qi, ti], res.offset[qi, ti]) == (ov, off)


def test_min_overlap_and_internal(shared):
    motifs = read_meme(shared(ORACLES + "sample.meme"))
    res = tomtom_matrices(motifs, motifs, min_overlap=8)
    lengths = np.array([m.length for m in motifs])
    assert (res.overlap >= np.minimum(8, np.minimum.outer(lengths, lengths))).all()
    inner = tomtom_matrices(motifs, motifs, internal=True)
    assert (inner.overlap == np.minimum.outer(lengths, lengths)).all()


def test_consensus_and_array_inputs():
    assert meme_consensus(np.array([[0.1, 0.7, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])) == "CA"
    rng = np.random.default_rng(0)
    mats = [rng.dirichlet(np.ones(4) * 0.3, size=n) for n in (6, 8, 10, 7, 9)]
    table = tomtom(mats, mats)
    assert len(table) == 25 and set(table["orientation"]) <= {"+", "-"}
    best = table.loc[table.groupby("query_index")["p_value"].idxmin()]
    assert (best["target_index"].to_numpy() == best["query_index"].to_numpy()).all()


def test_bad_input():
    m = Motif(name="a", id="a", ppm=np.full((5, 4), 0.25))
    with pytest.raises(InputError):
        tomtom([m], [m], dist="nope")
    with pytest.raises(InputError):
        tomtom([m], [m], min_overlap=0)
    with pytest.raises(InputError):
        tomtom([], [m])
    hard = Motif(name="b", id="b", ppm=np.vstack([np.full((2, 4), 0.25), [[1.0, 0, 0, 0]], np.full((2, 4), 0.25)]))
    with pytest.raises(InputError, match="target motif 3 has zero probabilities"):  # numbered as given
        tomtom([m], [m, m, hard], pseudocount=0)


def test_cli_compare(shared, tmp_path):
    from drg.cli.motifs import app

    sample = shared(ORACLES + "sample.meme")
    out = tmp_path / "t.tsv"
    result = CliRunner().invoke(app, ["compare", str(sample), str(sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    ref = pd.read_csv(shared(ORACLES + "tomtom.complete.out.pearson.tsv"), sep="\t", comment="#")
    assert len(table) == len(ref)
    assert list(table.columns[:8]) == ["query", "target", "offset", "p_value", "e_value", "q_value", "overlap", "query_consensus"]


def _brute_force_complete(query, entries):
    """Pearson complete-score statistic of one query against target entries (numpy, MEME's formulas)."""

    def pearson(q, t):
        x, y = q - 0.25, t - 0.25
        den = math.sqrt((x * x).sum() * (y * y).sum())
        return (x * y).sum() / den if den else 0.0

    cols = np.concatenate(entries)
    S = np.array([[pearson(q, t) for t in cols] for q in query])
    n = S.shape[1]
    srt = np.sort(S, axis=1)
    med = (srt[:, n // 2 - 1] + srt[:, (n + 1) // 2 - 1]) / 2
    S = S - med[:, None]
    offset = math.floor(S.min())
    scale = math.floor(100 / (S.max() - offset))
    Z = np.floor((S - offset) * scale + 0.5).astype(int)
    o = round(-offset * scale)
    L = Z.shape[0]
    hist = [np.bincount(Z[i], minlength=101) / n for i in range(L)]

    def sf(s, e, x):
        pmf = np.array([1.0])
        for i in range(s, e + 1):
            pmf = np.convolve(pmf, hist[i])
        return min(1.0, pmf[max(x, 0):].sum())

    out, start = [], 0
    for f in entries:
        tl = f.shape[0]
        block = Z[:, start : start + tl]
        start += tl
        best = None
        ranges = []
        for c in range(1, L + tl):
            qc, tc = (L - c, 0) if c <= L else (0, c - L)
            ov = min(L - qc, tl - tc)
            ranges.append((qc, qc + ov - 1, ov))
            score = sum(block[qc + k, tc + k] for k in range(ov)) + (L - ov) * o
            key = (score, ov, -c)
            best = key if best is None or key > best else best
        score, ov, c = best[0], best[1], -best[2]
        total, keep = 0.0, 1.0
        for s, e, overlap in ranges:
            p = sf(s, e, score - (L - overlap) * o)
            for _ in range(2):
                total += p * keep
                keep *= 1 - p
        out.append((total, ov, c - L))
    return out


def test_pearson_complete_brute_force_twin(jaspar_subset):
    queries, targets = jaspar_subset
    res = tomtom_matrices(queries, targets)
    bg = np.full(4, 0.25)

    def smooth(m):
        return ((m.ppm / m.ppm.sum(1, keepdims=True)) * m.nsites + 0.1 * bg) / (m.nsites + 0.1)

    entries = []
    for m in targets:
        f = smooth(m)
        entries += [f, f[::-1, ::-1]]
    for qi, q in enumerate(queries):
        expected = _brute_force_complete(smooth(q), entries)
        for ti in range(len(targets)):
            strand = res.strand[qi, ti]
            p, ov, off = expected[2 * ti + strand]
            assert p <= expected[2 * ti + 1 - strand][0] * (1 + 1e-6)
            assert res.p_value[qi, ti] == pytest.approx(p, rel=1e-6)
            assert (res.overlap[qi, ti], res.offset[qi, ti]) == (ov, off)


@pytest.fixture(scope="module")
def jaspar_subset():
    from drg.motifs import load_bundled_jaspar

    motifs = load_bundled_jaspar()
    rng = np.random.default_rng(3)
    targets = [motifs[i] for i in rng.choice(len(motifs), 40, replace=False)]
    background = np.full(4, 0.25)
    for m in targets:
        assert np.allclose(m.background, background)
    return targets[:3], targets


def test_fast_paths_match_general_kernels(jaspar_subset):
    from drg.motifs import _tomtom_kernels as K
    from drg.motifs.comparison import _prepare

    queries, targets = jaspar_subset
    _, _, a = _prepare(queries, targets, None, 0.1, True)
    T, Q, qs = a["T"], a["Q"], a["q_start"]
    U = K._unit_columns(T)
    U32 = U.astype(np.float32)
    N = T.shape[0]
    for i in range(len(queries)):
        L = int(qs[i + 1] - qs[i])
        Z1, H1 = np.empty((L, N), np.uint8), np.zeros((L, 101), np.int64)
        Z2, H2 = np.empty((L, N), np.uint8), np.zeros((L, 101), np.int64)
        o1 = K._pearson_scores(U, U32, Q, qs[i], L, Z1, H1)
        o2 = K._quantise(0, Q, qs[i], L, 20.0, T, a["t_col_nsites"], a["bg"], True, Z2, H2)
        assert o1 == o2 and (Z1 == Z2).all() and (H1 == H2).all()
        # survival functions restricted to the sums that are needed equal the full ones there
        start = np.zeros((L, L), np.int64)
        length = np.zeros((L, L), np.int64)
        total = 0
        for s in range(L):
            for e in range(s, L):
                start[s, e], length[s, e] = total, (e - s + 1) * 100 + 1
                total += (e - s + 1) * 100 + 1
        full = np.full(total, np.nan)
        K._range_survival(H1, L, N, np.zeros((L, L), np.int64), full, start, length)
        rng = np.random.default_rng(i)
        need = np.where(rng.random((L, L)) < 0.3, K._UNNEEDED, rng.integers(-5, 60 * L, (L, L)))
        part = np.full(total, np.nan)
        K._range_survival(H1, L, N, need, part, start, length)
        assert not np.isnan(full).any()
        for s in range(L):
            for e in range(s, L):
                lo = 0 if need[s, e] <= 0 else need[s, e]
                if need[s, e] >= K._UNNEEDED:
                    continue
                seg = slice(start[s, e] + lo, start[s, e] + length[s, e])
                np.testing.assert_allclose(part[seg], full[seg], rtol=1e-12, atol=0)


def test_radix_order_matches_argsort():
    from drg.motifs import _tomtom_kernels as K

    rng = np.random.default_rng(0)
    cases = [
        np.concatenate([rng.random(500) ** 8, np.zeros(7), np.ones(5), rng.choice([0.5, 1e-300], 20)]),
        (rng.random(700) ** 6).astype(np.float32).astype(np.float64),  # low 29 bits clear
        np.zeros(9),
        np.array([5e-324, 0.0, 5e-324, 1.0]),
        rng.choice([0.25, 0.5, 1.0], 50),
    ]
    for p in cases:
        np.testing.assert_array_equal(K._ascending(p), np.argsort(p, kind="stable"))


def test_select_places_the_kth_smallest():
    from drg.motifs import _tomtom_scores as S

    rng = np.random.default_rng(1)
    cases = [rng.random(1), rng.random(2), rng.random(133), np.zeros(40), rng.choice([0.1, 0.2, 0.3], 257),
             np.sort(rng.random(64)), np.sort(rng.random(64))[::-1].copy()]
    for a in cases:
        for k in sorted({0, a.size // 2, a.size - 1}):
            tail = rng.random(5)
            b = np.concatenate([a, tail])
            S._select(b, a.size, k)
            np.testing.assert_array_equal(b[a.size:], tail)  # values past m are never touched
            assert b[k] == np.sort(a)[k]
            assert (b[:k] <= b[k]).all() and (b[k + 1:a.size] >= b[k]).all()
            np.testing.assert_array_equal(np.sort(b[:a.size]), np.sort(a))


def test_float32_sweep_bounds(jaspar_subset):
    """The float32 correlations behind the buckets and extremes stay far inside the margin assumed."""
    from drg.motifs import _tomtom_scores as S
    from drg.motifs.comparison import _prepare

    _, targets = jaspar_subset
    _, _, a = _prepare(targets, targets, None, 0.1, True)
    U = S._unit_columns(a["T"])
    U32 = U.astype(np.float32)
    bins = np.empty(U.shape[1], np.int16)
    lanes = np.empty((2, 64), np.float32)
    for q in a["Q"]:
        x = np.array(S._unit_query(q))
        exact = x[0] * U[0] + x[1] * U[1] + x[2] * U[2]
        lo, hi = S._pearson_buckets(U32, x, bins, lanes)
        assert abs(lo - exact.min()) < 1e-6 and abs(hi - exact.max()) < 1e-6
        assert S._exact_extremes(U, x) == (exact.min(), exact.max())
        edges = (exact + 1.0) * (S._PEARSON_BUCKETS / 2)
        # a bucket differs from the float64 one only next to a bucket edge
        off = bins != np.clip(edges.astype(np.int64), 0, S._PEARSON_BUCKETS - 1)
        assert (np.abs(edges[off] - np.round(edges[off])) < 1e-3).all()


def test_unit_columns_give_pearson_correlation():
    """Three plane coordinates per column: their dot product is the Pearson correlation of the columns, a
    complement flips the last two coordinates, and a uniform column is all zero."""
    from drg.motifs import _tomtom_scores as S

    rng = np.random.default_rng(11)
    cols = rng.dirichlet(np.ones(4) * 0.5, 200)
    U = S._unit_columns(cols)
    assert U.shape == (3, 200)
    np.testing.assert_allclose((U * U).sum(axis=0), 1.0, rtol=1e-12)
    corr = np.corrcoef(cols)
    np.testing.assert_allclose(U.T @ U, corr, atol=1e-12)
    rc = S._unit_columns(cols[:, ::-1].copy())
    np.testing.assert_allclose(rc, U * np.array([[1.0], [-1.0], [-1.0]]), atol=1e-15)
    assert S._unit_query(np.full(4, 0.25)) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("n", [2001, 2000])
def test_bucket_median_exact_despite_misplaced_buckets(n):
    """Columns within the float32 margin of a bucket edge put in the neighbouring bucket, with the median
    right at that edge (both the quick path and the widened one): the median is still the exact one."""
    from drg.motifs import _tomtom_scores as S

    rng = np.random.default_rng(n)
    half = S._PEARSON_BUCKETS / 2
    edge = 1100 / half - 1.0
    for spread in (1e-7, 3e-6, 1e-3, 0.3):
        values = np.concatenate([edge + rng.uniform(-spread, spread, n // 2), rng.uniform(-1, 1, n - n // 2)])
        values = np.clip(values, -1, 1)
        U = np.zeros((3, n))
        U[0] = values
        x = np.array([1.0, 0.0, 0.0])
        bins = np.clip(((values + 1.0) * half).astype(np.int64), 0, S._PEARSON_BUCKETS - 1)
        # close columns put on the other side of the edge, as a float32 error could
        flip = (np.abs(values - edge) < 2e-6) & (rng.random(n) < 0.5)
        bins[flip & (values < edge)] += 1
        bins[flip & (values >= edge)] -= 1
        bins = bins.astype(np.int16)
        k1 = n // 2 - 1
        k2 = (n + 1) // 2 - 1
        srt = np.sort(values)
        counts = np.empty((4, S._PEARSON_BUCKETS), np.int32)
        got = S._bucket_median(U, x, bins, counts, k1, k2, np.empty(n))
        assert got == (srt[k1] + srt[k2]) / 2


def test_pearson_fast_path_identical_targets():
    """All target columns alike: every shifted score is 0, so the offset and scale come from the float64
    extremes (the float32 ones cannot settle them); the fast path still equals the general kernel."""
    from drg.motifs import _tomtom_kernels as K

    rng = np.random.default_rng(5)
    column = np.array([0.1, 0.2, 0.3, 0.4])
    T = np.tile(column, (64, 1))
    Q = rng.dirichlet(np.ones(4), 6)
    U = K._unit_columns(T)
    L, N = Q.shape[0], T.shape[0]
    Z1, H1 = np.empty((L, N), np.uint8), np.zeros((L, 101), np.int64)
    Z2, H2 = np.empty((L, N), np.uint8), np.zeros((L, 101), np.int64)
    o1 = K._pearson_scores(U, U.astype(np.float32), Q, 0, L, Z1, H1)
    o2 = K._quantise(0, Q, 0, L, 20.0, T, np.full(N, 20.0), np.full(4, 0.25), True, Z2, H2)
    assert o1 == o2 and (Z1 == Z2).all() and (H1 == H2).all()
    assert (Z1 == o1).all() and (H1.sum(axis=1) == N).all()

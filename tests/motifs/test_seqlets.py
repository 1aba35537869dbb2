"""Seqlet callers: planted bumps, a brute-force twin of the z-score rule, tangermeme as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

from drg.errors import InputError
from drg.motifs.seqlets import (
    attribution_std,
    call_seqlets_pvalue,
    call_seqlets_zscore,
    recursive_seqlet_spans,
    reference_scores,
)


def _onehot(rng, n, length):
    X = np.zeros((n, 4, length), np.int8)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    return X


def _planted(seed=0, n=6, length=120, noise=0.05):
    rng = np.random.default_rng(seed)
    X = _onehot(rng, n, length)
    A = rng.normal(0, noise, (n, 4, length)).astype(np.float32)
    spans = []
    for i in range(n):
        for start, size, sign in ((20, 8, 1), (70, 6, -1)):
            A[i, :, start:start + size] += sign * 3.0 * X[i, :, start:start + size]
            spans.append((i, start, start + size, sign))
    return X, A, spans


def _drg_runs(stats, cut, max_gap, min_size, smooth_gap=True):
    """Plain transcription of DRG's find_motifs loop (positions of each run)."""
    w = max_gap if smooth_gap else 0

    def gap_call(i, msi):
        lo, hi = max(0, i - w), min(len(stats), i + w + 1)
        return msi * np.mean(stats[lo:hi]) < cut

    aloc = np.abs(stats) > cut
    sign = np.sign(stats)
    runs, pot, gap, msi, i = [], [], max_gap + 1, 1, 0
    while i < len(stats):
        closes = False
        if aloc[i]:
            if not pot:
                msi = sign[i]
            if sign[i] == msi:
                pot.append(i)
                gap = 0
            elif gap_call(i, msi):
                gap += 1
                closes = gap > max_gap
        elif gap_call(i, msi):
            gap += 1
            closes = gap > max_gap
        if closes:
            if len(pot) >= min_size:
                runs.append(pot)
            if pot:
                i -= gap
            gap, pot = max_gap + 1, []
        i += 1
    if len(pot) >= min_size:
        runs.append(pot)
    return runs


def test_reference_scores_hand_values():
    X = np.zeros((1, 4, 3), np.int8)
    X[0, [0, 2, 3], [0, 1, 2]] = 1
    A = np.arange(12, dtype=np.float32).reshape(1, 4, 3) - 5
    np.testing.assert_allclose(reference_scores(A, X)[0, 0], [A[0, 0, 0], A[0, 2, 1], A[0, 3, 2]])
    np.testing.assert_allclose(reference_scores(A, reduce="maxabs")[0, 0], [-5, 5, 6])
    with pytest.raises(InputError):
        reference_scores(A)


def test_zscore_planted_coordinates_exact():
    X, A, spans = _planted()
    table = call_seqlets_zscore(A, X, cut=3.0, max_gap=1, min_size=4, normalization="std", std=0.5)
    got = sorted(zip(table.example_idx, table.start, table.end, table.sign))
    assert got == sorted(spans)
    assert (table.strand == "+").all() and table.p_value.isna().all()
    # score is the sum of reference attributions over the span
    ref = reference_scores(A, X)[:, 0]
    row = table.iloc[0]
    assert row.score == pytest.approx(ref[row.example_idx, row.start:row.end].sum(), rel=1e-5)


@pytest.mark.parametrize("max_gap,smooth", [(0, True), (1, True), (2, False), (3, True)])
def test_zscore_matches_brute_force(max_gap, smooth):
    rng = np.random.default_rng(max_gap)
    X = _onehot(rng, 5, 300)
    A = rng.normal(0, 1, (5, 2, 4, 300)).astype(np.float32)
    A[:, :, :, 100:110] += 2.5
    table = call_seqlets_zscore(A, X, cut=1.0, max_gap=max_gap, min_size=2, smooth_gap=smooth,
                                normalization="sequence")
    stats = reference_scores(A, X) / attribution_std(A, "sequence")
    expected = []
    for n in range(5):
        for t in range(2):
            for run in _drg_runs(stats[n, t].astype(np.float64), 1.0, max_gap, 2, smooth):
                expected.append((n, t, run[0], run[-1] + 1))
    assert len(expected) > 20
    assert sorted(zip(table.example_idx, table.track_idx, table.start, table.end)) == sorted(expected)


def test_attribution_std_modes():
    A = np.ones((2, 3, 4, 5), np.float32)
    A[1] *= 3
    assert attribution_std(A, "global") == pytest.approx(2.0)
    np.testing.assert_allclose(np.ravel(attribution_std(A, "sequence")), [1, 3])
    np.testing.assert_allclose(np.ravel(attribution_std(A, "track")), [2, 2, 2])
    assert attribution_std(A, "std", 0.7) == 0.7
    with pytest.raises(InputError):
        attribution_std(A, "std")


def test_pvalue_recovers_planted_and_is_deterministic():
    X, A, spans = _planted(n=20, length=200)
    rng = np.random.default_rng(5)
    null = rng.normal(0, 0.05, (40, 4, 200)).astype(np.float32)
    Xn = _onehot(rng, 40, 200)
    table = call_seqlets_pvalue(A, X, null=null, X_null=Xn, threshold=1e-6, sign="both")
    # the rule lets a seqlet reach min_len - 1 noise positions past a strong bump on either side
    assert len(table) == len(spans)
    for (i, start, end, sign), row in zip(sorted(spans), table.sort_values(["example_idx", "start"]).itertuples()):
        assert (row.example_idx, row.sign) == (i, sign)
        assert start - 3 <= row.start <= start and end <= row.end <= end + 3
    assert (table.p_value < 1e-6).all()
    again = call_seqlets_pvalue(A, X, null=null, X_null=Xn, threshold=1e-6, sign="both")
    assert table.equals(again)


def test_pvalue_brute_force_rule():
    """Every called span satisfies the recursive rule; calls are disjoint; the longest candidate is taken."""
    from drg.motifs import _seqlet_kernels as k

    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (30, 80))
    x[:, 30:40] += 2
    spans = recursive_seqlet_spans(x, threshold=0.05, min_len=3, max_len=12, n_bins=50)
    lo, hi = x.min(), x.max()
    width = (hi - lo) / 49
    surv = k.span_survival(k.bin_histogram(x.ravel(), lo, width, 50), 12)
    bins = np.clip(np.floor((x - lo) / width).astype(int), 0, 49)
    for r, s, e in zip(spans.row, spans.start, spans.end):
        for a in range(s, e):
            for b in range(a + 3, e + 1):
                assert surv[b - a, bins[r, a:b].sum()] < 0.05
    for r in range(30):
        sub = spans[spans.row == r].sort_values("start")
        assert (sub.start.to_numpy()[1:] >= sub.end.to_numpy()[:-1]).all()
    # exact tail: survival of 2 bins equals the brute-force sum over pairs
    f = k.bin_histogram(x.ravel(), lo, width, 50)
    pair = np.add.outer(np.arange(50), np.arange(50))
    for s in (0, 40, 90, 97):
        assert surv[2, s] == pytest.approx((np.outer(f, f)[pair >= s]).sum(), rel=1e-12)


def test_pvalue_matches_tangermeme():
    tangermeme_seqlet = pytest.importorskip("tangermeme.seqlet")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 300)).astype(np.float32)
    for i in range(200):
        p = rng.integers(0, 280)
        x[i, p:p + 12] += 3
    ref = tangermeme_seqlet.recursive_seqlets(x).sort_values(["example_idx", "start"])
    ours = recursive_seqlet_spans(x).sort_values(["row", "start"])
    assert len(ref) == len(ours) > 100
    np.testing.assert_array_equal(ref.example_idx.to_numpy(), ours.row.to_numpy())
    np.testing.assert_array_equal(ref.start.to_numpy(), ours.start.to_numpy())
    np.testing.assert_array_equal(ref.end.to_numpy(), ours.end.to_numpy())
    np.testing.assert_allclose(ref["p-value"].to_numpy(), ours.p_value.to_numpy(), rtol=1e-6)


def test_bad_input():
    with pytest.raises(InputError):
        call_seqlets_zscore(np.zeros((2, 3, 10)), None, reduce="maxabs")
    with pytest.raises(InputError):
        recursive_seqlet_spans(np.zeros((2, 10)), min_len=5, max_len=4)
    with pytest.raises(InputError):
        call_seqlets_pvalue(np.ones((2, 4, 10)), reduce="maxabs", sign="up")


def test_pvalue_kernels_brute_force_twins():
    """Binning with its histogram, the matrix-product convolutions, the pass cut-offs and batching."""
    from drg.motifs import _seqlet_kernels as k

    rng = np.random.default_rng(5)
    x = rng.normal(size=(37, 61)).astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    width = (hi - lo) / 29
    bins = np.empty(x.shape, np.int16)
    f = k.bin_rows(x, lo, width, 30, bins, True)
    expect = np.clip(np.floor((x.astype(np.float64) - lo) / width), 0, 29).astype(int)
    np.testing.assert_array_equal(bins, expect)
    np.testing.assert_array_equal(f, np.bincount(expect.ravel(), minlength=30) / x.size)
    np.testing.assert_array_equal(f, k.bin_histogram(x.ravel(), lo, width, 30))
    surv = k.span_survival(f, 6)
    pmf = np.ones(1)
    for length in range(1, 7):
        pmf = np.convolve(pmf, f)
        tail = np.cumsum(pmf[::-1])[::-1]
        np.testing.assert_allclose(surv[length, :tail.size], tail, rtol=1e-12, atol=0)
        assert (surv[length, tail.size:] == 0).all()
    cut = k.passing_sums(surv, 0.02)
    for length in range(7):
        below = np.nonzero(surv[length] < 0.02)[0]
        assert cut[length] == (below[0] if below.size else surv.shape[1])
        assert (surv[length, cut[length]:] < 0.02).all()
    whole = recursive_seqlet_spans(x, threshold=0.2, min_len=2, max_len=6, n_bins=30)
    batched = recursive_seqlet_spans(x, threshold=0.2, min_len=2, max_len=6, n_bins=30, batch_rows=5)
    assert len(whole) > 10
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(whole, batched)


def test_pvalue_rejects_nan_and_integer_scores_work():
    x = np.random.default_rng(1).normal(size=(10, 50))
    bad = x.copy()
    bad[3, 7] = np.nan
    with pytest.raises(InputError):
        recursive_seqlet_spans(bad)
    with pytest.raises(InputError):
        recursive_seqlet_spans(x, null=bad)
    ints = np.round(x * 10).astype(np.int64)
    a = recursive_seqlet_spans(ints, threshold=0.1)
    b = recursive_seqlet_spans(ints.astype(np.float64), threshold=0.1)
    assert a.equals(b)

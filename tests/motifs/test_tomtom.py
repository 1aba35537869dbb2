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

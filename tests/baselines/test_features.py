"""k-mer and PWM features against brute-force counting and drg.motifs.scan_motifs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse

from drg.baselines import FeatureMatrix, kmer_features, pwm_features
from drg.baselines import features as features_module
from drg.errors import InputError
from drg.genome import gapped_kmer_counts, kmer_counts, one_hot_encode

COMPLEMENT = str.maketrans("ACGT.", "TGCA.")


def random_seqs(n: int, length: int, seed: int, n_frac: float = 0.02) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGTN"))
    p = np.array([1, 1, 1, 1, 0]) * (1 - n_frac) / 4 + np.array([0, 0, 0, 0, n_frac])
    return ["".join(letters[rng.choice(5, size=length, p=p)]) for _ in range(n)]


def brute_patterns(k: int, gaps: int) -> list[str]:
    """Every gapped pattern name in column order (pattern by gap positions, then k-mer)."""
    span = k + gaps
    out = []
    for gap_positions in itertools.combinations(range(1, span - 1), gaps):
        for kmer in itertools.product("ACGT", repeat=k):
            letters = iter(kmer)
            out.append("".join("." if p in gap_positions else next(letters) for p in range(span)))
    return out


def brute_counts(seqs: list[str], k: int, gaps: int, canonical: bool) -> tuple[np.ndarray, list[str]]:
    """Count every pattern by sliding over each string in Python."""
    patterns = brute_patterns(k, gaps)
    column = {p: i for i, p in enumerate(patterns)}
    span = k + gaps
    counts = np.zeros((len(seqs), len(patterns)), dtype=np.int64)
    for i, s in enumerate(seqs):
        for start in range(len(s) - span + 1):
            window = s[start:start + span]
            for p in patterns:
                if all(c == "." or (w == c) for w, c in zip(window, p)) and all(
                        w in "ACGT" for w, c in zip(window, p) if c != "."):
                    counts[i, column[p]] += 1
    if not canonical:
        return counts, patterns
    keep, merged = [], []
    for j, p in enumerate(patterns):
        rc = p.translate(COMPLEMENT)[::-1]
        partner = column[rc]
        if j <= partner:
            keep.append(p)
            merged.append(counts[:, j] + (counts[:, partner] if partner != j else 0))
    return np.stack(merged, axis=1), keep


@pytest.mark.parametrize("k,gaps", [(1, 0), (2, 0), (3, 0), (2, 1), (3, 2)])
@pytest.mark.parametrize("canonical", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_kmer_features_match_brute_force(k, gaps, canonical, sparse):
    seqs = random_seqs(12, 23, seed=k * 10 + gaps)
    fm = kmer_features(seqs, k, gaps=gaps, canonical=canonical, sparse=sparse)
    expected, names = brute_counts(seqs, k, gaps, canonical)
    assert fm.names == names
    assert fm.is_sparse == sparse
    np.testing.assert_array_equal(fm.toarray(), expected)


def test_canonical_palindrome_counted_once_and_pairs_merged():
    fm = kmer_features(["ACGT"], 4, canonical=True)
    assert fm.toarray()[0, fm.names.index("ACGT")] == 1
    fm = kmer_features(["AAAA", "TTTT"], 4, canonical=True)
    assert "TTTT" not in fm.names
    np.testing.assert_array_equal(fm.toarray()[:, fm.names.index("AAAA")], [1, 1])
    assert fm.shape == (2, (4**4 + 4**2) // 2)


@pytest.mark.parametrize("k,gaps", [(6, 0), (4, 2)])
def test_kmer_features_equal_genome_kmer_counts_on_one_hot(k, gaps):
    X = one_hot_encode(random_seqs(40, 120, seed=3, n_frac=0.0))
    reference = (kmer_counts(X, k, reverse_complement=True) if gaps == 0
                 else gapped_kmer_counts(X, k, gaps, reverse_complement=True))
    for sparse in (False, True):
        fm = kmer_features(X, k, gaps=gaps, sparse=sparse)
        assert fm.names == reference.names
        np.testing.assert_array_equal(fm.toarray(), reference.counts)


def test_normalize_gives_row_frequencies_dense_and_sparse():
    seqs = random_seqs(6, 30, seed=1) + ["NNNNNNNNNN"]
    dense = kmer_features(seqs, 3, normalize=True, sparse=False)
    sparse = kmer_features(seqs, 3, normalize=True, sparse=True)
    counts = kmer_features(seqs, 3).toarray()
    totals = counts.sum(axis=1, keepdims=True)
    expected = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    np.testing.assert_allclose(dense.toarray(), expected, rtol=1e-6)
    np.testing.assert_allclose(sparse.toarray(), expected, rtol=1e-6)
    assert dense.toarray()[-1].sum() == 0


def test_sparse_chosen_automatically_for_large_matrices(monkeypatch):
    seqs = random_seqs(5, 50, seed=2)
    assert not kmer_features(seqs, 4).is_sparse
    monkeypatch.setattr(features_module, "_DENSE_LIMIT", 10)
    fm = kmer_features(seqs, 4)
    assert fm.is_sparse and isinstance(fm.values, scipy.sparse.csr_matrix)
    np.testing.assert_array_equal(fm.toarray(), kmer_features(seqs, 4, sparse=False).toarray())


def test_kmer_features_reject_bad_settings():
    with pytest.raises(InputError, match="k must be"):
        kmer_features(["ACGT"], 13)
    with pytest.raises(InputError, match="gapped"):
        kmer_features(["ACGT"], 1, gaps=1)
    with pytest.raises(InputError, match="gaps"):
        kmer_features(["ACGT"], 3, gaps=-1)


def test_feature_matrix_rows_hstack_and_frame():
    seqs = random_seqs(5, 20, seed=4)
    regions = [f"r{i}" for i in range(5)]
    a = kmer_features(seqs, 2, regions=regions)
    b = kmer_features(seqs, 3, sparse=True, regions=regions)
    both = FeatureMatrix.hstack([a, b])
    assert both.is_sparse and both.shape == (5, a.shape[1] + b.shape[1])
    assert both.names == a.names + b.names
    np.testing.assert_array_equal(both.toarray(), np.hstack([a.toarray(), b.toarray()]))
    sub = both.rows([3, 1])
    assert list(sub.regions) == ["r3", "r1"]
    np.testing.assert_array_equal(sub.toarray(), both.toarray()[[3, 1]])
    frame = a.to_frame()
    assert list(frame.index) == regions and list(frame.columns) == a.names
    with pytest.raises(InputError, match="repeat"):
        FeatureMatrix.hstack([a, a])
    with pytest.raises(InputError, match="rows"):
        FeatureMatrix.hstack([a, kmer_features(seqs[:4], 3)])
    with pytest.raises(InputError, match="names"):
        FeatureMatrix(np.zeros((2, 3)), ["x", "y"])


# ------------------------------------------------------------------------------------------------- PWMs
@pytest.fixture(scope="module")
def motifs():
    from drg.motifs import load_bundled_jaspar

    jaspar = load_bundled_jaspar()
    return [m for m in jaspar if m.name in ("GATA1", "MYC", "CTCF", "SOX2", "Runx1")]


def scan_oracle(motif_list, seqs, threshold, both_strands):
    """Per-sequence hit counts and best scores of each motif from scan_motifs' hit tables."""
    from drg.motifs import scan_motifs

    names = [f"s{i}" for i in range(len(seqs))]
    counts = np.zeros((len(seqs), len(motif_list)))
    best = np.full((len(seqs), len(motif_list)), np.nan)
    for j, motif in enumerate(motif_list):
        hits = scan_motifs([motif], seqs, threshold=threshold, both_strands=both_strands, names=names)
        for name, n in hits.groupby("sequence_name").size().items():
            counts[names.index(name), j] = n
        every = scan_motifs([motif], seqs, threshold=1.0, both_strands=both_strands, names=names)
        for name, s in every.groupby("sequence_name")["score"].max().items():
            best[names.index(name), j] = s
    return counts, best


@pytest.mark.parametrize("both_strands", [True, False])
def test_pwm_features_match_scan_motifs(motifs, both_strands):
    seqs = random_seqs(25, 60, seed=7, n_frac=0.03)
    seqs[0] = seqs[0][:10] + "AGATAAGGCCACGTGGCCACCAGGGGGCGC" + seqs[0][40:]  # GATA, E-box, CTCF sites
    threshold = 1e-3
    fm = pwm_features(seqs, motifs, threshold=threshold, statistic="both", both_strands=both_strands)
    counts, best = scan_oracle(motifs, seqs, threshold, both_strands)
    m = len(motifs)
    assert fm.names[:m] == [f"{x.id}:{x.name}:count" for x in motifs]
    assert fm.names[m:] == [f"{x.id}:{x.name}:max" for x in motifs]
    np.testing.assert_array_equal(fm.values[:, :m], counts)
    assert counts.sum() > 0
    no_window = np.isnan(best)  # every window of the region holds an N: the motif's lowest score
    assert no_window.any() and (fm.values[:, :m][no_window] == 0).all()
    best[no_window] = fm.values[:, m:][no_window]
    np.testing.assert_allclose(fm.values[:, m:], best, rtol=1e-6, atol=1e-5)


def test_pwm_features_from_one_hot_and_from_meme_file(motifs, tmp_path):
    from drg.motifs.io import write_meme

    seqs = random_seqs(10, 50, seed=8, n_frac=0.0)
    path = tmp_path / "motifs.meme"
    write_meme(motifs, path)
    a = pwm_features(seqs, motifs, statistic="max")
    b = pwm_features(one_hot_encode(seqs), str(path), statistic="max")
    assert a.names == b.names
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    counts = pwm_features(seqs, motifs, statistic="count", batch_size=3)
    np.testing.assert_array_equal(counts.values, pwm_features(seqs, motifs, statistic="count").values)


def test_pwm_region_without_valid_window_gets_lowest_score(motifs):
    from drg.motifs.scan import _background, _scaled_matrix

    fm = pwm_features(["N" * 30, "ACGTNACGTNACGT"], motifs[:2], statistic="both")
    for j, motif in enumerate(motifs[:2]):
        M, offset, scale = _scaled_matrix(motif, _background(None, motif, True), 0.1)
        lowest = M.min(axis=1).sum() / scale + M.shape[0] * offset
        assert fm.values[0, j] == 0 and fm.values[1, j] == 0
        assert fm.values[0, 2 + j] == pytest.approx(lowest, abs=1e-4)


def test_pwm_features_default_to_bundled_jaspar():
    fm = pwm_features(["ACGTACGTAGGATAAGCT" * 3], statistic="count")
    from drg.motifs import load_bundled_jaspar

    assert fm.shape == (1, len(load_bundled_jaspar()))


def test_pwm_features_reject_bad_settings(motifs):
    with pytest.raises(InputError, match="statistic"):
        pwm_features(["ACGT"], motifs, statistic="mean")
    with pytest.raises(InputError, match="threshold"):
        pwm_features(["ACGT"], motifs, threshold=0)
    with pytest.raises(InputError, match="motif 1"):
        pwm_features(["ACGT"], ["GATA"])

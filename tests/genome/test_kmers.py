"""Tests of k-mer and gapped k-mer counts against brute-force counting."""

from __future__ import annotations

import gzip
import itertools
from collections import Counter
from math import comb

import numpy as np
import pytest

from drg.errors import InputError
from drg.genome.kmers import KmerFeatures, gapped_kmer_counts, kmer_counts
from drg.genome.onehot import one_hot_encode, reverse_complement_sequence


def brute_counts(seqs, k, gaps=0):
    """Counter of gapped patterns per sequence: windows of k + gaps, ends informative, gaps interior."""
    span = k + gaps
    result = []
    for s in seqs:
        s = s.upper()
        counts = Counter()
        for gap_set in itertools.combinations(range(1, span - 1), gaps):
            for start in range(len(s) - span + 1):
                window = s[start : start + span]
                if any(window[p] not in "ACGT" for p in range(span) if p not in gap_set):
                    continue
                counts["".join("." if p in gap_set else window[p] for p in range(span))] += 1
        result.append(counts)
    return result


def random_seqs(rng, n, lo, hi, letters="ACGTACGTNacgt"):
    return ["".join(rng.choice(list(letters), rng.integers(lo, hi + 1))) for _ in range(n)]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_kmer_counts_brute_force(k):
    rng = np.random.default_rng(k)
    seqs = random_seqs(rng, 25, 0, 40)
    result = kmer_counts(seqs, k)
    assert isinstance(result, KmerFeatures)
    assert result.counts.shape == (25, 4**k) and result.counts.dtype == np.int32
    assert result.names == sorted(result.names) and len(set(result.names)) == 4**k
    assert result.names[:2] == ["A" * k, "A" * (k - 1) + "C"]
    for row, want in zip(result.counts, brute_counts(seqs, k)):
        assert {n: c for n, c in zip(result.names, row) if c} == dict(want)


def test_hand_checked():
    result = kmer_counts("ACGTNACGA", 2)
    got = {n: c for n, c in zip(result.names, result.counts[0]) if c}
    assert got == {"AC": 2, "CG": 2, "GT": 1, "GA": 1}
    result = kmer_counts("ACGTNACGA", 2, reverse_complement=True)
    got = {n: c for n, c in zip(result.names, result.counts[0]) if c}
    # AC+GT = 3, CG palindrome = 2, GA+TC -> GA = 1
    assert got == {"AC": 3, "CG": 2, "GA": 1}
    result = gapped_kmer_counts("ACGTNA", 2, 1)
    got = {n: c for n, c in zip(result.names, result.counts[0]) if c}
    assert got == {"A.G": 1, "C.T": 1, "T.A": 1}


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_reverse_complement_merge_brute_force(k):
    rng = np.random.default_rng(10 + k)
    seqs = random_seqs(rng, 20, 0, 50)
    result = kmer_counts(seqs, k, reverse_complement=True)
    n_palindromes = 4 ** (k // 2) if k % 2 == 0 else 0
    assert len(result.names) == (4**k + n_palindromes) // 2
    for name in result.names:
        assert name <= reverse_complement_sequence(name)
    for row, want in zip(result.counts, brute_counts(seqs, k)):
        for name, count in zip(result.names, row):
            rc = reverse_complement_sequence(name)
            expected = want[name] + (want[rc] if rc != name else 0)
            assert count == expected


def test_normalize():
    seqs = ["ACGTACGTT", "NNNN", "ACG"]
    result = kmer_counts(seqs, 3, normalize=True)
    assert result.counts.dtype == np.float32
    np.testing.assert_allclose(result.counts.sum(axis=1), [1, 0, 1], rtol=1e-6)
    raw = kmer_counts(seqs, 3).counts
    np.testing.assert_allclose(result.counts[0], raw[0] / raw[0].sum(), rtol=1e-6)


def test_one_hot_and_string_inputs_agree():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    seqs = random_seqs(rng, 10, 30, 30, letters="ACGTN")
    X = one_hot_encode(seqs)
    want = kmer_counts(seqs, 3).counts
    np.testing.assert_array_equal(kmer_counts(X, 3).counts, want)
    np.testing.assert_array_equal(kmer_counts(torch.from_numpy(X).float(), 3).counts, want)
    np.testing.assert_array_equal(kmer_counts(X[0], 3).counts, want[:1])
    np.testing.assert_array_equal(kmer_counts(np.array(seqs), 3).counts, want)


@pytest.mark.parametrize("k, gaps", [(2, 0), (2, 1), (2, 3), (3, 2), (4, 1)])
def test_gapped_brute_force(k, gaps):
    rng = np.random.default_rng(100 * k + gaps)
    seqs = random_seqs(rng, 15, 0, 30)
    result = gapped_kmer_counts(seqs, k, gaps)
    n_masks = comb(k + gaps - 2, gaps)
    assert result.counts.shape == (15, n_masks * 4**k)
    assert len(set(result.names)) == len(result.names)
    assert all(len(n) == k + gaps and n.count(".") == gaps for n in result.names)
    assert all(n[0] != "." and n[-1] != "." for n in result.names)
    for row, want in zip(result.counts, brute_counts(seqs, k, gaps)):
        assert {n: c for n, c in zip(result.names, row) if c} == dict(want)


def test_gapped_order_and_zero_gaps():
    names = gapped_kmer_counts("ACGT", 3, 1).names
    assert names[0] == "A.AA" and names[64] == "AA.A"
    seqs = ["ACGTTGCANACG", "GGG"]
    np.testing.assert_array_equal(gapped_kmer_counts(seqs, 3, 0).counts, kmer_counts(seqs, 3).counts)
    assert gapped_kmer_counts(seqs, 3, 0).names == kmer_counts(seqs, 3).names


@pytest.mark.parametrize("k, gaps", [(2, 1), (3, 1), (2, 2)])
def test_gapped_reverse_complement_brute_force(k, gaps):
    rng = np.random.default_rng(7 * k + gaps)
    seqs = random_seqs(rng, 12, 0, 30)
    full = gapped_kmer_counts(seqs, k, gaps)
    merged = gapped_kmer_counts(seqs, k, gaps, reverse_complement=True)
    position = {n: i for i, n in enumerate(full.names)}
    covered = set()
    for j, name in enumerate(merged.names):
        rc = reverse_complement_sequence(name)
        assert position[name] <= position[rc]
        covered |= {name, rc}
        expected = full.counts[:, position[name]] + (full.counts[:, position[rc]] if rc != name else 0)
        np.testing.assert_array_equal(merged.counts[:, j], expected)
    assert covered == set(full.names)


def test_real_peaks_counts(shared):
    path = shared("sequences/ctcf_chipseq_peaks_100bp.fa.gz")
    with gzip.open(path, "rt") as handle:
        seqs = [line.strip() for line, _ in zip(handle, range(400)) if not line.startswith(">")]
    result = kmer_counts(seqs, 4)
    for row, want in zip(result.counts, brute_counts(seqs, 4)):
        assert {n: c for n, c in zip(result.names, row) if c} == dict(want)
    # Every 100-bp peak without N has 97 4-mers.
    clean = [i for i, s in enumerate(seqs) if set(s.upper()) <= set("ACGT")]
    assert (result.counts[clean].sum(axis=1) == 97).all()


def test_bad_arguments():
    with pytest.raises(InputError, match="k must be"):
        kmer_counts("ACGT", 0)
    with pytest.raises(InputError, match="k must be"):
        kmer_counts("ACGT", 13)
    with pytest.raises(InputError, match="gaps"):
        gapped_kmer_counts("ACGT", 2, -1)
    with pytest.raises(InputError, match="k >= 2"):
        gapped_kmer_counts("ACGT", 1, 2)
    with pytest.raises(InputError, match="not one-hot"):
        kmer_counts(np.full((1, 4, 5), 2, np.int8), 2)
    assert kmer_counts("AC", 3).counts.sum() == 0

"""Tests of the Altschul-Erickson dinucleotide shuffle: exact counts, uniformity, determinism, peers."""

from __future__ import annotations

import gzip
import itertools
from collections import Counter

import numpy as np
import pytest

from drg.errors import InputError
from drg.genome.onehot import one_hot_decode, one_hot_encode
from drg.genome.shuffle import dinucleotide_shuffle


def pair_counts(seq: str) -> Counter:
    return Counter(zip(seq, seq[1:]))


def assert_same_dinucleotides(original: str, shuffles: list[str]) -> None:
    for s in shuffles:
        assert len(s) == len(original)
        assert pair_counts(s) == pair_counts(original)
        assert Counter(s) == Counter(original)
        if original:
            assert s[0] == original[0] and s[-1] == original[-1]


def same_count_sequences(seq: str) -> set[str]:
    """Every sequence with the dinucleotide counts of ``seq`` and its first letter, by exhaustive search.

    A depth-first search extends the first letter by every letter whose pair with the current one still
    has a count left, so it lists all such sequences (they also end with the last letter of ``seq``).
    """
    remaining = pair_counts(seq)
    found: set[str] = set()

    def extend(prefix: str) -> None:
        if len(prefix) == len(seq):
            found.add(prefix)
            return
        for letter in sorted(set(seq)):
            pair = (prefix[-1], letter)
            if remaining[pair] > 0:
                remaining[pair] -= 1
                extend(prefix + letter)
                remaining[pair] += 1

    if seq:
        extend(seq[0])
    return found


def test_exhaustive_search_matches_permutations():
    for seq in ["AACAGCAA", "ACNACGTA", "TTAGATCT"]:
        want = pair_counts(seq)
        by_permutation = {
            "".join(p) for p in set(itertools.permutations(seq)) if pair_counts("".join(p)) == want
        }
        assert same_count_sequences(seq) == by_permutation


def read_peaks(path, limit):
    seqs = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if not line.startswith(">"):
                seqs.append(line.strip())
                if len(seqs) == limit:
                    break
    return seqs


def test_counts_preserved_random_with_n():
    rng = np.random.default_rng(0)
    for length in [0, 1, 2, 3, 5, 17, 64, 301]:
        seqs = ["".join(rng.choice(list("ACGTN"), length, p=[0.25, 0.2, 0.2, 0.25, 0.1])) for _ in range(8)]
        X = one_hot_encode(seqs, length=length)
        Y = dinucleotide_shuffle(X, n=6, seed=1)
        assert Y.shape == (8, 6, 4, length) and Y.dtype == np.int8
        for i, s in enumerate(seqs):
            assert_same_dinucleotides(s, one_hot_decode(Y[i]))


def test_counts_preserved_real_peaks(shared):
    seqs = [s.upper() for s in read_peaks(shared("sequences/ctcf_chipseq_peaks_100bp.fa.gz"), 300)]
    Y = dinucleotide_shuffle(one_hot_encode(seqs), n=4, seed=7)
    for i, s in enumerate(seqs):
        shuffles = one_hot_decode(Y[i])
        assert_same_dinucleotides(s, shuffles)
        assert any(t != s for t in shuffles)


def test_shuffles_actually_vary():
    X = one_hot_encode("ACGTTGCAACGTAGCTAGCTAGGATCCATGCA" * 3)
    decoded = one_hot_decode(dinucleotide_shuffle(X, n=20, seed=3)[0])
    assert len(set(decoded)) > 15


def test_deterministic_and_seeded():
    rng = np.random.default_rng(9)
    seqs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(5)]
    X = one_hot_encode(seqs)
    a = dinucleotide_shuffle(X, n=3, seed=42)
    np.testing.assert_array_equal(a, dinucleotide_shuffle(X, n=3, seed=42))
    assert not np.array_equal(a, dinucleotide_shuffle(X, n=3, seed=43))
    # A sequence's shuffles do not depend on what follows it in the batch.
    np.testing.assert_array_equal(dinucleotide_shuffle(X[:2], n=3, seed=42), a[:2])
    # Identical sequences at different positions get different streams.
    twins = dinucleotide_shuffle(np.stack([X[0], X[0]]), n=1, seed=0)
    assert not np.array_equal(twins[0], twins[1])


@pytest.mark.parametrize("seq", ["AACAGCAA", "ACAGATCTGA", "ANCANGAANC", "TTAGATCTTAG"])
def test_uniform_over_all_sequences_with_same_counts(seq):
    scipy_stats = pytest.importorskip("scipy.stats")
    support = sorted(same_count_sequences(seq))
    assert len(support) >= 3
    draws = 400 * len(support)
    Y = dinucleotide_shuffle(one_hot_encode(seq), n=draws, seed=123)
    observed = Counter(one_hot_decode(Y[0]))
    assert set(observed) <= set(support)
    freq = np.array([observed[s] for s in support])
    assert freq.min() > 0
    result = scipy_stats.chisquare(freq)
    assert result.pvalue > 1e-4, (support, freq)


def test_uniformity_test_detects_bias():
    """The chi-square check above rejects a sampler that favours one sequence."""
    scipy_stats = pytest.importorskip("scipy.stats")
    freq = np.array([400] * 9 + [600])
    assert scipy_stats.chisquare(freq).pvalue < 1e-4


def test_single_array_torch_and_strings():
    torch = pytest.importorskip("torch")
    X = one_hot_encode("ACGGTACCTTNAG")
    a = dinucleotide_shuffle(X[0], n=2, seed=5)
    np.testing.assert_array_equal(a, dinucleotide_shuffle(X, n=2, seed=5))
    b = dinucleotide_shuffle(torch.from_numpy(X).float(), n=2, seed=5)
    assert isinstance(b, np.ndarray) and b.dtype == np.float32
    np.testing.assert_array_equal(b, a.astype(np.float32))
    np.testing.assert_array_equal(dinucleotide_shuffle("ACGGTACCTTNAG", n=2, seed=5), a)
    assert dinucleotide_shuffle(X, n=0).shape == (1, 0, 4, 13)


def test_bad_input_raises():
    X = one_hot_encode("ACGT")
    with pytest.raises(InputError, match="not one-hot"):
        dinucleotide_shuffle(X * 2)
    with pytest.raises(InputError, match="shape"):
        dinucleotide_shuffle(np.zeros((1, 5, 4), np.int8))
    with pytest.raises(InputError, match="n must be"):
        dinucleotide_shuffle(X, n=-1)
    with pytest.raises(InputError, match="same length"):
        dinucleotide_shuffle(["ACG", "ACGT"])
    with pytest.raises(InputError, match="seed"):
        dinucleotide_shuffle(X, seed=-3)


def test_agrees_with_tangermeme_semantics():
    ersatz = pytest.importorskip("tangermeme.ersatz")
    torch = pytest.importorskip("torch")
    seq = "ACAGATCTGA"
    support = same_count_sequences(seq)
    X = one_hot_encode(seq)
    ours = set(one_hot_decode(dinucleotide_shuffle(X, n=500, seed=0)[0]))
    theirs_X = ersatz.dinucleotide_shuffle(torch.from_numpy(X), n=500, random_state=0)
    theirs = set(one_hot_decode(theirs_X[0]))
    # Both samplers only produce sequences with the original dinucleotide counts. Ours reaches all of
    # them; tangermeme's keeps every letter's last outgoing pair of the original, so it reaches a subset.
    assert ours == support
    assert seq in theirs and theirs <= support
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), 120, p=[0.24] * 4 + [0.04])) for _ in range(4)]
    theirs_X = ersatz.dinucleotide_shuffle(torch.from_numpy(one_hot_encode(seqs)), n=3, random_state=0, allow_N=True)
    ours_X = dinucleotide_shuffle(one_hot_encode(seqs), n=3, seed=0)
    for i, s in enumerate(seqs):
        assert_same_dinucleotides(s, one_hot_decode(theirs_X[i]))
        assert_same_dinucleotides(s, one_hot_decode(ours_X[i]))

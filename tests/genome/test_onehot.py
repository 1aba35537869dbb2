"""Tests of one-hot encoding, decoding and reverse complements against brute-force twins and tangermeme."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from drg.errors import InputError
from drg.genome.onehot import (
    _one_hot_codes,
    one_hot_decode,
    one_hot_encode,
    reverse_complement,
    reverse_complement_sequence,
)

IUPAC = "ACGTacgtNnRYSWKMBDHVrykmbdhv-."


def naive_encode(seqs, alphabet="ACGT", length=None, align="center", unknown=0.0, dtype=np.int8):
    """Pure-Python dict-based encoder (the reference)."""
    if isinstance(seqs, str):
        seqs = [seqs]
    length = max(map(len, seqs), default=0) if length is None else length
    index = {a: i for i, a in enumerate(alphabet.upper())}
    out = np.zeros((len(seqs), len(alphabet), length), dtype=dtype)
    for n, s in enumerate(seqs):
        d = length - len(s)
        if d >= 0:
            lead = {"left": 0, "right": d, "center": d // 2}[align]
            placed = [(lead + i, ch) for i, ch in enumerate(s)]
        else:
            skip = {"left": 0, "right": -d, "center": (-d) // 2}[align]
            placed = list(enumerate(s[skip : skip + length]))
        for col, ch in placed:
            code = index.get(ch.upper())
            if code is None:
                for c in range(len(alphabet)):
                    out[n, c, col] = unknown
            else:
                out[n, code, col] = 1
    return out


def random_seqs(rng, n, lo, hi, letters=IUPAC):
    return ["".join(rng.choice(list(letters), rng.integers(lo, hi + 1))) for _ in range(n)]


@pytest.mark.parametrize("align", ["left", "right", "center"])
@pytest.mark.parametrize("length", [None, 7, 30])
def test_matches_naive_encoder(align, length):
    rng = np.random.default_rng(11)
    seqs = random_seqs(rng, 60, 0, 25)
    got = one_hot_encode(seqs, length=length, align=align)
    want = naive_encode(seqs, length=length, align=align)
    assert got.dtype == np.int8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_unknown_value_and_float_dtype():
    rng = np.random.default_rng(3)
    seqs = random_seqs(rng, 40, 1, 20)
    got = one_hot_encode(seqs, unknown=0.25, dtype=np.float32, align="right")
    want = naive_encode(seqs, unknown=0.25, dtype=np.float32, align="right")
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32
    # Padding stays zero while N gets the unknown value.
    X = one_hot_encode(["N", "ACG"], unknown=0.25, dtype=np.float64, align="left")
    np.testing.assert_array_equal(X[0], [[0.25, 0, 0], [0.25, 0, 0], [0.25, 0, 0], [0.25, 0, 0]])


def test_unknown_not_representable_raises():
    with pytest.raises(InputError, match="cannot be stored exactly"):
        one_hot_encode("ACGN", unknown=0.25)
    with pytest.raises(InputError, match="cannot be stored exactly"):
        one_hot_encode("ACGN", unknown=300, dtype=np.int8)
    assert one_hot_encode("N", unknown=-1)[0, :, 0].tolist() == [-1, -1, -1, -1]


def test_hand_checked_padding_and_cropping():
    X = one_hot_encode(["AC", "GTTAC"], align="center")
    # "AC" in 5 columns: d = 3 -> 1 zero column on the left, 2 on the right.
    assert one_hot_decode(X) == ["NACNN", "GTTAC"]
    np.testing.assert_array_equal(X[0].sum(axis=0), [0, 1, 1, 0, 0])
    assert one_hot_decode(one_hot_encode(["AC", "GTTAC"], align="left")) == ["ACNNN", "GTTAC"]
    assert one_hot_decode(one_hot_encode(["AC", "GTTAC"], align="right")) == ["NNNAC", "GTTAC"]
    # Cropping "GTTAC" (5) to 2: d = 3 -> 1 base dropped on the left, 2 on the right.
    assert one_hot_decode(one_hot_encode("GTTAC", length=2)) == ["TT"]
    assert one_hot_decode(one_hot_encode("GTTAC", length=2, align="left")) == ["GT"]
    assert one_hot_decode(one_hot_encode("GTTAC", length=2, align="right")) == ["AC"]
    assert one_hot_decode(one_hot_encode("GTTACA", length=4)) == ["TTAC"]


def test_hand_checked_values():
    X = one_hot_encode("aCgTn")
    np.testing.assert_array_equal(
        X[0], [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]
    )
    assert X.shape == (1, 4, 5)


def test_input_types():
    want = one_hot_encode(["ACGT", "GG"])
    np.testing.assert_array_equal(one_hot_encode(("ACGT", "GG")), want)
    np.testing.assert_array_equal(one_hot_encode(np.array(["ACGT", "GG"])), want)
    np.testing.assert_array_equal(one_hot_encode(np.array([b"ACGT", b"GG"])), want)
    np.testing.assert_array_equal(one_hot_encode([b"ACGT", "GG"]), want)
    np.testing.assert_array_equal(one_hot_encode(b"ACGT"), want[:1])
    np.testing.assert_array_equal(one_hot_encode(np.array(["ACGT", "GG"], dtype=object)), want)
    assert one_hot_encode([]).shape == (0, 4, 0)
    assert one_hot_encode([], length=5).shape == (0, 4, 5)
    assert one_hot_encode("").shape == (1, 4, 0)
    assert one_hot_encode("ACGU", alphabet="ACGU")[0, 3].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize(
    "bad, match",
    [
        (5, "got int"),
        (["ACGT", 5], "sequence 1"),
        (np.zeros((2, 4)), "numeric array"),
        (["ACGT", "AC GT"], "sequence 1 .* ' ' at position 2"),
        (["ACGT", "ACG>T"], "'>' at position 3"),
        (["AC\u00e9"], "non-ASCII"),
        ({"a": "ACGT"}, "got dict"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(InputError, match=match):
        one_hot_encode(bad)


def test_bad_options_raise():
    with pytest.raises(InputError, match="align"):
        one_hot_encode("ACGT", align="middle")
    with pytest.raises(InputError, match="length"):
        one_hot_encode("ACGT", length=-1)
    with pytest.raises(InputError, match="distinct"):
        one_hot_encode("ACGT", alphabet="ACGa")
    with pytest.raises(InputError, match="letters"):
        one_hot_encode("ACGT", alphabet="AC1T")


def test_equals_tangermeme_on_acgt():
    tm = pytest.importorskip("tangermeme.utils")
    rng = np.random.default_rng(5)
    for length in (1, 17, 1000, 300_001):
        seq = "".join(rng.choice(list("ACGT"), length))
        theirs = tm.one_hot_encode(seq).numpy()
        np.testing.assert_array_equal(one_hot_encode(seq)[0], theirs)


def test_long_sequence_matches_lookup_table():
    rng = np.random.default_rng(8)
    seq = "".join(rng.choice(list("ACGTNacgtn"), 200_003))
    lut = np.zeros((256, 4), np.int8)
    for i, c in enumerate("ACGT"):
        lut[ord(c), i] = lut[ord(c.lower()), i] = 1
    want = lut[np.frombuffer(seq.encode(), np.uint8)].T
    np.testing.assert_array_equal(one_hot_encode(seq)[0], want)


def test_decode_round_trip():
    rng = np.random.default_rng(2)
    seqs = random_seqs(rng, 50, 30, 30, letters="ACGTN")
    assert one_hot_decode(one_hot_encode(seqs)) == seqs
    assert one_hot_decode(one_hot_encode(seqs)[0]) == seqs[:1]
    soft = random_seqs(rng, 5, 10, 10, letters="acgtRY")
    assert one_hot_decode(one_hot_encode(soft)) == [
        "".join(c.upper() if c in "acgt" else "N" for c in s) for s in soft
    ]


def test_decode_ambiguous_and_float():
    X = np.array([[[0.9, 0.25, 0.0, 0.5], [0.1, 0.25, 0.0, 0.5], [0.0, 0.25, 0.0, 0.0], [0.0, 0.25, 0.0, 0.0]]])
    assert one_hot_decode(X) == ["ANNN"]
    assert one_hot_decode(X, unknown="-") == ["A---"]
    assert one_hot_decode(one_hot_encode("ACNT", unknown=0.25, dtype=np.float32)) == ["ACNT"]


def test_decode_torch():
    torch = pytest.importorskip("torch")
    X = one_hot_encode(["ACGTN", "TTGCA"])
    assert one_hot_decode(torch.from_numpy(X).float()) == ["ACGTN", "TTGCA"]


def test_reverse_complement_sequence_hand_checked():
    assert reverse_complement_sequence("AACGTN") == "NACGTT"
    assert reverse_complement_sequence("acgRYkmBDHVsw-.") == ".-wsBDHVkmRYcgt"
    assert reverse_complement_sequence("U") == "A"
    assert reverse_complement_sequence("") == ""
    with pytest.raises(InputError, match="'X' at position 2"):
        reverse_complement_sequence("ACXT")
    with pytest.raises(InputError):
        reverse_complement_sequence(b"ACGT")


def test_reverse_complement_one_hot():
    rng = np.random.default_rng(4)
    seqs = random_seqs(rng, 30, 20, 20, letters="ACGTN")
    X = one_hot_encode(seqs)
    R = reverse_complement(X)
    assert R.flags.c_contiguous and R.dtype == X.dtype and R.shape == X.shape
    np.testing.assert_array_equal(R, one_hot_encode([reverse_complement_sequence(s) for s in seqs]))
    np.testing.assert_array_equal(reverse_complement(R), X)
    np.testing.assert_array_equal(reverse_complement(X[0]), R[0])
    np.testing.assert_array_equal(reverse_complement(X[None])[0], R)
    with pytest.raises(InputError):
        reverse_complement(np.zeros((2, 5, 3)))


def test_reverse_complement_torch():
    torch = pytest.importorskip("torch")
    X = one_hot_encode(["ACGTTN", "GGGCAT"])
    R = reverse_complement(torch.from_numpy(X))
    assert isinstance(R, torch.Tensor)
    np.testing.assert_array_equal(R.numpy(), reverse_complement(X))


def test_one_hot_codes():
    X = one_hot_encode(["ACGTN"])
    np.testing.assert_array_equal(_one_hot_codes(X), [[0, 1, 2, 3, 4]])
    bad = X.copy()
    bad[0, 0, 1] = 1
    with pytest.raises(InputError, match="position 1"):
        _one_hot_codes(bad)
    with pytest.raises(InputError, match="not one-hot"):
        _one_hot_codes(X * 2)


def test_real_peaks_round_trip(shared):
    path = shared("sequences/ctcf_chipseq_peaks_100bp.fa.gz")
    with gzip.open(path, "rt") as handle:
        seqs = [line.strip() for line, _ in zip(handle, range(4000)) if not line.startswith(">")]
    X = one_hot_encode(seqs)
    assert X.shape == (len(seqs), 4, 100)
    np.testing.assert_array_equal(X, naive_encode(seqs))
    assert one_hot_decode(X) == [s.upper() for s in seqs]

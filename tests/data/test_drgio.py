from __future__ import annotations

import numpy as np
import pytest

from drg.data.drgio import OneHotSet, read_onehot_npz, write_onehot_npz
from drg.errors import InputError


def _random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), dtype=np.int8)
    idx = rng.integers(0, 4, size=(n, length))
    X[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1
    X[:, :, 3] = 0  # one N column
    return X


@pytest.mark.parametrize("compressed", [True, False])
def test_round_trip_and_drg_layout(tmp_path, compressed):
    X = _random_onehot(7, 25)
    names = [f"peak{i}" for i in range(7)]
    path = tmp_path / "seqs.npz"
    write_onehot_npz(path, X, names, compressed=compressed)
    raw = np.load(path)  # no pickle needed
    assert raw["seqfeatures"].shape == (7, 25, 4) and raw["seqfeatures"].dtype == np.int8
    np.testing.assert_array_equal(raw["seqfeatures"], X.transpose(0, 2, 1))
    assert raw["genenames"].tolist() == names
    assert raw["featurenames"].tolist() == list("ACGT")
    back = read_onehot_npz(path)
    assert isinstance(back, OneHotSet)
    np.testing.assert_array_equal(back.X, X)
    assert back.X.dtype == np.int8 and back.X.flags.c_contiguous
    assert back.names.tolist() == names and back.alphabet == "ACGT" and len(back) == 7


def test_write_exact_path_without_npz_suffix(tmp_path):
    path = tmp_path / "seqs.onehot"
    write_onehot_npz(path, _random_onehot(2, 5), ["a", "b"])
    assert path.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["seqs.onehot"]
    assert read_onehot_npz(path).names.tolist() == ["a", "b"]


def test_reads_drg_written_fixture(shared):
    data = read_onehot_npz(shared("drg_compat/singleinput_io.npz"))
    raw = np.load(shared("drg_compat/singleinput_io.npz"))
    assert data.X.shape == (16, 4, 300)
    np.testing.assert_array_equal(data.X.transpose(0, 2, 1), raw["seqfeatures"])
    assert (data.X.sum(axis=1) <= 1).all()
    assert data.names.tolist() == raw["genenames"].astype(str).tolist()


def _pickled_pair(path, X_drg, letters):
    pair = np.empty(2, dtype=object)
    pair[0], pair[1] = X_drg, np.array(letters)
    np.savez_compressed(path, seqfeatures=pair, genenames=np.array([f"g{i}" for i in range(len(X_drg))]))


def test_pickled_pair_needs_explicit_permission(tmp_path):
    X = _random_onehot(3, 8)
    path = tmp_path / "pair.npz"
    _pickled_pair(path, X.transpose(0, 2, 1), list("ACGT"))
    with pytest.raises(InputError, match="allow_pickle=True"):
        read_onehot_npz(path)
    data = read_onehot_npz(path, allow_pickle=True)
    np.testing.assert_array_equal(data.X, X)
    assert data.alphabet == "ACGT"


def test_featurenames_give_alphabet_and_float_values_cast(tmp_path):
    X = _random_onehot(2, 6).astype(np.float32)
    path = tmp_path / "f.npz"
    np.savez(path, seqfeatures=X.transpose(0, 2, 1), genenames=np.array(["a", "b"]),
             featurenames=np.array(list("ACGU")))
    data = read_onehot_npz(path)
    assert data.alphabet == "ACGU" and data.X.dtype == np.int8
    np.testing.assert_array_equal(data.X, X.astype(np.int8))


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"genenames": np.array(["a"])}, "missing key 'seqfeatures'"),
        ({"seqfeatures": np.zeros((1, 5, 4), np.int8)}, "missing key 'genenames'"),
        ({"seqfeatures": np.zeros((5, 4), np.int8), "genenames": np.array(["a"] * 5)}, "3 dimensions"),
        ({"seqfeatures": np.zeros((2, 5, 4), np.int8), "genenames": np.array(["a"])}, "one name per"),
        ({"seqfeatures": np.zeros((1, 5, 5), np.int8), "genenames": np.array(["a"])}, "5 channels"),
        ({"seqfeatures": np.full((1, 5, 4), 0.25), "genenames": np.array(["a"])}, "int8"),
        ({"seqfeatures": np.zeros((1, 5, 4), np.int8), "genenames": np.array(["a"]),
          "featurenames": np.array(list("ACG"))}, "3 entries for 4 channels"),
    ],
)
def test_malformed_files(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=match) as info:
        read_onehot_npz(path)
    assert info.value.path == str(path)


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(InputError, match="npz"):
        read_onehot_npz(path)
    with pytest.raises(InputError, match="not found"):
        read_onehot_npz(tmp_path / "missing.npz")


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(InputError, match="channels"):
        write_onehot_npz(tmp_path / "a.npz", np.zeros((2, 5, 4), np.int8), ["a", "b"])
    with pytest.raises(InputError, match="names"):
        write_onehot_npz(tmp_path / "a.npz", np.zeros((2, 4, 5), np.int8), ["a"])
    with pytest.raises(InputError, match="int8"):
        write_onehot_npz(tmp_path / "a.npz", np.full((1, 4, 5), 0.5), ["a"])
    assert not (tmp_path / "a.npz").exists()


def test_read_sequences_from_npz_cache_and_fasta(tmp_path):
    from drg.data import read_sequences, write_onehot_memmap, write_onehot_npz
    from drg.genome import one_hot_encode, write_fasta

    seqs = ["ACGTAC", "TTGACA"]
    X = one_hot_encode(seqs)
    write_onehot_npz(tmp_path / "a.npz", X, ["a", "b"])
    write_onehot_memmap(tmp_path / "cache", X, ["a", "b"])
    write_fasta(["a", "b"], seqs, tmp_path / "a.fa")
    for source in ("a.npz", "cache", "a.fa"):
        data = read_sequences(tmp_path / source)
        np.testing.assert_array_equal(np.asarray(data.X), X)
        assert list(data.names) == ["a", "b"]
    with pytest.raises(InputError, match="length 6, expected 8"):
        read_sequences(tmp_path / "a.npz", length=8)
    write_fasta(["a", "b"], ["ACGT", "ACGTAC"], tmp_path / "b.fa")
    with pytest.raises(InputError, match="2 different lengths"):
        read_sequences(tmp_path / "b.fa")
    assert read_sequences(tmp_path / "b.fa", length=6).X.shape == (2, 4, 6)
    with pytest.raises(InputError, match="file not found"):
        read_sequences(tmp_path / "missing.npz")

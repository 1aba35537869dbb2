from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from drg.data.datasets import (
    ArrayDataset,
    Augmentation,
    GenomeDataset,
    open_onehot_memmap,
    write_onehot_memmap,
)
from drg.data.drgio import OneHotSet
from drg.errors import InputError
from drg.genome import Genome, one_hot_encode, reverse_complement

LAMBDA = "gi|9626243|ref|NC_001416.1|"


def _random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), dtype=np.int8)
    idx = rng.integers(0, 4, size=(n, length))
    X[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1
    return X


def _shift_brute(x: np.ndarray, s: int) -> np.ndarray:
    out = np.zeros_like(x)
    for j in range(x.shape[1]):
        if 0 <= j - s < x.shape[1]:
            out[:, j] = x[:, j - s]
    return out


# ------------------------------------------------------------------------------------------------------------
# memory-mapped cache


def test_memmap_chunkwise_equals_in_memory(tmp_path):
    X = _random_onehot(23, 17)
    names = [f"r{i}" for i in range(23)]
    sources = {
        "array": X,
        "items": (x for x in X),
        "batches": (X[i:i + 5] for i in range(0, 23, 5)),
        "onehotset": OneHotSet(X, np.array(names)),
    }
    for label, source in sources.items():
        path = tmp_path / f"{label}.cache"
        assert write_onehot_memmap(path, source, names, chunk_size=4) == path
        data = open_onehot_memmap(path)
        assert isinstance(data.X, np.memmap) and not data.X.flags.writeable
        np.testing.assert_array_equal(np.asarray(data.X), X)
        assert data.names.tolist() == names and data.alphabet == "ACGT"
        assert json.loads((path / "meta.json").read_text())["n"] == 23


def test_memmap_from_sequence_strings(tmp_path):
    seqs = ["ACGTN", "TTGCA", "GGGGA"]
    write_onehot_memmap(tmp_path / "s", iter(seqs), ["a", "b", "c"], chunk_size=2)
    np.testing.assert_array_equal(np.asarray(open_onehot_memmap(tmp_path / "s").X), one_hot_encode(seqs))
    write_onehot_memmap(tmp_path / "t", [seqs[:2], seqs[2:]], ["a", "b", "c"])
    np.testing.assert_array_equal(np.asarray(open_onehot_memmap(tmp_path / "t").X), one_hot_encode(seqs))
    with pytest.raises(InputError, match="different lengths"):
        write_onehot_memmap(tmp_path / "u", ["ACG", "AC"], ["a", "b"])


def test_memmap_count_and_shape_errors_leave_nothing(tmp_path):
    X = _random_onehot(5, 8)
    with pytest.raises(InputError, match="4 sequences for 5 names"):
        write_onehot_memmap(tmp_path / "c", (x for x in X[:4]), [str(i) for i in range(5)])
    with pytest.raises(InputError, match="more than the 4"):
        write_onehot_memmap(tmp_path / "c", X, [str(i) for i in range(4)], chunk_size=2)
    with pytest.raises(InputError, match="shape"):
        write_onehot_memmap(tmp_path / "c", [X[0], X[1, :, :5]], ["a", "b"])
    with pytest.raises(InputError, match="int8"):
        write_onehot_memmap(tmp_path / "c", X * 0.5, [str(i) for i in range(5)])
    assert list(tmp_path.iterdir()) == []


def test_memmap_replaces_cache_atomically(tmp_path):
    path = tmp_path / "c"
    X = _random_onehot(4, 6)
    write_onehot_memmap(path, X, list("abcd"))
    with pytest.raises(InputError):  # a failed rewrite keeps the old cache
        write_onehot_memmap(path, X[:2], list("abcd"))
    np.testing.assert_array_equal(np.asarray(open_onehot_memmap(path).X), X)
    Y = _random_onehot(2, 6, seed=1)
    write_onehot_memmap(path, Y, list("xy"))
    np.testing.assert_array_equal(np.asarray(open_onehot_memmap(path).X), Y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(InputError, match="not a one-hot cache"):
        write_onehot_memmap(tmp_path / "file", Y, list("xy"))
    assert (tmp_path / "file").read_text() == "keep me"


def test_open_memmap_errors(tmp_path):
    with pytest.raises(InputError, match="not a one-hot cache"):
        open_onehot_memmap(tmp_path)
    write_onehot_memmap(tmp_path / "c", _random_onehot(3, 4), list("abc"))
    (tmp_path / "c" / "meta.json").write_text(json.dumps({"format": "drg-onehot-memmap", "n": 4,
                                                           "channels": 4, "length": 4}))
    with pytest.raises(InputError, match="do not match"):
        open_onehot_memmap(tmp_path / "c")
    (tmp_path / "c" / "meta.json").write_text("{")
    with pytest.raises(InputError, match="JSON"):
        open_onehot_memmap(tmp_path / "c")


# ------------------------------------------------------------------------------------------------------------
# ArrayDataset


def test_array_dataset_plain_items_and_targets():
    X = _random_onehot(6, 10)
    y = np.arange(12, dtype=np.float64).reshape(6, 2)
    ds = ArrayDataset(X, y)
    x0, y0 = ds[2]
    assert x0.dtype == torch.float32 and x0.shape == (4, 10) and y0.dtype == torch.float32
    np.testing.assert_array_equal(x0.numpy(), X[2])
    np.testing.assert_array_equal(y0.numpy(), y[2])
    assert len(ds) == 6
    np.testing.assert_array_equal(ds[-1][0].numpy(), X[5])
    with pytest.raises(IndexError):
        ds[6]
    only_x = ArrayDataset(X)[1]
    assert isinstance(only_x, torch.Tensor)
    xm, ys = ArrayDataset(X, [y, y[:, :1] * 2])[3]
    assert isinstance(ys, list) and ys[0].shape == (2,) and ys[1].tolist() == [12.0]
    with pytest.raises(InputError, match=r"targets\[1\]"):
        ArrayDataset(X, [y, y[:5]])


def test_array_dataset_augmentation_is_what_it_says():
    X = _random_onehot(200, 30, seed=2)
    ds = ArrayDataset(X, reverse_complement=True, shift=3, seed=11)
    seen_shift, seen_rc = set(), set()
    for i in range(len(ds)):
        aug = ds.augmentation(i)
        assert isinstance(aug, Augmentation) and -3 <= aug.shift <= 3
        expected = _shift_brute(X[i], aug.shift)
        if aug.reverse_complement:
            expected = reverse_complement(expected)
        np.testing.assert_array_equal(ds[i].numpy(), expected)
        seen_shift.add(aug.shift)
        seen_rc.add(aug.reverse_complement)
    assert seen_shift == set(range(-3, 4)) and seen_rc == {True, False}
    rc_share = np.mean([ds.augmentation(i).reverse_complement for i in range(len(ds))])
    assert 0.35 < rc_share < 0.65


def test_array_dataset_rc_always_and_real_complement():
    X = one_hot_encode(["AACGTTTG", "ACGNNTTA"])
    ds = ArrayDataset(X, reverse_complement="always")
    np.testing.assert_array_equal(ds[0].numpy(), one_hot_encode(["CAAACGTT"])[0])
    np.testing.assert_array_equal(ds[1].numpy(), one_hot_encode(["TAANNCGT"])[0])


def test_augmentation_determinism():
    X = _random_onehot(50, 20)
    a = ArrayDataset(X, reverse_complement=True, shift=4, seed=5)
    b = ArrayDataset(X, reverse_complement=True, shift=4, seed=5)
    forward = [a[i] for i in range(50)]
    backward = [b[i] for i in reversed(range(50))][::-1]  # order of access does not matter
    assert all(torch.equal(u, v) for u, v in zip(forward, backward, strict=True))
    other_seed = ArrayDataset(X, reverse_complement=True, shift=4, seed=6)
    assert [a.augmentation(i) for i in range(50)] != [other_seed.augmentation(i) for i in range(50)]
    epoch0 = [a.augmentation(i) for i in range(50)]
    a.set_epoch(1)
    assert [a.augmentation(i) for i in range(50)] != epoch0
    a.set_epoch(0)
    assert [a.augmentation(i) for i in range(50)] == epoch0


def test_array_dataset_argument_errors():
    X = _random_onehot(3, 5)
    with pytest.raises(InputError, match="smaller than"):
        ArrayDataset(X, shift=5)
    with pytest.raises(InputError, match="reverse_complement"):
        ArrayDataset(X, reverse_complement="yes")
    with pytest.raises(InputError, match="4 channels"):
        ArrayDataset(np.zeros((3, 5, 5), np.int8), reverse_complement=True)
    with pytest.raises(InputError, match=r"\(3, T\)"):
        ArrayDataset(X, np.zeros((4, 2)))


def test_memmap_dataset_pickles_as_file_reference(tmp_path):
    X = _random_onehot(2000, 100)
    write_onehot_memmap(tmp_path / "c", X, [str(i) for i in range(2000)])
    ds = ArrayDataset(open_onehot_memmap(tmp_path / "c"), reverse_complement=True, shift=2)
    blob = pickle.dumps(ds)
    assert len(blob) < 10_000  # not the 800 kB of data
    clone = pickle.loads(blob)
    assert isinstance(clone.X, np.memmap)
    assert all(torch.equal(clone[i], ds[i]) for i in range(0, 2000, 97))
    sliced = ArrayDataset(open_onehot_memmap(tmp_path / "c").X[:10])
    assert np.array_equal(pickle.loads(pickle.dumps(sliced)).X, X[:10])  # a partial view is copied


def _batches(ds, num_workers):
    loader = DataLoader(ds, batch_size=7, shuffle=False, num_workers=num_workers)
    return list(loader)


def test_dataloader_workers_match_single_process(tmp_path):
    X = _random_onehot(40, 12)
    write_onehot_memmap(tmp_path / "c", X, [str(i) for i in range(40)])
    y = np.random.default_rng(0).normal(size=(40, 3))
    ds = ArrayDataset(open_onehot_memmap(tmp_path / "c"), y, reverse_complement=True, shift=2, seed=3)
    ds.set_epoch(2)
    single = _batches(ds, 0)
    multi = _batches(ds, 2)
    assert len(single) == len(multi) == 6
    for (xa, ya), (xb, yb) in zip(single, multi, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# ------------------------------------------------------------------------------------------------------------
# GenomeDataset


@pytest.fixture
def lambda_genome(shared, tmp_path):
    return Genome(shared("genomes/lambda_virus.fa.gz"), cache_dir=tmp_path / "cache")


def _regions(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "strand"])


def test_genome_dataset_hand_computed_windows(lambda_genome):
    regions = _regions([
        (LAMBDA, 100, 300, "a", "+"),    # length 200 -> 101: start 100 + (200 - 101) // 2 = 149
        (LAMBDA, 1000, 1001, "b", "-"),  # length 1 -> 101: start 1000 + (1 - 101) // 2 = 950
        (LAMBDA, 0, 20, "c", "."),       # runs off the left end: start 0 + (20 - 101) // 2 = -41
    ])
    ds = GenomeDataset(lambda_genome, regions, np.ones((3, 2)), length=101)
    assert [ds.window(i) for i in range(3)] == [(LAMBDA, 149, 250, "+"), (LAMBDA, 950, 1051, "-"),
                                                (LAMBDA, -41, 60, "+")]
    x0, y0 = ds[0]
    np.testing.assert_array_equal(x0.numpy(), one_hot_encode(lambda_genome.fetch(LAMBDA, 149, 250))[0])
    minus = ds[1][0].numpy()
    forward = one_hot_encode(lambda_genome.fetch(LAMBDA, 950, 1051))
    np.testing.assert_array_equal(minus, reverse_complement(forward)[0])
    edge = ds[2][0].numpy()
    assert (edge[:, :41] == 0).all() and (edge[:, 41:].sum(axis=0) == 1).all()
    np.testing.assert_array_equal(edge[:, 41:], one_hot_encode(lambda_genome.fetch(LAMBDA, 0, 60))[0])
    assert y0.tolist() == [1.0, 1.0]


def test_genome_dataset_jitter_and_rc(lambda_genome):
    rng = np.random.default_rng(1)
    starts = rng.integers(100, 48_000, size=60)
    regions = _regions([(LAMBDA, int(s), int(s) + 200, f"r{i}", "+") for i, s in enumerate(starts)])
    ds = GenomeDataset(lambda_genome, regions, jitter=7, reverse_complement=True, seed=9)
    offsets, flips = set(), set()
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            chrom, start, end, strand = ds.window(i)
            offset = start - int(starts[i])
            assert -7 <= offset <= 7 and end - start == 200
            offsets.add(offset)
            aug = ds.augmentation(i)
            flips.add(aug.reverse_complement)
            expected = one_hot_encode(lambda_genome.fetch(chrom, start, end))
            if aug.reverse_complement:
                expected = reverse_complement(expected)
            np.testing.assert_array_equal(ds[i].numpy(), expected[0])
    assert offsets == set(range(-7, 8)) and flips == {True, False}


def test_genome_dataset_from_path_pickles_without_handles(lambda_genome):
    regions = _regions([(LAMBDA, i * 500, i * 500 + 300, f"r{i}", "+") for i in range(20)])
    ds = GenomeDataset(lambda_genome.path, regions, jitter=5, reverse_complement=True, seed=2)
    state = ds.__getstate__()
    assert state["_genome"] is None
    clone = pickle.loads(pickle.dumps(ds))
    assert all(torch.equal(clone[i], ds[i]) for i in range(20))


def test_genome_dataset_workers_match_single_process(lambda_genome):
    regions = _regions([(LAMBDA, i * 900, i * 900 + 400, f"r{i}", "+-"[i % 2]) for i in range(50)])
    targets = np.arange(100, dtype=np.float32).reshape(50, 2)
    ds = GenomeDataset(lambda_genome, regions, targets, length=500, jitter=20, reverse_complement=True, seed=4)
    ds.set_epoch(3)
    single = _batches(ds, 0)
    multi = _batches(ds, 2)
    assert len(single) == len(multi) == 8
    for (xa, ya), (xb, yb) in zip(single, multi, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_genome_dataset_errors(lambda_genome):
    with pytest.raises(InputError, match="not in the genome"):
        GenomeDataset(lambda_genome, _regions([("chr1", 0, 10, "a", "+")]))
    with pytest.raises(InputError, match="different lengths"):
        GenomeDataset(lambda_genome, _regions([(LAMBDA, 0, 10, "a", "+"), (LAMBDA, 0, 11, "b", "+")]))
    with pytest.raises(InputError, match="column"):
        GenomeDataset(lambda_genome, pd.DataFrame({"chrom": [LAMBDA], "start": [0]}))

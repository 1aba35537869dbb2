"""Tests for drg.data.targets: reading, writing, subsetting and aligning target matrices."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from drg.data.targets import AlignedTargets, Targets, align_targets, read_targets, write_targets
from drg.errors import DRGWarning, InputError


def _write(path, text: str, gz: bool = False):
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_read_tsv_hash_header_labelled(tmp_path):
    p = _write(tmp_path / "atac.tsv", "#Name\tB-cell\tT-cell\nr1\t1.5\t2\nr2\t0\t-3e-2\n")
    t = read_targets(p)
    assert t.modality == "atac"
    assert list(t.tracks) == ["B-cell", "T-cell"]
    assert list(t.names) == ["r1", "r2"]
    assert t.values.dtype == np.float32
    np.testing.assert_array_equal(t.values, np.array([[1.5, 2], [0, -0.03]], dtype=np.float32))
    assert len(t) == 2


@pytest.mark.parametrize(
    "text",
    [
        "A\tB\nr1\t1\t2\nr2\t3\t4\n",  # one field fewer: first column unnamed
        "name,A,B\nr1,1,2\nr2,3,4\n",  # comma, labelled
        "#  A   B\nr1  1  2\n\nr2 3   4\n",  # whitespace runs, blank line
        "A,B\r\nr1, 1, 2\r\nr2,3,4\r\n",  # CRLF, spaces after comma
    ],
)
def test_read_delimiters_and_header_forms(tmp_path, text):
    t = read_targets(_write(tmp_path / "x.txt", text))
    assert list(t.tracks) == ["A", "B"]
    assert list(t.names) == ["r1", "r2"]
    np.testing.assert_array_equal(t.values, [[1, 2], [3, 4]])


def test_read_gzip_transparent(tmp_path):
    p = _write(tmp_path / "rna.tsv.gz", "#n\tA\nx\t7\n", gz=True)
    t = read_targets(p)
    assert t.modality == "rna" and t.values[0, 0] == 7


def test_non_numeric_names_line_and_column(tmp_path):
    p = _write(tmp_path / "t.tsv", "#n\tA\tB\nr1\t1\t2\nr2\t3\tabc\n")
    with pytest.raises(InputError) as err:
        read_targets(p)
    msg = str(err.value)
    assert "line 3" in msg and "'abc'" in msg and "column 3" in msg and "t.tsv" in msg


def test_ragged_rows(tmp_path):
    p = _write(tmp_path / "t.tsv", "#n\tA\tB\nr1\t1\t2\nr2\t3\n")
    with pytest.raises(InputError, match="line 3"):
        read_targets(p)


def test_header_mismatch(tmp_path):
    p = _write(tmp_path / "t.tsv", "#n\tA\tB\tC\tD\nr1\t1\t2\n")
    with pytest.raises(InputError, match="line 1"):
        read_targets(p)


def test_duplicate_names(tmp_path):
    p = _write(tmp_path / "t.tsv", "#n\tA\nr1\t1\nr2\t2\nr1\t3\nr2\t4\n")
    with pytest.raises(InputError) as err:
        read_targets(p)
    assert "2 region names" in str(err.value) and "line 4" in str(err.value) and "'r1'" in str(err.value)


def test_empty_and_header_only(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_targets(_write(tmp_path / "e.tsv", "\n\n"))
    with pytest.raises(InputError, match="no data"):
        read_targets(_write(tmp_path / "h.tsv", "#n\tA\tB\n"))
    with pytest.raises(InputError, match="not found"):
        read_targets(tmp_path / "absent.tsv")


def test_nonfinite_policies(tmp_path):
    p = _write(tmp_path / "t.tsv", "#n\tA\tB\nr1\t1\t2\nr2\tNA\t4\nr3\t5\tinf\nr4\t7\t8\n")
    with pytest.raises(InputError) as err:
        read_targets(p)
    assert "'r2'" in str(err.value) and "'A'" in str(err.value) and "line 3" in str(err.value)
    kept = read_targets(p, nonfinite="keep")
    assert np.isnan(kept.values[1, 0]) and np.isposinf(kept.values[2, 1])
    zero = read_targets(p, nonfinite="zero")
    np.testing.assert_array_equal(zero.values, [[1, 2], [0, 4], [5, 0], [7, 8]])
    with pytest.warns(DRGWarning, match=r"dropped 2 of 4.*'r2', 'r3'"):
        dropped = read_targets(p, nonfinite="drop")
    assert list(dropped.names) == ["r1", "r4"]
    np.testing.assert_array_equal(dropped.values, [[1, 2], [7, 8]])


def test_npz_drg_layout_and_aliases(tmp_path):
    counts = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(tmp_path / "m.npz", counts=counts, names=np.array(["a", "b", "c"]), celltypes=np.array(["X", "Y"]))
    t = read_targets(tmp_path / "m.npz")
    assert t.modality == "m" and list(t.tracks) == ["X", "Y"]
    np.testing.assert_array_equal(t.values, counts)
    np.savez(tmp_path / "v.npz", values=counts, names=np.array(["a", "b", "c"]), tracks=np.array(["X", "Y"]))
    np.testing.assert_array_equal(read_targets(tmp_path / "v.npz").values, counts)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "k.npz", counts=np.zeros((2, 2)), celltypes=np.array(["A", "B"]))
    with pytest.raises(InputError, match="'names'"):
        read_targets(tmp_path / "k.npz")
    np.savez(tmp_path / "s.npz", counts=np.zeros((2, 2)), names=np.array(["a", "b", "c"]),
             celltypes=np.array(["A", "B"]))
    with pytest.raises(InputError, match="3 entries"):
        read_targets(tmp_path / "s.npz")
    np.savez(tmp_path / "c.npz", counts=np.zeros((2, 2)), names=np.array(["a", "b"]), celltypes=np.array(["A"]))
    with pytest.raises(InputError, match="columns"):
        read_targets(tmp_path / "c.npz")


def test_several_modalities(tmp_path):
    a = _write(tmp_path / "atac.tsv", "#n\tA\nr1\t1\n")
    b = _write(tmp_path / "rna.csv", "n,X,Y\nr1,1,2\n")
    out = read_targets([a, b])
    assert [t.modality for t in out] == ["atac", "rna"]
    assert [t.values.shape for t in out] == [(1, 1), (1, 2)]
    out = read_targets([a, b], modality=["m1", "m2"])
    assert [t.modality for t in out] == ["m1", "m2"]


@pytest.mark.parametrize("name", ["t.tsv", "t.csv", "t.tsv.gz", "t.npz"])
def test_write_read_round_trip_exact(tmp_path, name):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((50, 3)) * 10.0 ** rng.integers(-8, 8, (50, 3))).astype(np.float32)
    values[0, 0] = np.float32(np.nextafter(np.float32(1), np.float32(2)))
    values[1, 1] = np.nan
    t = Targets(values, [f"chr1:{i}-{i + 10}" for i in range(50)], ["B cell", "T", "NK"], modality="atac")
    write_targets(t, tmp_path / name)
    back = read_targets(tmp_path / name, nonfinite="keep", modality="atac")
    assert np.array_equal(back.values.view(np.int32), t.values.view(np.int32))
    assert list(back.names) == list(t.names) and list(back.tracks) == list(t.tracks)
    assert back.modality == "atac"
    if name.endswith(".tsv"):
        assert (tmp_path / name).read_text().startswith("#name\tB cell\tT\tNK\n")


def test_write_rejects_delimiter_in_name(tmp_path):
    t = Targets(np.zeros((1, 1)), ["a\tb"], ["A"])
    with pytest.raises(InputError, match="delimiter"):
        write_targets(t, tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()


def test_targets_methods():
    t = Targets(np.arange(6).reshape(3, 2), ["a", "b", "c"], ["X", "Y"], "m")
    s = t.subset(["c", "a"])
    np.testing.assert_array_equal(s.values, [[4, 5], [0, 1]])
    with pytest.raises(InputError, match="'z'"):
        t.subset(["a", "z"])
    np.testing.assert_array_equal(t.select_tracks(["Y"]).values[:, 0], [1, 3, 5])
    np.testing.assert_array_equal(t.select_tracks([1, 0]).values, t.values[:, ::-1])
    assert list(t.select_tracks("X").tracks) == ["X"]
    with pytest.raises(InputError, match="unknown track"):
        t.select_tracks(["Q"])
    frame = t.to_frame()
    assert list(frame.columns) == ["X", "Y"] and list(frame.index) == ["a", "b", "c"]
    assert frame.loc["b", "Y"] == 3
    with pytest.raises(InputError, match="duplicate"):
        Targets(np.zeros((2, 1)), ["a", "a"], ["X"])
    with pytest.raises(InputError, match="track names"):
        Targets(np.zeros((2, 2)), ["a", "b"], ["X"])


def test_align_targets_reorders_and_indexes():
    t = Targets(np.arange(8).reshape(4, 2), ["a", "b", "c", "d"], ["X", "Y"])
    res = align_targets(["d", "b", "a", "c"], t)
    assert isinstance(res, AlignedTargets)
    assert list(res.targets.names) == ["d", "b", "a", "c"]
    np.testing.assert_array_equal(res.targets.values, t.values[res.target_index])
    np.testing.assert_array_equal(res.region_index, [0, 1, 2, 3])
    np.testing.assert_array_equal(res.target_index, [3, 1, 0, 2])
    regions = pd.DataFrame({"chrom": ["c"] * 2, "start": [0, 5], "end": [5, 9], "name": ["c", "a"]})
    with pytest.warns(DRGWarning, match="'b', 'd'"):
        res = align_targets(regions, t, missing="drop")
    assert list(res.targets.names) == ["c", "a"]
    np.testing.assert_array_equal(res.targets.values, [[4, 5], [0, 1]])


def test_align_targets_missing_both_ways():
    t = Targets(np.arange(4).reshape(4, 1), ["a", "b", "c", "d"], ["X"])
    names = ["x1", "c", "a", "x2"]
    with pytest.raises(InputError) as err:
        align_targets(names, t)
    msg = str(err.value)
    assert "2 of 4 regions have no targets" in msg and "'x1', 'x2'" in msg
    assert "2 of 4 target rows match no region" in msg and "'b', 'd'" in msg
    with pytest.warns(DRGWarning, match="2 shared"):
        res = align_targets(names, t, missing="drop")
    assert list(res.targets.names) == ["c", "a"]
    np.testing.assert_array_equal(res.region_index, [1, 2])
    np.testing.assert_array_equal(res.targets.values[:, 0], [2, 0])
    with pytest.raises(InputError, match="more than once"):
        align_targets(["a", "a"], t, missing="drop")


def test_align_targets_only_extra_targets_is_reported():
    t = Targets(np.arange(3).reshape(3, 1), ["a", "b", "c"], ["X"])
    with pytest.raises(InputError, match="1 of 3 target rows"):
        align_targets(["a", "b"], t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = align_targets(["c", "b", "a"], t)  # perfect match: no warning
    np.testing.assert_array_equal(res.target_index, [2, 1, 0])


def test_align_targets_large_is_fast():
    import time

    n = 800_000
    names = np.array([f"r{i}" for i in range(n)])
    rng = np.random.default_rng(1)
    perm = rng.permutation(n)
    t = Targets(np.arange(n, dtype=np.float32)[perm, None], names[perm], ["X"])
    t0 = time.perf_counter()
    res = align_targets(names, t)
    assert time.perf_counter() - t0 < 10
    np.testing.assert_array_equal(res.targets.values[:, 0], np.arange(n, dtype=np.float32))


def test_read_real_matrix(shared):
    path = shared("matrices/gimmemotifs_hg19.blood.most_variable.1k.tsv.gz")
    t = read_targets(path)
    assert t.values.shape == (996, 6)  # the file holds 996 regions
    assert list(t.tracks) == ["Mono", "CD4", "CD8", "Nkcell", "Bcell", "Ery"]
    frame = pd.read_csv(path, sep="\t", index_col=0)
    np.testing.assert_allclose(t.values, frame.to_numpy(np.float32))
    assert list(t.names) == list(frame.index)

"""Attribution files: dense npz, chunked HDF5, top-k sparse values, bigWig export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drg.attribution.storage import (
    AttributionWriter,
    densify,
    export_bigwig,
    read_attributions,
    to_topk,
    write_attributions,
)
from drg.errors import InputError


def data(n=5, t=3, length=20, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, t, 4, length)).astype(np.float32)
    X = np.zeros((n, 4, length), dtype=np.int8)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    names = np.array([f"r{i}" for i in range(n)])
    tracks = np.array([f"cell_{j}" for j in range(t)])
    return values, X, names, tracks


def test_npz_round_trip(tmp_path):
    values, X, names, tracks = data()
    coords = pd.DataFrame({"chrom": ["chr1"] * 5, "start": np.arange(5) * 100, "end": np.arange(5) * 100 + 20})
    path = write_attributions(tmp_path / "a.npz", values, names, tracks, method="tism", gauge="hypothetical",
                              model_info={"checkpoint": "m.ckpt"}, X=X, coordinates=coords)
    a = read_attributions(path)
    np.testing.assert_array_equal(a.values, values)
    np.testing.assert_array_equal(a.names, names)
    np.testing.assert_array_equal(a.tracks, tracks)
    np.testing.assert_array_equal(a.X, X)
    np.testing.assert_array_equal(a.coordinates["start"], coords["start"].to_numpy())
    assert (a.method, a.gauge, a.model_info, a.layout, a.length) == (
        "tism", "hypothetical", {"checkpoint": "m.ckpt"}, "dense", 20)
    # DRG's plain layout (no metadata) reads too
    np.savez(tmp_path / "drg.npz", names=names, values=values, experiments=tracks)
    b = read_attributions(tmp_path / "drg.npz")
    np.testing.assert_array_equal(b.values, values)
    assert b.layout == "dense" and b.length == 20


def test_hdf5_chunked_append_round_trip(tmp_path):
    pytest.importorskip("h5py")
    values, X, names, tracks = data(n=7)
    path = tmp_path / "a.h5"
    with AttributionWriter(path, tracks, 20, method="ism", gauge="raw", model_info={"fold": 1}) as w:
        for s in (slice(0, 3), slice(3, 4), slice(4, 7)):
            w.write(values[s], names[s], X=X[s],
                    coordinates=[("chr2", 10 * i, 10 * i + 20) for i in range(s.start, s.stop)])
    a = read_attributions(path)
    np.testing.assert_array_equal(a.values, values)
    np.testing.assert_array_equal(a.names, names)
    np.testing.assert_array_equal(a.X, X)
    np.testing.assert_array_equal(a.coordinates["end"], np.arange(7) * 10 + 20)
    assert a.coordinates["chrom"].tolist() == ["chr2"] * 7
    assert (a.method, a.gauge, a.model_info) == ("ism", "raw", {"fold": 1})
    lazy = read_attributions(path, lazy=True)
    np.testing.assert_array_equal(lazy.values[2:4, 1], values[2:4, 1])
    # whole-array writer path and a failed block leaves no file
    write_attributions(tmp_path / "b.hdf5", values, names, tracks, method="m", gauge="g")
    np.testing.assert_array_equal(read_attributions(tmp_path / "b.hdf5").values, values)
    with pytest.raises(RuntimeError), AttributionWriter(tmp_path / "c.h5", tracks, 20, method="m", gauge="g") as w:
        w.write(values[:2], names[:2])
        raise RuntimeError("stop")
    assert not (tmp_path / "c.h5").exists()
    with pytest.raises(InputError), AttributionWriter(tmp_path / "d.h5", tracks, 20, method="m", gauge="g") as w:
        w.write(values[:2, :2], names[:2])


def test_topk_exact_at_kept_positions():
    values, X, _names, _tracks = data(n=4, t=2, length=30, seed=1)
    for by in ("max_abs_ref", "max_abs", "sum_abs"):
        top = to_topk(values, 7, by=by, X=X)
        assert top.shape == (4, 2, 5, 7)
        dense = densify(top, 30)
        pos = top[:, :, 4].astype(int)
        for n in range(4):
            for t in range(2):
                assert np.all(np.diff(pos[n, t]) > 0)
                np.testing.assert_array_equal(dense[n, t][:, pos[n, t]], values[n, t][:, pos[n, t]])
                dropped = np.setdiff1d(np.arange(30), pos[n, t])
                assert np.all(dense[n, t][:, dropped] == 0)
    # the kept positions are the k best by the score (brute force)
    top = to_topk(values, 5, by="max_abs_ref", X=X)
    score = np.abs((values * X[:, None]).sum(2))
    for n in range(4):
        for t in range(2):
            best = np.sort(np.argsort(-score[n, t], kind="stable")[:5])
            np.testing.assert_array_equal(top[n, t, 4].astype(int), best)
    np.testing.assert_array_equal(densify(to_topk(values, 30, by="max_abs"), 30), values)


def test_topk_file_round_trip_and_errors(tmp_path):
    values, _X, names, tracks = data()
    top = to_topk(values, 4, by="max_abs")
    write_attributions(tmp_path / "t.npz", top, names, tracks, method="m", gauge="g", length=20)
    a = read_attributions(tmp_path / "t.npz")
    assert a.layout == "topk" and a.length == 20
    np.testing.assert_array_equal(a.dense(), densify(top, 20))
    with pytest.raises(InputError):
        to_topk(values, 4)  # max_abs_ref needs X
    with pytest.raises(InputError):
        to_topk(values, 21, by="max_abs")
    bad = top.copy()
    bad[0, 0, 4, 0] = 20.5
    with pytest.raises(InputError):
        densify(bad, 20)
    with pytest.raises(InputError):
        write_attributions(tmp_path / "x.npz", top, names, tracks, method="m", gauge="g")
    with pytest.raises(InputError):
        write_attributions(tmp_path / "x.npz", values, names[:3], tracks, method="m", gauge="g")


def test_bigwig_export_round_trip(tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    values, X, names, tracks = data(n=3, t=2, length=20, seed=2)
    coords = {"chrom": ["chr1", "chr1", "chr2"], "start": [100, 110, 0], "end": [120, 130, 20]}
    write_attributions(tmp_path / "a.npz", values, names, tracks, method="m", gauge="g", X=X, coordinates=coords)
    a = read_attributions(tmp_path / "a.npz")
    paths = export_bigwig(a, tmp_path / "bw", chrom_sizes={"chr1": 1000, "chr2": 500})
    assert [p.name for p in paths] == ["cell_0.bw", "cell_1.bw"]
    ref = (values * X[:, None]).sum(axis=2)
    bw = pyBigWig.open(str(paths[1]))
    np.testing.assert_allclose(bw.values("chr1", 100, 120), ref[0, 1], atol=1e-6)
    # overlap: the first region keeps 110-120, the second provides 120-130
    np.testing.assert_allclose(bw.values("chr1", 120, 130), ref[1, 1, 10:], atol=1e-6)
    np.testing.assert_allclose(bw.values("chr2", 0, 20), ref[2, 1], atol=1e-6)
    assert bw.chroms() == {"chr1": 1000, "chr2": 500}
    bw.close()
    with pytest.raises(InputError):
        export_bigwig(read_attributions(tmp_path / "a.npz").__class__(values, names, tracks, length=20), tmp_path)

"""Metrics against scipy/sklearn references, brute-force twins and DRG class semantics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drg.errors import DRGWarning, InputError
from drg.training.metrics import (
    _rank,
    auprc,
    auroc,
    average_outclasses,
    match_classes,
    per_region_metrics,
    per_track_metrics,
    read_classes,
    shuffled_baseline,
    split_outclasses,
    summary_metrics,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(80, 5))
    pred = target + rng.normal(scale=0.8, size=target.shape)
    return pred, target


def test_per_track_equals_scipy(data):
    pred, target = data
    table = per_track_metrics(pred, target, tracks=list("ABCDE"))
    assert list(table.index) == list("ABCDE") and list(table.columns) == ["pearson", "spearman", "mse", "r2"]
    for j, name in enumerate("ABCDE"):
        p, t = pred[:, j], target[:, j]
        assert table.loc[name, "pearson"] == pytest.approx(stats.pearsonr(p, t)[0], abs=1e-12)
        assert table.loc[name, "spearman"] == pytest.approx(stats.spearmanr(p, t)[0], abs=1e-12)
        assert table.loc[name, "mse"] == pytest.approx(np.mean((p - t) ** 2))
        r2 = 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)
        assert table.loc[name, "r2"] == pytest.approx(r2)


def test_per_region_is_per_track_of_transpose(data):
    pred, target = data
    names = [f"r{i}" for i in range(80)]
    regions = per_region_metrics(pred, target, names)
    twin = per_track_metrics(pred.T, target.T, names)
    np.testing.assert_allclose(regions.to_numpy(), twin.to_numpy())
    assert regions.loc["r3", "pearson"] == pytest.approx(stats.pearsonr(pred[3], target[3])[0])


def test_ranks_equal_scipy_with_ties():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 6, size=(200, 7)).astype(float)
    np.testing.assert_array_equal(_rank(a), stats.rankdata(a, axis=0))
    b = rng.normal(size=(50, 3))
    np.testing.assert_array_equal(_rank(b), stats.rankdata(b, axis=0))


def test_auroc_auprc_equal_sklearn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y = (rng.random((300, 4)) < 0.25).astype(float)
    score = np.round(rng.normal(size=y.shape) + y, 1)  # rounding creates many tied scores
    for j in range(4):
        assert auroc(score, y)[j] == pytest.approx(metrics.roc_auc_score(y[:, j], score[:, j]))
        assert auprc(score, y)[j] == pytest.approx(metrics.average_precision_score(y[:, j], score[:, j]))


def test_auroc_auprc_hand_computed():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.4, 0.1])
    # pairs (pos, neg): (.9,.8)+ (.9,.1)+ (.4,.8)- (.4,.1)+ -> 3/4
    assert auroc(s, y)[0] == pytest.approx(0.75)
    # precision at the two positives: 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert auprc(s, y)[0] == pytest.approx((1 + 2 / 3) / 2)


def test_classification_table_and_validation():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]], dtype=float)
    s = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.3], [0.1, 0.4]])
    with pytest.warns(DRGWarning, match="only one class"):
        table = per_track_metrics(s, y, task="classification")
    assert table["auroc"].iloc[0] == pytest.approx(0.75) and np.isnan(table["auroc"].iloc[1])
    assert table["positives"].iloc[0] == pytest.approx(0.5)
    with pytest.raises(InputError, match="0 or 1"):
        per_track_metrics(s, y + 0.5, task="classification")


def test_constant_track_is_nan_with_warning_not_crash(data):
    pred, target = data
    target = target.copy()
    target[:, 2] = 3.0
    with pytest.warns(DRGWarning, match="1 of 5 tracks have constant targets.*'track_2'"):
        table = per_track_metrics(pred, target)
    assert np.isnan(table.loc["track_2", ["pearson", "spearman", "r2"]].to_numpy(float)).all()
    assert np.isfinite(table.loc["track_2", "mse"])
    assert np.isfinite(table.drop(index="track_2").to_numpy()).all()


def test_bad_input_raises_input_error(data):
    pred, target = data
    with pytest.raises(InputError, match="shape"):
        per_track_metrics(pred, target[:, :3])
    bad = pred.copy()
    bad[4, 1] = np.nan
    with pytest.raises(InputError, match="row 5, column 2"):
        per_track_metrics(bad, target)


def test_summary_means_and_medians(data):
    pred, target = data
    s = summary_metrics(pred, target)
    per_track = per_track_metrics(pred, target)
    per_region = per_region_metrics(pred, target)
    assert s["pearson_mean"] == pytest.approx(per_track["pearson"].mean())
    assert s["pearson_median"] == pytest.approx(per_track["pearson"].median())
    assert s["region_mse_mean"] == pytest.approx(per_region["mse"].mean())
    assert s["n_regions"] == 80 and s["n_tracks"] == 5 and s["n_nan_tracks"] == 0


def test_read_and_match_classes(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# track class\nB.cell\tlymph\nT.cell lymph\n\nMono myeloid\n")
    classes = read_classes(path)
    assert classes.to_dict() == {"B.cell": "lymph", "T.cell": "lymph", "Mono": "myeloid"}
    np.testing.assert_array_equal(match_classes(path, ["Mono", "B.cell"]), ["myeloid", "lymph"])
    with pytest.raises(InputError, match="1 of 2 tracks have no class: 'NK'"):
        match_classes(classes, ["NK", "Mono"])
    (tmp_path / "bad.txt").write_text("A x\nB\n")
    with pytest.raises(InputError, match="bad.txt, line 2"):
        read_classes(tmp_path / "bad.txt")


def test_split_outclasses_brute_force(data):
    pred, target = data
    tracks = list("ABCDE")
    classes = {"A": "x", "B": "y", "C": "x", "D": "y", "E": "y"}
    result = split_outclasses(pred, target, classes, tracks)
    cols_y = [1, 3, 4]
    brute = per_region_metrics(pred[:, cols_y], target[:, cols_y])
    np.testing.assert_allclose(result.per_region["y"].to_numpy(), brute.to_numpy())
    assert result.summary.loc["y", "n_tracks"] == 3 and result.summary.loc["x", "n_tracks"] == 2
    full = per_track_metrics(pred, target, tracks)
    np.testing.assert_allclose(result.per_track.loc[list("ACBDE"), "pearson"], full.loc[list("ACBDE"), "pearson"])
    assert result.summary.loc["x", "pearson_mean"] == pytest.approx(full.loc[["A", "C"], "pearson"].mean())


def test_average_outclasses_and_mean_classes(data):
    pred, target = data
    tracks = list("ABCDE")
    means = {"A": "m1", "B": "m1", "C": "m2", "D": "m2", "E": "m3"}
    avg = average_outclasses(pred, target, means, tracks)
    np.testing.assert_array_equal(avg.classes, ["m1", "m2", "m3"])
    np.testing.assert_allclose(avg.pred[:, 0], pred[:, :2].mean(axis=1))
    np.testing.assert_allclose(avg.target[:, 2], target[:, 4])
    split = split_outclasses(pred, target, ["all"] * 5, tracks, mean_classes=means)
    twin = per_track_metrics(avg.pred, avg.target, avg.classes)
    np.testing.assert_allclose(split.per_track[["pearson", "mse"]].to_numpy(), twin[["pearson", "mse"]].to_numpy())


def test_shuffled_baseline(data):
    pred, target = data
    base = shuffled_baseline(pred, target, n=3, seed=4)
    again = shuffled_baseline(pred, target, n=3, seed=4)
    pd.testing.assert_frame_equal(base.per_track, again.per_track)
    # brute force: average of the metrics of three row permutations drawn the same way
    rng = np.random.default_rng(4)
    tables = [per_track_metrics(pred, target[rng.permutation(80)]) for _ in range(3)]
    np.testing.assert_allclose(base.per_track.to_numpy(), sum(t.to_numpy() for t in tables) / 3)
    model = per_track_metrics(pred, target)
    assert (model["pearson"] > base.per_track["pearson"] + 0.3).all()
    assert abs(base.summary["pearson_mean"]) < 0.2
    tracks = shuffled_baseline(pred, target, permute="tracks", seed=1)
    assert tracks.per_track.shape == (5, 4)
    with pytest.raises(InputError):
        shuffled_baseline(pred, target, n=0)


def test_fast_on_large_matrix():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(20000, 100)).astype(np.float32)
    pred = target + rng.normal(size=target.shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = per_track_metrics(pred, target)
    assert table["pearson"].between(0.6, 0.8).all()

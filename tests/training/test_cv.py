"""Cross-validation: every fold trained, out-of-fold predictions pooled once per example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drg.data import read_folds, read_targets
from drg.training import aggregate_cv, cross_validate
from tests.training import trainkit


def test_cross_validate_all_folds_and_aggregate(tmp_path):
    data = trainkit.make_dataset(tmp_path / "data", n=90, k_folds=3)
    cfg = trainkit.run_config(data, tmp_path / "cv", stopping={"max_epochs": 1})
    result = cross_validate(cfg, verbose=False)
    sets = read_folds(data["folds"])
    assert list(result.per_fold["fold"]) == [0, 1, 2]
    oof = read_targets(tmp_path / "cv" / "oof_predictions" / "targets.npz")
    # fold f tests set f+1: together every example exactly once
    assert sorted(oof.names) == sorted(n for s in sets for n in s)
    fold1 = read_targets(tmp_path / "cv" / "fold_1" / "test_predictions" / "targets.npz")
    assert set(fold1.names) == set(sets[2])
    lookup = {n: i for i, n in enumerate(oof.names)}
    np.testing.assert_allclose(oof.values[[lookup[n] for n in fold1.names]], fold1.values)
    truth = read_targets(tmp_path / "cv" / "oof_targets" / "targets.npz")
    source = read_targets(data["targets"]).subset(truth.names)
    np.testing.assert_allclose(truth.values, source.values)
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())["cv"]
    r = np.mean([np.corrcoef(oof.values[:, j], truth.values[:, j])[0, 1] for j in range(2)])
    assert summary["test_pearson_mean"] == pytest.approx(r, abs=1e-5)
    assert (tmp_path / "cv" / "cv_metrics.tsv").exists()
    # one fold at a time (as separate processes would) then aggregation gives the same pool
    again = aggregate_cv(tmp_path / "cv")
    np.testing.assert_allclose(again.predictions[0].values, oof.values)


def test_selected_folds_and_errors(tmp_path):
    from drg.errors import InputError

    data = trainkit.make_dataset(tmp_path / "data", n=60, k_folds=3)
    cfg = trainkit.run_config(data, tmp_path / "cv", stopping={"max_epochs": 1})
    result = cross_validate(cfg, folds=[2], verbose=False)
    assert list(result.per_fold["fold"]) == [2]
    assert sorted((tmp_path / "cv").glob("fold_*")) == [tmp_path / "cv" / "fold_2"]
    with pytest.raises(InputError, match="out of range"):
        cross_validate(cfg, folds=[3], verbose=False)
    cfg["data"]["folds"] = None
    with pytest.raises(InputError, match="needs data.folds"):
        cross_validate(cfg, verbose=False)

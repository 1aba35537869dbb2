"""End-to-end evaluation on a tiny synthetic set: files, values, figures and the report page."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drg.data import Targets, write_targets
from drg.errors import DRGWarning, InputError
from drg.training.evaluation import evaluate, match_predictions

TRACKS = np.array(["<b>&", "B2", "C1", "C2"])


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    target = rng.normal(size=(n, 4)).astype(np.float32)
    pred = (target + rng.normal(scale=[0.2, 0.5, 1.0, 2.0], size=target.shape)).astype(np.float32)
    names = np.array([f"region{i}" for i in range(n)])
    tpath = write_targets(Targets(target, names, TRACKS), tmp_path / "targets.tsv")
    # predictions in another row order and another file format, tracks in another order
    order = rng.permutation(n)
    cols = [2, 0, 3, 1]
    ppath = write_targets(Targets(pred[order][:, cols], names[order], TRACKS[cols]), tmp_path / "pred.npz")
    history = tmp_path / "metrics.csv"
    pd.DataFrame({"epoch": [0, 0, 1, 1], "train_loss": [1.0, None, 0.5, None],
                  "val_loss": [None, 1.2, None, 0.8]}).to_csv(history, index=False)
    classes = tmp_path / "classes.txt"
    classes.write_text("<b>& first\nB2 first\nC1 second\nC2 second\n")
    return {"pred": pred, "target": target, "names": names, "tpath": tpath, "ppath": ppath,
            "history": history, "classes": classes, "tmp": tmp_path}


def test_evaluate_end_to_end(files):
    out = files["tmp"] / "eval"
    result = evaluate(files["ppath"], files["tpath"], out, classes=files["classes"], history=files["history"],
                      verbose=False)
    pred, target = files["pred"], files["target"]
    expected = [stats.pearsonr(pred[:, j], target[:, j])[0] for j in range(4)]
    # values: per-track Pearson in prediction track order, matched back to the right target columns
    per_track = pd.read_csv(out / "per_track.tsv", sep="\t", index_col=0)
    for j, track in enumerate(TRACKS):
        assert per_track.loc[track, "pearson"] == pytest.approx(expected[j], abs=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pearson_mean"] == pytest.approx(np.mean(expected), abs=1e-5)
    assert summary["n_regions"] == 120 and summary["n_tracks"] == 4
    assert abs(summary["baseline"]["pearson_mean"]) < 0.3
    assert set(summary["classes"]) == {"first", "second"}
    assert summary["classes"]["first"]["pearson_mean"] == pytest.approx(np.mean(expected[:2]), abs=1e-5)
    per_region = pd.read_csv(out / "per_region.tsv", sep="\t", index_col=0)
    i = list(files["names"]).index("region7")
    assert per_region.loc["region7", "pearson"] == pytest.approx(stats.pearsonr(pred[i], target[i])[0], abs=1e-5)
    for key in ("per_class", "per_class_tracks", "baseline_per_track", "scatter_figure", "loss_figure",
                "class_figure", "per_track_pearson_figure"):
        assert result.files[key].is_file(), key
    assert (out / summary["files"]["report"]).is_file()
    # the page embeds every figure as an <img> and escapes track names
    page = (out / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) == sum(1 for k in result.files if k.endswith("figure"))
    assert "&lt;b&gt;&amp;" in page and "<b>&" not in page
    assert "<script" not in page


def test_evaluate_accepts_targets_objects_and_classification(files, tmp_path):
    target = (files["target"] > 0).astype(np.float32)
    names = files["names"]
    with pytest.warns(DRGWarning, match="regions have only one class"):
        result = evaluate(Targets(files["pred"], names, TRACKS), Targets(target, names, TRACKS),
                          tmp_path / "cls", task="classification", baseline=False, verbose=False)
    assert list(result.per_track.columns) == ["auroc", "auprc", "positives"]
    assert (result.per_track["auroc"] > 0.6).all()
    assert "baseline" not in result.summary


def test_matching_reports_mismatches(files):
    pred, target, names = files["pred"], files["target"], files["names"]
    with pytest.warns(DRGWarning, match="keeping the 100 shared names"):
        m = match_predictions(Targets(pred[:100], names[:100], TRACKS), Targets(target, names, TRACKS))
    assert m.pred.shape == (100, 4)
    with pytest.warns(DRGWarning, match="by position"):
        m = match_predictions(Targets(pred, names, list("wxyz")), Targets(target, names, TRACKS))
    np.testing.assert_array_equal(m.tracks, TRACKS)
    with pytest.warns(DRGWarning, match="keeping the 2 tracks"):
        m = match_predictions(Targets(pred[:, :2], names, TRACKS[:2]), Targets(target, names, TRACKS))
    np.testing.assert_allclose(m.target, target[:, :2])
    with pytest.raises(InputError, match="share no region name"):
        match_predictions(Targets(pred, [f"x{i}" for i in range(120)], TRACKS), Targets(target, names, TRACKS))


def test_cli_command(files, tmp_path):
    import typer
    from typer.testing import CliRunner

    from drg.cli.evaluate import evaluate as command

    app = typer.Typer()
    app.command("evaluate")(command)
    app.callback()(lambda: None)
    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["evaluate", "--predictions", str(files["ppath"]), "--targets",
                                   str(files["tpath"]), "--out", str(out), "--no-baseline"])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file() and (out / "per_track.tsv").is_file()

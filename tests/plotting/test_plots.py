"""Performance plots and loss curves: figures returned, files written atomically, content checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from drg.errors import InputError
from drg.plotting import (
    plot_class_metrics,
    plot_loss_curves,
    plot_metric_distribution,
    plot_model_comparison,
    plot_scatter_density,
    plot_track_scatter,
    read_history,
)
from drg.plotting.performance import _density_colors


@pytest.fixture
def per_track():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pearson": rng.uniform(0.2, 0.9, 30), "class": ["a", "b", "c"] * 10},
                        index=[f"t{i}" for i in range(30)])


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_distribution_groups_and_files(per_track, tmp_path):
    values = per_track.copy()
    values.iloc[0, 0] = np.nan
    fig = plot_metric_distribution({"model": values, "baseline": per_track["pearson"] - 0.5}, "pearson",
                                   path=tmp_path / "d.png")
    assert isinstance(fig, Figure) and _is_png(tmp_path / "d.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0].startswith("model\nn=29 (1 NaN)") and labels[1].startswith("baseline\nn=30")
    plot_metric_distribution(per_track, path=tmp_path / "d.pdf")
    assert (tmp_path / "d.pdf").read_bytes()[:4] == b"%PDF"
    fig = plot_class_metrics(per_track)
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(InputError, match="not a column"):
        plot_metric_distribution(per_track, "spearman")
    assert not list(tmp_path.glob(".*tmp*"))


def test_density_colours_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=500), rng.normal(size=500)
    dens = _density_colors(x, y, 8)
    counts, xe, ye = np.histogram2d(x, y, bins=8)
    for i in range(0, 500, 37):
        ix = min(np.searchsorted(xe, x[i], side="right") - 1, 7)
        iy = min(np.searchsorted(ye, y[i], side="right") - 1, 7)
        assert dens[i] == counts[ix, iy]
    assert dens.sum() == (counts ** 2).sum()


def test_scatter_panels_report_correlation(tmp_path):
    rng = np.random.default_rng(2)
    target = rng.normal(size=(400, 3))
    pred = target + rng.normal(size=target.shape) * [0.1, 1.0, 3.0]
    fig = plot_track_scatter(pred, target, [0, 2], titles=["best", "worst"], path=tmp_path / "s.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    r0 = np.corrcoef(pred[:, 0], target[:, 0])[0, 1]
    assert titles[0] == f"best\nr = {r0:.3f}, n = 400"
    assert _is_png(tmp_path / "s.png")
    fig = plot_scatter_density(target[:, 1], pred[:, 1], max_points=100)
    assert "n = 400" in fig.axes[0].get_title()


def test_model_comparison_counts():
    a = pd.Series([0.5, 0.6, 0.7, 0.8, np.nan], index=list("ABCDE"))
    b = pd.DataFrame({"pearson": [0.6, 0.5, 0.7, 0.9, 0.1, 0.3]}, index=list("ABCDEF"))
    fig = plot_model_comparison(a, b, labels=("old", "new"))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["new better: 2", "old better: 1", "equal: 1"]
    with pytest.raises(InputError, match="share no track"):
        plot_model_comparison(a, pd.Series([1.0], index=["Z"]))


def test_loss_curves_from_lightning_style_csv(tmp_path):
    path = tmp_path / "metrics.csv"
    pd.DataFrame({
        "epoch": [0, 0, 1, 1, 2, 2],
        "step": [10, 10, 20, 20, 30, 30],
        "train_loss_step": [1.0, None, 0.9, None, 0.8, None],
        "train_loss_epoch": [1.0, None, 0.7, None, 0.6, None],
        "val_loss": [None, 1.5, None, 1.1, None, 1.2],
        "val_loss_atac": [None, 0.5, None, 0.4, None, 0.3],
    }).to_csv(path, index=False)
    history = read_history(path)
    assert list(history.index) == [0, 1, 2] and history.loc[1, "val_loss"] == 1.1
    fig = plot_loss_curves(path, path=tmp_path / "loss.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "loss_atac"]
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")}
    np.testing.assert_allclose(lines["val"], [1.5, 1.1, 1.2])
    np.testing.assert_allclose(lines["train"], [1.0, 0.7, 0.6])
    assert _is_png(tmp_path / "loss.png")
    with pytest.raises(InputError, match="no loss column"):
        plot_loss_curves(pd.DataFrame({"epoch": [0], "acc": [1.0]}))
    with pytest.raises(InputError, match="not found"):
        read_history(tmp_path / "missing.csv")


def test_unsupported_extension(per_track, tmp_path):
    with pytest.raises(InputError, match="unsupported figure format"):
        plot_metric_distribution(per_track, path=tmp_path / "x.bmp")

"""Performance plots: metric distributions, predicted-vs-measured density scatters, model comparisons.

Every function returns a :class:`matplotlib.figure.Figure` and, when ``path`` is given, also writes it
atomically (PNG, PDF, SVG or JPG by extension). Nothing is shown on screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import COLORS, new_figure, save_figure
from drg.utils import PathLike

GroupedValues = pd.DataFrame | pd.Series | Mapping[str, Any] | np.ndarray | Sequence[float]


def _groups(data: GroupedValues, metric: str, by: str | None) -> dict[str, np.ndarray]:
    """Normalise the accepted inputs to ``{group label: finite values}`` (NaN are dropped)."""
    def column(obj: Any) -> np.ndarray:
        if isinstance(obj, pd.DataFrame):
            if metric not in obj.columns:
                raise InputError(f"metric {metric!r} is not a column of the table "
                                 f"(columns: {', '.join(map(str, obj.columns))})")
            obj = obj[metric]
        return np.asarray(obj, dtype=np.float64).reshape(-1)

    if isinstance(data, pd.DataFrame) and by is not None:
        if by not in data.columns:
            raise InputError(f"group column {by!r} not in the table")
        groups = {str(k): column(g) for k, g in data.groupby(by, sort=True)}
    elif isinstance(data, Mapping):
        groups = {str(k): column(v) for k, v in data.items()}
    else:
        groups = {metric: column(data)}
    return groups


def plot_metric_distribution(
    data: GroupedValues,
    metric: str = "pearson",
    *,
    by: str | None = None,
    title: str | None = None,
    path: PathLike | None = None,
    seed: int = 0,
):
    """Distribution of a per-track (or per-region) metric: violin, box and the individual points.

    Parameters
    ----------
    data
        A metrics table (e.g. from :func:`drg.training.per_track_metrics`) with a ``metric`` column,
        a Series or array of values, or a mapping ``{label: table | values}`` to compare several sets
        side by side (e.g. the model and its shuffled baseline).
    metric
        Column to plot.
    by
        Column of ``data`` that groups the rows (e.g. ``"class"``), one violin per group.
    title
        Figure title.
    path
        Optional output file.
    seed
        Seed of the horizontal jitter of the points.

    Returns
    -------
    matplotlib.figure.Figure
        Each group is labelled with its number of values and mean; NaN values are left out and counted.
    """
    groups = _groups(data, metric, by)
    if not groups:
        raise InputError("nothing to plot: no groups")
    labels = list(groups)
    fig, ax = new_figure(max(4.0, 1.2 * len(labels) + 2.0), 4.0)
    rng = np.random.default_rng(seed)
    ticks = []
    for i, label in enumerate(labels):
        values = groups[label]
        finite = values[np.isfinite(values)]
        n_nan = values.size - finite.size
        pos = i + 1
        color = COLORS[i % len(COLORS)]
        if finite.size > 1 and np.ptp(finite) > 0:
            parts = ax.violinplot(finite, positions=[pos], widths=0.8, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor(color)
                body.set_alpha(0.3)
        if finite.size:
            ax.boxplot(finite, positions=[pos], widths=0.25, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": "white", "alpha": 0.8}, medianprops={"color": "black"})
            shown = finite if finite.size <= 2000 else rng.choice(finite, 2000, replace=False)
            ax.scatter(pos + rng.uniform(-0.15, 0.15, shown.size), shown, s=6, color=color, alpha=0.6,
                       linewidths=0, zorder=3, rasterized=shown.size > 500)
        mean = f"{finite.mean():.3f}" if finite.size else "nan"
        ticks.append(f"{label}\nn={finite.size}" + (f" ({n_nan} NaN)" if n_nan else "") + f"\nmean={mean}")
    ax.set_xticks(range(1, len(labels) + 1), ticks, fontsize=8)
    ax.set_xlim(0.4, len(labels) + 0.6)
    ax.set_ylabel(metric)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    save_figure(fig, path)
    return fig


def _density_colors(x: np.ndarray, y: np.ndarray, bins: int) -> np.ndarray:
    """Number of points in each point's cell of a ``bins`` x ``bins`` 2-D histogram."""
    counts, xe, ye = np.histogram2d(x, y, bins=bins)
    ix = np.clip(np.searchsorted(xe, x, side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(ye, y, side="right") - 1, 0, bins - 1)
    return counts[ix, iy]


def _scatter_panel(ax: Any, measured: np.ndarray, predicted: np.ndarray, title: str | None, bins: int,
                   max_points: int, rng: np.random.Generator) -> None:
    x = np.asarray(measured, dtype=np.float64).reshape(-1)
    y = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise InputError(f"measured ({x.size}) and predicted ({y.size}) values differ in length")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        return
    if x.size > 1 and x.std() > 0 and y.std() > 0:
        r = float(np.corrcoef(x, y)[0, 1])
        stats = f"r = {r:.3f}, n = {x.size}"
    else:
        stats = f"r = nan, n = {x.size}"
    if x.size > max_points:
        pick = rng.choice(x.size, max_points, replace=False)
        x, y = x[pick], y[pick]
    density = _density_colors(x, y, int(np.clip(np.sqrt(x.size) / 2.0, 10, bins)))
    order = np.argsort(density, kind="stable")
    sc = ax.scatter(x[order], y[order], c=density[order], s=5, cmap="viridis", linewidths=0,
                    rasterized=x.size > 1000, norm="log" if density.max() > 10 else None)
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("measured")
    ax.set_ylabel("predicted")
    ax.set_title(f"{title}\n{stats}" if title else stats, fontsize=9)
    ax.figure.colorbar(sc, ax=ax, label="points per bin", shrink=0.8)


def plot_scatter_density(
    measured: np.ndarray,
    predicted: np.ndarray,
    *,
    title: str | None = None,
    bins: int = 60,
    max_points: int = 100_000,
    seed: int = 0,
    path: PathLike | None = None,
):
    """Predicted vs measured values coloured by point density (2-D histogram counts).

    Parameters
    ----------
    measured, predicted
        (N,) values of one track (or any paired values); non-finite pairs are left out.
    title
        Panel title; Pearson r and n are added below it.
    bins
        Maximum histogram bins per axis for the density colouring (fewer for small inputs).
    max_points
        Larger inputs are subsampled (``seed``) for drawing; r and n use all points.
    path
        Optional output file.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_figure(4.8, 4.0)
    _scatter_panel(ax, measured, predicted, title, bins, max_points, np.random.default_rng(seed))
    save_figure(fig, path)
    return fig


def plot_track_scatter(
    pred: np.ndarray,
    target: np.ndarray,
    indices: Sequence[int],
    *,
    titles: Sequence[str] | None = None,
    bins: int = 60,
    max_points: int = 100_000,
    seed: int = 0,
    path: PathLike | None = None,
):
    """One density scatter panel per selected track (e.g. the best, median and worst track).

    Parameters
    ----------
    pred, target
        (N, T) predictions and measurements.
    indices
        Track columns to draw.
    titles
        One title per panel (default ``track <index>``).
    bins, max_points, seed, path
        As in :func:`plot_scatter_density`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pred = np.asarray(pred).reshape(len(pred), -1)
    target = np.asarray(target).reshape(len(target), -1)
    indices = [int(i) for i in indices]
    if not indices:
        raise InputError("no tracks selected for the scatter plot")
    if titles is None:
        titles = [f"track {i}" for i in indices]
    if len(titles) != len(indices):
        raise InputError(f"{len(titles)} titles for {len(indices)} panels")
    fig, axes = new_figure(4.6 * len(indices), 4.0, ncols=len(indices))
    axes = np.atleast_1d(axes)
    rng = np.random.default_rng(seed)
    for ax, i, title in zip(axes, indices, titles, strict=True):
        _scatter_panel(ax, target[:, i], pred[:, i], title, bins, max_points, rng)
    save_figure(fig, path)
    return fig


def plot_model_comparison(
    a: pd.Series | pd.DataFrame,
    b: pd.Series | pd.DataFrame,
    *,
    metric: str = "pearson",
    labels: tuple[str, str] = ("model A", "model B"),
    title: str | None = None,
    path: PathLike | None = None,
):
    """Per-track metric of two models against each other, with the diagonal and counts on each side.

    Parameters
    ----------
    a, b
        Per-track metrics of the two models (tables with a ``metric`` column, or Series), matched by
        track name (index); tracks present in only one, or NaN in either, are left out.
    metric
        Column to compare.
    labels
        Axis labels (x: ``a``, y: ``b``).
    title, path
        Title and optional output file.

    Returns
    -------
    matplotlib.figure.Figure
        The legend counts the tracks above (``b`` better), below (``a`` better) and on the diagonal.
    """
    sa = a[metric] if isinstance(a, pd.DataFrame) else pd.Series(a)
    sb = b[metric] if isinstance(b, pd.DataFrame) else pd.Series(b)
    both = pd.concat([sa.rename("a"), sb.rename("b")], axis=1, join="inner").dropna()
    if both.empty:
        raise InputError("the two models share no track with finite values of " + repr(metric))
    x, y = both["a"].to_numpy(float), both["b"].to_numpy(float)
    above, below = int((y > x).sum()), int((y < x).sum())
    equal = int(x.size - above - below)
    fig, ax = new_figure(4.8, 4.4)
    ax.scatter(x[y > x], y[y > x], s=12, color=COLORS[0], label=f"{labels[1]} better: {above}")
    ax.scatter(x[y < x], y[y < x], s=12, color=COLORS[1], label=f"{labels[0]} better: {below}")
    if equal:
        ax.scatter(x[y == x], y[y == x], s=12, color="grey", label=f"equal: {equal}")
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    pad = 0.02 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.8)
    ax.set_xlabel(f"{labels[0]} {metric}")
    ax.set_ylabel(f"{labels[1]} {metric}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or f"{metric} per track (n = {x.size})", fontsize=10)
    save_figure(fig, path)
    return fig


def plot_class_metrics(
    per_track: pd.DataFrame,
    metric: str = "pearson",
    *,
    class_column: str = "class",
    title: str | None = None,
    path: PathLike | None = None,
):
    """Per-track metric grouped by track class (the ``per_track`` table of ``split_outclasses``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return plot_metric_distribution(per_track, metric, by=class_column, title=title or f"{metric} by class",
                                    path=path)

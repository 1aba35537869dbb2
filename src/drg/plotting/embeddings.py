"""Scatter plots of 2-D embeddings of regions or tracks, coloured by metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import COLORS, new_figure

_MISSING = "#bbbbbb"


def is_categorical(values: Any) -> bool:
    """True when ``values`` are labels (strings, booleans, pandas categories), False when they are numbers."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series):
        return True
    return not pd.api.types.is_numeric_dtype(series)


def _palette(n: int) -> list[str]:
    if n <= len(COLORS):
        return list(COLORS[:n])
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n <= 20 else "turbo"]
    return [cmap(i / max(n - 1, 1)) if n > 20 else cmap(i) for i in range(n)]


def plot_embedding(
    coordinates: Any,
    *,
    color: Sequence[Any] | np.ndarray | pd.Series | None = None,
    color_name: str | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    axis_labels: tuple[str, str] | None = None,
    point_size: float | None = None,
    cmap: str = "viridis",
    max_labels: int = 60,
    width: float = 6.5,
    height: float = 5.0,
):
    """Scatter plot of a 2-D embedding.

    Parameters
    ----------
    coordinates
        ``(N, 2)`` positions, or an :class:`drg.design.Embedding2D` (its axis labels are then used).
    color
        ``(N,)`` metadata per point. Labels (strings, booleans, categories) get one colour each and a
        legend; numbers get a continuous colour map and a colour bar. Missing values (None, NaN, empty) are
        drawn grey (labelled ``NA`` in a legend).
    color_name
        Title of the legend or colour bar.
    labels
        ``(N,)`` text drawn beside each point (e.g. track names); only the first ``max_labels`` are drawn.
    title
        Axes title.
    axis_labels
        x and y axis titles (default from the embedding, or ``dim 1``/``dim 2``).
    point_size
        Marker area (default shrinks with N).
    cmap
        Colour map of numeric ``color``.
    max_labels
        Most point labels drawn.
    width, height
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(coordinates, "coordinates"):
        if axis_labels is None and hasattr(coordinates, "axis_labels"):
            axis_labels = coordinates.axis_labels()
        coordinates = coordinates.coordinates
    xy = np.asarray(coordinates, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InputError(f"coordinates have shape {xy.shape}; expected (N, 2)")
    N = len(xy)
    if color is not None and len(color) != N:
        raise InputError(f"{len(color)} colour values for {N} points; expected one per point")
    if labels is not None and len(labels) != N:
        raise InputError(f"{len(labels)} labels for {N} points; expected one per point")
    size = point_size if point_size is not None else float(np.clip(4000 / max(N, 1), 4, 60))
    fig, ax = new_figure(width, height)
    if color is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c=COLORS[0], linewidths=0, alpha=0.8)
    elif is_categorical(color):
        series = pd.Series(color, dtype=object)
        missing = series.isna() | (series.astype(str).str.strip() == "")
        labels_c = series[~missing].astype(str)
        categories = sorted(labels_c.unique(), key=str)
        for category, colour in zip(categories, _palette(len(categories)), strict=True):
            mask = (~missing & (series.astype(str) == category)).to_numpy()
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size, color=colour, linewidths=0, alpha=0.85,
                       label=f"{category} ({int(mask.sum())})")
        if missing.any():
            mask = missing.to_numpy()
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size, color=_MISSING, linewidths=0, alpha=0.6,
                       label=f"NA ({int(mask.sum())})")
        ax.legend(title=color_name, fontsize="small", markerscale=1.5, frameon=False,
                  loc="center left", bbox_to_anchor=(1.01, 0.5), ncols=1 if len(categories) <= 20 else 2)
    else:
        values = pd.to_numeric(pd.Series(color), errors="coerce").to_numpy(np.float64)
        finite = np.isfinite(values)
        if (~finite).any():
            ax.scatter(xy[~finite, 0], xy[~finite, 1], s=size, color=_MISSING, linewidths=0, alpha=0.6)
        points = ax.scatter(xy[finite, 0], xy[finite, 1], s=size, c=values[finite], cmap=cmap, linewidths=0,
                            alpha=0.9)
        bar = fig.colorbar(points, ax=ax)
        if color_name:
            bar.set_label(color_name)
    if labels is not None:
        for i in range(min(N, max_labels)):
            ax.annotate(str(labels[i]), xy[i], xytext=(3, 3), textcoords="offset points", fontsize=7)
    x_title, y_title = axis_labels or ("dim 1", "dim 2")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    if title:
        ax.set_title(title)
    return fig

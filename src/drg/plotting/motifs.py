"""Motif plots: logo grids, effect heatmaps, and a motif tree with logos beside an effect heatmap.

Every function returns a :class:`matplotlib.figure.Figure` (headless, never ``pyplot``) and, when ``path``
is given, also writes it atomically. Logos are drawn with :func:`drg.plotting.logos.plot_motif_logo`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import save_figure
from drg.utils import PathLike


def _motif_list(motifs: Any) -> list[Any]:
    motifs = list(motifs)
    if not motifs:
        raise InputError("no motifs to plot")
    return motifs


def _label(motif: Any, i: int) -> str:
    name = getattr(motif, "name", None)
    return str(name) if name else f"motif_{i}"


def plot_motif_logos(
    motifs: Sequence[Any],
    *,
    kind: Literal["ic", "probability", "weights"] = "ic",
    ncols: int = 4,
    titles: Sequence[str] | None = None,
    width: float = 3.0,
    height: float = 1.4,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """A grid of motif logos, row by row.

    Parameters
    ----------
    motifs
        :class:`~drg.motifs.Motif` objects or ``(L, 4)`` matrices.
    kind
        Letter heights (see :func:`drg.plotting.logos.plot_motif_logo`).
    ncols
        Logos per row.
    titles
        One title per motif (default: motif names).
    width, height
        Size of one logo panel in inches.
    path, dpi
        Optional output file and its resolution.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per motif (unused grid cells are removed), in input order.
    """
    from drg.plotting._style import new_figure
    from drg.plotting.logos import plot_motif_logo

    motifs = _motif_list(motifs)
    if titles is not None and len(titles) != len(motifs):
        raise InputError(f"{len(titles)} titles for {len(motifs)} motifs")
    ncols = max(1, min(int(ncols), len(motifs)))
    nrows = -(-len(motifs) // ncols)
    fig, axes = new_figure(width * ncols, height * nrows, nrows=nrows, ncols=ncols)
    axes = np.atleast_1d(axes).reshape(-1)
    for i, motif in enumerate(motifs):
        title = titles[i] if titles is not None else _label(motif, i)
        plot_motif_logo(motif, kind=kind, ax=axes[i], title=title)
    for ax in axes[len(motifs):]:
        ax.remove()
    save_figure(fig, path, dpi=dpi)
    return fig


def _effect_frame(effects: Any, n: int | None, track_names: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(effects, pd.DataFrame):
        frame = effects.astype(np.float64)
    else:
        values = np.asarray(effects, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise InputError(f"effects must be a (motifs, tracks) matrix, got shape {values.shape}")
        frame = pd.DataFrame(values)
    if track_names is not None:
        if len(track_names) != frame.shape[1]:
            raise InputError(f"{len(track_names)} track names for {frame.shape[1]} effect columns")
        frame.columns = [str(t) for t in track_names]
    if n is not None and frame.shape[0] != n:
        raise InputError(f"effects have {frame.shape[0]} rows but there are {n} motifs")
    return frame


def _heatmap(ax: Any, values: np.ndarray, cmap: str, vmax: float | None) -> Any:
    finite = np.abs(values[np.isfinite(values)])
    limit = vmax if vmax is not None else (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    return ax.imshow(values, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, origin="lower",
                     interpolation="nearest")


def plot_effect_heatmap(
    effects: Any,
    *,
    row_names: Sequence[str] | None = None,
    track_names: Sequence[str] | None = None,
    cluster_rows: bool = False,
    cmap: str = "RdBu_r",
    vmax: float | None = None,
    label: str = "effect",
    title: str | None = None,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Heatmap of a motif (or kernel) x track effect matrix, diverging colours centred at 0.

    Parameters
    ----------
    effects
        (M, T) values or a DataFrame (its index and columns label the rows and tracks).
    row_names, track_names
        Labels (default: the DataFrame's index and columns, else numbers).
    cluster_rows
        Order rows by average-linkage clustering of their effect vectors (Euclidean).
    cmap, vmax
        Colour map and the symmetric limit (default: the largest absolute value).
    label, title
        Colour bar label and figure title.
    path, dpi
        Optional output file and its resolution.

    Returns
    -------
    matplotlib.figure.Figure
        First row of the matrix at the top (after clustering, the dendrogram order).
    """
    from drg.plotting._style import new_figure

    frame = _effect_frame(effects, None, track_names)
    if row_names is not None:
        if len(row_names) != frame.shape[0]:
            raise InputError(f"{len(row_names)} row names for {frame.shape[0]} rows")
        frame.index = [str(r) for r in row_names]
    order = np.arange(frame.shape[0])
    if cluster_rows and frame.shape[0] > 2:
        from scipy.cluster.hierarchy import leaves_list, linkage

        order = leaves_list(linkage(np.nan_to_num(frame.to_numpy()), "average"))
    frame = frame.iloc[order]
    M, T = frame.shape
    fig, ax = new_figure(min(2.0 + 0.35 * T, 24.0), min(1.5 + 0.18 * M, 40.0))
    image = _heatmap(ax, frame.to_numpy()[::-1], cmap, vmax)
    ax.set_yticks(range(M), [str(r) for r in frame.index[::-1]], fontsize=6 if M > 40 else 8)
    ax.set_xticks(range(T), [str(c) for c in frame.columns], rotation=90, fontsize=7)
    fig.colorbar(image, ax=ax, label=label, shrink=0.6)
    if title:
        ax.set_title(title)
    save_figure(fig, path, dpi=dpi)
    return fig


def motif_distances(motifs: Sequence[Any]) -> np.ndarray:
    """(M, M) symmetric motif distances ``max(p_ij, p_ji)`` of Tomtom p-values (Pearson, both strands).

    Identical motifs are at distance ~0, unrelated motifs near 1; the diagonal is 0.
    """
    from drg.motifs.comparison import tomtom_matrices

    p = tomtom_matrices(list(motifs), list(motifs)).p_value
    dist = np.maximum(p, p.T)
    np.fill_diagonal(dist, 0.0)
    return dist


def plot_motif_tree(
    motifs: Sequence[Any],
    effects: Any = None,
    *,
    distances: np.ndarray | None = None,
    linkage: Literal["average", "complete", "single"] = "average",
    kind: Literal["ic", "probability", "weights"] = "ic",
    track_names: Sequence[str] | None = None,
    cmap: str = "RdBu_r",
    vmax: float | None = None,
    label: str = "effect",
    title: str | None = None,
    row_height: float = 0.55,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Motif tree: a dendrogram of motif similarities, a logo beside each leaf, and an effect heatmap.

    Parameters
    ----------
    motifs
        M :class:`~drg.motifs.Motif` objects (at least 2 for a tree).
    effects
        Optional (M, T) motif x track effects (array or DataFrame, rows in ``motifs`` order) drawn as a
        heatmap beside the logos with a diverging colour map centred at 0.
    distances
        (M, M) symmetric distances; default :func:`motif_distances` (Tomtom p-values).
    linkage
        Scipy linkage method for the dendrogram.
    kind
        Logo letter heights (see :func:`drg.plotting.logos.plot_motif_logo`).
    track_names
        Heatmap column labels (default: the DataFrame's columns).
    cmap, vmax, label
        Heatmap colour map, symmetric limit and colour bar label.
    title
        Figure title.
    row_height
        Height of one motif row in inches.
    path, dpi
        Optional output file and its resolution.

    Returns
    -------
    matplotlib.figure.Figure
        With attributes ``motif_order`` (motif indices from top to bottom), ``tree_ax``, ``logo_axes`` (top
        to bottom) and ``heatmap_ax`` (``None`` without effects).
    """
    from matplotlib.figure import Figure
    from scipy.cluster.hierarchy import dendrogram
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    from drg.plotting.logos import plot_motif_logo

    motifs = _motif_list(motifs)
    M = len(motifs)
    frame = None if effects is None else _effect_frame(effects, M, track_names)
    if distances is None:
        distances = motif_distances(motifs) if M > 1 else np.zeros((1, 1))
    distances = np.asarray(distances, dtype=np.float64)
    if distances.shape != (M, M):
        raise InputError(f"distances must have shape ({M}, {M}), got {distances.shape}")
    distances = np.clip((distances + distances.T) / 2, 0.0, None)
    np.fill_diagonal(distances, 0.0)
    T = 0 if frame is None else frame.shape[1]
    # explicit positions (inches) so that tree leaves, logo rows and heatmap rows share one vertical grid;
    # layout engines shrink the heatmap for its tick labels and break that alignment
    bottom, top = (1.0 if frame is not None else 0.3), (0.6 if title else 0.25)
    tree_w, label_w, logo_w, gap = 1.5, 2.2, 2.6, 0.1
    heat_w, bar_w, bar_label = (max(1.2, 0.3 * T), 0.15, 0.9) if frame is not None else (0.0, 0.0, 0.0)
    width = 0.1 + tree_w + label_w + logo_w + (gap + heat_w + gap + bar_w + bar_label if frame is not None else 0.3)
    height = bottom + row_height * M + top
    fig = Figure(figsize=(width, height))

    def axes(x: float, w: float, y: float = bottom, h: float = row_height * M) -> Any:
        return fig.add_axes((x / width, y / height, w / width, h / height))

    tree_ax = axes(0.1, tree_w)
    if M > 1:
        Z = scipy_linkage(squareform(distances, checks=False), linkage)
        tree = dendrogram(Z, orientation="left", ax=tree_ax, no_labels=True, color_threshold=0,
                          above_threshold_color="0.3")
        leaves = list(tree["leaves"])  # bottom to top, leaf k at y = 10 k + 5
    else:
        leaves = [0]
    tree_ax.set_ylim(0, 10 * M)
    tree_ax.set_axis_off()
    order = leaves[::-1]  # top to bottom
    logo_x = 0.1 + tree_w + label_w
    logo_axes = []
    for row, index in enumerate(order):
        ax = axes(logo_x, logo_w, bottom + row_height * (M - 1 - row) + 0.05 * row_height, 0.9 * row_height)
        plot_motif_logo(motifs[index], kind=kind, ax=ax, title="")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(_label(motifs[index], index), rotation=0, ha="right", va="center", fontsize=8)
        for spine in ax.spines.values():
            spine.set_visible(False)
        logo_axes.append(ax)
    heat_ax = None
    if frame is not None:
        heat_x = logo_x + logo_w + gap
        heat_ax = axes(heat_x, heat_w)
        image = _heatmap(heat_ax, frame.to_numpy()[leaves], cmap, vmax)
        heat_ax.set_ylim(-0.5, M - 0.5)
        heat_ax.set_yticks([])
        heat_ax.set_xticks(range(T), [str(c) for c in frame.columns], rotation=90, fontsize=7)
        fig.colorbar(image, cax=axes(heat_x + heat_w + gap, bar_w), label=label)
    if title:
        fig.suptitle(title)
    fig.motif_order = order
    fig.tree_ax, fig.logo_axes, fig.heatmap_ax = tree_ax, logo_axes, heat_ax
    save_figure(fig, path, dpi=dpi)
    return fig

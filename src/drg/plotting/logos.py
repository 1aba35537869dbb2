"""Sequence logos: attributions of one region across tracks, and motif logos (logomaker, headless).

Letter heights are drawn with `logomaker <https://logomaker.readthedocs.io>`_ on axes of a
:class:`matplotlib.figure.Figure` (never ``pyplot``). Bases are in the order A, C, G, T.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import save_figure
from drg.utils import PathLike

BASES = ("A", "C", "G", "T")
MotifBox = tuple[float, float, str] | tuple[float, float, str, int | str]


def _as_tracks(values: Any, what: str) -> np.ndarray:
    """``(T, 4, L)`` float64 from ``(4, L)`` or ``(T, 4, L)``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise InputError(f"{what} must have shape (4, L) or (T, 4, L); got {np.shape(values)}")
    if arr.shape[2] == 0:
        raise InputError(f"{what} has no positions")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} holds NaN or infinite values")
    return arr


def _per_track(value: Any, n: int, what: str) -> list[float | None]:
    if value is None:
        return [None] * n
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.shape != (n,):
        raise InputError(f"{what} needs one value per track ({n}); got shape {np.shape(value)}")
    return [float(v) for v in arr]


def _logo_frame(values: np.ndarray, positions: np.ndarray) -> pd.DataFrame:
    """logomaker's input: one row per position, columns A, C, G, T."""
    return pd.DataFrame(values.T, columns=list(BASES), index=pd.Index(positions, name="pos"))


def _draw_logo(ax: Any, frame: pd.DataFrame, **kwargs: Any) -> Any:
    import warnings

    import logomaker

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*identical low and high ylims.*")
        logo = logomaker.Logo(frame, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono", **kwargs)
    if not np.any(frame.to_numpy()):
        ax.set_ylim(-1.0, 1.0)
    logo.style_spines(visible=False)
    logo.style_spines(spines=("left", "bottom"), visible=True)
    return logo


def _track_label(names: Sequence[str] | None, t: int) -> str:
    return str(names[t]) if names is not None else ""


def plot_attribution(
    values: Any,
    *,
    X: Any = None,
    heatmap: bool | Any = False,
    track_names: Sequence[str] | None = None,
    predicted: Any = None,
    measured: Any = None,
    coordinates: tuple[str, int] | None = None,
    window: tuple[int, int] | None = None,
    motif_boxes: Sequence[MotifBox] | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    width: float | None = None,
    track_height: float = 1.3,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Attribution logos of one sequence, one row per track, optionally with a 4-base heatmap under each.

    Parameters
    ----------
    values
        ``(4, L)`` or ``(T, 4, L)`` attributions (bases A, C, G, T). Negative values are drawn upside down
        below zero.
    X
        Optional ``(4, L)`` one-hot sequence: the logos then show only the value of the observed base at each
        position (``values * X``), the heatmap still shows all four bases (observed bases marked with dots).
    heatmap
        ``True`` draws all four bases of ``values`` as a heatmap under each logo; an array of the shape of
        ``values`` (``(4, L)`` or ``(T, 4, L)``) draws that array instead (as in ``plot_attribution(grad,
        heatmap=grad)``); ``False`` draws logos only.
    track_names
        ``(T,)`` names shown above each track (left).
    predicted, measured
        ``(T,)`` values (or a scalar for one track) shown above each track (right): ``pred 1.23  meas 0.98``.
    coordinates
        ``(chrom, start)``: the x axis shows genomic positions ``start + i`` (0-based) of ``chrom``.
    window
        ``(start, end)`` half-open range of x-axis positions to show (genomic positions when ``coordinates``
        is given, else ``0..L``).
    motif_boxes
        ``(start, end, label)`` or ``(start, end, label, track)`` tuples in x-axis positions (half-open); a box
        with a track (index or name) is drawn on that track only, else on every track.
    ylabel
        Label of the logos' y axes (e.g. ``"corrected grad"``).
    title
        Figure title.
    width, track_height
        Figure width (default grows with the window length) and height of one logo row, in inches.
    path
        Optional output file (PNG, PDF, SVG, JPG), written atomically.
    dpi
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in order logo (and heatmap) per track; logo axes carry ``ax.logo`` (the ``logomaker.Logo``).
    """
    from matplotlib.transforms import blended_transform_factory

    from drg.plotting._style import new_figure

    vals = _as_tracks(values, "values")
    T, _, L = vals.shape
    if X is not None:
        onehot = np.asarray(X, dtype=np.float64)
        if onehot.shape != (4, L):
            raise InputError(f"X must be the (4, L) one-hot sequence with L={L}; got shape {onehot.shape}")
    else:
        onehot = None
    if isinstance(heatmap, (bool, np.bool_)) or heatmap is None:
        heat = vals if heatmap else None
    else:
        heat = _as_tracks(heatmap, "heatmap")
        if heat.shape[0] == 1 and T > 1:
            heat = np.repeat(heat, T, axis=0)
        if heat.shape != vals.shape:
            raise InputError(f"heatmap has shape {heat.shape[1:] if heat.shape[0] == 1 else heat.shape}; "
                             f"expected that of values {vals.shape}")
    if track_names is not None:
        track_names = [str(n) for n in track_names]
        if len(track_names) != T:
            raise InputError(f"{len(track_names)} track names for {T} tracks")
    preds, meas = _per_track(predicted, T, "predicted"), _per_track(measured, T, "measured")
    offset = 0
    chrom = None
    if coordinates is not None:
        try:
            chrom, offset = str(coordinates[0]), int(coordinates[1])
        except (TypeError, ValueError, IndexError):
            raise InputError(f"coordinates must be (chrom, start); got {coordinates!r}") from None
    positions = np.arange(L) + offset
    lo, hi = 0, L
    if window is not None:
        w0, w1 = int(window[0]), int(window[1])
        lo, hi = max(w0 - offset, 0), min(w1 - offset, L)
        if hi <= lo:
            raise InputError(f"window {window} does not overlap positions {offset}..{offset + L}")
    pos = positions[lo:hi]
    shown = vals[:, :, lo:hi] * (onehot[None, :, lo:hi] if onehot is not None else 1.0)

    boxes = []
    for box in motif_boxes or []:
        if len(box) not in (3, 4):
            raise InputError(f"motif box {box!r} must be (start, end, label) or (start, end, label, track)")
        track = box[3] if len(box) == 4 else None
        if isinstance(track, str):
            if track_names is None or track not in track_names:
                raise InputError(f"motif box track {track!r} is not among the track names {track_names}")
            track = track_names.index(track)
        elif track is not None and not -T <= int(track) < T:
            raise InputError(f"motif box track {track} out of range for {T} tracks")
        boxes.append((float(box[0]), float(box[1]), str(box[2]), None if track is None else int(track) % T))

    rows_per_track = 2 if heat is not None else 1
    n_rows = T * rows_per_track
    ratios = ([1.0, 0.45] if heat is not None else [1.0]) * T
    n_pos = hi - lo
    fig_width = width if width is not None else float(np.clip(0.11 * n_pos + 2.0, 6.0, 30.0))
    fig_height = track_height * sum(ratios) + 0.9 + (0.3 if title else 0.0)
    fig, axes = new_figure(fig_width, fig_height, nrows=n_rows, ncols=1, sharex=True,
                           gridspec_kw={"height_ratios": ratios})
    axes = np.atleast_1d(axes)
    for t in range(T):
        ax = axes[t * rows_per_track]
        ax.logo = _draw_logo(ax, _logo_frame(shown[t], pos))
        ax.axhline(0.0, color="0.5", lw=0.5, zorder=-1)
        name = _track_label(track_names, t)
        if name:
            ax.set_title(name, loc="left", fontsize=9)
        info = "  ".join(f"{label} {v:.3g}" for label, v in (("pred", preds[t]), ("meas", meas[t])) if v is not None)
        if info:
            ax.set_title(info, loc="right", fontsize=9)
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=8)
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        for b0, b1, label, track in boxes:
            if track is not None and track != t:
                continue
            if b1 <= pos[0] - 0.5 or b0 >= pos[-1] + 0.5:
                continue
            ax.axvspan(b0 - 0.5, b1 - 0.5, facecolor="#ffd54f", alpha=0.25, edgecolor="#e65100", lw=1.0,
                       zorder=-2, gid="motif_box")
            ax.text((b0 + b1) / 2 - 0.5, 0.98, label, transform=trans, ha="center", va="top", fontsize=7,
                    color="#bf360c", gid="motif_label", clip_on=True)
        if heat is not None:
            hax = axes[t * rows_per_track + 1]
            block = heat[t, :, lo:hi]
            vmax = float(np.abs(block).max()) or 1.0
            image = hax.imshow(block, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                               interpolation="nearest",
                               extent=(pos[0] - 0.5, pos[-1] + 0.5, 3.5, -0.5))
            hax.set_yticks(range(4), list(BASES), fontsize=7)
            if onehot is not None:
                cols = np.flatnonzero(onehot[:, lo:hi].sum(axis=0) > 0)
                hax.scatter(pos[cols], onehot[:, lo:hi][:, cols].argmax(axis=0), s=6, c="k", marker=".",
                            linewidths=0)
            fig.colorbar(image, ax=hax, location="right", pad=0.005, fraction=0.02, aspect=8)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    bottom = axes[-1]
    bottom.set_xlim(pos[0] - 0.5, pos[-1] + 0.5)
    bottom.ticklabel_format(axis="x", style="plain", useOffset=False)
    bottom.set_xlabel(f"{chrom} position (0-based)" if chrom is not None else "position")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=dpi)
    return fig


def _motif_matrix(motif: Any, kind: str, background: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """(matrix (L, 4), background (4,), label) for :func:`plot_motif_logo`."""
    bg = None if background is None else np.asarray(background, dtype=np.float64)
    label = ""
    if hasattr(motif, "ppm") and hasattr(motif, "pwm"):
        label = str(getattr(motif, "name", "") or getattr(motif, "id", ""))
        if bg is None:
            bg = np.asarray(motif.background, dtype=np.float64)
        if kind == "weights":
            matrix = motif.weights if getattr(motif, "weights", None) is not None else motif.pwm()
        else:
            matrix = motif.ppm
    else:
        matrix = motif
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != 4 or matrix.shape[0] == 0:
        raise InputError(f"motif matrix must have shape (L, 4) with columns A, C, G, T; got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InputError("motif matrix holds NaN or infinite values")
    bg = np.full(4, 0.25) if bg is None else bg
    if bg.shape != (4,) or np.any(bg <= 0):
        raise InputError(f"background must be 4 positive probabilities; got {bg}")
    bg = bg / bg.sum()
    if kind in ("ic", "probability"):
        if np.any(matrix < 0):
            row = int(np.flatnonzero((matrix < 0).any(axis=1))[0]) + 1
            raise InputError(f"probabilities must be non-negative (row {row}); use kind='weights' for scores")
        sums = matrix.sum(axis=1, keepdims=True)
        if np.any(sums <= 0):
            raise InputError(f"motif row {int(np.flatnonzero(sums[:, 0] <= 0)[0]) + 1} sums to 0")
        matrix = matrix / sums
    return matrix, bg, label


def motif_heights(ppm: Any, kind: Literal["ic", "probability"] = "ic", background: Any = None) -> np.ndarray:
    """Letter heights of a motif logo.

    Parameters
    ----------
    ppm
        ``(L, 4)`` position probability matrix (rows are normalised to sum 1).
    kind
        ``"ic"``: ``p_b * IC_l`` with ``IC_l = sum_b p_b log2(p_b / bg_b)`` bits; ``"probability"``: ``p_b``.
    background
        ``(4,)`` background probabilities (default uniform).

    Returns
    -------
    numpy.ndarray
        ``(L, 4)`` float64 heights.
    """
    if kind not in ("ic", "probability"):
        raise InputError(f"kind must be 'ic' or 'probability', got {kind!r}")
    p, bg, _ = _motif_matrix(ppm, kind, background)
    if kind == "probability":
        return p
    ratio = np.ones_like(p)
    np.divide(p, bg, out=ratio, where=p > 0)
    ic = (p * np.log2(ratio)).sum(axis=1, keepdims=True)
    return p * ic


def plot_motif_logo(
    motif: Any,
    *,
    kind: Literal["ic", "probability", "weights"] = "ic",
    ax: Any = None,
    background: Any = None,
    title: str | None = None,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Logo of a motif: information content, probabilities or raw weights per position.

    Parameters
    ----------
    motif
        A :class:`drg.motifs.Motif` or an ``(L, 4)`` matrix (columns A, C, G, T): probabilities for
        ``"ic"``/``"probability"``, any scores for ``"weights"``.
    kind
        ``"ic"``: letters of height ``p * IC`` in bits (IC relative to ``background``); ``"probability"``:
        letters of height ``p``; ``"weights"``: the matrix as given (a Motif's ``weights``, else its log2-odds
        ``pwm()``), negative values below zero.
    ax
        Axes to draw on; default a new figure sized to the motif length.
    background
        ``(4,)`` background for the information content (default: the Motif's background, else uniform).
    title
        Axes title (default: the Motif's name; "" for none).
    path
        Optional output file, written atomically.
    dpi
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the logo; its axes carry ``ax.logo`` (the ``logomaker.Logo``).
    """
    if kind not in ("ic", "probability", "weights"):
        raise InputError(f"kind must be 'ic', 'probability' or 'weights', got {kind!r}")
    matrix, bg, label = _motif_matrix(motif, kind, background)
    heights = matrix if kind == "weights" else motif_heights(matrix, kind, bg)
    L = heights.shape[0]
    if ax is None:
        from drg.plotting._style import new_figure

        fig, ax = new_figure(max(2.5, 0.35 * L + 1.2), 2.0)
    else:
        fig = ax.figure
    ax.logo = _draw_logo(ax, _logo_frame(heights.T, np.arange(L)))
    if kind == "ic":
        ax.set_ylim(0, float(np.log2(1.0 / bg.min())))
        ax.set_ylabel("bits")
    elif kind == "probability":
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
    else:
        ax.axhline(0.0, color="0.5", lw=0.5, zorder=-1)
        ax.set_ylabel("weight")
    ax.set_xticks(range(L), [str(i + 1) for i in range(L)], fontsize=7)
    shown = label if title is None else title
    if shown:
        ax.set_title(shown, fontsize=9)
    save_figure(fig, path, dpi=dpi)
    return fig

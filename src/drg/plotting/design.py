"""Plots of sequence design: objective and predictions along the trajectory, and attribution logos of the start
and designed sequences with the edited positions marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import COLORS, new_figure, save_figure
from drg.utils import PathLike


def _trajectory_table(trajectory: Any) -> pd.DataFrame:
    table = getattr(trajectory, "trajectory", trajectory)
    if not isinstance(table, pd.DataFrame):
        raise InputError("expected a design trajectory table or a DesignResult")
    missing = [c for c in ("sequence", "step", "objective") if c not in table.columns]
    if missing:
        raise InputError(f"the trajectory table lacks the column(s) {missing}")
    return table


def plot_design_trajectory(
    trajectory: Any,
    *,
    sequences: Sequence[int] | None = None,
    tracks: Sequence[str] | None = None,
    max_sequences: int = 10,
    title: str | None = None,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Objective and per-track predictions against the step of a design run.

    Parameters
    ----------
    trajectory
        :attr:`drg.design.DesignResult.trajectory` (or the result itself): columns ``sequence``, ``step``,
        ``objective``, ``accepted`` and ``pred:<track>``.
    sequences
        Sequence indices to draw (default: the first ``max_sequences``).
    tracks
        Track names of the ``pred:<track>`` columns to draw (default: all, at most 6).
    max_sequences
        Number of sequences drawn when ``sequences`` is None.
    title
        Figure title.
    path
        Optional output file (PNG, PDF, SVG, JPG), written atomically.
    dpi
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        The first axes shows the objective (with the best value so far dashed when the run rejected
        proposals, as annealing does); then one axes per track.
    """
    table = _trajectory_table(trajectory)
    pred_cols = [c for c in table.columns if c.startswith("pred:")]
    if tracks is None:
        chosen = pred_cols[:6]
    else:
        chosen = []
        for name in tracks:
            col = f"pred:{name}"
            if col not in pred_cols:
                raise InputError(f"track {name!r} is not in the trajectory; tracks: "
                                 f"{[c[5:] for c in pred_cols]}")
            chosen.append(col)
    ids = list(pd.unique(table["sequence"]))
    if sequences is not None:
        unknown = [s for s in sequences if s not in ids]
        if unknown:
            raise InputError(f"sequences {unknown} are not in the trajectory (0..{max(ids) if ids else -1})")
        ids = list(sequences)
    else:
        ids = ids[:max_sequences]
    # one point per step: the state after the step (several edits of one step share it)
    last = table.groupby(["sequence", "step"], sort=True).tail(1)
    rejected = "accepted" in table.columns and not bool(table["accepted"].all())
    n_axes = 1 + len(chosen)
    fig, axes = new_figure(6.5, 2.2 * n_axes + 0.4, nrows=n_axes, ncols=1, sharex=True)
    axes = np.atleast_1d(axes)
    for j, seq in enumerate(ids):
        rows = last[last["sequence"] == seq]
        color = COLORS[j % len(COLORS)]
        axes[0].plot(rows["step"], rows["objective"], color=color, lw=1.2, label=f"seq {seq}")
        if rejected:
            axes[0].plot(rows["step"], rows["objective"].cummax(), color=color, lw=1.0, ls="--")
        for ax, col in zip(axes[1:], chosen):
            ax.plot(rows["step"], rows[col], color=color, lw=1.2)
    axes[0].set_ylabel("objective")
    if rejected:
        axes[0].set_title("solid: current, dashed: best so far", loc="right", fontsize=8)
    if 1 < len(ids) <= 10:
        axes[0].legend(fontsize=7, ncols=2, frameon=False)
    for ax, col in zip(axes[1:], chosen):
        ax.set_ylabel(col[5:], fontsize=8)
        ax.set_title(f"prediction: {col[5:]}", loc="left", fontsize=9)
    axes[-1].set_xlabel("step")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=dpi)
    return fig


def plot_design_logos(
    values_start: Any,
    values_final: Any,
    X_start: Any,
    X_final: Any,
    *,
    track_names: Sequence[str] | None = None,
    predicted_start: Any = None,
    predicted_final: Any = None,
    window: tuple[int, int] | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Attribution logos of a start and a designed sequence, one row per track each, edits marked.

    Parameters
    ----------
    values_start, values_final
        ``(4, L)`` or ``(T, 4, L)`` attributions of the start and the designed sequence.
    X_start, X_final
        ``(4, L)`` one-hot start and designed sequences; the logos show the value of the observed base, and the
        positions where the sequences differ are boxed (labelled ``from>to``) on the designed rows.
    track_names
        ``(T,)`` track names.
    predicted_start, predicted_final
        ``(T,)`` predictions shown above the rows.
    window
        ``(start, end)`` half-open range of positions to show.
    ylabel, title
        Axis label of the logos and figure title.
    path
        Optional output file (PNG, PDF, SVG, JPG), written atomically.
    dpi
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        Logo axes: the start rows, then the designed rows.
    """
    from drg.plotting.logos import plot_attribution

    vs = np.asarray(values_start, dtype=np.float64)
    vf = np.asarray(values_final, dtype=np.float64)
    vs, vf = (v[None] if v.ndim == 2 else v for v in (vs, vf))
    xs, xf = np.asarray(X_start, dtype=np.float64), np.asarray(X_final, dtype=np.float64)
    if vs.ndim != 3 or vs.shape != vf.shape or vs.shape[1] != 4:
        raise InputError(f"start and final attributions must both be (T, 4, L); got {vs.shape} and {vf.shape}")
    length = vs.shape[2]
    if xs.shape != (4, length) or xf.shape != (4, length):
        raise InputError(f"X_start and X_final must be (4, {length}) one-hot; got {xs.shape} and {xf.shape}")
    n_tracks = vs.shape[0]
    names = [str(n) for n in track_names] if track_names is not None else [f"track_{t}" for t in range(n_tracks)]
    if len(names) != n_tracks:
        raise InputError(f"{len(names)} track names for {n_tracks} tracks")

    def per_track(value: Any) -> list[Any]:
        if value is None:
            return [None] * n_tracks
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if arr.shape != (n_tracks,):
            raise InputError(f"predictions must have one value per track ({n_tracks}); got shape {arr.shape}")
        return list(arr)

    preds = per_track(predicted_start) + per_track(predicted_final)
    shown = np.concatenate([vs * xs[None], vf * xf[None]])
    edited = np.flatnonzero(np.any(xs != xf, axis=0))
    bases = "ACGT"
    boxes = []
    for pos in edited:
        ref = bases[int(xs[:, pos].argmax())] if xs[:, pos].sum() > 0 else "N"
        alt = bases[int(xf[:, pos].argmax())] if xf[:, pos].sum() > 0 else "N"
        for t in range(n_tracks):
            boxes.append((int(pos), int(pos) + 1, f"{ref}>{alt}", n_tracks + t))
    row_names = [f"start: {n}" for n in names] + [f"designed: {n}" for n in names]
    predicted = None if all(p is None for p in preds) else [np.nan if p is None else p for p in preds]
    return plot_attribution(shown, track_names=row_names, predicted=predicted, window=window,
                            motif_boxes=boxes, ylabel=ylabel, title=title, path=path, dpi=dpi)

"""Figures of in-silico experiments: marginal motif effects, spacing scans and site ablations (headless)."""

from __future__ import annotations

from typing import Any

import numpy as np

from drg.errors import InputError
from drg.plotting._style import COLORS, new_figure, save_figure
from drg.utils import PathLike

__all__ = ["plot_ablation_effects", "plot_marginal_effects", "plot_spacing_scan"]


def _track_index(tracks: list[str], track: int | str | None) -> int:
    if track is None:
        return 0
    if isinstance(track, str):
        if track not in tracks:
            raise InputError(f"unknown track {track!r}; tracks are {tracks[:20]}")
        return tracks.index(track)
    if not -len(tracks) <= int(track) < len(tracks):
        raise InputError(f"track index {track} out of range for {len(tracks)} tracks")
    return int(track) % len(tracks)


def plot_marginal_effects(effects: Any, *, title: str | None = None, path: PathLike | None = None, dpi: int = 150):
    """Mean marginal effect of each motif on each track: a heatmap (several tracks) or bars with ±sd (one).

    Parameters
    ----------
    effects
        :class:`drg.design.MarginalEffects`.
    title, path, dpi
        Figure title, optional output file (atomic) and resolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    mean, sd = np.asarray(effects.mean, dtype=float), np.asarray(effects.sd, dtype=float)
    motifs, tracks = list(effects.motifs), list(effects.tracks)
    M, T = mean.shape
    if T == 1:
        fig, ax = new_figure(max(4.0, 0.5 * M + 2), 3.5)
        ax.bar(range(M), mean[:, 0], yerr=sd[:, 0], color=COLORS[0], capsize=3)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.set_xticks(range(M), motifs, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"effect on {tracks[0]}")
    else:
        fig, ax = new_figure(max(4.0, 0.35 * T + 3), max(2.5, 0.3 * M + 1.5))
        vmax = float(np.abs(mean).max()) or 1.0
        image = ax.imshow(mean, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_yticks(range(M), motifs, fontsize=8)
        ax.set_xticks(range(T), tracks, rotation=60, ha="right", fontsize=8)
        fig.colorbar(image, ax=ax, label="mean effect")
    if title:
        ax.set_title(title)
    save_figure(fig, path, dpi=dpi)
    return fig


def plot_spacing_scan(scan: Any, *, track: int | str | None = None, title: str | None = None,
                      path: PathLike | None = None, dpi: int = 150):
    """One panel per orientation pair: joint effect, the additive expectation (A + B) and the interaction
    against the spacing, for one track.

    Parameters
    ----------
    scan
        :class:`drg.design.SpacingScan`.
    track
        Track index or name (default the first).
    title, path, dpi
        Figure title (default ``A + B: track``), optional output file (atomic) and resolution.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per orientation, sharing the y axis.
    """
    t = _track_index(list(scan.tracks), track)
    O = len(scan.orientations)
    fig, axes = new_figure(3.2 * O + 0.5, 3.4, nrows=1, ncols=O, sharey=True)
    axes = np.atleast_1d(axes)
    x = np.asarray(scan.spacings)
    for o, ax in enumerate(axes):
        ax.plot(x, scan.joint[:, o, t], "-o", ms=3, color=COLORS[0], label="joint")
        ax.plot(x, scan.effect_a[:, o, t] + scan.effect_b[:, o, t], "--", color=COLORS[7], label="A + B")
        sd = scan.interaction_sd[:, o, t]
        ax.plot(x, scan.interaction[:, o, t], "-o", ms=3, color=COLORS[3], label="interaction")
        ax.fill_between(x, scan.interaction[:, o, t] - sd, scan.interaction[:, o, t] + sd, color=COLORS[3], alpha=0.15,
                        lw=0)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_title(f"orientation {scan.orientations[o]}", fontsize=9)
        ax.set_xlabel("spacing (bp)")
    axes[0].set_ylabel(f"effect on {scan.tracks[t]}")
    axes[-1].legend(fontsize=7, frameon=False)
    fig.suptitle(title or f"{scan.motif_a} + {scan.motif_b}: {scan.tracks[t]}")
    save_figure(fig, path, dpi=dpi)
    return fig


def plot_ablation_effects(effects: Any, *, by: str | None = None, track: int | str | None = None,
                          title: str | None = None, path: PathLike | None = None, dpi: int = 150):
    """Distribution of site ablation effects on one track, one box per group of sites.

    Parameters
    ----------
    effects
        :class:`drg.design.AblationEffects`.
    by
        Column of ``effects.table`` that groups the sites (default ``motif_alt_id``, ``motif_id`` or ``motif``
        when present, else all sites in one box).
    track
        Track index or name (default the first).
    title, path, dpi
        Figure title, optional output file (atomic) and resolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = _track_index(list(effects.tracks), track)
    table = effects.table
    if by is None:
        by = next((c for c in ("motif_alt_id", "motif_id", "motif") if c in table.columns), None)
    elif by not in table.columns:
        raise InputError(f"no column {by!r} in the site table (columns: {list(table.columns)})")
    values = np.asarray(effects.effect)[:, t]
    if by is None:
        groups, data = ["all sites"], [values]
    else:
        keys = table[by].astype(str).to_numpy()
        groups = list(dict.fromkeys(keys))
        data = [values[keys == g] for g in groups]
    fig, ax = new_figure(max(3.5, 0.6 * len(groups) + 2), 3.6)
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(groups) + 1), groups, rotation=60 if len(groups) > 3 else 0, ha="right"
                  if len(groups) > 3 else "center", fontsize=8)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_ylabel(f"effect on {effects.tracks[t]}\n(original − ablated)")
    if title:
        ax.set_title(title)
    save_figure(fig, path, dpi=dpi)
    return fig

"""Attribution logos of a variant: reference, alternative and their difference, stacked (headless)."""

from __future__ import annotations

from typing import Any

import numpy as np

from drg.errors import InputError
from drg.plotting._style import new_figure, save_figure
from drg.utils import PathLike

__all__ = ["align_alt", "plot_variant_attribution"]


def align_alt(values: Any, offset_ref: int, ref_len: int, offset_alt: int, alt_len: int) -> np.ndarray:
    """Map ``(4, L)`` values of an alternative window onto the columns of its reference window.

    Flank bases are matched by genomic position; the first ``min(len(REF), len(ALT))`` allele bases are
    matched in order (VCF alleles share their first, anchor base); REF bases deleted by the variant get 0;
    inserted ALT bases have no reference column and are left out. For an SNV or MNV this is the identity.

    Parameters
    ----------
    values
        ``(4, L)`` values on the alternative window (forward strand).
    offset_ref, ref_len, offset_alt, alt_len
        Window index of the first REF / ALT base and the allele lengths (see
        :class:`drg.design.variants.VariantWindows`).

    Returns
    -------
    numpy.ndarray
        ``(4, L)`` float64 values in reference-window columns.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 2 or vals.shape[0] != 4:
        raise InputError(f"values must have shape (4, L); got {vals.shape}")
    L = vals.shape[1]
    i = np.arange(L)
    shared = min(ref_len, alt_len)
    j = np.where(i < offset_ref, i - offset_ref + offset_alt,
                 np.where(i < offset_ref + shared, offset_alt + i - offset_ref,
                          np.where(i < offset_ref + ref_len, -1, i - offset_ref - ref_len + offset_alt + alt_len)))
    ok = (j >= 0) & (j < L)
    out = np.zeros_like(vals)
    out[:, ok] = vals[:, j[ok]]
    return out


def plot_variant_attribution(
    ref_values: Any,
    alt_values: Any,
    X_ref: Any,
    X_alt: Any,
    *,
    offset_ref: int,
    offset_alt: int,
    ref_len: int = 1,
    alt_len: int = 1,
    coordinates: tuple[str, int] | None = None,
    window: tuple[int, int] | None = None,
    track_name: str | None = None,
    effect: float | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    width: float | None = None,
    path: PathLike | None = None,
    dpi: int = 150,
):
    """Three stacked logos of one variant and one track: reference, alternative and alt − ref.

    The reference and alternative logos show the value of the observed base at each position (values times
    the one-hot sequence); the difference panel is ``alt − ref`` of those observed-base values after the
    alternative values are aligned to reference columns with :func:`align_alt`. The variant's REF span is
    shaded on every panel.

    Parameters
    ----------
    ref_values, alt_values
        ``(4, L)`` attributions of the reference and alternative windows (forward strand).
    X_ref, X_alt
        ``(4, L)`` one-hot windows.
    offset_ref, offset_alt, ref_len, alt_len
        Window index of the first REF / ALT base and the allele lengths.
    coordinates
        ``(chrom, start)`` of the reference window: the x axis shows 0-based genomic positions. The
        alternative logo is drawn with its ALT allele at the REF position.
    window
        ``(start, end)`` half-open range of x positions to show.
    track_name, effect
        Shown above the top panel (``effect`` as ``Δ 0.123``).
    ylabel, title, width
        Axis label, figure title and width in inches (default grows with the window).
    path, dpi
        Optional output file, written atomically, and its resolution.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in order reference, alternative, difference; each carries ``ax.logo``.
    """
    from drg.plotting.logos import _draw_logo, _logo_frame

    arrays = [np.asarray(a, dtype=np.float64) for a in (ref_values, alt_values, X_ref, X_alt)]
    L = arrays[0].shape[-1]
    for name, arr in zip(("ref_values", "alt_values", "X_ref", "X_alt"), arrays):
        if arr.shape != (4, L):
            raise InputError(f"{name} must have shape (4, {L}); got {arr.shape}")
        if not np.isfinite(arr).all():
            raise InputError(f"{name} holds NaN or infinite values")
    ref_shown = arrays[0] * arrays[2]
    alt_shown = arrays[1] * arrays[3]
    diff = align_alt(alt_shown, offset_ref, ref_len, offset_alt, alt_len) - ref_shown
    chrom, origin = (None, 0) if coordinates is None else (str(coordinates[0]), int(coordinates[1]))
    ref_pos = origin + np.arange(L)
    alt_pos = origin + offset_ref - offset_alt + np.arange(L)
    lo, hi = origin, origin + L
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        if hi <= lo or hi <= origin or lo >= origin + L:
            raise InputError(f"window {window} does not overlap positions {origin}..{origin + L}")
    n_pos = hi - lo
    fig_width = width if width is not None else float(np.clip(0.11 * n_pos + 2.0, 6.0, 30.0))
    fig, axes = new_figure(fig_width, 4.6 + (0.3 if title else 0.0), nrows=3, ncols=1, sharex=True)
    panels = ((ref_shown, ref_pos, "reference"), (alt_shown, alt_pos, "alternative"), (diff, ref_pos, "alt − ref"))
    span = (origin + offset_ref - 0.5, origin + offset_ref + max(ref_len, 1) - 0.5)
    for ax, (vals, pos, label) in zip(axes, panels):
        keep = (pos >= lo) & (pos < hi)
        ax.logo = _draw_logo(ax, _logo_frame(vals[:, keep], pos[keep]))
        ax.axhline(0.0, color="0.5", lw=0.5, zorder=-1)
        ax.axvspan(*span, facecolor="#ffd54f", alpha=0.3, zorder=-2, gid="variant")
        ax.set_title(label, loc="left", fontsize=9)
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=8)
    info = "  ".join(x for x in (track_name, None if effect is None else f"Δ {effect:.3g}") if x)
    if info:
        axes[0].set_title(info, loc="right", fontsize=9)
    axes[-1].set_xlim(lo - 0.5, hi - 0.5)
    axes[-1].ticklabel_format(axis="x", style="plain", useOffset=False)
    axes[-1].set_xlabel(f"{chrom} position (0-based)" if chrom is not None else "position")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=dpi)
    return fig

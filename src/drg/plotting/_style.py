"""Figure creation and atomic saving shared by the plotting modules.

Figures are built with :class:`matplotlib.figure.Figure` directly (never ``pyplot``): nothing is displayed,
no global figure registry fills up, and plotting works without a display or an interactive backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drg.errors import InputError
from drg.utils import PathLike, atomic_path

_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg", ".jpg": "jpg", ".jpeg": "jpg"}
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf")


def new_figure(width: float = 6.0, height: float = 4.0, *, nrows: int = 1, ncols: int = 1, **kwargs: Any):
    """A headless figure and its axes (``Figure.subplots`` arguments in ``kwargs``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def save_figure(fig, path: PathLike | None, *, dpi: int = 150) -> Path | None:
    """Write ``fig`` atomically; the format follows the extension (png, pdf, svg, jpg).

    Returns
    -------
    Path or None
        The path written (None when ``path`` is None).
    """
    if path is None:
        return None
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"unsupported figure format {path.suffix!r}; use one of {', '.join(_FORMATS)}",
                         path=path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path

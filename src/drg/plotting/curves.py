"""Training curves: loss per epoch for training and validation, overall and per output modality."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.plotting._style import COLORS, new_figure, save_figure
from drg.utils import PathLike

_SPLITS = ("train", "val", "test")


def read_history(path: PathLike) -> pd.DataFrame:
    """Read a training history table (csv or tsv, e.g. Lightning's ``metrics.csv``) into one row per epoch.

    Rows that share an epoch (loggers often write training and validation metrics on separate rows) are
    merged by taking the last non-missing value of every column.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch`` (0, 1, ... when the table has no ``epoch`` column).

    Raises
    ------
    InputError
        Missing or unreadable file, or no numeric column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("history file not found", path=path)
    sep = "," if path.name.endswith((".csv", ".csv.gz")) else "\t"
    try:
        table = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read history table: {exc}", path=path) from None
    return history_by_epoch(table, source=str(path))


def history_by_epoch(table: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """One row per epoch (see :func:`read_history`) from an in-memory history table."""
    table = table.copy()
    table.columns = [str(c).lstrip("#").strip() for c in table.columns]
    if "epoch" in table.columns:
        table = table.dropna(subset=["epoch"]).groupby("epoch", sort=True).last()
    else:
        table.index = pd.RangeIndex(len(table), name="epoch")
    numeric = table.apply(pd.to_numeric, errors="coerce")
    numeric = numeric.loc[:, numeric.notna().any()]
    if numeric.shape[1] == 0:
        raise InputError("history table has no numeric column", path=source)
    return numeric


def _split_column(column: str) -> tuple[str, str] | None:
    """``"val_loss_atac"`` / ``"atac/train_loss"`` / ``"train_loss"`` -> (split, series name) or None."""
    lower = column.lower()
    if "loss" not in lower or lower.endswith("_step"):
        return None
    for split in _SPLITS:
        for pattern in (rf"^{split}[_/.\-]", rf"[_/.\-]{split}$", rf"[_/.\-]{split}[_/.\-]"):
            if re.search(pattern, lower):
                rest = re.sub(pattern, "_", lower).strip("_/.-")
                rest = re.sub(r"(^|[_/.\-])epoch$", "", rest).strip("_/.-") or "loss"
                return split, rest
    return None


def plot_loss_curves(
    history: pd.DataFrame | PathLike,
    *,
    log_scale: bool = False,
    title: str | None = None,
    path: PathLike | None = None,
):
    """Loss per epoch: one panel per loss series (total, then each modality), train and validation lines.

    Parameters
    ----------
    history
        A table or a csv/tsv file with an ``epoch`` column and loss columns named like ``train_loss``,
        ``val_loss``, ``train_loss_<modality>``, ``val_loss_<modality>`` (also ``<modality>/val_loss``
        and ``_epoch`` suffixes). Columns mentioning ``loss`` without a split are drawn as they are.
    log_scale
        Logarithmic loss axis.
    title, path
        Figure title and optional output file.

    Returns
    -------
    matplotlib.figure.Figure
        The epoch with the lowest validation loss of each panel is marked.
    """
    table = read_history(history) if isinstance(history, str | Path) else history_by_epoch(history)
    panels: dict[str, dict[str, str]] = {}
    for column in table.columns:
        parsed = _split_column(column)
        if parsed is None:
            if "loss" in column.lower() and not column.lower().endswith("_step"):
                panels.setdefault(column, {})["value"] = column
            continue
        split, name = parsed
        panels.setdefault(name, {})[split] = column
    if not panels:
        raise InputError("history has no loss column (expected names like 'train_loss', 'val_loss')")
    names = sorted(panels, key=lambda n: (n != "loss", n))
    fig, axes = new_figure(4.2 * len(names), 3.6, ncols=len(names))
    axes = np.atleast_1d(axes)
    epochs = table.index.to_numpy(dtype=np.float64)
    for ax, name in zip(axes, names, strict=True):
        for i, (split, column) in enumerate(sorted(panels[name].items())):
            values = table[column].to_numpy(dtype=np.float64)
            ok = np.isfinite(values)
            ax.plot(epochs[ok], values[ok], marker="o", ms=3, color=COLORS[i % len(COLORS)], label=split)
            if split == "val" and ok.any():
                best = int(np.nanargmin(np.where(ok, values, np.nan)))
                ax.axvline(epochs[best], color="grey", ls=":", lw=0.8)
                ax.annotate(f"best {values[best]:.4g}", (epochs[best], values[best]), fontsize=7,
                            xytext=(3, 6), textcoords="offset points")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
    return fig

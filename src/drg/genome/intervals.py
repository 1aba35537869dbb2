"""Interval operations on a regions table (see :mod:`drg.genome.regions` for its columns).

Resize around an anchor, add strand-aware flanks, handle regions that run off a chromosome end, remove
blacklisted regions and duplicates. Every operation returns a new table (index reset when rows are dropped)
and warns with :class:`~drg.errors.DRGWarning`, saying how many and which, when it drops rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.genome.regions import (
    _first,
    _object_column,
    _require_columns,
    _warn_dropped,
    read_regions,
)
from drg.utils import PathLike

__all__ = ["drop_duplicates", "filter_blacklist", "fit_to_chromosomes", "flank", "resize"]


def _minus(regions: pd.DataFrame, strand_aware: bool) -> np.ndarray:
    if strand_aware and "strand" in regions.columns:
        return (regions["strand"].astype(str) == "-").to_numpy()
    return np.zeros(len(regions), dtype=bool)


def _with_coordinates(regions: pd.DataFrame, starts: np.ndarray, ends: np.ndarray) -> pd.DataFrame:
    out = regions.copy()
    out["start"] = starts.astype(np.int64)
    out["end"] = ends.astype(np.int64)
    if "blocks" in out.columns:
        out["blocks"] = _object_column([None] * len(out), index=out.index)
    return out


def resize(
    regions: pd.DataFrame,
    length: int,
    *,
    anchor: Literal["center", "start", "end", "summit"] = "center",
    strand_aware: bool = True,
) -> pd.DataFrame:
    """Give every region the same length, keeping an anchor point fixed.

    Parameters
    ----------
    regions
        The regions table.
    length
        New length in bp (> 0).
    anchor
        ``"center"``: new start = ``start + floor((old_length - length) / 2)``, i.e. when the length
        difference is odd the extra base goes to the right (the centre is rounded down, to the left).
        ``"start"``/``"end"``: keep the region's start/end; with ``strand_aware`` they mean the 5'/3' end,
        so for ``"-"`` strand ``"start"`` keeps ``end``. ``"summit"``: new start = ``summit - length // 2``
        (the summit base sits at index ``length // 2``); rows with summit ``-1`` use ``"center"``.
    strand_aware
        Interpret ``"start"``/``"end"`` relative to the strand.

    Returns
    -------
    pandas.DataFrame
        A copy with new ``start``/``end`` (may run off a chromosome; see :func:`fit_to_chromosomes`).
        Names, summits and other columns are kept; ``blocks`` are cleared because they no longer apply.
    """
    _require_columns(regions)
    length = int(length)
    if length <= 0:
        raise InputError(f"length must be positive, got {length}")
    starts = regions["start"].to_numpy(dtype=np.int64)
    ends = regions["end"].to_numpy(dtype=np.int64)
    minus = _minus(regions, strand_aware)
    centre = starts + (ends - starts - length) // 2
    if anchor == "center":
        new = centre
    elif anchor == "start":
        new = np.where(minus, ends - length, starts)
    elif anchor == "end":
        new = np.where(minus, starts, ends - length)
    elif anchor == "summit":
        if "summit" not in regions.columns:
            raise InputError("anchor='summit' needs a 'summit' column (read a narrowPeak file)")
        summit = regions["summit"].to_numpy(dtype=np.int64)
        new = np.where(summit >= 0, summit - length // 2, centre)
    else:
        raise InputError(f"anchor must be 'center', 'start', 'end' or 'summit', got {anchor!r}")
    return _with_coordinates(regions, new, new + length)


def flank(regions: pd.DataFrame, upstream: int = 0, downstream: int = 0, *,
          strand_aware: bool = True) -> pd.DataFrame:
    """Extend regions by ``upstream`` bp before and ``downstream`` bp after them (negative values shrink).

    With ``strand_aware``, upstream/downstream follow the strand: for ``"-"`` regions upstream is added to
    ``end`` and downstream to ``start``; ``"+"`` and ``"."`` regions use genomic orientation.

    Raises
    ------
    InputError
        When a region would become empty (naming the first one).
    """
    _require_columns(regions)
    starts = regions["start"].to_numpy(dtype=np.int64)
    ends = regions["end"].to_numpy(dtype=np.int64)
    minus = _minus(regions, strand_aware)
    new_starts = starts - np.where(minus, downstream, upstream)
    new_ends = ends + np.where(minus, upstream, downstream)
    bad = np.flatnonzero(new_ends <= new_starts)
    if bad.size:
        i = bad[0]
        raise InputError(f"flank(upstream={upstream}, downstream={downstream}) leaves "
                         f"{regions['chrom'].iat[i]}:{starts[i]}-{ends[i]} empty", record=_name(regions, i))
    return _with_coordinates(regions, new_starts, new_ends)


def _name(regions: pd.DataFrame, i: int) -> str:
    if "name" in regions.columns:
        return str(regions["name"].iat[i])
    return f"{regions['chrom'].iat[i]}:{regions['start'].iat[i]}-{regions['end'].iat[i]}"


def fit_to_chromosomes(
    regions: pd.DataFrame,
    chrom_sizes: Mapping[str, int],
    *,
    off_end: Literal["pad", "drop", "clip", "error"] = "pad",
) -> pd.DataFrame:
    """Check regions against chromosome sizes and deal with those that run off a chromosome.

    Parameters
    ----------
    regions
        The regions table.
    chrom_sizes
        ``{chrom: length}`` (e.g. :attr:`drg.genome.Genome.chrom_sizes`).
    off_end
        ``"pad"`` keeps such regions (sequence fetching fills the outside with ``N``); ``"drop"`` removes
        them with a :class:`DRGWarning`; ``"clip"`` trims them to ``[0, length)`` (regions entirely outside
        are dropped with a warning); ``"error"`` raises naming the first one.

    Returns
    -------
    pandas.DataFrame
        A copy (with a fresh RangeIndex).

    Raises
    ------
    InputError
        For a chromosome missing from ``chrom_sizes`` (always), and for ``off_end="error"``.
    """
    _require_columns(regions)
    if off_end not in ("pad", "drop", "clip", "error"):
        raise InputError(f"off_end must be 'pad', 'drop', 'clip' or 'error', got {off_end!r}")
    chroms = regions["chrom"].astype(str)
    unknown = ~chroms.isin(list(chrom_sizes)).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise InputError(f"chromosome {chroms.iat[i]!r} is not in the chromosome sizes ({_first(chrom_sizes)})",
                         record=_name(regions, i))
    sizes = chroms.map(dict(chrom_sizes)).to_numpy(dtype=np.int64)
    starts = regions["start"].to_numpy(dtype=np.int64)
    ends = regions["end"].to_numpy(dtype=np.int64)
    off = (starts < 0) | (ends > sizes)
    if off_end == "pad" or not off.any():
        return regions.reset_index(drop=True).copy()
    if off_end == "error":
        i = int(np.flatnonzero(off)[0])
        raise InputError(f"region {chroms.iat[i]}:{starts[i]}-{ends[i]} runs off {chroms.iat[i]} "
                         f"(length {sizes[i]})", record=_name(regions, i))
    if off_end == "drop":
        _warn_dropped(int(off.sum()), len(regions), "that run off their chromosome", _names_where(regions, off))
        return regions.loc[~off].reset_index(drop=True)
    new_starts = np.clip(starts, 0, sizes)
    new_ends = np.clip(ends, 0, sizes)
    empty = (new_ends <= new_starts) & (ends > starts)
    out = regions.copy()
    out["start"] = new_starts
    out["end"] = new_ends
    if "blocks" in out.columns:
        out["blocks"] = _object_column([_clip_blocks(b, s, e) for b, s, e in
                                        zip(out["blocks"].tolist(), new_starts, new_ends)], index=out.index)
    _warn_dropped(int(empty.sum()), len(regions), "that lie entirely outside their chromosome",
                  _names_where(regions, empty))
    return out.loc[~empty].reset_index(drop=True)


def _clip_blocks(blocks: Any, start: int, end: int) -> Any:
    if not isinstance(blocks, (list, tuple)):
        return blocks
    kept = [(max(int(s), start), min(int(e), end)) for s, e in blocks]
    return [(s, e) for s, e in kept if e > s] or None


def _merged(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and merge overlapping or touching intervals into disjoint ones."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    running = np.maximum.accumulate(ends)
    new_group = np.ones(len(starts), dtype=bool)
    new_group[1:] = starts[1:] > running[:-1]
    group = np.cumsum(new_group) - 1
    merged_starts = starts[new_group]
    merged_ends = np.zeros(len(merged_starts), dtype=np.int64)
    np.maximum.at(merged_ends, group, ends)
    return merged_starts, merged_ends


def _overlap_bp(starts: np.ndarray, ends: np.ndarray, bl_starts: np.ndarray, bl_ends: np.ndarray) -> np.ndarray:
    """Bases of each ``[start, end)`` covered by disjoint sorted intervals (searchsorted + cumulative lengths)."""
    cum = np.concatenate([[0], np.cumsum(bl_ends - bl_starts)])
    lo = np.searchsorted(bl_ends, starts, side="right")
    hi = np.searchsorted(bl_starts, ends, side="left")
    has = hi > lo
    total = np.zeros(len(starts), dtype=np.int64)
    if has.any():
        lo_h, hi_h = lo[has], hi[has]
        s, e = starts[has], ends[has]
        full = cum[hi_h] - cum[lo_h]
        cut_left = np.maximum(s - bl_starts[lo_h], 0)
        cut_right = np.maximum(bl_ends[hi_h - 1] - e, 0)
        total[has] = full - cut_left - cut_right
    return total


def filter_blacklist(regions: pd.DataFrame, blacklist: pd.DataFrame | PathLike, *,
                     min_overlap: int = 1) -> pd.DataFrame:
    """Remove regions that overlap a blacklist by at least ``min_overlap`` bp (warning with the count).

    Parameters
    ----------
    regions
        The regions table.
    blacklist
        A regions table or a BED file (gzip transparent), e.g. the ENCODE blacklist.
    min_overlap
        Minimum number of a region's bases covered by the (merged) blacklist intervals for it to be removed.

    Returns
    -------
    pandas.DataFrame
        The kept rows in their original order, with a fresh RangeIndex.

    Notes
    -----
    Blacklist intervals are merged and sorted per chromosome; each region's overlap is found with
    :func:`numpy.searchsorted`, so the cost is O((n + m) log m) rather than O(n m).
    """
    _require_columns(regions)
    if min_overlap < 1:
        raise InputError(f"min_overlap must be at least 1, got {min_overlap}")
    if not isinstance(blacklist, pd.DataFrame):
        blacklist = read_regions(blacklist, format="bed")
    _require_columns(blacklist)
    starts = regions["start"].to_numpy(dtype=np.int64)
    ends = regions["end"].to_numpy(dtype=np.int64)
    covered = np.zeros(len(regions), dtype=np.int64)
    bl_starts = blacklist["start"].to_numpy(dtype=np.int64)
    bl_ends = blacklist["end"].to_numpy(dtype=np.int64)
    bl_groups = pd.Series(np.arange(len(blacklist))).groupby(blacklist["chrom"].astype(str).to_numpy()).indices
    groups = pd.Series(np.arange(len(regions))).groupby(regions["chrom"].astype(str).to_numpy()).indices
    for chrom, mine in groups.items():
        on_bl = bl_groups.get(chrom)
        if on_bl is None:
            continue
        merged_starts, merged_ends = _merged(bl_starts[on_bl], bl_ends[on_bl])
        covered[mine] = _overlap_bp(starts[mine], ends[mine], merged_starts, merged_ends)
    drop = covered >= min_overlap
    _warn_dropped(int(drop.sum()), len(regions), "overlapping the blacklist", _names_where(regions, drop))
    return regions.loc[~drop].reset_index(drop=True)


def _names_where(regions: pd.DataFrame, mask: np.ndarray, k: int = 6) -> list[str]:
    """Names of the first ``k`` rows where ``mask`` is true (for warnings)."""
    rows = np.flatnonzero(mask)[:k]
    return [_name(regions, int(i)) for i in rows]


def drop_duplicates(regions: pd.DataFrame, *, by: Literal["coordinates", "name"] = "coordinates",
                    keep: Literal["first", "last"] = "first") -> pd.DataFrame:
    """Remove repeated regions, warning with the count and the first removed names.

    ``by="coordinates"`` compares ``chrom``, ``start``, ``end`` and ``strand`` (when present);
    ``by="name"`` compares ``name``. Returns the kept rows in order with a fresh RangeIndex.
    """
    _require_columns(regions)
    if by == "coordinates":
        subset = [c for c in ("chrom", "start", "end", "strand") if c in regions.columns]
    elif by == "name":
        if "name" not in regions.columns:
            raise InputError("by='name' needs a 'name' column")
        subset = ["name"]
    else:
        raise InputError(f"by must be 'coordinates' or 'name', got {by!r}")
    if keep not in ("first", "last"):
        raise InputError(f"keep must be 'first' or 'last', got {keep!r}")
    duplicated = regions.duplicated(subset=subset, keep=keep).to_numpy()
    _warn_dropped(int(duplicated.sum()), len(regions), f"with duplicate {by}", _names_where(regions, duplicated))
    return regions.loc[~duplicated].reset_index(drop=True)

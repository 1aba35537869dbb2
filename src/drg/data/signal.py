"""Signal extraction over regions: bigWig tracks, Tn5 insertions from BAM files and from fragment files.

All coordinates are 0-based half-open (BED). Every function returns either region totals as
:class:`~drg.data.targets.Targets` (N regions x T tracks) or, with ``bins``, base-pair profiles as an
``(N, T, L // bins)`` float32 array; profiles need regions of equal length ``L`` divisible by ``bins``, and
regions on the ``-`` strand have their profile reversed (read 5'->3' on that strand), so that bin 0 is always
the region's upstream end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.data.targets import Targets
from drg.errors import InputError
from drg.utils import PathLike, open_text, progress

Stat = Literal["mean", "sum", "max", "min", "coverage"]
_BAM_SKIP = 0x4 | 0x100 | 0x200 | 0x800  # unmapped, secondary, QC fail, supplementary
_DUPLICATE = 0x400


class _Regions(NamedTuple):
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    name: np.ndarray
    minus: np.ndarray


def _as_regions(regions: pd.DataFrame | PathLike) -> _Regions:
    """Validate a regions table (columns chrom, start, end, optional name, strand) or read a region file."""
    if not isinstance(regions, pd.DataFrame):
        from drg.genome import read_regions

        regions = read_regions(regions)
    missing = [c for c in ("chrom", "start", "end") if c not in regions.columns]
    if missing:
        raise InputError(f"regions table lacks column(s) {missing}; expected chrom, start, end[, name, strand]")
    if len(regions) == 0:
        raise InputError("regions table is empty")
    chrom = regions["chrom"].astype(str).to_numpy()
    try:
        start = regions["start"].to_numpy(dtype=np.int64)
        end = regions["end"].to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"region start/end must be integers: {exc}") from None
    bad = np.flatnonzero((start < 0) | (end <= start))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"{bad.size} regions have start < 0 or end <= start, first "
                         f"{chrom[i]}:{start[i]}-{end[i]} (row {i + 1})")
    if "name" in regions.columns:
        name = regions["name"].astype(str).to_numpy()
    else:
        name = np.array([f"{c}:{s}-{e}" for c, s, e in zip(chrom, start, end, strict=True)])
    minus = (regions["strand"].astype(str).to_numpy() == "-") if "strand" in regions.columns else \
        np.zeros(len(chrom), dtype=bool)
    return _Regions(chrom, start, end, name, minus)


def _profile_shape(reg: _Regions, bins: int | None) -> int | None:
    """Number of bins per region (None for totals); checks equal, divisible lengths."""
    if bins is None:
        return None
    if int(bins) < 1:
        raise InputError(f"bins must be a positive bin size in bp, got {bins}")
    lengths = reg.end - reg.start
    if (lengths != lengths[0]).any():
        i = int(np.flatnonzero(lengths != lengths[0])[0])
        raise InputError(f"profiles need regions of equal length: region {reg.name[0]!r} has {lengths[0]} bp "
                         f"but {reg.name[i]!r} has {lengths[i]} bp (resize regions first)")
    if lengths[0] % bins:
        raise InputError(f"region length {lengths[0]} is not a multiple of the bin size {bins}")
    return int(lengths[0] // bins)


def _track_setup(regions: Any, paths: Any, tracks: Sequence[str] | None, bins: int | None,
                 unknown_chrom: str) -> tuple[_Regions, int | None, list[Any], list[str], np.ndarray]:
    """Shared start of the per-file signal readers: regions, profile bins, files, track names and a zeroed
    output of shape (N, T) or (N, T, n_bins)."""
    if unknown_chrom not in ("error", "fill"):
        raise InputError(f"unknown_chrom must be 'error' or 'fill', got {unknown_chrom!r}")
    reg = _as_regions(regions)
    nbins = _profile_shape(reg, bins)
    files = _as_list(paths)
    names = _track_names(files, tracks)
    n = len(reg.chrom)
    out = np.zeros((n, len(files)) if nbins is None else (n, len(files), nbins), dtype=np.float32)
    return reg, nbins, files, names, out


def _track_names(paths: Sequence[PathLike], tracks: Sequence[str] | None) -> list[str]:
    if tracks is not None:
        if len(tracks) != len(paths):
            raise InputError(f"{len(tracks)} track names for {len(paths)} files")
        return [str(t) for t in tracks]
    names = []
    for p in paths:
        name = Path(p).name
        for ext in (".gz", ".tsv", ".bw", ".bigWig", ".bigwig", ".bam", ".bed"):
            if name.endswith(ext):
                name = name[: -len(ext)]
        names.append(name)
    return names


def _as_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    if isinstance(paths, str | Path):
        return [paths]
    return list(paths)


# ----------------------------------------------------------------------------------------------- bigWig


def _reduce(x: np.ndarray, covered: np.ndarray, stat: str) -> np.ndarray:
    """Reduce the last axis of filled values ``x`` (and the data mask ``covered``) with ``stat``."""
    if stat == "sum":
        return x.sum(axis=-1)
    if stat == "mean":
        return x.mean(axis=-1)
    if stat == "max":
        return x.max(axis=-1)
    if stat == "min":
        return x.min(axis=-1)
    return covered.mean(axis=-1)


def bigwig_signal(
    paths: PathLike | Sequence[PathLike],
    regions: pd.DataFrame | PathLike,
    *,
    stat: Stat = "mean",
    bins: int | None = None,
    missing: float = 0.0,
    unknown_chrom: Literal["error", "fill"] = "error",
    tracks: Sequence[str] | None = None,
    modality: str = "signal",
    verbose: bool = False,
) -> Targets | np.ndarray:
    """Summarise bigWig signal over regions, per region or in bins.

    Every base of a region gets the bigWig value covering it (intervals weighted by the bases they cover);
    bases without data, and bases beyond the chromosome ends, get ``missing``. The statistic is then taken
    over all bases of the region (or bin): ``sum`` is the per-base sum, ``mean`` the sum over the region
    length, ``max``/``min`` the extremes, and ``coverage`` the fraction of bases that carry data (ignores
    ``missing``). Note that pyBigWig's own ``stats(type="mean")`` averages over covered bases only; use
    ``missing=np.nan`` with ``stat="mean"`` to get NaN where data are incomplete instead.

    Parameters
    ----------
    paths
        One bigWig file or several; one track each.
    regions
        Regions table (chrom, start, end 0-based half-open, name, optional strand) or a region file.
    stat
        ``"mean"``, ``"sum"``, ``"max"``, ``"min"`` or ``"coverage"``.
    bins
        None for one value per region; a bin size in bp for profiles (``1`` = per base).
    missing
        Value for bases without data.
    unknown_chrom
        A region chromosome absent from a bigWig: ``"error"`` raises naming it, ``"fill"`` fills with
        ``missing``.
    tracks
        Track names; default the file stems.
    modality
        Modality name of the returned Targets.
    verbose
        Show a progress bar over regions.

    Returns
    -------
    Targets or numpy.ndarray
        Targets with values (N, T) float32 when ``bins`` is None; else an (N, T, L // bins) float32 array
        (regions on ``-`` reversed).
    """
    import pyBigWig

    if stat not in ("mean", "sum", "max", "min", "coverage"):
        raise InputError(f"stat must be mean, sum, max, min or coverage, got {stat!r}")
    reg, nbins, files, names, out = _track_setup(regions, paths, tracks, bins, unknown_chrom)
    n = len(reg.chrom)
    for t, path in enumerate(files):
        if not Path(path).exists():
            raise InputError("bigWig file not found", path=path)
        try:
            bw = pyBigWig.open(str(path))
        except RuntimeError:
            bw = None
        if bw is None or not bw.isBigWig():
            raise InputError("not a readable bigWig file", path=path)
        try:
            sizes = bw.chroms()
            for i in progress(range(n), total=n, description=f"{names[t]}", verbose=verbose):
                chrom, start, end = reg.chrom[i], int(reg.start[i]), int(reg.end[i])
                length = end - start
                x = np.full(length, np.nan)
                if chrom in sizes:
                    lo, hi = max(start, 0), min(end, sizes[chrom])
                    if lo < hi:
                        x[lo - start: hi - start] = bw.values(chrom, lo, hi, numpy=True)
                elif unknown_chrom == "error":
                    raise InputError(f"chromosome {chrom!r} of region {reg.name[i]!r} is not in the bigWig "
                                     f"(it has {', '.join(list(sizes)[:5])}{', ...' if len(sizes) > 5 else ''});"
                                     " use unknown_chrom='fill' to fill such regions", path=path)
                covered = ~np.isnan(x)
                x[~covered] = missing
                if nbins is None:
                    out[i, t] = _reduce(x, covered, stat)
                else:
                    value = _reduce(x.reshape(nbins, -1), covered.reshape(nbins, -1), stat)
                    out[i, t] = value[::-1] if reg.minus[i] else value
        finally:
            bw.close()
    if nbins is None:
        return Targets(out, reg.name, np.asarray(names), modality)
    return out


# ----------------------------------------------------------------------------------------------- counting


def _windows(starts: np.ndarray, ends: np.ndarray, gap: int = 10_000) -> list[tuple[int, int]]:
    """Merge [start, end) intervals closer than ``gap`` into disjoint windows, sorted."""
    order = np.argsort(starts, kind="stable")
    out: list[tuple[int, int]] = []
    cur_s, cur_e = int(starts[order[0]]), int(ends[order[0]])
    for k in order[1:]:
        s, e = int(starts[k]), int(ends[k])
        if s <= cur_e + gap:
            cur_e = max(cur_e, e)
        else:
            out.append((cur_s, cur_e))
            cur_s, cur_e = s, e
    out.append((cur_s, cur_e))
    return out


def _count_sorted(
    pos: np.ndarray,
    weights: np.ndarray | None,
    starts: np.ndarray,
    ends: np.ndarray,
    minus: np.ndarray,
    bins: int | None,
    nbins: int | None,
) -> np.ndarray:
    """Count sorted positions ``pos`` (optionally weighted) in regions, as totals (M,) or profiles (M, nbins)."""
    cum = None if weights is None else np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])

    def total(idx_hi: np.ndarray, idx_lo: np.ndarray) -> np.ndarray:
        if cum is None:
            return (idx_hi - idx_lo).astype(np.float64)
        return cum[idx_hi] - cum[idx_lo]

    if nbins is None:
        return total(np.searchsorted(pos, ends, "left"), np.searchsorted(pos, starts, "left"))
    edges = starts[:, None] + np.arange(nbins + 1, dtype=np.int64)[None, :] * int(bins)  # type: ignore[arg-type]
    idx = np.searchsorted(pos, edges.ravel(), "left").reshape(edges.shape)
    prof = total(idx[:, 1:], idx[:, :-1])
    prof[minus] = prof[minus, ::-1]
    return prof


def _open_bam(path: PathLike, build_index: bool):
    import pysam

    if not Path(path).exists():
        raise InputError("BAM file not found", path=path)
    try:
        bam = pysam.AlignmentFile(str(path), "rb")
    except (ValueError, OSError) as exc:
        raise InputError(f"not a readable BAM file: {exc}", path=path) from None
    if not bam.has_index():
        bam.close()
        if not build_index:
            raise InputError("BAM file has no index (.bai/.csi); run `samtools index` on it or pass "
                             "build_index=True to create one beside it", path=path)
        try:
            pysam.index(str(path))
        except pysam.SamtoolsError as exc:
            raise InputError(f"cannot index the BAM file (is it coordinate-sorted?): {exc}", path=path) from None
        bam = pysam.AlignmentFile(str(path), "rb")
    return bam


def _bam_positions(bam, chrom: str, windows: list[tuple[int, int]], shift: tuple[int, int], mapq: int,
                   paired: bool | str, keep_duplicates: bool) -> np.ndarray:
    """Sorted Tn5 insertion positions of filtered reads whose shifted 5' end falls in one of ``windows``."""
    pad = max(abs(shift[0]), abs(shift[1])) + 1
    skip = _BAM_SKIP | (0 if keep_duplicates else _DUPLICATE)
    plus_shift, minus_shift = int(shift[0]), int(shift[1])
    out: list[int] = []
    append = out.append
    for lo, hi in windows:
        for read in bam.fetch(chrom, max(lo - pad, 0), hi + pad):
            flag = read.flag
            if flag & skip or read.mapping_quality < mapq:
                continue
            if paired is True and (flag & 0x3) != 0x3:
                continue
            if paired == "auto" and flag & 0x1 and not flag & 0x2:
                continue
            pos = read.reference_end - 1 + minus_shift if flag & 0x10 else read.reference_start + plus_shift
            if lo <= pos < hi:
                append(pos)
    arr = np.asarray(out, dtype=np.int64)
    arr.sort()
    return arr


def bam_insertions(
    paths: PathLike | Sequence[PathLike],
    regions: pd.DataFrame | PathLike,
    *,
    shift: tuple[int, int] = (4, -5),
    mapq: int = 0,
    paired: bool | Literal["auto"] = "auto",
    keep_duplicates: bool = False,
    bins: int | None = None,
    unknown_chrom: Literal["error", "fill"] = "error",
    build_index: bool = False,
    tracks: Sequence[str] | None = None,
    modality: str = "insertions",
    verbose: bool = False,
) -> Targets | np.ndarray:
    """Count Tn5 insertion sites of reads from indexed BAM files in regions.

    Each read contributes one insertion at its 5' end, shifted by ``shift[0]`` on the ``+`` strand
    (position ``reference_start + 4`` by default) and by ``shift[1]`` on the ``-`` strand (position
    ``reference_end - 1 - 5``), the usual ATAC-seq correction; use ``shift=(0, 0)`` for unshifted read
    5' ends (ChIP-seq, CUT&Tag). For paired-end data both mates count, i.e. both fragment ends. Unmapped,
    secondary, supplementary and QC-failed reads never count; duplicates count only with ``keep_duplicates``.

    Parameters
    ----------
    paths
        One coordinate-sorted, indexed BAM file or several (one track each).
    regions
        Regions table (chrom, start, end 0-based half-open, name, optional strand) or a region file.
    shift
        (plus-strand shift, minus-strand shift) in bp applied to read 5' ends.
    mapq
        Minimum mapping quality.
    paired
        ``True``: count only properly paired reads; ``False``: ignore pairing flags; ``"auto"``: single-end
        reads count, paired reads count only when properly paired.
    keep_duplicates
        Count reads flagged as duplicates.
    bins
        None for one count per region; a bin size in bp for (N, T, L // bins) profiles (``-`` strand
        regions reversed).
    unknown_chrom
        A region chromosome absent from a BAM header: ``"error"`` raises naming it, ``"fill"`` gives 0.
    build_index
        Create a missing ``.bai`` index beside the BAM with pysam instead of raising.
    tracks
        Track names; default the file stems.
    modality
        Modality name of the returned Targets.
    verbose
        Show a progress bar over chromosomes.

    Returns
    -------
    Targets or numpy.ndarray
        Counts (N, T) float32 as Targets, or profiles (N, T, L // bins) float32.
    """
    if paired not in (True, False, "auto"):
        raise InputError(f"paired must be True, False or 'auto', got {paired!r}")
    reg, nbins, files, names, out = _track_setup(regions, paths, tracks, bins, unknown_chrom)
    chroms = pd.unique(reg.chrom)
    for t, path in enumerate(files):
        bam = _open_bam(path, build_index)
        try:
            known = set(bam.references)
            for chrom in progress(chroms, total=len(chroms), description=names[t], verbose=verbose):
                rows = np.flatnonzero(reg.chrom == chrom)
                if chrom not in known:
                    if unknown_chrom == "error":
                        raise InputError(f"chromosome {chrom!r} of region {reg.name[rows[0]]!r} is not in the "
                                         "BAM header; use unknown_chrom='fill' to give such regions 0",
                                         path=path)
                    continue
                windows = _windows(reg.start[rows], reg.end[rows])
                pos = _bam_positions(bam, chrom, windows, shift, mapq, paired, keep_duplicates)
                out[rows, t] = _count_sorted(pos, None, reg.start[rows], reg.end[rows], reg.minus[rows],
                                             bins, nbins)
        finally:
            bam.close()
    if nbins is None:
        return Targets(out, reg.name, np.asarray(names), modality)
    return out


# ----------------------------------------------------------------------------------------------- fragments


def _barcode_groups(barcodes, path: PathLike) -> tuple[dict[str, int] | None, list[str]]:
    """Barcode -> group index and the group names (None = every barcode in one group)."""
    stem = _track_names([path], None)[0]
    if barcodes is None:
        return None, [stem]
    if isinstance(barcodes, str | Path):
        with open_text(barcodes) as handle:
            rows = [line.split() for line in handle if line.strip() and not line.startswith("#")]
        if rows and all(len(r) == 1 for r in rows):
            return {r[0]: 0 for r in rows}, [stem]
        bad = next((i for i, r in enumerate(rows) if len(r) != 2), None)
        if bad is not None:
            raise InputError("expected 'barcode group' (two columns) or one barcode per line", path=barcodes,
                             line=bad + 1)
        barcodes = {r[0]: r[1] for r in rows}
    if isinstance(barcodes, pd.DataFrame):
        if barcodes.shape[1] < 2:
            raise InputError("barcode table needs two columns: barcode, group")
        barcodes = dict(zip(barcodes.iloc[:, 0].astype(str), barcodes.iloc[:, 1].astype(str), strict=True))
    if isinstance(barcodes, pd.Series):
        barcodes = barcodes.astype(str).to_dict()
    if isinstance(barcodes, Mapping):
        groups = list(pd.unique(np.asarray([str(g) for g in barcodes.values()])))
        lookup = {g: i for i, g in enumerate(groups)}
        return {str(b): lookup[str(g)] for b, g in barcodes.items()}, groups
    return {str(b): 0 for b in barcodes}, [stem]


def fragment_insertions(
    path: PathLike,
    regions: pd.DataFrame | PathLike,
    *,
    barcodes: Mapping[str, str] | Sequence[str] | pd.DataFrame | PathLike | None = None,
    shift: tuple[int, int] = (0, 0),
    use_counts: bool = False,
    bins: int | None = None,
    modality: str = "insertions",
    chunksize: int = 2_000_000,
    verbose: bool = False,
) -> Targets | np.ndarray:
    """Count Tn5 insertion sites from a 10x-style fragments file in regions.

    The file is tab-separated (optionally gzipped, ``#`` header lines skipped): chrom, start, end, barcode,
    count, with 0-based half-open fragments. Both ends are insertion sites: ``start + shift[0]`` and
    ``end - 1 + shift[1]``. Cell Ranger ATAC fragments are already Tn5-adjusted, hence no shift by default.

    Parameters
    ----------
    path
        Fragments file.
    regions
        Regions table (chrom, start, end 0-based half-open, name, optional strand) or a region file.
    barcodes
        None: all fragments, one track named after the file. A list/set of barcodes (or a one-column file):
        only those, one track. A mapping barcode -> group, a two-column DataFrame or file (barcode, group):
        one track per group in order of first appearance; fragments of other barcodes are not counted.
    shift
        Shifts of the left (``start``) and right (``end - 1``) insertion sites.
    use_counts
        Weight each fragment by its count column (PCR duplicates) instead of counting it once.
    bins
        None for one count per region; a bin size in bp for (N, T, L // bins) profiles.
    modality
        Modality name of the returned Targets.
    chunksize
        Lines parsed at a time.
    verbose
        Show progress over chunks.

    Returns
    -------
    Targets or numpy.ndarray
        Counts (N, T) float32 as Targets, or profiles (N, T, L // bins) float32.
    """
    reg = _as_regions(regions)
    nbins = _profile_shape(reg, bins)
    lookup, groups = _barcode_groups(barcodes, path)
    n_header, n_cols = _fragment_layout(path)
    need = 5 if use_counts else (4 if lookup is not None else 3)
    if n_cols < need:
        raise InputError(f"fragments file has {n_cols} columns, expected at least {need} (chrom, start, end"
                         f"{', barcode' if need > 3 else ''}{', count' if need > 4 else ''})",
                         path=path, line=n_header + 1)
    chroms = list(pd.unique(reg.chrom))
    chrom_code = {c: i for i, c in enumerate(chroms)}
    collected: list[list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = [[] for _ in chroms]
    dtype = {0: str, 1: np.int64, 2: np.int64, 3: str, 4: np.float64}
    cols = list(range(need))
    line0 = n_header
    try:
        reader = pd.read_csv(path, sep="\t", header=None, skiprows=n_header, usecols=cols,
                             dtype={k: dtype[k] for k in cols}, chunksize=chunksize, compression="infer",
                             engine="c", skip_blank_lines=False)
        for chunk in progress(reader, description="fragments", verbose=verbose):
            _collect_chunk(chunk, line0, path, chrom_code, lookup, shift, use_counts, collected)
            line0 += len(chunk)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"malformed fragments file after line {line0}: {exc}", path=path) from None
    n = len(reg.chrom)
    out = np.zeros((n, len(groups)) if nbins is None else (n, len(groups), nbins), dtype=np.float32)
    for c, chrom in enumerate(chroms):
        if not collected[c]:
            continue
        rows = np.flatnonzero(reg.chrom == chrom)
        pos = np.concatenate([p for p, _, _ in collected[c]])
        grp = np.concatenate([g for _, g, _ in collected[c]])
        wts = np.concatenate([w for _, _, w in collected[c]]) if use_counts else None  # type: ignore[misc]
        for g in range(len(groups)):
            sel = grp == g
            order = np.argsort(pos[sel], kind="stable")
            p = pos[sel][order]
            w = None if wts is None else wts[sel][order]
            out[rows, g] = _count_sorted(p, w, reg.start[rows], reg.end[rows], reg.minus[rows], bins, nbins)
    if nbins is None:
        return Targets(out, reg.name, np.asarray(groups), modality)
    return out


def _fragment_layout(path: PathLike) -> tuple[int, int]:
    """Number of leading ``#`` lines and number of columns of the first data line."""
    n_header = 0
    with open_text(path) as handle:
        for line in handle:
            if line.startswith("#"):
                n_header += 1
                continue
            return n_header, len(line.rstrip("\n\r").split("\t"))
    raise InputError("fragments file has no data lines", path=path)


def _collect_chunk(chunk: pd.DataFrame, line0: int, path: PathLike, chrom_code: dict[str, int],
                   lookup: dict[str, int] | None, shift: tuple[int, int], use_counts: bool,
                   collected: list) -> None:
    if chunk.isna().any().any():
        i = int(np.flatnonzero(chunk.isna().any(axis=1).to_numpy())[0])
        raise InputError("missing field (expected chrom, start, end, barcode, count separated by tabs)",
                         path=path, line=line0 + i + 1)
    start = chunk[1].to_numpy(np.int64)
    end = chunk[2].to_numpy(np.int64)
    bad = np.flatnonzero((start < 0) | (end <= start))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"fragment with start {start[i]} and end {end[i]}; expected 0 <= start < end",
                         path=path, line=line0 + i + 1)
    codes = chunk[0].map(chrom_code).to_numpy(dtype=np.float64, na_value=-1).astype(np.int64)
    if lookup is None:
        grp = np.zeros(len(chunk), dtype=np.int64)
    else:
        grp = chunk[3].map(lookup).to_numpy(dtype=np.float64, na_value=-1).astype(np.int64)
    keep = (codes >= 0) & (grp >= 0)
    weights = chunk[4].to_numpy(np.float64) if use_counts else None
    for c in np.unique(codes[keep]):
        sel = keep & (codes == c)
        left = start[sel] + int(shift[0])
        right = end[sel] - 1 + int(shift[1])
        g = grp[sel]
        w = None if weights is None else np.concatenate([weights[sel], weights[sel]])
        collected[c].append((np.concatenate([left, right]), np.concatenate([g, g]), w))

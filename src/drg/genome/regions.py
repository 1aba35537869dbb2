"""Genomic regions as a pandas DataFrame: reading and writing BED / narrowPeak / GTF / tables.

Interval operations on the same table (resize, flanks, blacklist, chromosome ends, duplicates) live in
:mod:`drg.genome.intervals`.

The regions table has the columns

- ``chrom`` (str), ``start``, ``end`` (int64, **0-based half-open** as in BED),
- ``name`` (str, default ``chrom:start-end``), ``strand`` (``"+"``, ``"-"`` or ``"."``),

and optionally ``score`` (float), ``summit`` (int64, absolute 0-based position, ``-1`` when unknown),
``signal_value``, ``p_value``, ``q_value`` (narrowPeak), ``blocks`` (object: list of absolute ``(start, end)``
intervals such as exons, or ``None``) and, from GTF/GFF, ``gene_id``, ``gene_name``, ``transcript_id``,
``gene_type``. GTF/GFF files are 1-based inclusive; they are converted on reading.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, open_text, write_text_atomic

__all__ = ["read_regions", "region_names", "write_regions"]

RegionFormat = Literal["bed", "narrowpeak", "gtf", "gff", "table"]
_STRANDS = {"+", "-", "."}


# --------------------------------------------------------------------------------------------------------
# shared internals
# --------------------------------------------------------------------------------------------------------
def _require_columns(regions: pd.DataFrame) -> None:
    missing = [c for c in ("chrom", "start", "end") if c not in regions.columns]
    if missing:
        raise InputError(f"regions table lacks column(s) {missing} (columns: {list(regions.columns)})")


def region_names(regions: pd.DataFrame) -> list[str]:
    """``chrom:start-end`` for every row (0-based half-open coordinates)."""
    return [f"{c}:{s}-{e}" for c, s, e in zip(regions["chrom"].astype(str), regions["start"].to_numpy(),
                                              regions["end"].to_numpy())]


def _first(names: Any, k: int = 5) -> str:
    names = [str(n) for n in list(names)[:k + 1]]
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def _warn_dropped(count: int, total: int, why: str, names: Any) -> None:
    if count:
        warnings.warn(f"dropped {count} of {total} regions {why}: {_first(names)}", DRGWarning, stacklevel=3)


def _frame(chroms: list[str], starts: Any, ends: Any, names: list[str] | None, strands: Any,
           extra: dict[str, Any] | None = None) -> pd.DataFrame:
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if names is None:
        names = [f"{c}:{s}-{e}" for c, s, e in zip(chroms, starts, ends)]
    data: dict[str, Any] = {"chrom": pd.array(chroms, dtype=str), "start": starts, "end": ends,
                            "name": pd.array([str(n) for n in names], dtype=str),
                            "strand": pd.array(list(strands), dtype=str)}
    for key, value in (extra or {}).items():
        data[key] = value
    return pd.DataFrame(data)


def _object_column(values: list[Any], index: pd.Index | None = None) -> pd.Series:
    """Object Series holding each value as-is (lists stay single cells, never broadcast)."""
    cells = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        cells[i] = value
    return pd.Series(cells, dtype=object, index=index)


def _ints(values: list[str], lines: list[int], what: str, path: PathLike) -> np.ndarray:
    """Parse integer strings; name the first bad line."""
    try:
        return np.array(values, dtype=np.int64)
    except (ValueError, OverflowError):
        for value, line in zip(values, lines):
            try:
                int(value)
            except ValueError:
                raise InputError(f"{what} {value!r} is not an integer", path=path, line=line) from None
        raise


def _floats(values: list[str], lines: list[int], what: str, path: PathLike) -> np.ndarray:
    """Parse numbers (``.`` = NaN); name the first bad line."""
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, (value, line) in enumerate(zip(values, lines)):
        if value == ".":
            out[i] = np.nan
            continue
        try:
            out[i] = float(value)
        except ValueError:
            raise InputError(f"{what} {value!r} is not a number", path=path, line=line) from None
    return out


def _check_coordinates(starts: np.ndarray, ends: np.ndarray, lines: list[int], path: PathLike) -> None:
    bad = np.flatnonzero(starts < 0)
    if bad.size:
        i = bad[0]
        raise InputError(f"start {starts[i]} is negative", path=path, line=lines[i])
    bad = np.flatnonzero(starts > ends)
    if bad.size:
        i = bad[0]
        raise InputError(f"start {starts[i]} is greater than end {ends[i]}", path=path, line=lines[i])


def _check_strands(strands: list[str], lines: list[int], path: PathLike) -> None:
    if set(strands) <= _STRANDS:
        return
    for strand, line in zip(strands, lines):
        if strand not in _STRANDS:
            raise InputError(f"strand must be '+', '-' or '.', got {strand!r}", path=path, line=line)


# --------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------
def _data_lines(path: PathLike) -> list[tuple[int, str]]:
    """Non-empty lines that are not ``#``/``track``/``browser`` lines, with 1-based line numbers.

    Reading stops at a GFF3 ``##FASTA`` section.
    """
    with open_text(path) as handle:
        text = handle.read()
    raw = text.split("\n")
    if "##FASTA" in text:
        raw = raw[:next(i for i, line in enumerate(raw) if line.startswith("##FASTA"))]
    skip = ("#", "track ", "track\t", "browser ", "browser\t")
    return [(number, line) for number, line in enumerate(raw, start=1)
            if line and not line.startswith(skip) and not line.isspace()]


def _split(line: str) -> list[str]:
    return line.rstrip().split("\t") if "\t" in line else line.split()


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _detect_format(path: PathLike, lines: list[tuple[int, str]]) -> str:
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in (".narrowpeak", ".np"):
        return "narrowpeak"
    if suffix in (".gtf", ".gff", ".gff3"):
        return "gtf"
    if suffix.startswith(".bed"):
        return "bed"
    fields = _split(lines[0][1]) if lines else []
    if len(fields) == 9 and _is_int(fields[3]) and _is_int(fields[4]) and ('"' in fields[8] or "=" in fields[8]):
        return "gtf"
    if len(fields) >= 3 and _is_int(fields[1]) and _is_int(fields[2]):
        if len(fields) == 10 and _is_int(fields[9]) and suffix not in (".bed",):
            return "narrowpeak"
        return "bed"
    return "table"


def read_regions(
    path: PathLike,
    *,
    format: RegionFormat | None = None,
    feature: Literal["gene", "transcript", "tss", "transcript_tss", "exon"] = "gene",
    summit_centered: bool = False,
    length: int | None = None,
    chrom_sizes: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Read regions from BED, narrowPeak, GTF/GFF or a simple table into the regions DataFrame.

    Parameters
    ----------
    path
        Input file (gzip transparent).
    format
        ``"bed"`` (BED3 to BED12; BED12 blocks become ``blocks``), ``"narrowpeak"`` (10 columns; column 10
        is the summit offset from start, ``-1`` for none), ``"gtf"``/``"gff"`` (1-based inclusive, converted
        to 0-based half-open), or ``"table"`` (a header line naming ``name chrom start end [strand]``, 0-based
        half-open, whitespace or comma separated). ``None`` detects it from the extension, then the content.
    feature
        For GTF/GFF: ``"gene"`` (gene rows, or spans derived from transcripts when the file has none),
        ``"transcript"`` (one row per transcript, ``blocks`` = its exons), ``"tss"`` (1 bp at the
        strand-aware start of each gene), ``"transcript_tss"`` (the same per transcript) or ``"exon"``.
    summit_centered
        Centre every region on its narrowPeak summit (peaks without a summit use their centre);
        requires ``length``.
    length
        Resize every region to this many bp (around the summit with ``summit_centered``, else around the
        centre; see :func:`resize` for rounding).
    chrom_sizes
        When given, an unknown chromosome is an error naming the line; regions running off a chromosome
        are kept (sequence fetching pads them with ``N``; see :func:`fit_to_chromosomes`).

    Returns
    -------
    pandas.DataFrame
        The regions table described in the module docstring, in file order, with a fresh RangeIndex.

    Raises
    ------
    InputError
        Naming the file and 1-based line: wrong column count, non-integer coordinate, negative start,
        start > end, bad strand, malformed GTF attributes, unknown chromosome; and an empty file.
    """
    lines = _data_lines(path)
    if not lines:
        raise InputError("no regions found (the file is empty or holds only comment lines)", path=path)
    fmt = (format or _detect_format(path, lines)).lower()
    if fmt == "bed":
        regions, line_numbers = _parse_bed(lines, path, narrowpeak=False)
    elif fmt == "narrowpeak":
        regions, line_numbers = _parse_bed(lines, path, narrowpeak=True)
    elif fmt in ("gtf", "gff", "gff3"):
        from drg.genome._gtf import parse_gtf

        regions, line_numbers = parse_gtf(lines, path, feature)
    elif fmt == "table":
        regions, line_numbers = _parse_table(lines, path)
    else:
        raise InputError(f"unknown regions format {format!r}; expected bed, narrowpeak, gtf, gff or table",
                         path=path)
    if chrom_sizes is not None:
        unknown = ~regions["chrom"].isin(list(chrom_sizes)).to_numpy()
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(f"chromosome {regions['chrom'].iat[i]!r} is not in the chromosome sizes "
                             f"({_first(chrom_sizes)})", path=path, line=line_numbers[i])
    if summit_centered and length is None:
        raise InputError("summit_centered=True needs a region length", path=path)
    if summit_centered and "summit" not in regions.columns:
        raise InputError("summit_centered=True needs summits (a narrowPeak file)", path=path)
    if length is not None:
        from drg.genome.intervals import resize

        regions = resize(regions, length, anchor="summit" if summit_centered else "center")
    return regions


def _parse_bed(lines: list[tuple[int, str]], path: PathLike, narrowpeak: bool) -> tuple[pd.DataFrame, list[int]]:
    numbers = [n for n, _ in lines]
    sep = "\t" if "\t" in lines[0][1] else None
    rows = [line.rstrip().split(sep) for _, line in lines]
    ncol = len(rows[0])
    if narrowpeak and ncol != 10:
        raise InputError(f"narrowPeak needs 10 columns, found {ncol}", path=path, line=numbers[0])
    if ncol < 3:
        raise InputError(f"BED needs at least 3 columns (chrom start end), found {ncol}", path=path,
                         line=numbers[0])
    counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(counts != ncol)
    if bad.size:
        i = bad[0]
        raise InputError(f"expected {ncol} columns like the first line, found {counts[i]}", path=path,
                         line=numbers[i])
    cols = list(zip(*rows))
    chroms = list(cols[0])
    starts = _ints(list(cols[1]), numbers, "start", path)
    ends = _ints(list(cols[2]), numbers, "end", path)
    _check_coordinates(starts, ends, numbers, path)
    names = list(cols[3]) if ncol >= 4 else None
    strands = list(cols[5]) if ncol >= 6 else ["."] * len(rows)
    _check_strands(strands, numbers, path)
    extra: dict[str, Any] = {}
    if ncol >= 5:
        extra["score"] = _floats(list(cols[4]), numbers, "score", path)
    if narrowpeak:
        extra["signal_value"] = _floats(list(cols[6]), numbers, "signalValue", path)
        extra["p_value"] = _floats(list(cols[7]), numbers, "pValue", path)
        extra["q_value"] = _floats(list(cols[8]), numbers, "qValue", path)
        offsets = _ints(list(cols[9]), numbers, "summit offset", path)
        bad = np.flatnonzero((offsets < -1) | (offsets >= np.maximum(ends - starts, 1)))
        if bad.size:
            i = bad[0]
            raise InputError(f"summit offset {offsets[i]} lies outside the peak (length {ends[i] - starts[i]}); "
                             "expected -1 or 0 <= offset < end - start", path=path, line=numbers[i])
        extra["summit"] = np.where(offsets >= 0, starts + offsets, -1).astype(np.int64)
    elif ncol >= 12:
        extra["blocks"] = _object_column(
            [_bed12_blocks(row, int(s), int(e), n, path) for row, s, e, n in zip(rows, starts, ends, numbers)])
    return _frame(chroms, starts, ends, names, strands, extra), numbers


def _bed12_blocks(row: list[str], start: int, end: int, line: int, path: PathLike) -> list[tuple[int, int]]:
    try:
        count = int(row[9])
        sizes = [int(x) for x in row[10].strip(",").split(",") if x != ""]
        offsets = [int(x) for x in row[11].strip(",").split(",") if x != ""]
    except ValueError:
        raise InputError("blockCount/blockSizes/blockStarts must be integers (comma-separated lists)",
                         path=path, line=line) from None
    if count != len(sizes) or count != len(offsets) or count < 1:
        raise InputError(f"blockCount {count} does not match {len(sizes)} blockSizes and {len(offsets)} "
                         "blockStarts", path=path, line=line)
    blocks = sorted((start + o, start + o + s) for o, s in zip(offsets, sizes))
    for s, e in blocks:
        if s < start or e > end or s > e:
            raise InputError(f"block {s}-{e} lies outside the region {start}-{end}", path=path, line=line)
    return blocks


def _parse_table(lines: list[tuple[int, str]], path: PathLike) -> tuple[pd.DataFrame, list[int]]:
    def split(line: str) -> list[str]:
        return [x.strip() for x in line.split(",")] if "," in line else line.split()

    header_line, header = lines[0]
    columns = [c.lstrip("#").strip().lower() for c in split(header)]
    wanted = ["name", "chrom", "start", "end"]
    if all(c in columns for c in wanted):
        index = {c: columns.index(c) for c in wanted + (["strand"] if "strand" in columns else [])}
    elif len(columns) in (4, 5):
        index = dict(zip(["name", "chrom", "start", "end", "strand"], range(len(columns))))
    else:
        raise InputError(f"table header must name the columns name, chrom, start, end [, strand]; got {columns}",
                         path=path, line=header_line)
    rows, numbers = [], []
    for number, line in lines[1:]:
        fields = split(line)
        if len(fields) != len(columns):
            raise InputError(f"expected {len(columns)} columns like the header, found {len(fields)}",
                             path=path, line=number)
        rows.append(fields)
        numbers.append(number)
    if not rows:
        raise InputError("the table has a header but no regions", path=path)
    starts = _ints([r[index["start"]] for r in rows], numbers, "start", path)
    ends = _ints([r[index["end"]] for r in rows], numbers, "end", path)
    _check_coordinates(starts, ends, numbers, path)
    strands = [r[index["strand"]] for r in rows] if "strand" in index else ["."] * len(rows)
    _check_strands(strands, numbers, path)
    frame = _frame([r[index["chrom"]] for r in rows], starts, ends, [r[index["name"]] for r in rows], strands)
    return frame, numbers


# --------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------
def _fmt_number(value: float) -> str:
    if not np.isfinite(value):
        return "."
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_regions(regions: pd.DataFrame, path: PathLike, *,
                  format: Literal["bed", "narrowpeak", "table"] = "bed") -> None:
    """Write regions atomically; :func:`read_regions` reads the file back to the same table.

    Parameters
    ----------
    regions
        The regions table.
    path
        Output file (gzip-compressed when it ends with ``.gz``).
    format
        ``"bed"``: BED6 (``score`` column or 0), or BED12 when a ``blocks`` column exists (rows without
        blocks get one block spanning the region). ``"narrowpeak"``: 10 columns with the summit offset
        (``-1`` when unknown) and ``signal_value``/``p_value``/``q_value`` (``-1`` when absent).
        ``"table"``: tab-separated ``name chrom start end strand`` with a header line.

    Raises
    ------
    InputError
        For negative starts (clip or drop them with :func:`fit_to_chromosomes` first) or start > end.
    """
    _require_columns(regions)
    n = len(regions)
    chroms = regions["chrom"].astype(str).tolist()
    starts = regions["start"].to_numpy(dtype=np.int64)
    ends = regions["end"].to_numpy(dtype=np.int64)
    names = regions["name"].astype(str).tolist() if "name" in regions.columns else region_names(regions)
    strands = regions["strand"].astype(str).tolist() if "strand" in regions.columns else ["."] * n
    bad = np.flatnonzero((starts < 0) | (starts > ends))
    if bad.size:
        i = bad[0]
        raise InputError(f"cannot write {chroms[i]}:{starts[i]}-{ends[i]} (negative start or start > end); "
                         "use fit_to_chromosomes(..., off_end='clip' or 'drop') first", path=path, record=names[i])
    scores = (regions["score"].to_numpy(dtype=np.float64) if "score" in regions.columns else np.zeros(n))

    def col(name: str) -> np.ndarray:
        return regions[name].to_numpy(dtype=np.float64) if name in regions.columns else np.full(n, -1.0)

    out: list[str] = []
    if format == "table":
        out.append("name\tchrom\tstart\tend\tstrand\n")
        out.extend(f"{m}\t{c}\t{s}\t{e}\t{d}\n" for m, c, s, e, d in zip(names, chroms, starts, ends, strands))
    elif format == "narrowpeak":
        summits = (regions["summit"].to_numpy(dtype=np.int64) if "summit" in regions.columns
                   else np.full(n, -1, dtype=np.int64))
        offsets = np.where(summits >= 0, summits - starts, -1)
        sig, pv, qv = col("signal_value"), col("p_value"), col("q_value")
        for i in range(n):
            out.append(f"{chroms[i]}\t{starts[i]}\t{ends[i]}\t{names[i]}\t{_fmt_number(scores[i])}\t{strands[i]}\t"
                       f"{_fmt_number(sig[i])}\t{_fmt_number(pv[i])}\t{_fmt_number(qv[i])}\t{offsets[i]}\n")
    elif format == "bed":
        blocks = regions["blocks"].tolist() if "blocks" in regions.columns else None
        for i in range(n):
            line = f"{chroms[i]}\t{starts[i]}\t{ends[i]}\t{names[i]}\t{_fmt_number(scores[i])}\t{strands[i]}"
            if blocks is not None:
                cell = blocks[i]
                items = sorted(cell) if isinstance(cell, (list, tuple)) and len(cell) else [(starts[i], ends[i])]
                sizes = ",".join(str(int(e) - int(s)) for s, e in items)
                rel = ",".join(str(int(s) - starts[i]) for s, _ in items)
                line += f"\t{starts[i]}\t{ends[i]}\t0\t{len(items)}\t{sizes},\t{rel},"
            out.append(line + "\n")
    else:
        raise InputError(f"unknown output format {format!r}; expected bed, narrowpeak or table", path=path)
    write_text_atomic(path, "".join(out))

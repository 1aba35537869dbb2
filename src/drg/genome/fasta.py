"""FASTA access: an indexed :class:`Genome` for random access, and whole-file FASTA / chrom.sizes I/O.

All coordinates are 0-based and half-open (``[start, end)``), as in BED.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from drg.errors import InputError
from drg.genome.onehot import reverse_complement_sequence
from drg.utils import (
    PathLike,
    atomic_write,
    is_gzip,
    open_text,
    progress,
    write_text_atomic,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FastaRecords", "Genome", "read_chrom_sizes", "read_fasta", "write_fasta"]

logger = logging.getLogger(__name__)

_ILLEGAL = re.compile(r"[^ACGTURYKMSWBDHVNacgturykmswbdhvn\-]")


def _default_cache_dir() -> Path:
    env = os.environ.get("DRG_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "drg"


def _file_key(path: Path) -> str:
    """Short hash of a file's absolute path, size and modification time (changes when the file does)."""
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _is_bgzip(path: Path) -> bool:
    """True for a BGZF file: gzip with the FEXTRA flag and a ``BC`` extra subfield."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 18 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


def _is_current(derived: Path, source: Path) -> bool:
    return derived.exists() and derived.stat().st_mtime >= source.stat().st_mtime


def _dir_writable(directory: Path) -> bool:
    """Whether files may be created in ``directory``; a directory without write permission bits counts as
    read-only even for a superuser, so shared data directories are never written into."""
    try:
        mode = directory.stat().st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(directory, os.W_OK | os.X_OK)


class Genome:
    """Random access to an indexed genome FASTA.

    Parameters
    ----------
    path
        FASTA file: plain text, bgzip, or plain gzip. A plain-gzip file cannot be indexed, so it is
        decompressed once into the cache directory (a log line says so) and the copy is reused while the
        source file keeps its size and modification time.
    cache_dir
        Where decompressed copies and indexes that cannot be written beside the FASTA go
        (default: ``$DRG_CACHE`` or ``~/.cache/drg``).
    uppercase
        Return upper-case sequence (soft-masked repeats become upper case); ``False`` keeps the case.

    Notes
    -----
    The ``.fai`` (and ``.gzi`` for bgzip) index is written beside the FASTA when that directory is writable,
    otherwise into ``cache_dir``. Coordinates are 0-based half-open. Plain FASTA is read through
    :mod:`pyfaidx`; bgzip FASTA through :mod:`pysam` (pyfaidx needs Biopython for BGZF).

    Examples
    --------
    >>> genome = Genome("hg38.fa")                      # doctest: +SKIP
    >>> genome.fetch("chr1", 1_000_000, 1_000_010, strand="-")  # doctest: +SKIP
    """

    def __init__(self, path: PathLike, *, cache_dir: PathLike | None = None, uppercase: bool = True) -> None:
        self.path = Path(path)
        self.uppercase = uppercase
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
        if not self.path.exists():
            raise InputError("genome FASTA not found", path=self.path)
        if self.path.is_dir():
            raise InputError("expected a FASTA file, found a directory", path=self.path)
        self._pyfaidx: Any = None
        self._pysam: Any = None
        if is_gzip(self.path) and _is_bgzip(self.path):
            self._open_bgzip()
        else:
            source = self._decompressed_copy() if is_gzip(self.path) else self.path
            self._open_plain(source)
        if not self._sizes:
            raise InputError("the FASTA holds no sequence (expected '>name' header lines)", path=self.path)

    # -- opening ---------------------------------------------------------------------------------------
    def _cache(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir

    def _decompressed_copy(self) -> Path:
        name = self.path.name[:-3] if self.path.name.endswith(".gz") else self.path.name
        target = self._cache() / f"{Path(name).stem}.{_file_key(self.path)}.fa"
        if target.exists():
            logger.debug("using decompressed copy %s of %s", target, self.path)
            return target
        logger.warning("%s is plain gzip (not bgzip); decompressing once to %s", self.path, target)
        try:
            with gzip.open(self.path, "rb") as src, atomic_write(target, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 22)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot decompress gzip FASTA: {exc}", path=self.path) from None
        return target

    def _index_path(self, source: Path, suffix: str) -> Path:
        beside = source.with_name(source.name + suffix)
        if _is_current(beside, source) or _dir_writable(source.parent):
            return beside
        return self._cache() / f"{source.name}.{_file_key(source)}{suffix}"

    def _open_plain(self, source: Path) -> None:
        import pyfaidx

        index = self._index_path(source, ".fai")
        try:
            try:
                fasta = pyfaidx.Fasta(str(source), indexname=str(index), sequence_always_upper=False,
                                      read_long_names=False, rebuild=True)
            except OSError:
                index = self._cache() / f"{source.name}.{_file_key(source)}.fai"
                fasta = pyfaidx.Fasta(str(source), indexname=str(index), rebuild=True)
        except pyfaidx.FastaIndexingError as exc:
            message = str(exc).replace(str(source), "the file")
            line = re.search(r"at line (\d+)", message)
            raise InputError(f"malformed FASTA: {message}", path=self.path,
                             line=int(line.group(1)) if line else None) from None
        except UnicodeDecodeError:
            raise InputError("not a text FASTA file (undecodable bytes)", path=self.path) from None
        except ValueError as exc:  # duplicate names
            raise InputError(f"malformed FASTA: {exc}", path=self.path) from None
        self._pyfaidx = fasta
        self._sizes = {name: int(rec.rlen) for name, rec in fasta.faidx.index.items()}

    def _open_bgzip(self) -> None:
        import pysam

        fai = self._index_path(self.path, ".fai")
        gzi = fai.with_name(fai.name[:-4] + ".gzi")
        if not (_is_current(fai, self.path) and _is_current(gzi, self.path)):
            try:
                pysam.faidx(str(self.path), "--fai-idx", str(fai), "--gzi-idx", str(gzi))
            except pysam.utils.SamtoolsError as exc:
                raise InputError(
                    "cannot index bgzip FASTA (inconsistent line lengths, text before the first '>' "
                    f"header, or a damaged file): {str(exc).strip()}", path=self.path) from None
        try:
            self._pysam = pysam.FastaFile(str(self.path), filepath_index=str(fai),
                                          filepath_index_compressed=str(gzi))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot open bgzip FASTA: {exc}", path=self.path) from None
        self._sizes = {name: int(n) for name, n in zip(self._pysam.references, self._pysam.lengths)}

    # -- container protocol ----------------------------------------------------------------------------
    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Sequence name -> length, in file order."""
        return dict(self._sizes)

    @property
    def chroms(self) -> list[str]:
        """Sequence names in file order."""
        return list(self._sizes)

    def __contains__(self, chrom: object) -> bool:
        return chrom in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self)} sequences)"

    def __getstate__(self) -> dict[str, Any]:
        # file handles do not pickle (e.g. into DataLoader workers): reopen from the path instead
        return {"path": self.path, "cache_dir": self.cache_dir, "uppercase": self.uppercase}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], cache_dir=state["cache_dir"], uppercase=state["uppercase"])

    def close(self) -> None:
        """Close the underlying file handles."""
        if self._pyfaidx is not None:
            self._pyfaidx.close()
        if self._pysam is not None:
            self._pysam.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fetching --------------------------------------------------------------------------------------
    def _check_chrom(self, chrom: str, record: str | None = None) -> int:
        size = self._sizes.get(chrom)
        if size is None:
            known = ", ".join(list(self._sizes)[:5]) + (", ..." if len(self._sizes) > 5 else "")
            raise InputError(f"unknown chromosome {chrom!r}; the genome has {len(self._sizes)} sequences "
                             f"({known})", path=self.path, record=record)
        return size

    def _raw(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``[start, end)`` with ``0 <= start <= end <= size`` (no padding, case kept)."""
        if end <= start:
            return ""
        if self._pyfaidx is not None:
            return self._pyfaidx.faidx.from_file(chrom, start + 1, end)
        return self._pysam.fetch(chrom, start, end)

    def _padded(self, chrom: str, start: int, end: int, size: int) -> str:
        left = max(0, -start)
        right = max(0, end - size)
        seq = self._raw(chrom, max(start, 0), min(end, size))
        if left or right:
            if start >= size or end <= 0:
                return "N" * (end - start)
            seq = "N" * left + seq + "N" * right
        return seq

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        """Sequence of ``chrom:[start, end)`` (0-based, half-open).

        Parameters
        ----------
        chrom
            Sequence name as in the FASTA header (text up to the first whitespace).
        start, end
            0-based half-open interval. Parts outside ``[0, chrom_size)`` are filled with ``"N"``, so the
            result always has ``end - start`` letters.
        strand
            ``"+"`` (or ``"."``) for the forward strand, ``"-"`` for the reverse complement.

        Returns
        -------
        str
            ``end - start`` letters; upper case when the genome was opened with ``uppercase=True``.
        """
        size = self._check_chrom(chrom)
        start, end = int(start), int(end)
        if start > end:
            raise InputError(f"start {start} is greater than end {end} for {chrom}:{start}-{end}",
                             path=self.path)
        if strand not in ("+", "-", "."):
            raise InputError(f"strand must be '+', '-' or '.', got {strand!r}", path=self.path)
        seq = self._padded(chrom, start, end, size)
        if self.uppercase:
            seq = seq.upper()
        return reverse_complement_sequence(seq) if strand == "-" else seq

    def fetch_regions(
        self,
        regions: pd.DataFrame,
        *,
        off_end: Literal["pad", "error"] = "pad",
        verbose: bool = False,
    ) -> list[str]:
        """Sequences of many regions (the layout :func:`drg.genome.read_regions` returns).

        Parameters
        ----------
        regions
            DataFrame with columns ``chrom``, ``start``, ``end`` (0-based half-open) and optionally
            ``name``, ``strand`` and ``blocks``. A non-null ``blocks`` entry (a list of absolute
            ``(start, end)`` intervals, e.g. exons) makes the sequence the concatenation of the blocks in
            genomic order; for strand ``"-"`` the concatenation is reverse-complemented as a whole.
        off_end
            ``"pad"`` fills the parts outside the chromosome with ``"N"``; ``"error"`` raises
            :class:`InputError` naming the first such region.
        verbose
            Show a progress bar.

        Returns
        -------
        list of str
            One sequence per row, in row order.
        """
        if off_end not in ("pad", "error"):
            raise InputError(f"off_end must be 'pad' or 'error', got {off_end!r}")
        for column in ("chrom", "start", "end"):
            if column not in regions.columns:
                raise InputError(f"regions table has no {column!r} column (columns: {list(regions.columns)})")
        n = len(regions)
        chroms = regions["chrom"].astype(str).to_numpy()
        starts = regions["start"].to_numpy(dtype=np.int64)
        ends = regions["end"].to_numpy(dtype=np.int64)
        strands = regions["strand"].astype(str).to_numpy() if "strand" in regions.columns else np.full(n, "+")
        names = (regions["name"].astype(str).to_numpy() if "name" in regions.columns
                 else np.array([f"{c}:{s}-{e}" for c, s, e in zip(chroms, starts, ends)], dtype=object))
        blocks = regions["blocks"].to_numpy() if "blocks" in regions.columns else None
        upper = self.uppercase
        out: list[str] = []
        for i in progress(range(n), total=n, description="fetching sequences", verbose=verbose):
            chrom, start, end, name = chroms[i], int(starts[i]), int(ends[i]), names[i]
            size = self._check_chrom(chrom, record=name)
            if start > end:
                raise InputError(f"start {start} is greater than end {end}", path=self.path, record=name)
            intervals = _block_list(blocks[i], name) if blocks is not None else None
            if intervals is None:
                intervals = [(start, end)]
            if off_end == "error":
                lo = min(s for s, _ in intervals)
                hi = max(e for _, e in intervals)
                if lo < 0 or hi > size:
                    raise InputError(f"region {chrom}:{lo}-{hi} runs off {chrom} (length {size})",
                                     path=self.path, record=name)
            if len(intervals) == 1:
                seq = self._padded(chrom, intervals[0][0], intervals[0][1], size)
            else:
                seq = "".join(self._padded(chrom, s, e, size) for s, e in sorted(intervals))
            if upper:
                seq = seq.upper()
            strand = strands[i]
            if strand == "-":
                seq = reverse_complement_sequence(seq)
            elif strand not in ("+", "."):
                raise InputError(f"strand must be '+', '-' or '.', got {strand!r}", record=name)
            out.append(seq)
        return out


def _block_list(value: Any, name: str) -> list[tuple[int, int]] | None:
    """Validate a ``blocks`` cell: ``None``/NaN or a sequence of ``(start, end)`` pairs."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        pairs = [(int(s), int(e)) for s, e in value]
    except (TypeError, ValueError):
        raise InputError(f"blocks must be a list of (start, end) pairs, got {value!r}", record=name) from None
    for s, e in pairs:
        if s > e:
            raise InputError(f"block ({s}, {e}) has start greater than end", record=name)
    return pairs or None


# --------------------------------------------------------------------------------------------------------
# whole-file FASTA I/O
# --------------------------------------------------------------------------------------------------------
class FastaRecords(NamedTuple):
    """Records of a FASTA file, in file order."""

    names: list[str]
    """Header text after ``>`` up to the first whitespace."""
    sequences: list[str]
    """Sequences with line breaks removed, case kept."""


def read_fasta(path: PathLike) -> FastaRecords:
    """Read every record of a (possibly gzipped) FASTA file into memory.

    Parameters
    ----------
    path
        FASTA file, plain or gzip/bgzip compressed.

    Returns
    -------
    FastaRecords
        ``names`` (text after ``>`` up to the first whitespace) and ``sequences`` (case kept).

    Raises
    ------
    InputError
        Naming the 1-based line for: text before the first header, an empty name, a record without
        sequence, a duplicate name, or a letter that is not an IUPAC nucleotide code (either case) or ``-``;
        also for a file without any record.
    """
    with open_text(path) as handle:
        text = handle.read()
    lines = text.splitlines()
    names: list[str] = []
    sequences: list[str] = []
    header_lines: list[int] = []
    seen: dict[str, int] = {}
    chunk: list[str] = []

    def finish() -> None:
        seq = "".join(chunk)
        if not seq:
            raise InputError(f"record {names[-1]!r} has no sequence", path=path, line=header_lines[-1])
        sequences.append(seq)

    for number, line in enumerate(lines, start=1):
        if line.startswith(">"):
            if names:
                finish()
            name = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
            if not name:
                raise InputError("empty sequence name after '>'", path=path, line=number)
            if name in seen:
                raise InputError(f"duplicate sequence name {name!r} (first seen on line {seen[name]})",
                                 path=path, line=number)
            seen[name] = number
            names.append(name)
            header_lines.append(number)
            chunk = []
        else:
            stripped = line.strip()
            if not stripped:
                continue
            if not names:
                raise InputError("sequence text before the first '>' header", path=path, line=number)
            chunk.append(stripped)
    if not names:
        raise InputError("no FASTA records found (expected lines starting with '>')", path=path)
    finish()
    for index, seq in enumerate(sequences):
        bad = _ILLEGAL.search(seq)
        if bad is not None:
            line = _locate(lines, header_lines[index], bad.start())
            raise InputError(f"illegal character {bad.group()!r} in record {names[index]!r} (expected IUPAC "
                             "nucleotide codes or '-')", path=path, line=line)
    return FastaRecords(names, sequences)


def _locate(lines: list[str], header_line: int, offset: int) -> int:
    """1-based line holding sequence position ``offset`` of the record whose header is ``header_line``."""
    seen = 0
    for number in range(header_line + 1, len(lines) + 1):
        length = len(lines[number - 1].strip())
        if seen + length > offset:
            return number
        seen += length
    return header_line


def write_fasta(names: Sequence[str], sequences: Sequence[str], path: PathLike, width: int | None = 80) -> None:
    """Write records to a FASTA file atomically (gzip-compressed when ``path`` ends with ``.gz``).

    Parameters
    ----------
    names
        Record names (written after ``>``); must be non-empty and contain no whitespace.
    sequences
        One sequence per name.
    path
        Output file.
    width
        Letters per line; ``None`` or ``0`` writes each sequence on one line.
    """
    names = list(names)
    sequences = list(sequences)
    if len(names) != len(sequences):
        raise InputError(f"got {len(names)} names but {len(sequences)} sequences", path=path)
    for index, name in enumerate(names):
        name = str(name)
        if not name or any(ch.isspace() for ch in name):
            raise InputError(f"sequence name {name!r} is empty or contains whitespace", path=path,
                             record=str(index + 1))
    parts: list[str] = []
    for name, seq in zip(names, sequences):
        parts.append(f">{name}\n")
        if width:
            parts.extend(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
        else:
            parts.append(seq + "\n")
    write_text_atomic(path, "".join(parts))


def read_chrom_sizes(path: PathLike) -> dict[str, int]:
    """Read a chrom.sizes file (``name length``) or a FASTA index ``.fai`` into ``{name: length}``.

    Columns are separated by tabs or spaces; only the first two are used. Blank lines and lines starting
    with ``#`` are skipped.

    Raises
    ------
    InputError
        Naming the 1-based line for fewer than two columns, a length that is not a non-negative
        integer, or a repeated name; also for a file without entries.
    """
    sizes: dict[str, int] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 2:
                raise InputError(f"expected two columns 'name length', got {len(fields)}", path=path, line=number)
            name, value = fields[0], fields[1]
            try:
                size = int(value)
            except ValueError:
                raise InputError(f"length {value!r} is not an integer", path=path, line=number) from None
            if size < 0:
                raise InputError(f"length {size} is negative", path=path, line=number)
            if name in sizes:
                raise InputError(f"chromosome {name!r} is listed twice", path=path, line=number)
            sizes[name] = size
    if not sizes:
        raise InputError("no chromosome sizes found", path=path)
    return sizes

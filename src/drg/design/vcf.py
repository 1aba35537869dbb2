"""Reading SNVs and short indels from VCF files.

VCF ``POS`` is **1-based** (the first base of the ``REF`` allele); :func:`read_vcf` converts it to the 0-based
coordinate used everywhere else in DRG, so ``pos`` is the 0-based start of ``REF`` and the reference allele
occupies ``[pos, pos + len(ref))`` (half-open).
"""

from __future__ import annotations

import re
import warnings
from typing import Literal

import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, open_text

__all__ = ["VCF_COLUMNS", "read_vcf"]

VCF_COLUMNS: tuple[str, ...] = ("chrom", "pos", "ref", "alt", "id", "name")
"""Columns of the table :func:`read_vcf` returns."""

_HEADER = ("#CHROM", "POS", "ID", "REF", "ALT")
_BASES = re.compile(r"^[ACGTN]+$")
_SYMBOLIC = re.compile(r"[<>\[\]]")


def _unsupported_reason(ref: str, alt: str, max_indel: int) -> str | None:
    """Why an ALT allele cannot be scored (None when it can)."""
    if alt in (".", "*"):
        return "no ALT allele ('.')" if alt == "." else "spanning deletion '*'"
    if _SYMBOLIC.search(alt):
        return f"symbolic or breakend allele {alt!r}"
    if alt.startswith(".") or alt.endswith("."):
        return f"single breakend {alt!r}"
    if not _BASES.match(alt):
        return None  # reported as malformed by the caller
    if max(len(ref), len(alt)) > max_indel + 1:
        return f"allele longer than max_indel + 1 = {max_indel + 1} bases ({len(ref)} bp REF, {len(alt)} bp ALT)"
    return None


def read_vcf(
    path: PathLike,
    *,
    unsupported: Literal["error", "skip"] = "error",
    max_indel: int = 50,
) -> pd.DataFrame:
    """Read the SNVs, MNVs and short indels of a VCF file, one row per ALT allele.

    Parameters
    ----------
    path
        VCF file, plain text, gzip or bgzip (``.vcf.gz``). Only the first five columns (``CHROM POS ID REF
        ALT``) are used; a file without header lines (just tab-separated records) is accepted too.
    unsupported
        What to do with ALT alleles that cannot be scored: symbolic alleles (``<DEL>``, ``<CN0>``), breakends
        (``G]17:198982]``, ``.A``), the spanning deletion ``*``, a missing ALT ``.``, and alleles longer than
        ``max_indel + 1`` bases. ``"error"`` raises :class:`~drg.errors.InputError` naming the line;
        ``"skip"`` drops them with one :class:`~drg.errors.DRGWarning` that gives their number and the first
        few.
    max_indel
        Longest insertion or deletion kept: REF and ALT may each hold at most ``max_indel + 1`` bases (the
        VCF anchor base plus ``max_indel``).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom`` (str), ``pos`` (int64, **0-based** start of REF: VCF ``POS`` minus 1), ``ref`` and
        ``alt`` (upper-case strings of ``A``, ``C``, ``G``, ``T``, ``N``), ``id`` (the VCF ID, or
        ``chrom:POS:REF:ALT`` with the 1-based ``POS`` when the ID is ``.``) and ``name``
        (``chrom:POS:REF:ALT``, 1-based ``POS``, distinct for the alleles of a multi-allelic record). A
        record with ALT ``A,T`` gives two rows that share ``chrom``, ``pos``, ``ref`` and ``id``.

    Raises
    ------
    InputError
        Naming the file and 1-based line: a ``#CHROM`` header whose first columns are not ``#CHROM POS ID
        REF ALT``, a ``##fileformat`` line that is not ``VCFv4.x``, a record with fewer than five columns,
        a ``POS`` that is not a positive integer, a REF or ALT with letters other than ``ACGTN`` (either
        case), an ALT equal to REF, a repeated ALT allele, or (with ``unsupported="error"``) an allele listed
        above. Also for a file with neither a header nor a record.
    """
    if unsupported not in ("error", "skip"):
        raise InputError(f"unsupported must be 'error' or 'skip', got {unsupported!r}")
    if isinstance(max_indel, bool) or not isinstance(max_indel, int) or max_indel < 0:
        raise InputError(f"max_indel must be a non-negative integer, got {max_indel!r}")
    rows: list[tuple[str, int, str, str, str, str]] = []
    skipped: list[str] = []
    seen_any = False
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if line.startswith("##"):
                seen_any = True
                if line.startswith("##fileformat=") and not line[len("##fileformat="):].startswith("VCFv4"):
                    raise InputError(f"unsupported VCF version {line[len('##fileformat='):]!r}; expected VCFv4.x",
                                     path=path, line=number)
                continue
            if line.startswith("#"):
                fields = line.split("\t") if "\t" in line else line.split()
                if tuple(f.upper() for f in fields[:5]) != _HEADER:
                    raise InputError("the header line must start with the columns #CHROM POS ID REF ALT; got "
                                     f"{' '.join(fields[:5])!r}", path=path, line=number)
                if rows:
                    raise InputError("the #CHROM header line comes after variant records", path=path, line=number)
                seen_any = True
                continue
            seen_any = True
            fields = line.split("\t")
            if len(fields) < 5:
                fields = line.split()
            if len(fields) < 5:
                raise InputError(f"expected at least 5 tab-separated columns (CHROM POS ID REF ALT), got "
                                 f"{len(fields)}", path=path, line=number)
            chrom, pos_text, vid, ref, alts = (f.strip() for f in fields[:5])
            if not chrom:
                raise InputError("empty CHROM", path=path, line=number)
            try:
                pos1 = int(pos_text)
            except ValueError:
                raise InputError(f"POS {pos_text!r} is not an integer (VCF POS is 1-based)", path=path,
                                 line=number) from None
            if pos1 < 1:
                raise InputError(f"POS {pos1} is not a positive 1-based position", path=path, line=number)
            ref = ref.upper()
            if not _BASES.match(ref):
                raise InputError(f"REF {fields[3]!r} must be letters A, C, G, T or N", path=path, line=number)
            seen_alts: set[str] = set()
            for alt in alts.split(","):
                alt_u = alt.strip().upper()
                reason = _unsupported_reason(ref, alt_u, max_indel)
                if reason is not None:
                    text = f"line {number}: {chrom}:{pos1} {ref}>{alt}"
                    if unsupported == "error":
                        raise InputError(f"cannot score {reason}; pass unsupported='skip' (--skip-unsupported) "
                                         "to drop such alleles", path=path, line=number)
                    skipped.append(f"{text} ({reason})")
                    continue
                if not _BASES.match(alt_u):
                    raise InputError(f"ALT allele {alt!r} must be letters A, C, G, T or N (or a symbolic allele)",
                                     path=path, line=number)
                if alt_u == ref:
                    raise InputError(f"ALT allele {alt!r} equals REF", path=path, line=number)
                if alt_u in seen_alts:
                    raise InputError(f"ALT allele {alt!r} is listed twice", path=path, line=number)
                seen_alts.add(alt_u)
                name = f"{chrom}:{pos1}:{ref}:{alt_u}"
                rows.append((chrom, pos1 - 1, ref, alt_u, name if vid in ("", ".") else vid, name))
    if not seen_any:
        raise InputError("no VCF header or records found (the file is empty)", path=path)
    if skipped:
        shown = "; ".join(skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        warnings.warn(f"{path}: skipped {len(skipped)} unsupported ALT allele(s): {shown}", DRGWarning, stacklevel=2)
    frame = pd.DataFrame(rows, columns=list(VCF_COLUMNS))
    frame["pos"] = frame["pos"].astype("int64")
    for column in ("chrom", "ref", "alt", "id", "name"):
        frame[column] = frame[column].astype(object)
    return frame

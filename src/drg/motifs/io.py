"""Motif files: MEME (minimal text format and full MEME output) and JASPAR count matrices.

* :func:`read_meme` reads MEME's minimal motif format (versions 3 to 5) and the text output of ``meme``
  itself; it is tolerant of files written by the original DRG code (no background block, extra header keys
  such as ``bias=``, rows that are attribution scores rather than probabilities).
* :func:`write_meme` writes the strict MEME version 4 minimal format.
* :func:`read_jaspar` / :func:`write_jaspar` handle JASPAR's ``>ID name`` + four count rows format.
* :func:`read_motifs` picks the reader from the file content.
* :func:`load_bundled_jaspar` returns the JASPAR 2024 CORE vertebrates non-redundant collection shipped
  with DRG.

Matrices in memory are ``(L, 4)`` (positions x A, C, G, T); JASPAR files are stored ``4 x L``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drg.errors import DRGWarning, InputError
from drg.motifs.motif import ALPHABET, ROW_SUM_TOLERANCE, Motif, probabilities_from_weights, uniform_background
from drg.utils import PathLike, atomic_write, open_text

BUNDLED_JASPAR = "JASPAR2024_CORE_vertebrates_non-redundant.meme"
_KEY_VALUE = re.compile(r"([A-Za-z_]+)\s*=\s*(\S+)")
_N_EXAMPLES = 5


# ---------------------------------------------------------------------------------------------- MEME reading
def _float(token: str, path: Path, line: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{what}: expected a number, found {token!r}", path=path, line=line) from None
    if not np.isfinite(value):
        raise InputError(f"{what}: expected a finite number, found {token!r}", path=path, line=line)
    return value


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_header(text: str) -> dict[str, str]:
    """``alength= 4 w= 9 nsites= 20 E= 0`` (also ``w=9``) -> {"alength": "4", "w": "9", ...}."""
    return {key.lower() if key != "E" else "E": value for key, value in _KEY_VALUE.findall(text)}


def _parse_background(lines: list[str], start: int, path: Path) -> tuple[np.ndarray, int]:
    """Read ``A p C p G p T p`` pairs that follow the ``Background letter frequencies`` line at ``start``.

    The pairs may span several lines. Returns the (4,) background and the index of the last line used.
    """
    tokens: list[tuple[str, int]] = []
    i = start + 1
    while i < len(lines) and len(tokens) < 8:
        stripped = lines[i].strip()
        if not stripped:
            if tokens:
                break
            i += 1
            continue
        if stripped.startswith("MOTIF") or "matrix" in stripped:
            break
        tokens.extend((tok, i + 1) for tok in stripped.split())
        i += 1
    if len(tokens) < 8:
        raise InputError(
            "background block: expected 4 'letter probability' pairs (A, C, G, T)",
            path=path,
            line=start + 1,
        )
    background = {}
    for k in range(0, 8, 2):
        letter, line = tokens[k][0].upper(), tokens[k][1]
        letter = "T" if letter == "U" else letter
        if letter not in ALPHABET or letter in background:
            raise InputError(
                f"background block: expected one of the letters A, C, G, T, found {tokens[k][0]!r}",
                path=path,
                line=line,
            )
        background[letter] = _float(tokens[k + 1][0], path, tokens[k + 1][1], f"background frequency of {letter}")
    values = np.array([background[b] for b in ALPHABET])
    if (values <= 0).any() or abs(values.sum() - 1.0) > ROW_SUM_TOLERANCE:
        raise InputError(
            f"background frequencies must be positive and sum to 1, got {values.tolist()}", path=path, line=start + 2
        )
    return values, tokens[7][1] - 1


def _read_rows(lines: list[str], start: int, alength: int, path: Path) -> tuple[list[list[float]], int]:
    """Numeric matrix rows from line index ``start``; stops at the first line whose first token is not a number.

    Returns the rows and the index of the first line after them.
    """
    rows: list[list[float]] = []
    i = start
    while i < len(lines):
        tokens = lines[i].split()
        if not tokens or not _is_number(tokens[0]):
            break
        if len(tokens) != alength:
            raise InputError(
                f"matrix row: expected {alength} numbers (A, C, G, T), found {len(tokens)}: {lines[i].strip()!r}",
                path=path,
                line=i + 1,
            )
        rows.append([_float(tok, path, i + 1, "matrix row") for tok in tokens])
        i += 1
    return rows, i


class _Pending:
    """A MOTIF block being read."""

    def __init__(self, motif_id: str, name: str, line: int) -> None:
        self.id, self.name, self.line = motif_id, name, line
        self.matrix: np.ndarray | None = None
        self.header: dict[str, str] = {}
        self.matrix_line = 0
        self.url: str | None = None


def read_meme(path: PathLike) -> list[Motif]:
    """Read every motif of a MEME file.

    Accepted input: MEME's minimal motif format (``MEME version`` line, optional ``ALPHABET=``, ``strands:``
    and ``Background letter frequencies`` block, then ``MOTIF id [alternate name]`` blocks each with a
    ``letter-probability matrix: alength= 4 w= W nsites= N E= E`` header, W rows and an optional ``URL``
    line), and the full text output of ``meme`` (its log-odds matrices and other sections are skipped).
    gzip-compressed files are read transparently.

    Conventions and tolerances:

    * ``id`` is the first word after ``MOTIF``; ``name`` is the second word when there is one (and it is not
      a ``key=value`` field of MEME's own output), else the id.
    * The background (uniform when absent) is attached to every motif.
    * ``alength``, ``w``, ``nsites`` and ``E`` are optional; other header keys (``bias=`` in DRG's files) are
      ignored.
    * Matrices whose values are not probabilities (a negative value, or a row that does not sum to 1), as
      in attribution-derived motif files, are kept in :attr:`Motif.weights`; their ``ppm`` is the row-
      normalised positive part (:func:`~drg.motifs.motif.probabilities_from_weights`). A
      :class:`~drg.errors.DRGWarning` says how many motifs were read this way.
    * When a matrix has more rows than ``w=`` and exactly the extra rows are all zero (DRG wrote ``w`` as the
      number of non-empty positions), all rows are kept with a warning.

    Parameters
    ----------
    path
        The MEME file.

    Returns
    -------
    list of Motif
        In file order.

    Raises
    ------
    InputError
        Naming the file and 1-based line for: a ``MOTIF`` before the ``MEME version`` line, a non-DNA
        alphabet or ``alength`` other than 4, a row with the wrong number of columns or a non-numeric
        value, a row count that differs from ``w=``, a ``MOTIF`` without a matrix, or a file without motifs.
    """
    path = Path(path)
    with open_text(path) as handle:
        lines = handle.read().splitlines()
    background = uniform_background()
    seen_version = False
    pending: list[_Pending] = []
    current: _Pending | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        tokens = stripped.split()
        if stripped.startswith("MEME version"):
            seen_version = True
        elif stripped.startswith("ALPHABET="):
            letters = stripped[len("ALPHABET=") :].strip().upper()
            if letters not in ("ACGT", "ACGU"):
                raise InputError(f"alphabet {letters!r} is not DNA; expected 'ACGT'", path=path, line=i + 1)
        elif tokens[0] == "ALPHABET":
            if "DNA-LIKE" not in stripped.upper() and "RNA-LIKE" not in stripped.upper():
                raise InputError(
                    f"custom alphabet {stripped!r} is not DNA-like; expected a 4-letter DNA alphabet",
                    path=path,
                    line=i + 1,
                )
            while i < len(lines) and not lines[i].strip().upper().startswith("END ALPHABET"):
                i += 1
        elif stripped.startswith("Background letter frequencies"):
            background, i = _parse_background(lines, i, path)
        elif tokens[0] == "MOTIF":
            if not seen_version:
                raise InputError(
                    "expected a 'MEME version' header line before the first MOTIF (is this a MEME file?)",
                    path=path,
                    line=i + 1,
                )
            if len(tokens) < 2:
                raise InputError("MOTIF line without an identifier", path=path, line=i + 1)
            alt = tokens[2] if len(tokens) > 2 and "=" not in tokens[2] and tokens[2].lower() != "width" else ""
            current = _Pending(tokens[1], alt or tokens[1], i + 1)
            pending.append(current)
        elif stripped.startswith("log-odds matrix"):
            header = _parse_header(stripped.split(":", 1)[-1])
            alength = int(_float(header.get("alength", "4"), path, i + 1, "alength"))
            _, i = _read_rows(lines, i + 1, alength, path)
            continue
        elif stripped.startswith("letter-probability matrix"):
            i = _read_matrix(lines, i, current, path)
            continue
        elif tokens[0] == "URL" and current is not None and len(tokens) > 1:
            current.url = tokens[1]
        i += 1
    if not pending:
        raise InputError("no MOTIF with a letter-probability matrix found; expected a MEME motif file", path=path)
    return _build_motifs(pending, background, path)


def _read_matrix(lines: list[str], i: int, current: _Pending | None, path: Path) -> int:
    stripped = lines[i].strip()
    if current is None:
        raise InputError("letter-probability matrix before any MOTIF line", path=path, line=i + 1)
    if current.matrix is not None:
        raise InputError(
            f"second letter-probability matrix for motif {current.id!r} (MOTIF at line {current.line})",
            path=path,
            line=i + 1,
        )
    header = _parse_header(stripped.split(":", 1)[-1])
    alength = int(_float(header.get("alength", "4"), path, i + 1, "alength"))
    if alength != 4:
        raise InputError(f"alength= {alength}: only 4-letter DNA motifs are supported", path=path, line=i + 1)
    rows, end = _read_rows(lines, i + 1, alength, path)
    if not rows:
        raise InputError(
            f"motif {current.id!r}: no matrix rows after the letter-probability matrix header", path=path, line=i + 1
        )
    matrix = np.array(rows)
    if "w" in header:
        width = int(_float(header["w"], path, i + 1, "w"))
        if width != len(rows):
            nonzero = int((np.abs(matrix).sum(axis=1) > 0).sum())
            if len(rows) > width and nonzero == width:
                warnings.warn(
                    f"{path}, line {i + 1}: motif {current.id!r} declares w= {width} but has {len(rows)} rows, "
                    f"{len(rows) - width} of them all zero; all rows kept",
                    DRGWarning,
                    stacklevel=3,
                )
            else:
                after = lines[end].strip() if end < len(lines) else "<end of file>"
                raise InputError(
                    f"motif {current.id!r}: header says w= {width} but {len(rows)} matrix row(s) follow "
                    f"(lines {i + 2}-{i + 1 + len(rows)}; the matrix ends at line {end + 1}: {after!r})",
                    path=path,
                    line=i + 1,
                )
    current.matrix = matrix
    current.header = header
    current.matrix_line = i + 1
    return end


def _build_motifs(pending: list[_Pending], background: np.ndarray, path: Path) -> list[Motif]:
    motifs = []
    as_weights = []
    for block in pending:
        if block.matrix is None:
            raise InputError(f"MOTIF {block.id!r} has no letter-probability matrix", path=path, line=block.line)
        matrix = block.matrix
        nsites = block.header.get("nsites")
        evalue = block.header.get("E")
        is_probability = (matrix >= 0).all() and np.allclose(matrix.sum(axis=1), 1.0, atol=ROW_SUM_TOLERANCE)
        try:
            motif = Motif(
                name=block.name,
                id=block.id,
                ppm=matrix if is_probability else probabilities_from_weights(matrix),
                weights=None if is_probability else matrix,
                nsites=None if nsites is None else _float(nsites, path, block.matrix_line, "nsites"),
                evalue=None if evalue is None or not _is_number(evalue) else float(evalue),
                background=background,
                url=block.url,
            )
        except InputError as err:
            raise InputError(err.message, path=path, line=block.matrix_line, record=block.id) from None
        if not is_probability:
            as_weights.append(block.id)
        motifs.append(motif)
    if as_weights:
        shown = ", ".join(as_weights[:_N_EXAMPLES]) + (", ..." if len(as_weights) > _N_EXAMPLES else "")
        warnings.warn(
            f"{path}: {len(as_weights)} motif(s) hold values that are not probabilities (negative entries or rows "
            f"not summing to 1): kept as weights, probabilities from their normalised positive part ({shown})",
            DRGWarning,
            stacklevel=3,
        )
    return motifs


# ---------------------------------------------------------------------------------------------- MEME writing
def _format_number(value: float) -> str:
    return f"{value:.10g}"


def _check_label(text: str, what: str, motif: Motif) -> None:
    if not text or any(ch.isspace() for ch in text):
        raise InputError(
            f"{what} {text!r} is empty or contains whitespace; MEME files need single words", record=motif.id
        )


def _common_background(motifs: Sequence[Motif], background: Any) -> np.ndarray:
    if background is not None:
        values = np.asarray(background, dtype=np.float64).reshape(-1)
        if values.shape != (4,) or (values <= 0).any() or abs(values.sum() - 1) > ROW_SUM_TOLERANCE:
            raise InputError(f"background must be 4 positive numbers summing to 1, got {values.tolist()}")
        return values
    first = motifs[0].background
    for motif in motifs[1:]:
        if not np.allclose(motif.background, first, rtol=0, atol=1e-9):
            raise InputError(
                f"motifs {motifs[0].id!r} and {motif.id!r} have different backgrounds; a MEME file holds one "
                "background: pass background= explicitly"
            )
    return first


def write_meme(
    motifs: Iterable[Motif],
    path: PathLike,
    *,
    background: Any = None,
    precision: int = 6,
) -> Path:
    """Write motifs in the strict MEME version 4 minimal format (atomically).

    The file holds ``MEME version 4``, ``ALPHABET= ACGT``, ``strands: + -``, the background block, then per
    motif ``MOTIF id [name]`` (the name only when it differs from the id), the
    ``letter-probability matrix: alength= 4 w= W [nsites= N] [E= E]`` header, W rows of probabilities
    and ``URL`` when set. ``weights`` and ``counts`` are not written (the format has no place for them).

    Parameters
    ----------
    motifs
        Motifs to write (at least one). Ids and names must be single words.
    path
        Output file.
    background
        (4,) background to write; by default the motifs' common background (an error if they differ).
    precision
        Decimals of the probabilities (6 as JASPAR's own MEME files; reading back is exact to 5e-7).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    motifs = list(motifs)
    if not motifs:
        raise InputError("no motifs to write", path=path)
    bg = _common_background(motifs, background)
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{letter} {_format_number(value)}" for letter, value in zip(ALPHABET, bg)),
        "",
    ]
    for motif in motifs:
        _check_label(motif.id, "motif id", motif)
        _check_label(motif.name, "motif name", motif)
        out.append(f"MOTIF {motif.id}" + (f" {motif.name}" if motif.name != motif.id else ""))
        header = f"letter-probability matrix: alength= 4 w= {motif.length}"
        if motif.nsites is not None:
            header += f" nsites= {_format_number(motif.nsites)}"
        if motif.evalue is not None:
            header += f" E= {_format_number(motif.evalue)}"
        out.append(header)
        out.extend(" " + "\t".join(f"{value:.{precision}f}" for value in row) for row in motif.ppm)
        if motif.url:
            out.append(f"URL {motif.url}")
        out.append("")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("\n".join(out) + "\n")
    return path


# ---------------------------------------------------------------------------------------------- JASPAR
def _jaspar_row(text: str, path: Path, line: int) -> tuple[str | None, list[float]]:
    letter = None
    body = text.strip()
    if body and body[0].upper() in "ACGTU" and (len(body) == 1 or body[1] in " \t["):
        letter = "T" if body[0].upper() == "U" else body[0].upper()
        body = body[1:]
    body = body.replace("[", " ").replace("]", " ")
    tokens = body.split()
    if not tokens:
        raise InputError("count row: expected numbers", path=path, line=line)
    return letter, [_float(tok, path, line, "count row") for tok in tokens]


def read_jaspar(path: PathLike) -> list[Motif]:
    """Read JASPAR count matrices.

    Each motif is a header ``>ID name`` followed by four rows of counts, either ``A [ 1 2 3 ]`` (JASPAR's
    bracketed form), ``A 1 2 3`` or bare numbers (then in A, C, G, T order). Lettered rows may come in any
    order. Probabilities are counts / position total (no pseudocount); ``nsites`` is the total of the first
    position and ``counts`` are kept.

    Parameters
    ----------
    path
        The JASPAR file (gzip allowed).

    Returns
    -------
    list of Motif

    Raises
    ------
    InputError
        Naming the file and line for a row that is not numeric, rows of unequal length, a missing or repeated
        letter, not four rows, negative counts, a position without counts, or a file without motifs.
    """
    path = Path(path)
    with open_text(path) as handle:
        lines = handle.read().splitlines()
    blocks: list[tuple[int, str, list[tuple[int, str]]]] = []
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            blocks.append((number, stripped[1:].strip(), []))
        elif not blocks:
            raise InputError(f"expected a '>ID name' header line, found {stripped[:40]!r}", path=path, line=number)
        else:
            blocks[-1][2].append((number, stripped))
    if not blocks:
        raise InputError("no '>ID name' motif header found; expected a JASPAR matrix file", path=path)
    motifs = []
    for header_line, header, rows in blocks:
        words = header.split()
        if not words:
            raise InputError("motif header without an identifier", path=path, line=header_line)
        motif_id, name = words[0], (words[1] if len(words) > 1 else words[0])
        if len(rows) != 4:
            raise InputError(
                f"motif {motif_id!r}: expected 4 count rows (A, C, G, T), found {len(rows)}",
                path=path,
                line=header_line,
            )
        parsed = [(_jaspar_row(text, path, line), line) for line, text in rows]
        letters = [letter for (letter, _), _ in parsed]
        if all(letter is None for letter in letters):
            letters = list(ALPHABET)
        if sorted(str(x) for x in letters) != sorted(ALPHABET):
            raise InputError(
                f"motif {motif_id!r}: rows must be labelled A, C, G and T once each, found {letters}",
                path=path,
                line=header_line,
            )
        lengths = {len(values) for (_, values), _ in parsed}
        if len(lengths) != 1:
            raise InputError(
                f"motif {motif_id!r}: count rows have different lengths {[len(v) for (_, v), _ in parsed]}",
                path=path,
                line=header_line,
            )
        counts = np.zeros((lengths.pop(), 4))
        for column, letter in enumerate(letters):
            counts[:, ALPHABET.index(letter)] = parsed[column][0][1]
        try:
            motifs.append(Motif.from_counts(counts, name=name, id=motif_id))
        except InputError as err:
            raise InputError(err.message, path=path, line=header_line, record=motif_id) from None
    return motifs


def write_jaspar(motifs: Iterable[Motif], path: PathLike) -> Path:
    """Write motifs as JASPAR count matrices (``>ID name`` + ``A [ ... ]`` rows), atomically.

    ``counts`` are written when the motif has them; otherwise ``ppm * nsites`` (``nsites`` defaulting to
    100), so that probabilities read back unchanged.

    Parameters
    ----------
    motifs
        Motifs to write (at least one).
    path
        Output file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    motifs = list(motifs)
    if not motifs:
        raise InputError("no motifs to write", path=path)
    out = []
    for motif in motifs:
        counts = motif.counts if motif.counts is not None else motif.ppm * (motif.nsites or 100.0)
        out.append(f">{motif.id} {motif.name}")
        for column, letter in enumerate(ALPHABET):
            out.append(f"{letter} [ " + " ".join(_format_number(v) for v in counts[:, column]) + " ]")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("\n".join(out) + "\n")
    return path


# ---------------------------------------------------------------------------------------------- dispatch
def read_motifs(path: PathLike, format: Literal["auto", "meme", "jaspar"] = "auto") -> list[Motif]:
    """Read a motif file, choosing the reader from its content.

    A file whose first non-empty line starts with ``>`` is JASPAR; a file with a ``MEME version`` line or a
    ``letter-probability matrix`` is MEME (the full ``meme`` output included).

    Parameters
    ----------
    path
        Motif file (gzip allowed).
    format
        Force a reader instead of detecting it.

    Returns
    -------
    list of Motif
    """
    if format == "meme":
        return read_meme(path)
    if format == "jaspar":
        return read_jaspar(path)
    if format != "auto":
        raise InputError(f"unknown motif format {format!r}; expected 'auto', 'meme' or 'jaspar'")
    with open_text(path) as handle:
        text = handle.read()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith(">"):
        return read_jaspar(path)
    if "MEME version" in text or "letter-probability matrix" in text:
        return read_meme(path)
    raise InputError(
        f"cannot tell the motif format: expected a MEME file ('MEME version' line) or a JASPAR file "
        f"('>ID name' first), found {first[:40]!r}",
        path=path,
        line=1,
    )


def bundled_jaspar_path() -> Path:
    """Path of the bundled JASPAR 2024 CORE vertebrates non-redundant MEME file (879 motifs, CC BY 4.0)."""
    return Path(str(resources.files("drg") / "resources" / BUNDLED_JASPAR))


@lru_cache(maxsize=1)
def _bundled() -> tuple[Motif, ...]:
    return tuple(read_meme(bundled_jaspar_path()))


def load_bundled_jaspar() -> list[Motif]:
    """The bundled JASPAR 2024 CORE vertebrates non-redundant motifs (parsed once, then cached).

    Returns a new list each call; the Motif objects are shared, so copy them before changing them in place.
    """
    return list(_bundled())


def find_motif(motifs: Sequence[Motif], key: str) -> Motif:
    """The motif whose id equals ``key``, else the first whose name equals ``key`` ignoring case.

    Raises
    ------
    InputError
        When none matches; the message lists close names.
    """
    for motif in motifs:
        if motif.id == key:
            return motif
    lowered = key.lower()
    for motif in motifs:
        if motif.name.lower() == lowered:
            return motif
    import difflib

    close = difflib.get_close_matches(key.upper(), [m.name.upper() for m in motifs], n=5)
    raise InputError(f"no motif with id or name {key!r}" + (f"; close names: {', '.join(close)}" if close else ""))

"""Target matrices: one value per region (row) and track (column), read from and written to DRG's formats.

A target file is either

* a delimited text table (``.tsv``, ``.csv``, ``.txt``, optionally gzipped): the first non-empty line is a
  header naming the tracks (it may start with ``#``, e.g. ``#Name<TAB>B-cell<TAB>T-cell``, and it may have one
  field fewer than the data rows, in which case the first column is unnamed); every further line is a region
  name followed by one number per track. The delimiter is detected from the first data line: tab, then
  comma, else any run of whitespace;
* a ``.npz`` archive in DRG's layout: ``counts`` (N, T), ``names`` (N,), ``celltypes`` (T,). The aliases
  ``values`` for ``counts`` and ``tracks`` for ``celltypes`` are accepted too.

Several files are several modalities: :func:`read_targets` given a list of paths returns a list of
:class:`Targets`, one per file, in the same order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, overload

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, atomic_path, open_text, write_text_atomic

NonFinite = Literal["error", "keep", "zero", "drop"]
_MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "-nan"})
_N_EXAMPLES = 5


def _examples(items: Sequence[str] | np.ndarray, n: int = _N_EXAMPLES) -> str:
    shown = ", ".join(repr(str(x)) for x in list(items[:n]))
    return shown + (", ..." if len(items) > n else "")


@dataclass
class Targets:
    """A regions x tracks matrix of target values.

    Attributes
    ----------
    values
        (N, T) float32 target values.
    names
        (N,) region names (unique).
    tracks
        (T,) track names (cell types, experiments).
    modality
        Name of the data type (e.g. ``"atac"``); :func:`read_targets` uses the file stem by default.
    """

    values: np.ndarray
    names: np.ndarray
    tracks: np.ndarray
    modality: str = "targets"

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise InputError(f"target values must be a 2-D (regions, tracks) array, got shape {values.shape}")
        names = np.asarray(self.names).astype(str).reshape(-1)
        tracks = np.asarray(self.tracks).astype(str).reshape(-1)
        if names.shape[0] != values.shape[0]:
            raise InputError(f"{names.shape[0]} region names for {values.shape[0]} rows of target values")
        if tracks.shape[0] != values.shape[1]:
            raise InputError(f"{tracks.shape[0]} track names for {values.shape[1]} columns of target values")
        index = pd.Index(names)
        if not index.is_unique:
            dup = index[index.duplicated()].unique()
            raise InputError(f"{len(dup)} duplicate region names in targets: {_examples(dup)}")
        self.values, self.names, self.tracks = values, names, tracks

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(N, T)."""
        return self.values.shape  # type: ignore[return-value]

    def subset(self, names: Sequence[str] | np.ndarray) -> Targets:
        """Rows for ``names``, in that order; InputError listing names that are absent."""
        names = np.asarray(names).astype(str).reshape(-1)
        idx = pd.Index(self.names).get_indexer(names)
        if (idx < 0).any():
            absent = names[idx < 0]
            raise InputError(f"{len(absent)} of {len(names)} requested names have no targets: {_examples(absent)}")
        return Targets(self.values[idx], names, self.tracks.copy(), self.modality)

    def select_tracks(self, tracks: Sequence[str | int] | np.ndarray | str | int) -> Targets:
        """Columns chosen by track name or integer position, in the given order."""
        items = [tracks] if isinstance(tracks, str | int | np.integer) else list(tracks)
        cols = []
        lookup = {t: i for i, t in enumerate(self.tracks)}
        for item in items:
            if isinstance(item, int | np.integer) and not isinstance(item, bool):
                if not -len(self.tracks) <= int(item) < len(self.tracks):
                    raise InputError(f"track index {item} out of range for {len(self.tracks)} tracks")
                cols.append(int(item) % len(self.tracks))
            elif str(item) in lookup:
                cols.append(lookup[str(item)])
            else:
                raise InputError(f"unknown track {item!r}; tracks are {_examples(self.tracks, 10)}")
        return Targets(self.values[:, cols], self.names.copy(), self.tracks[cols], self.modality)

    def to_frame(self) -> pd.DataFrame:
        """DataFrame indexed by region name with one column per track."""
        return pd.DataFrame(self.values, index=pd.Index(self.names, name="name"), columns=list(self.tracks))


class AlignedTargets(NamedTuple):
    """Result of :func:`align_targets`.

    Attributes
    ----------
    targets
        Targets whose rows follow the kept region names, in region order.
    region_index
        (M,) int64 positions of the kept rows in the region names given.
    target_index
        (M,) int64 positions of the kept rows in the original targets.
    """

    targets: Targets
    region_index: np.ndarray
    target_index: np.ndarray


# ----------------------------------------------------------------------------------------------- reading


@overload
def read_targets(path: PathLike, *, modality: str | None = ..., nonfinite: NonFinite = ...) -> Targets: ...
@overload
def read_targets(
    path: Sequence[PathLike], *, modality: Sequence[str] | None = ..., nonfinite: NonFinite = ...
) -> list[Targets]: ...


def read_targets(
    path: PathLike | Sequence[PathLike],
    *,
    modality: str | Sequence[str] | None = None,
    nonfinite: NonFinite = "error",
) -> Targets | list[Targets]:
    """Read a target matrix from a text table or a DRG ``.npz`` file.

    Parameters
    ----------
    path
        One file, or a list of files (one modality each; a list of :class:`Targets` is returned).
    modality
        Name(s) of the modality; defaults to the file stem (``atac.tsv.gz`` -> ``"atac"``).
    nonfinite
        What to do with NaN / inf values (``NA`` and empty fields in text count as NaN): ``"error"``
        raises naming the first offending region and track, ``"drop"`` removes those rows with a
        :class:`~drg.errors.DRGWarning`, ``"zero"`` replaces them by 0, ``"keep"`` keeps them.

    Returns
    -------
    Targets or list of Targets
        values (N, T) float32, names (N,), tracks (T,).

    Raises
    ------
    InputError
        Naming the file, the 1-based line and column for non-numeric tokens, ragged rows, duplicate names,
        empty or header-only files, and missing keys or mismatched shapes in ``.npz`` files.
    """
    if nonfinite not in ("error", "keep", "zero", "drop"):
        raise InputError(f"nonfinite must be 'error', 'keep', 'zero' or 'drop', got {nonfinite!r}")
    if not isinstance(path, str | Path) and isinstance(path, Sequence | np.ndarray):
        paths = list(path)
        if modality is None:
            mods: list[str | None] = [None] * len(paths)
        elif isinstance(modality, str):
            raise InputError("give one modality name per file when reading several target files")
        else:
            mods = list(modality)
            if len(mods) != len(paths):
                raise InputError(f"{len(mods)} modality names for {len(paths)} target files")
        return [read_targets(p, modality=m, nonfinite=nonfinite) for p, m in zip(paths, mods, strict=True)]
    if modality is not None and not isinstance(modality, str):
        raise InputError("modality must be a string when reading one target file")
    p = Path(path)  # type: ignore[arg-type]
    if not p.exists():
        raise InputError("target file not found", path=p)
    stem = _stem(p)
    if p.name.endswith(".npz"):
        values, names, tracks, lines, stored_mod = _read_npz(p)
        modality = modality or stored_mod
    else:
        values, names, tracks, lines = _read_table(p)
    values32, keep = _apply_nonfinite(values, names, tracks, lines, p, nonfinite)
    if keep is not None:
        names, lines = names[keep], lines[keep]
    _check_unique(names, p, lines)
    return Targets(values32, names, tracks, modality or stem)


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".npz", ".tsv", ".csv", ".txt", ".tab", ".dat"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or path.name


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str | None]:
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"cannot read .npz archive ({exc}); object arrays are not accepted, save names as "
                         "a fixed-width string array", path=path) from None
    except Exception as exc:  # zipfile / OS errors
        raise InputError(f"not a readable .npz archive: {exc}", path=path) from None
    with archive:
        keys = set(archive.files)
        vkey = next((k for k in ("counts", "values") if k in keys), None)
        tkey = next((k for k in ("celltypes", "tracks") if k in keys), None)
        if vkey is None or "names" not in keys:
            raise InputError(f"target .npz needs keys 'counts' (or 'values') and 'names'; found {sorted(keys)}",
                             path=path)
        values = archive[vkey]
        names = archive["names"].astype(str).reshape(-1)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise InputError(f"'{vkey}' must be 2-D (regions, tracks), got shape {values.shape}", path=path)
        if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
            raise InputError(f"'{vkey}' must be numeric, got dtype {values.dtype}", path=path)
        if tkey is None:
            tracks = np.array([str(i) for i in range(values.shape[1])])
        else:
            tracks = archive[tkey].astype(str).reshape(-1)
        if names.shape[0] != values.shape[0]:
            raise InputError(f"'names' has {names.shape[0]} entries but '{vkey}' has {values.shape[0]} rows",
                             path=path)
        if tracks.shape[0] != values.shape[1]:
            raise InputError(f"'{tkey}' has {tracks.shape[0]} entries but '{vkey}' has {values.shape[1]} "
                             "columns", path=path)
        modality = str(archive["modality"]) if "modality" in keys else None
    # records in an archive are numbered from 1 like lines
    return values.astype(np.float64), names, tracks, np.arange(1, len(names) + 1), modality


def _split_function(delimiter: str | None):
    if delimiter is None:
        return lambda line: line.split()
    return lambda line: [field.strip() for field in line.split(delimiter)]


def _read_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with open_text(path) as handle:
        raw = handle.read().splitlines()
    content = [(i + 1, line) for i, line in enumerate(raw) if line.strip()]
    if not content:
        raise InputError("target file is empty; expected a header line and one line per region", path=path)
    header_no, header = content[0]
    if len(content) == 1:
        raise InputError("target file has a header but no data lines", path=path, line=header_no)
    first = content[1][1]
    delimiter = "\t" if "\t" in first else ("," if "," in first else None)
    split = _split_function(delimiter)
    head = split(header.lstrip("#") if delimiter is not None else header.lstrip("#").strip())
    n_fields = len(split(first))
    if n_fields < 2:
        raise InputError("expected a region name followed by at least one value per line",
                         path=path, line=content[1][0])
    if len(head) == n_fields:
        tracks = head[1:]
    elif len(head) == n_fields - 1:
        tracks = head
    else:
        raise InputError(f"header has {len(head)} fields but the first data line has {n_fields}; expected "
                         f"{n_fields} (name column labelled) or {n_fields - 1} (name column unlabelled)",
                         path=path, line=header_no)
    n_lines = len(content) - 1
    names: list[str] = []
    tokens: list[list[str]] = []
    lines = np.empty(n_lines, dtype=np.int64)
    for k, (line_no, line) in enumerate(content[1:]):
        fields = split(line)
        if len(fields) != n_fields:
            raise InputError(f"expected {n_fields} fields (name + {n_fields - 1} values) like the first data "
                             f"line, found {len(fields)}", path=path, line=line_no)
        names.append(fields[0])
        tokens.append(fields[1:])
        lines[k] = line_no
    values = _parse_numbers(tokens, lines, tracks, path)
    return values, np.asarray(names, dtype=str), np.asarray(tracks, dtype=str), lines


def _parse_numbers(tokens: list[list[str]], lines: np.ndarray, tracks: list[str], path: Path) -> np.ndarray:
    arr = np.asarray(tokens, dtype=str)
    try:
        return arr.astype(np.float64)
    except ValueError:
        pass
    out = np.empty(arr.shape, dtype=np.float64)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            token = arr[i, j]
            try:
                out[i, j] = float(token)
            except ValueError:
                if token.strip().lower() in _MISSING_TOKENS:
                    out[i, j] = np.nan
                else:
                    raise InputError(f"non-numeric value {str(token)!r} in column {j + 2} (track {tracks[j]!r}); "
                                     "expected a number, or NA/nan for a missing value",
                                     path=path, line=int(lines[i])) from None
    return out


def _apply_nonfinite(
    values: np.ndarray, names: np.ndarray, tracks: np.ndarray, lines: np.ndarray, path: Path, policy: str
) -> tuple[np.ndarray, np.ndarray | None]:
    bad = ~np.isfinite(values)
    if not bad.any() or policy == "keep":
        return values.astype(np.float32), None
    if policy == "zero":
        values = values.copy()
        values[bad] = 0.0
        return values.astype(np.float32), None
    rows = np.flatnonzero(bad.any(axis=1))
    if policy == "error":
        r = rows[0]
        c = int(np.flatnonzero(bad[r])[0])
        raise InputError(f"non-finite value {values[r, c]} for region {names[r]!r}, track {tracks[c]!r}; "
                         f"{len(rows)} rows have NaN/inf values (use nonfinite='drop', 'zero' or 'keep')",
                         path=path, line=int(lines[r]))
    warnings.warn(f"{path}: dropped {len(rows)} of {len(names)} regions with NaN/inf targets: "
                  f"{_examples(names[rows])}", DRGWarning, stacklevel=3)
    keep = np.ones(len(names), dtype=bool)
    keep[rows] = False
    return values[keep].astype(np.float32), keep


def _check_unique(names: np.ndarray, path: Path, lines: np.ndarray) -> None:
    index = pd.Index(names)
    if index.is_unique:
        return
    dup_mask = index.duplicated()
    dup = index[dup_mask].unique()
    first = int(lines[np.flatnonzero(dup_mask)[0]])
    raise InputError(f"{len(dup)} region names occur more than once (first repeat here): {_examples(dup)}",
                     path=path, line=first)


# ----------------------------------------------------------------------------------------------- writing


def write_targets(targets: Targets, path: PathLike) -> Path:
    """Write targets atomically; the format follows the extension.

    ``.npz``: DRG layout ``counts`` (N, T) float32, ``names``, ``celltypes`` (+ ``modality``).
    ``.csv``: comma-separated; anything else (``.tsv``, ``.txt``): tab-separated. A trailing ``.gz`` gzips.
    Text tables have the header ``#name<TAB>track...`` and values printed with ``%.9g``, which
    round-trips float32 exactly.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    if path.name.endswith(".npz"):
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, counts=targets.values.astype(np.float32), names=targets.names.astype(str),
                     celltypes=targets.tracks.astype(str), modality=np.array(targets.modality))
        return path
    delimiter = "," if path.name.endswith((".csv", ".csv.gz")) else "\t"
    for kind, items in (("track", targets.tracks), ("region", targets.names)):
        for item in items:
            if delimiter in item or "\n" in item or (delimiter == "\t" and item != item.strip()):
                raise InputError(f"{kind} name {item!r} contains the delimiter, a newline or edge whitespace; "
                                 "it cannot be written to a delimited table", path=path)
    header = "#name" + delimiter + delimiter.join(targets.tracks) + "\n"
    frame = pd.DataFrame(targets.values, index=targets.names)
    body = frame.to_csv(sep=delimiter, header=False, float_format="%.9g", lineterminator="\n", na_rep="nan")
    write_text_atomic(path, header + body)
    return path


# ----------------------------------------------------------------------------------------------- alignment


def align_targets(
    names: Sequence[str] | np.ndarray | pd.Series | pd.DataFrame,
    targets: Targets,
    *,
    missing: Literal["error", "drop"] = "error",
) -> AlignedTargets:
    """Match target rows to region (or sequence) names by name, in O(N) with hash indexing.

    Parameters
    ----------
    names
        (N,) region names, or a regions DataFrame with a ``name`` column. Must be unique.
    targets
        Targets to reorder.
    missing
        Names present on one side only: ``"error"`` raises :class:`InputError` reporting how many are
        missing each way with the first examples; ``"drop"`` keeps the intersection in region order and
        warns with a :class:`DRGWarning` giving the same report.

    Returns
    -------
    AlignedTargets
        ``targets`` (M rows, region order), ``region_index`` (M,) and ``target_index`` (M,) such that
        ``targets.values == original.values[target_index]`` and its names equal ``names[region_index]``.
    """
    if missing not in ("error", "drop"):
        raise InputError(f"missing must be 'error' or 'drop', got {missing!r}")
    if isinstance(names, pd.DataFrame):
        if "name" not in names.columns:
            raise InputError("regions table has no 'name' column to align targets by")
        names = names["name"]
    region_names = np.asarray(names).astype(str).reshape(-1)
    region_index = pd.Index(region_names)
    if not region_index.is_unique:
        dup = region_index[region_index.duplicated()].unique()
        raise InputError(f"{len(dup)} region names occur more than once, so targets cannot be matched "
                         f"unambiguously: {_examples(dup)}")
    target_pos = pd.Index(targets.names).get_indexer(region_names)
    no_target = target_pos < 0
    no_region = region_index.get_indexer(targets.names) < 0
    if no_target.any() or no_region.any():
        parts = []
        if no_target.any():
            parts.append(f"{int(no_target.sum())} of {len(region_names)} regions have no targets "
                         f"({_examples(region_names[no_target])})")
        if no_region.any():
            parts.append(f"{int(no_region.sum())} of {len(targets)} target rows match no region "
                         f"({_examples(targets.names[no_region])})")
        message = "; ".join(parts)
        if missing == "error":
            raise InputError(f"targets '{targets.modality}' and regions do not match: {message}. "
                             "Use missing='drop' to keep the intersection.")
        warnings.warn(f"targets '{targets.modality}': keeping the {int((~no_target).sum())} shared names; "
                      f"{message}", DRGWarning, stacklevel=2)
    ridx = np.flatnonzero(~no_target).astype(np.int64)
    tidx = target_pos[ridx].astype(np.int64)
    aligned = Targets(targets.values[tidx], region_names[ridx], targets.tracks.copy(), targets.modality)
    return AlignedTargets(aligned, ridx, tidx)

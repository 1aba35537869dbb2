"""Recognise and summarise DRG's files (``drg data inspect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.utils import PathLike, open_text

_FASTA_SUFFIXES = {".fa", ".fasta", ".fna", ".fas"}
_REGION_SUFFIXES = {".bed", ".narrowpeak", ".gtf", ".gff", ".gff3", ".bed12"}
_TABLE_SUFFIXES = {".tsv", ".csv", ".txt"}


def _suffix(path: Path) -> str:
    """Lower-case suffix, ignoring a trailing ``.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".bgz"}:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _first_line(path: Path) -> str:
    with open_text(path) as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    raise InputError("file is empty", path=path)


def _array_summary(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    info: dict[str, Any] = {"shape": list(values.shape), "dtype": str(values.dtype)}
    if finite.size:
        info.update(min=float(finite.min()), max=float(finite.max()), mean=round(float(finite.mean()), 6))
    if values.dtype.kind == "f":
        info["non_finite"] = int(values.size - finite.size)
    return info


def describe(path: PathLike) -> dict[str, Any]:
    """Summarise a file DRG reads or writes.

    Recognises DRG one-hot ``.npz``, target ``.npz``/tables, other ``.npz`` archives, memory-mapped one-hot
    directories, FASTA, region files (BED/narrowPeak/GTF), fold files (``# Set_i``) and MEME motif files.

    Returns
    -------
    dict
        ``kind`` plus kind-specific entries (counts, shapes, names, value ranges).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        from drg.data import open_onehot_memmap

        data = open_onehot_memmap(path)
        return {"kind": "one-hot memmap", "n_sequences": int(data.X.shape[0]), "length": int(data.X.shape[2]),
                "first_names": [str(n) for n in data.names[:5]]}
    suffix = _suffix(path)
    if suffix == ".npz":
        return _describe_npz(path)
    first = _first_line(path)
    if first.startswith("# Set_") or first.startswith("#Set_"):
        from drg.data import read_folds

        sets = read_folds(path)
        return {"kind": "folds", "k": len(sets), "set_sizes": [len(s) for s in sets]}
    if first.startswith("MEME version"):
        from drg.motifs import read_meme

        motifs = read_meme(path)
        return {"kind": "MEME motifs", "n_motifs": len(motifs), "lengths": sorted({len(m) for m in motifs}),
                "first_names": [m.name for m in motifs[:5]]}
    if first.startswith(">") or suffix in _FASTA_SUFFIXES:
        from drg.genome import read_fasta

        records = read_fasta(path)
        lengths = np.array([len(s) for s in records.sequences])
        return {"kind": "FASTA", "n_sequences": len(lengths), "min_length": int(lengths.min()),
                "max_length": int(lengths.max()), "first_names": list(records.names[:5])}
    if suffix in _REGION_SUFFIXES:
        from drg.genome import read_regions

        regions = read_regions(path)
        widths = (regions["end"] - regions["start"]).to_numpy()
        return {"kind": "regions", "n_regions": len(regions),
                "chromosomes": int(regions["chrom"].nunique()), "min_width": int(widths.min()),
                "max_width": int(widths.max()), "first_names": list(regions["name"][:5])}
    if suffix in _TABLE_SUFFIXES:
        from drg.data import read_targets

        targets = read_targets(path, nonfinite="keep")
        return {"kind": "targets", "n_regions": len(targets.names), "tracks": [str(t) for t in targets.tracks],
                **_array_summary(targets.values)}
    raise InputError(f"unrecognised file type {suffix or '(no suffix)'}; expected FASTA, BED/narrowPeak/GTF, "
                     "targets table, .npz, fold file or MEME file", path=path)


def _describe_npz(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.files)
        if "seqfeatures" in keys:
            from drg.data import read_onehot_npz

            data = read_onehot_npz(path)
            return {"kind": "one-hot (DRG npz)", "n_sequences": int(data.X.shape[0]),
                    "length": int(data.X.shape[2]), "first_names": [str(n) for n in data.names[:5]]}
        if "counts" in keys:
            from drg.data import read_targets

            targets = read_targets(path, nonfinite="keep")
            return {"kind": "targets (npz)", "n_regions": len(targets.names),
                    "tracks": [str(t) for t in targets.tracks], **_array_summary(targets.values)}
        return {"kind": "npz archive",
                "arrays": {key: _array_summary(archive[key]) if archive[key].dtype.kind in "biuf"
                           else {"shape": list(archive[key].shape), "dtype": str(archive[key].dtype)}
                           for key in keys}}


def read_names(path: PathLike) -> list[str]:
    """Region/sequence names from a FASTA, a targets file, a DRG one-hot ``.npz`` or a one-name-per-line file."""
    path = Path(path)
    info_suffix = _suffix(path)
    if info_suffix == ".npz":
        from drg.data import read_onehot_npz

        return [str(n) for n in read_onehot_npz(path).names]
    first = _first_line(path)
    if first.startswith(">"):
        from drg.genome import read_fasta

        return list(read_fasta(path).names)
    if info_suffix in {".tsv", ".csv"}:
        from drg.data import read_targets

        return [str(n) for n in read_targets(path, nonfinite="keep").names]
    with open_text(path) as handle:
        names = [line.split()[0] for line in handle if line.strip() and not line.startswith("#")]
    if not names:
        raise InputError("no names found", path=path)
    return names

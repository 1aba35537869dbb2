"""Predicted effects of genetic variants (SNVs, MNVs and short indels) on every track of a model.

Each variant gets a reference window of the model's input length read from the genome and an alternative
window of the same length in which the REF allele is replaced by the ALT allele; the effect is a comparison
of the model's predictions for the two windows. Coordinates are 0-based half-open (``pos`` is VCF ``POS``
minus 1; see :func:`drg.design.read_vcf`).

Window rule
-----------
Let ``L`` be the window length, ``a = len(REF)``, ``b = len(ALT)`` and ``d = b - a``.

* The reference window ``[s, s + L)`` holds the REF allele at window index ``o_ref = pos - s``. Without
  regions the REF allele is centred: ``o_ref = L // 2 - a // 2`` (an SNV sits at index ``L // 2``). With
  regions, ``s`` is the start of the region (resized to ``L``) that contains the REF allele.
* The alternative window keeps the reference layout and spreads the length change over both ends: the left
  flank loses ``d // 2`` bases (floor division) and the right flank ``d - d // 2``. An insertion therefore
  trims flank bases symmetrically (the odd base on the right) and a deletion fills the window with genome
  bases from beyond both flanks (the odd base on the right). The ALT allele starts at window index
  ``o_alt = o_ref - d // 2``; the left flank is ``genome[pos - o_alt, pos)`` and the right flank continues
  from ``pos + a``. An SNV or MNV (``d = 0``) changes only the allele's positions.
* Parts of a window beyond a chromosome end are ``N`` (all-zero columns). If an allele is too long for its
  side of the window, the window is cropped to ``L``.
* Regions on strand ``-`` are read reverse-complemented (both windows), as :func:`drg.training.predict` reads
  them; ``offset_ref``/``offset_alt`` and ``start`` always refer to the forward strand.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, progress

__all__ = ["EFFECTS", "VariantEffects", "VariantWindows", "variant_effects", "variant_windows"]

EFFECTS = ("diff", "log2fc")
"""Effect measures: ``diff`` = alt - ref, ``log2fc`` = log2((alt + pseudocount) / (ref + pseudocount))."""


# --------------------------------------------------------------------------------------------- model access
def resolve_model(model: Any, device: Any = None) -> Any:
    """A ``torch.nn.Module`` from a module or a checkpoint / run / model directory (:func:`drg.training.load`)."""
    if isinstance(model, (str, Path)):
        from drg.training import load

        if not Path(model).exists():
            raise InputError("model directory not found", path=model)
        return load(model, device=device if device not in (None, "auto") else "cpu")
    return model


def model_length(model: Any, length: int | None = None) -> int:
    """``length`` when given, else the model's configured input length; InputError when neither exists."""
    if length is not None:
        if isinstance(length, bool) or int(length) != length or length < 1:
            raise InputError(f"length must be a positive integer, got {length!r}")
        return int(length)
    value = getattr(getattr(model, "config", None), "input_length", None)
    if value is None:
        raise InputError(f"{type(model).__name__} does not record its input length; give length=")
    return int(value)


def predict_tracks(
    model: Any,
    X: Any,
    *,
    rc_average: bool = False,
    shift_average: int = 0,
    batch_size: int = 256,
    device: Any = None,
) -> tuple[np.ndarray, list[str]]:
    """Predictions of every output track for ``X: (N, 4, L)``, heads concatenated.

    Returns
    -------
    values, names
        ``(N, T)`` float64 predictions and the ``T`` track names (``modality:track`` when the model has
        several heads).
    """
    from drg.training import predict

    heads = predict(model, X, batch_size=batch_size, device=device, rc_average=rc_average,
                    shift_average=shift_average)
    values = np.concatenate([np.asarray(h.values, dtype=np.float64) for h in heads], axis=1)
    if len(heads) == 1:
        names = [str(t) for t in heads[0].tracks]
    else:
        names = [f"{h.modality}:{t}" for h in heads for t in h.tracks]
    return values, names


def select_tracks(names: Sequence[str], tracks: Any) -> list[int]:
    """Indices of ``tracks`` (None = all; an index, a name, or a list of them) among ``names``.

    Raises InputError for an unknown name (suggesting the closest) or an index out of range.
    """
    names = [str(n) for n in names]
    if tracks is None or (isinstance(tracks, str) and tracks == "all"):
        return list(range(len(names)))
    items = [tracks] if isinstance(tracks, (str, int, np.integer)) else list(tracks)
    if not items:
        raise InputError("tracks is empty; give None for all tracks, or indices/names")
    out: list[int] = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -len(names) <= int(item) < len(names):
                raise InputError(f"track index {item} out of range for {len(names)} tracks")
            out.append(int(item) % len(names))
        elif str(item) in names:
            out.append(names.index(str(item)))
        elif str(item).lstrip("-").isdigit():
            out.extend(select_tracks(names, int(str(item))))
        else:
            close = difflib.get_close_matches(str(item), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
            raise InputError(f"unknown track {item!r}{hint}; tracks are: {shown}")
    return out


# --------------------------------------------------------------------------------------------- windows
class VariantWindows(NamedTuple):
    """Reference and alternative windows of variants (see the module docstring for the rule).

    Attributes
    ----------
    X_ref, X_alt
        ``(N, 4, L)`` int8 one-hot windows (reverse-complemented for regions on strand ``-``).
    index
        ``(N,)`` row positions of these variants in the input table (variants outside every region are
        absent in region mode).
    chrom, start
        ``(N,)`` chromosome and 0-based start of the reference window on the forward strand.
    offset_ref, offset_alt
        ``(N,)`` window index of the first REF / ALT base on the forward strand.
    minus
        ``(N,)`` bool: the windows were reverse-complemented (region on strand ``-``).
    ref_match
        ``(N,)`` bool: the genome holds REF at ``[pos, pos + len(REF))`` (``N`` in REF matches any base).
    genome_ref
        ``(N,)`` the genome's bases at the REF span.
    """

    X_ref: np.ndarray
    X_alt: np.ndarray
    index: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    offset_ref: np.ndarray
    offset_alt: np.ndarray
    minus: np.ndarray
    ref_match: np.ndarray
    genome_ref: np.ndarray


def _as_genome(genome: Any) -> Any:
    if isinstance(genome, (str, Path)):
        from drg.genome import Genome

        return Genome(genome)
    return genome


def _as_variants(variants: Any) -> pd.DataFrame:
    if isinstance(variants, (str, Path)):
        from drg.design.vcf import read_vcf

        return read_vcf(variants)
    if not isinstance(variants, pd.DataFrame):
        raise InputError(f"variants must be a table (read_vcf) or a VCF path, got {type(variants).__name__}")
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in variants.columns]
    if missing:
        raise InputError(f"variants table lacks column(s) {missing}; expected chrom, pos (0-based), ref, alt")
    table = variants.reset_index(drop=True).copy()
    table["ref"] = table["ref"].astype(str).str.upper()
    table["alt"] = table["alt"].astype(str).str.upper()
    bad = ~(table["ref"].str.fullmatch(r"[ACGTN]+") & table["alt"].str.fullmatch(r"[ACGTN]+"))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"variant {_label(table, i)}: alleles must be letters A, C, G, T or N "
                         f"(REF {table['ref'].iat[i]!r}, ALT {table['alt'].iat[i]!r})")
    if "name" not in table.columns:
        table["name"] = [f"{c}:{p + 1}:{r}:{a}" for c, p, r, a in
                         zip(table["chrom"], table["pos"], table["ref"], table["alt"])]
    return table


def _label(table: pd.DataFrame, i: int) -> str:
    name = None
    for column in ("id", "name"):
        if column in table.columns and str(table[column].iat[i]) not in ("", ".", "nan", "None"):
            name = table[column].iat[i]
            break
    where = f"{table['chrom'].iat[i]}:{int(table['pos'].iat[i]) + 1} {table['ref'].iat[i]}>{table['alt'].iat[i]}"
    return f"{name!s} ({where}, 1-based)" if name is not None else f"{where} (1-based)"


def _as_regions(regions: Any, length: int) -> pd.DataFrame:
    from drg.genome import read_regions, resize

    table = read_regions(regions) if isinstance(regions, (str, Path)) else regions
    for column in ("chrom", "start", "end"):
        if column not in table.columns:
            raise InputError(f"regions table has no {column!r} column")
    widths = (table["end"] - table["start"]).to_numpy()
    if len(table) and (widths != length).any():
        table = resize(table, length)
    return table.reset_index(drop=True)


def _region_starts(variants: pd.DataFrame, regions: pd.DataFrame, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and strand of the region (length ``length``) holding each REF allele; -1 start when none.

    Among several regions, the one whose centre is closest to the allele's centre wins.
    """
    n = len(variants)
    starts = np.full(n, -1, dtype=np.int64)
    minus = np.zeros(n, dtype=bool)
    pos = variants["pos"].to_numpy(np.int64)
    size = variants["ref"].str.len().to_numpy(np.int64)
    chroms = variants["chrom"].astype(str).to_numpy()
    rchroms = regions["chrom"].astype(str).to_numpy()
    rstrand = regions["strand"].astype(str).to_numpy() if "strand" in regions.columns else np.full(len(regions), "+")
    for chrom in np.unique(chroms):
        sel = np.flatnonzero(rchroms == chrom)
        vsel = np.flatnonzero(chroms == chrom)
        if not sel.size:
            continue
        order = sel[np.argsort(regions["start"].to_numpy(np.int64)[sel], kind="stable")]
        rs = regions["start"].to_numpy(np.int64)[order]
        p, a = pos[vsel], size[vsel]
        lo = np.searchsorted(rs, p + a - length, "left")
        hi = np.searchsorted(rs, p, "right")
        target = p + a / 2 - length / 2
        k = np.searchsorted(rs, target)
        best = np.full(vsel.size, -1, dtype=np.int64)
        best_gap = np.full(vsel.size, np.inf)
        for cand in (k - 1, k):
            ok = (cand >= lo) & (cand < hi)
            c = np.clip(cand, 0, len(rs) - 1)
            gap = np.where(ok, np.abs(rs[c] - target), np.inf)
            better = gap < best_gap
            best[better] = c[better]
            best_gap[better] = gap[better]
        found = best >= 0
        starts[vsel[found]] = rs[best[found]]
        minus[vsel[found]] = rstrand[order[best[found]]] == "-"
    return starts, minus


def _build(genome: Any, chrom: str, pos: int, ref: str, alt: str, start: int, length: int) -> tuple[str, str, str, int]:
    """(ref window, alt window, genome bases at REF, alt offset) on the forward strand."""
    a, b = len(ref), len(alt)
    o_ref = pos - start
    o_alt = o_ref - (b - a) // 2
    right = length - b - o_alt
    lo = min(start, pos - max(o_alt, 0))
    hi = max(start + length, pos + a + max(right, 0))
    span = genome.fetch(chrom, lo, hi)
    ref_window = span[start - lo:start - lo + length]
    alt_seq = span[pos - max(o_alt, 0) - lo:pos - lo] + alt + span[pos + a - lo:pos + a + max(right, 0) - lo]
    if o_alt < 0:
        alt_seq = alt_seq[-o_alt:]
    return ref_window, alt_seq[:length], span[pos - lo:pos + a - lo], o_alt


def _matches(ref: str, genome_ref: str) -> bool:
    return len(ref) == len(genome_ref) and all(r == "N" or r == g for r, g in zip(ref, genome_ref))


def _layout(genome: Any, variants: pd.DataFrame, length: int, regions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept row positions, window starts, minus) for every variant; warns about variants outside regions."""
    sizes = genome.chrom_sizes
    unknown = ~variants["chrom"].astype(str).isin(list(sizes)).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        known = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
        raise InputError(f"variant {_label(variants, i)}: chromosome {variants['chrom'].iat[i]!r} is not in the "
                         f"genome ({known}); {int(unknown.sum())} variant(s) affected", path=genome.path)
    pos = variants["pos"].to_numpy(np.int64)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise InputError(f"variant {_label(variants, i)}: negative 0-based position {pos[i]}")
    if regions is None:
        a = variants["ref"].str.len().to_numpy(np.int64)
        starts = pos - (length // 2 - a // 2)
        return np.arange(len(variants)), starts, np.zeros(len(variants), dtype=bool)
    starts, minus = _region_starts(variants, _as_regions(regions, length), length)
    kept = np.flatnonzero(starts >= 0)
    if kept.size < len(variants):
        lost = np.flatnonzero(starts < 0)
        shown = ", ".join(_label(variants, int(i)) for i in lost[:5]) + (", ..." if lost.size > 5 else "")
        warnings.warn(f"{lost.size} of {len(variants)} variant(s) lie outside every region and are not scored: "
                      f"{shown}", DRGWarning, stacklevel=3)
    return kept, starts[kept], minus[kept]


def _windows(genome: Any, variants: pd.DataFrame, rows: np.ndarray, starts: np.ndarray, minus: np.ndarray,
             length: int, check_ref: str) -> VariantWindows:
    from drg.genome import one_hot_encode, reverse_complement_sequence

    refs, alts, genome_refs, o_alts = [], [], [], []
    matches = np.zeros(len(rows), dtype=bool)
    for k, (i, s) in enumerate(zip(rows, starts)):
        chrom, pos = str(variants["chrom"].iat[i]), int(variants["pos"].iat[i])
        ref, alt = variants["ref"].iat[i], variants["alt"].iat[i]
        r, x, g, o = _build(genome, chrom, pos, ref, alt, int(s), length)
        matches[k] = _matches(ref, g)
        if not matches[k] and check_ref == "error":
            raise InputError(f"variant {_label(variants, int(i))}: REF {ref!r} does not match the genome "
                             f"({g!r}); check the genome build, or pass check_ref='flag' (--check-ref flag)",
                             path=genome.path)
        if minus[k]:
            r, x = reverse_complement_sequence(r), reverse_complement_sequence(x)
        refs.append(r)
        alts.append(x)
        genome_refs.append(g)
        o_alts.append(o)
    X_ref = one_hot_encode(refs, length=length) if refs else np.zeros((0, 4, length), np.int8)
    X_alt = one_hot_encode(alts, length=length) if alts else np.zeros((0, 4, length), np.int8)
    pos = variants["pos"].to_numpy(np.int64)[rows]
    return VariantWindows(X_ref, X_alt, np.asarray(rows, dtype=np.int64),
                          variants["chrom"].astype(str).to_numpy()[rows].astype(object),
                          np.asarray(starts, dtype=np.int64), pos - starts, np.asarray(o_alts, dtype=np.int64),
                          np.asarray(minus, dtype=bool), matches, np.asarray(genome_refs, dtype=object))


def variant_windows(
    genome: Any,
    variants: pd.DataFrame | PathLike,
    length: int,
    *,
    regions: pd.DataFrame | PathLike | None = None,
    check_ref: Literal["error", "flag"] = "error",
) -> VariantWindows:
    """One-hot reference and alternative windows of variants, by the rule of the module docstring.

    Parameters
    ----------
    genome
        A :class:`drg.genome.Genome` or the path of a FASTA file.
    variants
        A table with ``chrom``, ``pos`` (0-based start of REF), ``ref`` and ``alt`` (as :func:`read_vcf`
        returns), or the path of a VCF file.
    length
        Window length ``L``.
    regions
        Optional regions (table or BED/narrowPeak path, 0-based half-open), resized to ``L`` around their
        centres: each variant is placed in the region that contains its REF allele (the one whose centre is
        nearest when several do) instead of being centred. Variants outside every region are left out with a
        :class:`~drg.errors.DRGWarning` giving their number and the first few.
    check_ref
        ``"error"``: a REF allele that differs from the genome raises InputError naming the variant;
        ``"flag"``: it is only reported in ``ref_match``.

    Returns
    -------
    VariantWindows
        ``X_ref``, ``X_alt`` ``(N, 4, L)`` int8 and per-variant layout (see :class:`VariantWindows`).
    """
    if check_ref not in ("error", "flag"):
        raise InputError(f"check_ref must be 'error' or 'flag', got {check_ref!r}")
    genome = _as_genome(genome)
    table = _as_variants(variants)
    length = model_length(None, length)
    rows, starts, minus = _layout(genome, table, length, regions)
    return _windows(genome, table, rows, starts, minus, length, check_ref)


# --------------------------------------------------------------------------------------------- effects
@dataclass
class VariantEffects:
    """Predicted variant effects.

    Attributes
    ----------
    table
        One row per scored variant: the input columns, ``ref_match`` (REF agrees with the genome),
        ``window_start``/``window_end`` (0-based half-open reference window on the forward strand),
        ``strand`` (``-`` when the windows were reverse-complemented), one column ``<effect>.<track>`` per
        effect and track (``diff.liver``, ``log2fc.liver``), and ``max_abs_<effect>`` (largest absolute
        effect over the tracks) for ranking.
    ref, alt
        ``(N, T)`` float64 predictions of the reference and alternative windows.
    tracks
        ``(T,)`` track names.
    effects
        Effect name -> ``(N, T)`` array (``diff``, ``log2fc``).
    """

    table: pd.DataFrame
    ref: np.ndarray
    alt: np.ndarray
    tracks: list[str]
    effects: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.table)

    def top(self, n: int, effect: str | None = None) -> pd.DataFrame:
        """The ``n`` rows with the largest ``max_abs_<effect>`` (default: the first effect computed)."""
        effect = effect or next(iter(self.effects))
        return self.table.nlargest(n, f"max_abs_{effect}")


def _effect_list(effect: Any) -> list[str]:
    if effect == "both":
        return list(EFFECTS)
    items = [effect] if isinstance(effect, str) else list(effect)
    for item in items:
        if item not in EFFECTS:
            raise InputError(f"unknown effect {item!r}; expected 'diff', 'log2fc' or 'both'")
    if not items:
        raise InputError("effect is empty; expected 'diff', 'log2fc' or 'both'")
    return list(dict.fromkeys(items))


def compute_effects(ref: np.ndarray, alt: np.ndarray, effects: Sequence[str], pseudocount: float) -> dict[str, np.ndarray]:
    """``diff`` = alt - ref and ``log2fc`` = log2((alt + c) / (ref + c)) of ``(N, T)`` predictions.

    ``log2fc`` needs non-negative predictions (counts, rates); InputError otherwise.
    """
    out: dict[str, np.ndarray] = {}
    for name in effects:
        if name == "diff":
            out[name] = alt - ref
        else:
            low = min(float(ref.min(initial=0.0)), float(alt.min(initial=0.0)))
            if low < 0:
                raise InputError(f"log2fc needs non-negative predictions, but the model predicts {low:.4g}; use "
                                 "effect='diff' for models of log-scale or signed outputs")
            if not pseudocount > 0 and (ref.min(initial=1.0) <= 0 or alt.min(initial=1.0) <= 0):
                raise InputError("log2fc of zero predictions needs a positive pseudocount")
            out[name] = np.log2((alt + pseudocount) / (ref + pseudocount))
    return out


def variant_effects(
    model: Any,
    genome: Any,
    variants: pd.DataFrame | PathLike,
    *,
    length: int | None = None,
    regions: pd.DataFrame | PathLike | None = None,
    tracks: Any = None,
    effect: Literal["diff", "log2fc", "both"] | Sequence[str] = "diff",
    pseudocount: float = 1e-3,
    rc_average: bool = False,
    shift_average: int = 0,
    check_ref: Literal["error", "flag"] = "error",
    batch_size: int = 256,
    chunk_size: int = 4096,
    device: Any = None,
    verbose: bool = False,
) -> VariantEffects:
    """Predict the effect of every variant on every (selected) track.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` (``(N, 4, L)`` -> ``(N, T)`` or a list of heads) or a checkpoint / run / model
        directory (:func:`drg.training.load`).
    genome
        :class:`drg.genome.Genome` or FASTA path.
    variants
        Table with ``chrom``, ``pos`` (**0-based** start of REF; VCF ``POS`` is 1-based, :func:`read_vcf`
        converts), ``ref``, ``alt`` (optional ``id``, ``name``), or a VCF path.
    length
        Window length; default the model's input length (``model.config.input_length``).
    regions
        Optional regions: use the region window that contains each variant instead of centring it (see
        :func:`variant_windows`; variants outside every region are left out with a warning).
    tracks
        None for all tracks, or an index, a name, or a list of them.
    effect
        ``"diff"`` (alt - ref), ``"log2fc"`` (log2((alt + pseudocount) / (ref + pseudocount)), for
        non-negative outputs), ``"both"`` or a list.
    pseudocount
        Added to both predictions for ``log2fc``.
    rc_average, shift_average
        Average the predictions over both strands, and over shifts ``-s, 0, s``.
    check_ref
        ``"error"`` (a REF allele that differs from the genome raises InputError naming the variant) or
        ``"flag"`` (score it anyway; ``ref_match`` is False).
    batch_size
        Windows per forward pass.
    chunk_size
        Variants whose windows are built and scored at once (bounds memory to ``2 * chunk_size * 4 * L``).
    device
        Torch device (None: CUDA when available).
    verbose
        Progress bar over chunks.

    Returns
    -------
    VariantEffects
        ``table`` (one row per scored variant, input order), ``ref``/``alt`` ``(N, T)`` predictions,
        ``tracks`` and ``effects``.

    See Also
    --------
    read_vcf, variant_windows
    """
    effects = _effect_list(effect)
    if check_ref not in ("error", "flag"):
        raise InputError(f"check_ref must be 'error' or 'flag', got {check_ref!r}")
    if chunk_size < 1 or batch_size < 1:
        raise InputError("chunk_size and batch_size must be positive")
    model = resolve_model(model, device)
    length = model_length(model, length)
    genome = _as_genome(genome)
    table = _as_variants(variants)
    if not len(table):
        raise InputError("no variants to score")
    rows, starts, minus = _layout(genome, table, length, regions)
    if not rows.size:
        raise InputError("no variant lies inside the regions")
    refs, alts, matches = [], [], []
    names: list[str] = []
    chunks = range(0, rows.size, chunk_size)
    for lo in progress(chunks, total=len(chunks), description="scoring variants", verbose=verbose):
        part = slice(lo, lo + chunk_size)
        w = _windows(genome, table, rows[part], starts[part], minus[part], length, check_ref)
        both = np.concatenate([w.X_ref, w.X_alt])
        values, names = predict_tracks(model, both, rc_average=rc_average, shift_average=shift_average,
                                       batch_size=batch_size, device=device)
        refs.append(values[:len(w.X_ref)])
        alts.append(values[len(w.X_ref):])
        matches.append(w.ref_match)
    chosen = select_tracks(names, tracks)
    ref = np.concatenate(refs)[:, chosen]
    alt = np.concatenate(alts)[:, chosen]
    track_names = [names[i] for i in chosen]
    values = compute_effects(ref, alt, effects, pseudocount)
    out = table.iloc[rows].reset_index(drop=True)
    out["ref_match"] = np.concatenate(matches)
    out["window_start"] = starts
    out["window_end"] = starts + length
    out["strand"] = np.where(minus, "-", "+")
    columns = {f"{e}.{t}": values[e][:, k] for e in effects for k, t in enumerate(track_names)}
    for e in effects:
        columns[f"max_abs_{e}"] = np.abs(values[e]).max(axis=1) if track_names else np.zeros(len(out))
    out = pd.concat([out, pd.DataFrame(columns)], axis=1)
    return VariantEffects(out, ref, alt, track_names, values)

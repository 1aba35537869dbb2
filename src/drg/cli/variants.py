"""``drg variants``: predicted effects of VCF variants on every track, with attribution plots of the top ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from drg.cli._common import done, split_list
from drg.errors import InputError


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _stem(out: Path) -> str:
    name = out.name
    for ext in (".tsv.gz", ".tsv", ".txt", ".csv"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def write_table(table: Any, out: Path) -> None:
    """Write a DataFrame as TSV atomically (gzip when ``out`` ends with ``.gz``)."""
    from drg.utils import write_text_atomic

    write_text_atomic(out, table.to_csv(sep="\t", index=False, float_format="%.6g"))


def _title(name: str, row: Any) -> str:
    where = f"{row['chrom']}:{int(row['pos']) + 1} {row['ref']}>{row['alt']} (1-based)"
    return where if name == f"{row['chrom']}:{int(row['pos']) + 1}:{row['ref']}:{row['alt']}" else f"{name}  {where}"


def plot_top_variants(model: Any, genome: Any, result: Any, out: Path, n: int, *, length: int, regions: Any,
                      method: str, device: Any, effect: str) -> list[Path]:
    """Attribution logos (ref, alt, alt − ref) of the ``n`` variants with the largest effect, beside ``out``.

    Each figure shows the track with the largest absolute effect of its variant.
    """
    from drg.attribution import attribute
    from drg.design.variants import predict_tracks, variant_windows
    from drg.plotting.variants import plot_variant_attribution

    top = result.top(n, effect)
    rows = top.index.to_numpy()
    windows = variant_windows(genome, top.reset_index(drop=True), length, regions=regions, check_ref="flag")
    _, all_names = predict_tracks(model, windows.X_ref[:1].astype(np.float32), device=device)
    values = result.effects[effect][rows]
    paths = []
    gauge = "corrected" if method in ("tism", "ism", "gradient") else "hypothetical"
    for k in range(len(rows)):
        t = int(np.abs(values[k]).argmax())
        track = result.tracks[t]
        index = all_names.index(track)
        x_ref = windows.X_ref[k:k + 1].astype(np.float32)
        x_alt = windows.X_alt[k:k + 1].astype(np.float32)
        a_ref = attribute(model, x_ref, method, [index], gauge, device=device)[0, 0]
        a_alt = attribute(model, x_alt, method, [index], gauge, device=device)[0, 0]
        x_ref, x_alt = x_ref[0], x_alt[0]
        if windows.minus[k]:
            a_ref, a_alt, x_ref, x_alt = (a[::-1, ::-1] for a in (a_ref, a_alt, x_ref, x_alt))
        row = top.iloc[k]
        name = str(row.get("name", row.get("id", k)))
        path = out.with_name(f"{_stem(out)}.variant.{_safe(name)}.png")
        plot_variant_attribution(a_ref, a_alt, x_ref, x_alt, offset_ref=int(windows.offset_ref[k]),
                                 offset_alt=int(windows.offset_alt[k]), ref_len=len(row["ref"]),
                                 alt_len=len(row["alt"]), coordinates=(str(windows.chrom[k]), int(windows.start[k])),
                                 track_name=track, effect=float(values[k, t]), ylabel=f"{method} ({gauge})",
                                 title=_title(name, row),
                                 path=path)
        paths.append(path)
    return paths


def variants(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint, run directory or model directory.")],
    genome: Annotated[Path, typer.Option("--genome", help="Genome FASTA (plain, gzip or bgzip).")],
    vcf: Annotated[Path, typer.Option("--vcf", help="VCF of SNVs / short indels (POS 1-based; gzip allowed).")],
    out: Annotated[Path, typer.Option("--out", help="Output table (.tsv); plots are written beside it.")],
    regions: Annotated[Path | None, typer.Option(
        "--regions", help="BED/narrowPeak regions (0-based): score each variant in the window of the region that "
        "contains it instead of centring it; variants outside every region are skipped with a warning.")] = None,
    length: Annotated[int | None, typer.Option("--length", help="Window length (default: the model's).")] = None,
    tracks: Annotated[str, typer.Option("--tracks", help="'all' or comma-separated indices/names.")] = "all",
    effect: Annotated[str, typer.Option("--effect", help="diff (alt - ref), log2fc or both.")] = "diff",
    pseudocount: Annotated[float, typer.Option("--pseudocount", help="Pseudocount of log2fc.")] = 1e-3,
    rc_average: Annotated[bool, typer.Option("--rc-average", help="Average predictions over both strands.")] = False,
    shift: Annotated[int, typer.Option("--shift", help="Average predictions over shifts -N, 0, N.")] = 0,
    check_ref: Annotated[str, typer.Option(
        "--check-ref", help="error: stop at a REF that differs from the genome; flag: mark it in ref_match.")] = "error",
    skip_unsupported: Annotated[bool, typer.Option(
        "--skip-unsupported", help="Skip symbolic/breakend/long alleles with a warning instead of failing.")] = False,
    max_indel: Annotated[int, typer.Option("--max-indel", help="Longest indel scored (bp).")] = 50,
    plot: Annotated[int, typer.Option("--plot", help="Attribution plots of the N variants with the largest "
                                      "effect.")] = 0,
    plot_method: Annotated[str, typer.Option("--plot-method", help="Attribution of the plots: tism, gradient or "
                                             "ism.")] = "tism",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Windows per forward pass.")] = 256,
    device: Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Predict the effect of every VCF variant (ALT vs REF window of the model's length) on every track."""
    from drg.cli.attribute import load_attribution_model
    from drg.design import read_vcf, variant_effects
    from drg.genome import Genome

    if effect not in ("diff", "log2fc", "both"):
        raise InputError(f"--effect must be diff, log2fc or both; got {effect!r}")
    if check_ref not in ("error", "flag"):
        raise InputError(f"--check-ref must be error or flag; got {check_ref!r}")
    if plot_method not in ("tism", "gradient", "ism"):
        raise InputError(f"--plot-method must be tism, gradient or ism; got {plot_method!r}")
    if plot < 0 or shift < 0:
        raise InputError("--plot and --shift must not be negative")
    net, _ = load_attribution_model(model)
    table = read_vcf(vcf, unsupported="skip" if skip_unsupported else "error", max_indel=max_indel)
    if not len(table):
        raise InputError("the VCF holds no variants", path=vcf)
    fasta = Genome(genome)
    items = split_list(tracks)
    spec = None if items in ([], ["all"]) else [int(i) if i.lstrip("-").isdigit() else i for i in items]
    result = variant_effects(net, fasta, table, length=length, regions=regions, tracks=spec, effect=effect,  # type: ignore[arg-type]
                             pseudocount=pseudocount, rc_average=rc_average, shift_average=shift,
                             check_ref=check_ref, batch_size=batch_size, device=device,  # type: ignore[arg-type]
                             verbose=not quiet)
    write_table(result.table, out)
    mismatched = int((~result.table["ref_match"]).sum())
    extra = f" ({mismatched} with a REF that differs from the genome)" if mismatched else ""
    done(f"effects of {len(result)} variant(s) on {len(result.tracks)} track(s) written to {out}{extra}")
    if plot:
        from drg.design.variants import model_length

        first = "diff" if effect in ("diff", "both") else "log2fc"
        paths = plot_top_variants(net, fasta, result, out, plot, length=model_length(net, length), regions=regions,
                                  method=plot_method, device=device, effect=first)
        done(f"{len(paths)} variant attribution plot(s) written next to {out}")

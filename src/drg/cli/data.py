"""``drg data``: from genome, regions and measurements to model-ready files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from drg.cli._common import done, out_console, split_list
from drg.errors import InputError

app = typer.Typer(help="Prepare sequences, targets and folds.", no_args_is_help=True)

# Options shared by the commands that read regions.
RegionsOpt = Annotated[Path, typer.Option("--regions", help="BED / narrowPeak / GTF / GFF / name-chrom-start-end table.")]
FormatOpt = Annotated[Optional[str], typer.Option(help="Region file format (bed, narrowpeak, gtf, gff, table); default: detect.")]
FeatureOpt = Annotated[str, typer.Option(help="GTF records to use: gene, transcript (exons joined), tss or exon.")]
LengthOpt = Annotated[Optional[int], typer.Option(help="Resize every region to this many bases.")]
AnchorOpt = Annotated[str, typer.Option(help="Fixed point when resizing: center, start, end or summit.")]
UpstreamOpt = Annotated[int, typer.Option(help="Bases added 5' of each region (strand-aware).")]
DownstreamOpt = Annotated[int, typer.Option(help="Bases added 3' of each region (strand-aware).")]
BlacklistOpt = Annotated[Optional[Path], typer.Option(help="BED of regions to exclude.")]
OffEndOpt = Annotated[str, typer.Option("--off-end", help="Regions off a chromosome end: pad (with N), drop, clip or error.")]


def _regions(genome, regions, format, feature, length, anchor, upstream, downstream, blacklist, off_end):
    from drg.genome import prepare_regions

    return prepare_regions(
        regions, format=format, feature=feature, length=length, anchor=anchor, upstream=upstream,
        downstream=downstream, blacklist=blacklist, chrom_sizes=genome.chrom_sizes, off_end=off_end,
    )


@app.command("regions")
def regions_cmd(
    genome: Annotated[Path, typer.Option(help="Genome FASTA (plain, bgzip or gzip).")],
    regions: RegionsOpt,
    out: Annotated[Path, typer.Option(help="Output FASTA (.fa or .fa.gz).")],
    format: FormatOpt = None,
    feature: FeatureOpt = "gene",
    length: LengthOpt = None,
    anchor: AnchorOpt = "center",
    upstream: UpstreamOpt = 0,
    downstream: DownstreamOpt = 0,
    blacklist: BlacklistOpt = None,
    off_end: OffEndOpt = "pad",
    bed_out: Annotated[Optional[Path], typer.Option(help="Also write the prepared regions as BED.")] = None,
) -> None:
    """Extract region sequences (strand-aware; transcripts as joined exons) into a FASTA file."""
    from drg.genome import Genome, write_fasta, write_regions

    gen = Genome(genome)
    table = _regions(gen, regions, format, feature, length, anchor, upstream, downstream, blacklist, off_end)
    seqs = gen.fetch_regions(table, verbose=True)
    write_fasta(list(table["name"]), seqs, out)
    if bed_out is not None:
        write_regions(table, bed_out)
    done(f"{len(seqs)} sequences → {out}")


@app.command("onehot")
def onehot_cmd(
    out: Annotated[Path, typer.Option(help="Output .npz (DRG layout) or, with --memmap, a directory.")],
    genome: Annotated[Optional[Path], typer.Option(help="Genome FASTA (with --regions).")] = None,
    regions: Annotated[Optional[Path], typer.Option(help="Regions to extract from --genome.")] = None,
    fasta: Annotated[Optional[Path], typer.Option(help="FASTA of sequences (instead of --genome/--regions).")] = None,
    length: LengthOpt = None,
    align: Annotated[str, typer.Option(help="Placement of shorter sequences: left, right or center.")] = "center",
    format: FormatOpt = None,
    feature: FeatureOpt = "gene",
    anchor: AnchorOpt = "center",
    upstream: UpstreamOpt = 0,
    downstream: DownstreamOpt = 0,
    blacklist: BlacklistOpt = None,
    off_end: OffEndOpt = "pad",
    memmap: Annotated[bool, typer.Option(help="Write a memory-mapped int8 cache (for data larger than RAM).")] = False,
    chunk_size: Annotated[int, typer.Option(help="Regions encoded per chunk with --memmap.")] = 10000,
) -> None:
    """One-hot encode sequences into DRG's .npz (seqfeatures (N, L, 4) int8 + genenames) or a memmap cache."""
    from drg.data import write_onehot_memmap, write_onehot_npz
    from drg.genome import Genome, one_hot_encode, read_fasta

    if (fasta is None) == (genome is None or regions is None):
        raise InputError("give either --fasta, or both --genome and --regions")
    if fasta is not None:
        records = read_fasta(fasta)
        names, seqs = list(records.names), list(records.sequences)
        chunks = ((seqs[i:i + chunk_size]) for i in range(0, len(seqs), chunk_size))
    else:
        gen = Genome(genome)
        table = _regions(gen, regions, format, feature, length, anchor, upstream, downstream, blacklist, off_end)
        names = list(table["name"])
        chunks = (gen.fetch_regions(table.iloc[i:i + chunk_size]) for i in range(0, len(table), chunk_size))
    if length is None and fasta is not None:
        length = max((len(s) for s in seqs), default=0)
    if memmap:
        if length is None:
            raise InputError("--memmap needs --length (every region must have the same length)")
        source = (one_hot_encode(chunk, length=length, align=align) for chunk in chunks)
        write_onehot_memmap(out, source, names, verbose=True)
    else:
        seq_list = [s for chunk in chunks for s in chunk]
        X = one_hot_encode(seq_list, length=length, align=align)
        write_onehot_npz(out, X, names)
    done(f"{len(names)} sequences one-hot encoded → {out}")


@app.command("signal")
def signal_cmd(
    regions: RegionsOpt,
    out: Annotated[Path, typer.Option(help="Output targets (.tsv or .npz).")],
    bigwig: Annotated[Optional[list[Path]], typer.Option(help="bigWig track (repeat for several).")] = None,
    bam: Annotated[Optional[list[Path]], typer.Option(help="Indexed BAM; Tn5 insertions counted (repeat for several).")] = None,
    fragments: Annotated[Optional[Path], typer.Option(help="10x-style fragments file (chrom start end barcode count).")] = None,
    stat: Annotated[str, typer.Option(help="bigWig statistic per region: mean, sum, max, min or coverage.")] = "mean",
    format: FormatOpt = None,
    feature: FeatureOpt = "gene",
    length: LengthOpt = None,
    anchor: AnchorOpt = "center",
) -> None:
    """Measure signal per region from bigWig, BAM (Tn5 +4/-5 shift) or fragment files."""
    import numpy as np

    from drg.data import Targets, bam_insertions, bigwig_signal, fragment_insertions, write_targets
    from drg.genome import prepare_regions

    sources = sum(x is not None and x != [] for x in (bigwig, bam, fragments))
    if sources != 1:
        raise InputError("give exactly one kind of signal source: --bigwig, --bam or --fragments")
    table = prepare_regions(regions, format=format, feature=feature, length=length, anchor=anchor)
    if bigwig:
        targets = bigwig_signal([str(p) for p in bigwig], table, stat=stat, verbose=True)
    elif bam:
        targets = bam_insertions([str(p) for p in bam], table, verbose=True)
    else:
        targets = fragment_insertions(str(fragments), table, verbose=True)
    if not isinstance(targets, Targets):  # profiles are arrays; this command writes per-region totals
        raise InputError("per-region signal expected")
    write_targets(targets, out)
    done(f"{targets.values.shape[0]} regions × {targets.values.shape[1]} tracks "
         f"(mean {np.nanmean(targets.values):.3g}) → {out}")


@app.command("normalize")
def normalize_cmd(
    targets: Annotated[Path, typer.Argument(help="Targets file (.tsv/.csv/.npz).")],
    out: Annotated[Path, typer.Option(help="Output targets (.tsv or .npz).")],
    method: Annotated[str, typer.Option(help="Comma-separated chain: log1p, log2, cpm, quantile, median_of_ratios, standardize.")] = "log1p",
    pseudocount: Annotated[float, typer.Option(help="Pseudocount for log2.")] = 1.0,
) -> None:
    """Normalise a target matrix (methods applied left to right)."""
    from drg.data import normalize, read_targets, write_targets

    table = read_targets(targets)
    result = normalize(table, split_list(method), pseudocount=pseudocount)
    write_targets(result, out)
    done(f"{method} applied to {table.values.shape[0]} × {table.values.shape[1]} → {out}")


@app.command("folds")
def folds_cmd(
    out: Annotated[Path, typer.Option(help="Output fold file (DRG '# Set_i' format).")],
    k: Annotated[int, typer.Option("--k", help="Number of sets.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    regions: Annotated[Optional[Path], typer.Option(help="Regions: chromosome hold-out sets balanced by size.")] = None,
    names: Annotated[Optional[Path], typer.Option(help="FASTA, targets or one-name-per-line file: random sets.")] = None,
    exclude: Annotated[str, typer.Option(help="Chromosomes kept out of validation/test sets.")] = "chrX,chrY,chrM",
    balance: Annotated[str, typer.Option(help="Balance chromosome sets by number of 'regions' or 'bases'.")] = "regions",
) -> None:
    """Write cross-validation sets: chromosome hold-out (--regions) or random (--names)."""
    from drg.data import chromosome_folds, random_folds, write_folds
    from drg.genome import read_regions

    if (regions is None) == (names is None):
        raise InputError("give exactly one of --regions (chromosome folds) or --names (random folds)")
    if regions is not None:
        sets = chromosome_folds(read_regions(regions), k, seed=seed, exclude=tuple(split_list(exclude)),
                                sizes=balance)
    else:
        from drg.inspect import read_names

        sets = random_folds(read_names(names), k, seed=seed)
    write_folds(sets, out)
    sizes = ", ".join(str(len(s)) for s in sets)
    done(f"{k} sets ({sizes}) → {out}")


@app.command("inspect")
def inspect_cmd(
    path: Annotated[Path, typer.Argument(help="Any DRG file: FASTA, regions, targets, .npz, fold file, MEME, memmap directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Summarise a file: its kind, shape, names and value ranges."""
    import json

    from drg.inspect import describe

    info = describe(path)
    if as_json:
        out_console.print_json(json.dumps(info))
        return
    from rich.table import Table

    table = Table(title=f"{path} ({info['kind']})", show_header=False)
    for key, value in info.items():
        if key != "kind":
            table.add_row(str(key), str(value))
    out_console.print(table)

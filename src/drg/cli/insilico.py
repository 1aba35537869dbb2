"""``drg insilico``: implant motifs into backgrounds, scan motif-pair spacings, ablate sites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from drg.cli._common import done, split_list
from drg.errors import InputError

app = typer.Typer(help="In-silico experiments: motif implants, spacing scans and site ablations.",
                  no_args_is_help=True)

ModelOpt = Annotated[Path, typer.Option("--model", help="Checkpoint, run directory or model directory.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output table (.tsv); figures are written beside it (.png).")]
MotifsOpt = Annotated[Path | None, typer.Option("--motifs", help="Motif file (MEME or JASPAR).")]
MotifOpt = Annotated[list[str] | None, typer.Option(
    "--motif", help="Motif name or id (repeatable, or a comma-separated list).")]
NpzOpt = Annotated[Path | None, typer.Option("--npz", help="Background / input sequences: DRG one-hot .npz.")]
FastaOpt = Annotated[Path | None, typer.Option("--fasta", help="Sequences from a FASTA file.")]
GenomeOpt = Annotated[Path | None, typer.Option("--genome", help="Genome FASTA (with --regions).")]
RegionsOpt = Annotated[Path | None, typer.Option("--regions", help="BED/narrowPeak regions (0-based).")]
RandomOpt = Annotated[int | None, typer.Option("--random", help="Use N uniformly random sequences.")]
LengthOpt = Annotated[int | None, typer.Option("--length", help="Sequence length (default: the model's).")]
NOpt = Annotated[int, typer.Option("--n", help="Dinucleotide shuffles per background sequence.")]
NoShuffleOpt = Annotated[bool, typer.Option("--no-shuffle", help="Use the background sequences as they are.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of shuffles, random sequences and samples.")]
TracksOpt = Annotated[str, typer.Option("--tracks", help="'all' or comma-separated indices/names.")]
ModeOpt = Annotated[str, typer.Option("--mode", help="consensus or sample (bases drawn from the motif).")]
RcOpt = Annotated[bool, typer.Option("--rc-average", help="Average predictions over both strands.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Sequences per forward pass.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def _model(path: Path) -> Any:
    from drg.cli.attribute import load_attribution_model

    return load_attribution_model(path)[0]


def _tracks(value: str) -> Any:
    items = split_list(value)
    if items in ([], ["all"]):
        return None
    return [int(i) if i.lstrip("-").isdigit() else i for i in items]


def select_motifs(path: Path | None, names: list[str] | None) -> list[Any]:
    """Motifs of ``path`` chosen by name or id (all when ``names`` is empty); InputError for unknown names."""
    if path is None:
        raise InputError("give a motif file with --motifs FILE")
    from drg.motifs import read_motifs

    motifs = read_motifs(path)
    wanted = [item for value in names or [] for item in split_list(value)]
    if not wanted:
        return motifs
    lookup: dict[str, Any] = {}
    for m in motifs:
        lookup.setdefault(m.id, m)
        lookup.setdefault(m.name, m)
    missing = [w for w in wanted if w not in lookup]
    if missing:
        import difflib

        close = difflib.get_close_matches(missing[0], list(lookup), n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise InputError(f"{len(missing)} motif(s) not found: {missing[:5]}{hint}", path=path)
    return [lookup[w] for w in wanted]


def sequences(model: Any, *, npz: Path | None, fasta: Path | None, genome: Path | None, regions: Path | None,
              n_random: int | None, length: int | None, seed: int, verbose: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(X (N, 4, L), names)`` from exactly one of --npz, --fasta, --genome/--regions or --random."""
    from drg.design.variants import model_length

    if n_random is not None:
        if any(v is not None for v in (npz, fasta, genome, regions)):
            raise InputError("give either --random N or a sequence file, not both")
        if n_random < 1:
            raise InputError(f"--random must be positive; got {n_random}")
        L = model_length(model, length)
        rng = np.random.default_rng(seed)
        X = np.eye(4, dtype=np.int8)[rng.integers(0, 4, (n_random, L))].transpose(0, 2, 1).copy()
        return X, np.array([f"random_{i}" for i in range(n_random)])
    from drg.cli.attribute import read_sequences

    if length is None and (fasta is not None or genome is not None):
        length = getattr(getattr(model, "config", None), "input_length", None)
    seqs = read_sequences(npz=npz, fasta=fasta, genome=genome, regions=regions, length=length, verbose=verbose)
    if not len(seqs.X):
        raise InputError("no sequences found")
    return np.asarray(seqs.X), np.asarray(seqs.names).astype(str)


def _figure(out: Path, suffix: str = "") -> Path:
    from drg.cli.variants import _stem

    return out.with_name(f"{_stem(out)}{suffix}.png")


@app.command()
def implant(
    model: ModelOpt, out: OutOpt, motifs: MotifsOpt = None, motif: MotifOpt = None, npz: NpzOpt = None,
    fasta: FastaOpt = None, genome: GenomeOpt = None, regions: RegionsOpt = None, random: RandomOpt = None,
    length: LengthOpt = None, n: NOpt = 1, no_shuffle: NoShuffleOpt = False, seed: SeedOpt = 0,
    position: Annotated[int | None, typer.Option("--position", help="0-based motif start (default: centred).")] = None,
    orientation: Annotated[str, typer.Option("--orientation", help="+, - or both (mean of the two).")] = "+",
    mode: ModeOpt = "consensus", tracks: TracksOpt = "all", rc_average: RcOpt = False, batch_size: BatchOpt = 256,
    device: DeviceOpt = None, quiet: QuietOpt = False,
) -> None:
    """Marginal effect of each motif implanted into (dinucleotide-shuffled) background sequences."""
    from drg.design import marginalize
    from drg.design.insilico import _orientations
    from drg.plotting.insilico import plot_marginal_effects

    _orientations(orientation)
    net = _model(model)
    chosen = select_motifs(motifs, motif)
    X, _ = sequences(net, npz=npz, fasta=fasta, genome=genome, regions=regions, n_random=random, length=length,
                     seed=seed, verbose=not quiet)
    result = marginalize(net, chosen, X, position=position, n=n, shuffle=not no_shuffle, orientation=orientation,  # type: ignore[arg-type]
                         mode=mode, tracks=_tracks(tracks), rc_average=rc_average, batch_size=batch_size,  # type: ignore[arg-type]
                         device=device, seed=seed, verbose=not quiet)
    from drg.cli.variants import write_table

    write_table(result.table(), out)
    figure = _figure(out)
    plot_marginal_effects(result, title=f"marginal effects ({result.deltas.shape[1]} backgrounds)", path=figure)
    done(f"marginal effects of {len(chosen)} motif(s) on {len(result.tracks)} track(s) written to {out} and {figure}")


def parse_spacings(value: str) -> list[int]:
    """``"0,2,5"`` or ``"START:STOP[:STEP]"`` (STOP excluded) into a list of gaps."""
    value = value.strip()
    try:
        if ":" in value:
            parts = [int(p) for p in value.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            return list(range(*parts))
        return [int(p) for p in split_list(value)]
    except ValueError:
        raise InputError(f"--spacings must be integers such as 0,2,5 or START:STOP[:STEP]; got {value!r}") from None


@app.command()
def spacing(
    model: ModelOpt, out: OutOpt, motifs: MotifsOpt = None, motif: MotifOpt = None, npz: NpzOpt = None,
    fasta: FastaOpt = None, genome: GenomeOpt = None, regions: RegionsOpt = None, random: RandomOpt = None,
    length: LengthOpt = None, n: NOpt = 1, no_shuffle: NoShuffleOpt = False, seed: SeedOpt = 0,
    spacings: Annotated[str, typer.Option("--spacings", help="Gaps in bp between the motifs: 0,2,5 or "
                                          "START:STOP[:STEP] (STOP excluded).")] = "0:21",
    orientations: Annotated[str, typer.Option("--orientations", help="Orientation pairs of A and B.")] = "++,+-,-+,--",
    mode: ModeOpt = "consensus", tracks: TracksOpt = "all", rc_average: RcOpt = False, batch_size: BatchOpt = 256,
    device: DeviceOpt = None, quiet: QuietOpt = False,
) -> None:
    """Joint, single and interaction effects of a motif pair (--motif A --motif B) over spacings and orientations."""
    from drg.design import spacing_scan
    from drg.plotting.insilico import plot_spacing_scan

    gaps = parse_spacings(spacings)
    net = _model(model)
    chosen = select_motifs(motifs, motif)
    if len(chosen) != 2:
        raise InputError(f"spacing needs exactly two motifs (--motif A --motif B); got {len(chosen)}")
    X, _ = sequences(net, npz=npz, fasta=fasta, genome=genome, regions=regions, n_random=random, length=length,
                     seed=seed, verbose=not quiet)
    result = spacing_scan(net, chosen[0], chosen[1], X, gaps, split_list(orientations), n=n, shuffle=not no_shuffle,
                          mode=mode, tracks=_tracks(tracks), rc_average=rc_average, batch_size=batch_size,  # type: ignore[arg-type]
                          device=device, seed=seed, verbose=not quiet)
    from drg.cli.variants import _safe, write_table

    write_table(result.table(), out)
    figures = [plot_spacing_scan(result, track=t, path=_figure(out, f".{_safe(name)}"))
               for t, name in enumerate(result.tracks[:12])]
    done(f"spacing scan of {result.motif_a} + {result.motif_b} ({len(gaps)} spacings x {len(result.orientations)} "
         f"orientations) written to {out} with {len(figures)} figure(s)")


@app.command()
def ablate(
    model: ModelOpt, out: OutOpt,
    sites: Annotated[Path | None, typer.Option(
        "--sites", help="Site table (TSV): seq_index/start/end 0-based half-open, a seqlet table, or a FIMO / "
        "scan_motifs table (sequence_name, start/stop 1-based).")] = None,
    motifs: MotifsOpt = None, motif: MotifOpt = None,
    threshold: Annotated[float, typer.Option("--threshold", help="p-value threshold of the motif scan.")] = 1e-4,
    npz: NpzOpt = None, fasta: FastaOpt = None, genome: GenomeOpt = None, regions: RegionsOpt = None,
    random: RandomOpt = None, length: LengthOpt = None,
    method: Annotated[str, typer.Option("--method", help="shuffle, zero or background.")] = "shuffle",
    n: Annotated[int, typer.Option("--n", help="Ablation draws per site.")] = 10, seed: SeedOpt = 0,
    tracks: TracksOpt = "all", rc_average: RcOpt = False, batch_size: BatchOpt = 256, device: DeviceOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Effect of removing each site (original minus ablated prediction), sites from a table or a motif scan."""
    import pandas as pd

    from drg.design import ablate as run
    from drg.plotting.insilico import plot_ablation_effects

    if (sites is None) == (motifs is None):
        raise InputError("give the sites either as --sites TABLE or as --motifs FILE (scanned in the sequences)")
    net = _model(model)
    X, names = sequences(net, npz=npz, fasta=fasta, genome=genome, regions=regions, n_random=random, length=length,
                         seed=seed, verbose=not quiet)
    if sites is not None:
        from drg.utils import open_text

        try:
            with open_text(sites) as handle:
                table = pd.read_csv(handle, sep="\t", comment=None)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"cannot read the site table: {exc}", path=sites) from None
    else:
        from drg.motifs import scan_motifs

        table = scan_motifs(select_motifs(motifs, motif), X, threshold=threshold, names=list(names))
        if not len(table):
            raise InputError(f"no motif hits at p <= {threshold} in the sequences", path=motifs)
    result = run(net, X, table, method=method, n=n, names=list(names), tracks=_tracks(tracks),  # type: ignore[arg-type]
                 rc_average=rc_average, batch_size=batch_size, device=device, seed=seed, verbose=not quiet)
    from drg.cli.variants import write_table

    write_table(result.table, out)
    figure = _figure(out)
    plot_ablation_effects(result, path=figure)
    done(f"{method} ablation of {len(result.table)} site(s) on {len(result.tracks)} track(s) written to {out} and "
         f"{figure}")

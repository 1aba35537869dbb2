"""``drg simulate``: data sets with planted JASPAR motifs and known ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from drg.cli._common import done, split_list

app = typer.Typer(help="Simulate sequences with planted motifs and ground truth.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option(help="Output directory.")]
SeedOpt = Annotated[int, typer.Option(help="Seed (same seed, same data).")]
FoldsOpt = Annotated[int, typer.Option("--k", help="Number of random fold sets written.")]


@app.command("synthetic-code")
def synthetic_code_cmd(
    out: OutOpt,
    n: Annotated[int, typer.Option(help="Number of sequences.")] = 20000,
    length: Annotated[int, typer.Option(help="Sequence length.")] = 200,
    seed: SeedOpt = 0,
    k: FoldsOpt = 10,
) -> None:
    """Koo & Ploenzke (2021) "synthetic code": positives built only from SP1, GABPA, CEBPB, MAX and YY1; negatives also from 50 other JASPAR motifs."""
    from drg.provenance import RunRecord
    from drg.simulate import synthetic_code, write_simulation

    record = RunRecord(seed=seed)
    with record.step("simulate"):
        sim = synthetic_code(n=n, length=length, seed=seed)
    with record.step("write"):
        paths = write_simulation(sim, out, k_folds=k, seed=seed)
    record.add_outputs(paths)
    record.write(out)
    done(f"{len(sim.names)} sequences, {len(sim.instances)} planted motif instances → {out}")


@app.command("multitask")
def multitask_cmd(
    out: OutOpt,
    n: Annotated[int, typer.Option(help="Number of sequences.")] = 20000,
    length: Annotated[int, typer.Option(help="Sequence length.")] = 200,
    tracks: Annotated[int, typer.Option(help="Number of tracks (cell types).")] = 8,
    noise: Annotated[float, typer.Option(help="Noise standard deviation relative to the signal's.")] = 0.3,
    motifs: Annotated[Optional[str], typer.Option(help="Comma-separated JASPAR names to plant (default set if omitted).")] = None,
    seed: SeedOpt = 0,
    k: FoldsOpt = 10,
) -> None:
    """Multi-task regression: motifs with shared and cell-type-specific effects, optional interactions, noise."""
    from drg.provenance import RunRecord
    from drg.simulate import multitask_regression, write_simulation

    record = RunRecord(seed=seed)
    with record.step("simulate"):
        sim = multitask_regression(n=n, length=length, n_tracks=tracks, noise=noise,
                                   motifs=split_list(motifs) or None, seed=seed)
    with record.step("write"):
        paths = write_simulation(sim, out, k_folds=k, seed=seed)
    record.add_outputs(paths)
    record.write(out)
    done(f"{len(sim.names)} sequences × {tracks} tracks → {out}")

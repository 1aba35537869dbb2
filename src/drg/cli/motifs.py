"""``drg motifs``: compare motifs (Tomtom statistics) and scan sequences for them (FIMO statistics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done

app = typer.Typer(help="Compare motifs, scan sequences, call and cluster seqlets.", no_args_is_help=True)


@app.command("compare")
def compare_cmd(
    query: Annotated[Path, typer.Argument(help="Query motifs (MEME or JASPAR file).")],
    target: Annotated[Path, typer.Argument(help="Target motifs (MEME or JASPAR file).")],
    out: Annotated[Path, typer.Option("--out", help="Output TSV (Tomtom columns).")],
    dist: Annotated[str, typer.Option(help="Column score: pearson, ed, sandelin, allr, kullback, blic1, blic5.")] = "pearson",
    min_overlap: Annotated[int, typer.Option("--min-overlap", help="Minimum number of aligned columns.")] = 1,
    incomplete_scores: Annotated[bool, typer.Option("--incomplete-scores", help="Score aligned columns only.")] = False,
    thresh: Annotated[float, typer.Option(help="Keep pairs with q-value (E-value with --evalue) at most this.")] = 0.5,
    evalue: Annotated[bool, typer.Option("--evalue", help="Apply --thresh to E-values.")] = False,
    norc: Annotated[bool, typer.Option("--norc", help="Do not compare reverse complements of the targets.")] = False,
) -> None:
    """Compare QUERY motifs with TARGET motifs and write a Tomtom-style table (sorted by query, p-value)."""
    from drg.motifs.io import read_motifs
    from drg.motifs.comparison import tomtom
    from drg.utils import atomic_write

    table = tomtom(
        read_motifs(query), read_motifs(target), dist=dist, min_overlap=min_overlap,
        complete_scores=not incomplete_scores, thresh=thresh, evalue=evalue, reverse_complement=not norc,
    )
    table = table.drop(columns=["query_index", "target_index"])
    with atomic_write(out) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    done(f"{len(table)} matches → {out}")


@app.command("scan")
def scan_cmd(
    motifs: Annotated[Path, typer.Argument(help="Motifs (MEME or JASPAR file).")],
    seqs: Annotated[Path, typer.Argument(help="FASTA file of sequences (plain or gzip).")],
    out: Annotated[Path, typer.Option("--out", help="Output TSV of hits (start/stop 1-based inclusive, as FIMO).")],
    thresh: Annotated[float, typer.Option(help="p-value threshold.")] = 1e-4,
    pseudocount: Annotated[float, typer.Option("--motif-pseudo", help="Motif pseudocount.")] = 0.1,
    norc: Annotated[bool, typer.Option("--norc", help="Scan the given strand only.")] = False,
) -> None:
    """Scan sequences for motif occurrences with FIMO statistics."""
    from drg.motifs.io import read_motifs
    from drg.motifs.scan import scan_motifs
    from drg.utils import atomic_write

    from drg.genome import read_fasta

    names, sequences = read_fasta(seqs)
    table = scan_motifs(
        read_motifs(motifs), sequences, threshold=thresh, pseudocount=pseudocount, both_strands=not norc,
        names=names,
    )
    with atomic_write(out) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    done(f"{len(table)} hits → {out}")


@app.command("group")
def group_cmd(
    motifs: Annotated[Path, typer.Argument(help="Motifs to group (MEME or JASPAR file).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    threshold: Annotated[float, typer.Option(help="Distance cut (1 - best-offset similarity).")] = 0.3,
    similarity: Annotated[str, typer.Option(help="pearson (Tomtom's column correlation) or cosine.")] = "pearson",
    min_overlap: Annotated[int, typer.Option("--min-overlap", help="Minimum number of aligned columns.")] = 4,
    name: Annotated[bool, typer.Option("--name/--no-name", help="Name merged motifs by database matches.")] = True,
    database: Annotated[Path | None, typer.Option(help="Motif database (default bundled JASPAR 2024).")] = None,
    q_threshold: Annotated[float, typer.Option("--q-threshold", help="Tomtom q-value cut for names.")] = 0.05,
) -> None:
    """Group similar motifs (a database, kernels, several runs' clusters): groups.tsv and merged.meme."""
    from drg.motifs.clustering import group_motifs
    from drg.motifs.io import write_meme
    from drg.motifs.naming import name_motifs
    from drg.utils import atomic_write

    merged, table = group_motifs(motifs, threshold, similarity=similarity, min_overlap=min_overlap)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    if name:
        named = name_motifs(merged, database, q_threshold=q_threshold)
        merged = named.motifs
        with atomic_write(out / "names.tsv") as handle:
            named.table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    write_meme(merged, out / "merged.meme")
    with atomic_write(out / "groups.tsv") as handle:
        table.to_csv(handle, sep="\t", index=False)
    done(f"{len(table)} motifs in {len(merged)} groups → {out}")


def _register_seqlet_commands() -> None:
    from drg.cli.motifs_seqlets import cluster, compare_models, seqlets

    app.command("seqlets")(seqlets)
    app.command("cluster")(cluster)
    app.command("compare-models")(compare_models)


_register_seqlet_commands()

"""``drg motifs seqlets`` and ``drg motifs cluster``: seqlets from attribution files and their motif clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done


def _load(attributions: Path):
    from drg.attribution.storage import read_attributions
    from drg.errors import InputError

    att = read_attributions(attributions)
    if att.X is None:
        raise InputError("the attribution file holds no one-hot sequences (X); seqlets need them",
                         path=attributions)
    return att


def seqlets(
    attributions: Annotated[Path, typer.Argument(help="Attribution file (.npz/.h5) with X.")],
    out: Annotated[Path, typer.Option("--out", help="Output seqlet table (TSV, 0-based half-open).")],
    method: Annotated[str, typer.Option(help="zscore (DRG) or pvalue (recursive).")] = "pvalue",
    null: Annotated[Path | None, typer.Option(help="Attributions of shuffled sequences (pvalue null).")] = None,
    threshold: Annotated[float, typer.Option(help="p-value cut (pvalue).")] = 0.01,
    min_len: Annotated[int, typer.Option("--min-len", help="Minimum seqlet length (pvalue).")] = 4,
    max_len: Annotated[int, typer.Option("--max-len", help="Maximum seqlet length (pvalue).")] = 25,
    sign: Annotated[str, typer.Option(help="positive, negative or both (pvalue).")] = "both",
    cut: Annotated[float, typer.Option(help="z-score cut (zscore).")] = 2.0,
    max_gap: Annotated[int, typer.Option("--max-gap", help="Largest gap (zscore).")] = 1,
    min_size: Annotated[int, typer.Option("--min-size", help="Minimum called positions (zscore).")] = 4,
    norm: Annotated[str, typer.Option(help="global, sequence, track, std or none (zscore).")] = "global",
    std: Annotated[float | None, typer.Option(help="Fixed std with --norm std.")] = None,
) -> None:
    """Call seqlets in ATTRIBUTIONS and write them as a TSV table."""
    from drg.motifs.seqlets import call_seqlets_pvalue, call_seqlets_zscore
    from drg.utils import atomic_write

    att = _load(attributions)
    if att.gauge == "raw":
        import warnings

        from drg.errors import DRGWarning

        warnings.warn(f"{attributions}: attributions in the raw gauge score the observed base 0, so seqlets "
                      "(attribution at the observed base) will be empty; compute them with --gauge corrected "
                      "or hypothetical", DRGWarning, stacklevel=1)
    values = att.dense()
    if method == "zscore":
        table = call_seqlets_zscore(values, att.X, cut=cut, max_gap=max_gap, min_size=min_size,
                                    normalization=norm, std=std, regions=att.names, tracks=att.tracks)
    elif method == "pvalue":
        null_values = null_X = None
        if null is not None:
            natt = _load(null)
            null_values, null_X = natt.dense(), natt.X
        table = call_seqlets_pvalue(values, att.X, null=null_values, X_null=null_X, threshold=threshold,
                                    min_len=min_len, max_len=max_len, sign=sign, regions=att.names,
                                    tracks=att.tracks)
    else:
        from drg.errors import InputError

        raise InputError(f"unknown method {method!r}; expected zscore or pvalue")
    with atomic_write(out) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    done(f"{len(table)} seqlets → {out}")


def cluster(
    seqlet_table: Annotated[Path, typer.Argument(help="Seqlet table from `drg motifs seqlets`.")],
    attributions: Annotated[Path, typer.Argument(help="The attribution file the seqlets came from.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    threshold: Annotated[float, typer.Option(help="Distance cut (1 - best-offset cosine).")] = 0.3,
    flank: Annotated[int, typer.Option(help="Positions added on both sides of each seqlet.")] = 2,
    min_seqlets: Annotated[int, typer.Option("--min-seqlets", help="Smallest cluster kept.")] = 5,
    database: Annotated[Path | None, typer.Option(help="Motif database (default bundled JASPAR 2024).")] = None,
    q_threshold: Annotated[float, typer.Option("--q-threshold", help="Tomtom q-value cut for names.")] = 0.05,
    max_names: Annotated[int, typer.Option("--max-names", help="Names per motif.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the clustering samples.")] = 0,
) -> None:
    """Cluster seqlets into motifs; write clusters.meme, clusters.tsv, seqlets.tsv and effect matrices."""
    import pandas as pd

    from drg.errors import InputError
    from drg.motifs.discovery import cluster_seqlets, effect_matrix
    from drg.motifs.io import write_meme
    from drg.utils import atomic_write

    att = _load(attributions)
    try:
        table = pd.read_csv(seqlet_table, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"cannot read seqlet table: {err}", path=seqlet_table) from None
    result = cluster_seqlets(table, att.dense(), att.X, threshold=threshold, flank=flank,
                             min_seqlets=min_seqlets, database=database, q_threshold=q_threshold,
                             max_names=max_names, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    if result.motifs:
        write_meme(result.motifs, out / "clusters.meme")
    else:
        import warnings

        from drg.errors import DRGWarning

        warnings.warn(f"no cluster has {min_seqlets} or more seqlets, so no clusters.meme is written; lower "
                      "--min-seqlets or raise --threshold", DRGWarning, stacklevel=1)
    frames = {"clusters.tsv": result.table, "seqlets.tsv": result.seqlets}
    for by in ("region", "track"):
        for stat in ("max", "mean", "sum", "count"):
            frames[f"effects_{by}_{stat}.tsv"] = effect_matrix(result.seqlets, by, stat=stat)
    for name, frame in frames.items():
        with atomic_write(out / name) as handle:
            frame.to_csv(handle, sep="\t", index=name.startswith("effects"), float_format="%.6g")
    done(f"{len(result.motifs)} motif clusters → {out}")

"""``drg motifs seqlets`` and ``drg motifs cluster``: seqlets from attribution files and their motif clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done

# options shared by `drg motifs cluster` and `drg motifs compare-models`
ClusterThreshold = Annotated[float, typer.Option(help="Distance cut (1 - best-offset cosine).")]
Flank = Annotated[int, typer.Option(help="Positions added on both sides of each seqlet.")]
MinSeqlets = Annotated[int, typer.Option("--min-seqlets", help="Smallest cluster kept.")]
Database = Annotated[Path | None, typer.Option(help="Motif database (default bundled JASPAR 2024).")]
QThreshold = Annotated[float, typer.Option("--q-threshold", help="Tomtom q-value cut for names.")]
Seed = Annotated[int, typer.Option(help="Seed of the clustering samples.")]


def _load(attributions: Path):
    from drg.attribution.storage import read_attributions
    from drg.errors import InputError

    att = read_attributions(attributions)
    if att.X is None:
        raise InputError("the attribution file holds no one-hot sequences (X); seqlets need them",
                         path=attributions)
    return att


def _read_seqlets(path: Path):
    import pandas as pd

    from drg.errors import InputError

    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"cannot read seqlet table: {err}", path=path) from None


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
    threshold: ClusterThreshold = 0.3,
    flank: Flank = 2,
    min_seqlets: MinSeqlets = 5,
    database: Database = None,
    q_threshold: QThreshold = 0.05,
    max_names: Annotated[int, typer.Option("--max-names", help="Names per motif.")] = 3,
    seed: Seed = 0,
) -> None:
    """Cluster seqlets into motifs; write clusters.meme, clusters.tsv, seqlets.tsv and effect matrices."""

    from drg.motifs.discovery import cluster_seqlets, effect_matrix
    from drg.motifs.io import write_meme
    from drg.utils import atomic_write

    att = _load(attributions)
    table = _read_seqlets(seqlet_table)
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


def compare_models(
    run: Annotated[list[str], typer.Option("--run", help="NAME=SEQLETS.tsv,ATTRIBUTIONS.npz; once per model (>= 2).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    threshold: ClusterThreshold = 0.3,
    flank: Flank = 2,
    min_seqlets: MinSeqlets = 5,
    database: Database = None,
    q_threshold: QThreshold = 0.05,
    seed: Seed = 0,
) -> None:
    """Cluster the seqlets of several models together; which motifs each model uses, and which differ.

    Writes clusters.meme, clusters.tsv, seqlets.tsv (with a model column), counts.tsv (seqlets per cluster and
    model), reproducibility.tsv (in how many models each cluster appears), enrichment.tsv (Fisher test of every
    cluster for every pair of models) and models.png (motif tree beside the log2 enrichment of each model).
    """
    import itertools

    import numpy as np
    import pandas as pd

    from drg.errors import InputError
    from drg.motifs.discovery import cluster_seqlets_models, compare_models as fisher_table, reproducibility
    from drg.motifs.io import write_meme
    from drg.plotting import plot_motif_tree
    from drg.utils import atomic_write

    runs = {}
    for item in run:
        label, sep, files = item.partition("=")
        paths = files.split(",")
        if not sep or not label or len(paths) != 2:
            raise InputError(f"--run {item!r}: expected NAME=SEQLETS.tsv,ATTRIBUTIONS.npz")
        if label in runs:
            raise InputError(f"--run {item!r}: model name {label!r} given twice")
        table = _read_seqlets(Path(paths[0]))
        att = _load(Path(paths[1]))
        runs[label] = (table, att.dense(), att.X)
    if len(runs) < 2:
        raise InputError("give at least two models with --run NAME=SEQLETS.tsv,ATTRIBUTIONS.npz")
    result = cluster_seqlets_models(runs, threshold=threshold, flank=flank, min_seqlets=min_seqlets,
                                    database=database, q_threshold=q_threshold, seed=seed)
    if not result.motifs:
        raise InputError(f"no cluster has {min_seqlets} or more seqlets; lower --min-seqlets or raise --threshold")
    names = dict(zip(result.table["cluster"], result.table["name"]))
    clustered = result.seqlets[result.seqlets["cluster"] >= 0]
    counts = (clustered.groupby(["cluster", "model"]).size().unstack(fill_value=0)
              .reindex(index=list(names), columns=list(runs), fill_value=0))
    pairs = []
    for a, b in itertools.combinations(runs, 2):
        if counts[a].sum() and counts[b].sum():
            pairs.append(fisher_table(clustered, a, b).assign(model_a=a, model_b=b))
    enrichment = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame()
    if len(enrichment):
        enrichment.insert(1, "name", enrichment["cluster"].map(names))
    frames = {
        "clusters.tsv": (result.table, False),
        "seqlets.tsv": (result.seqlets, False),
        "counts.tsv": (counts.rename(index=names), True),
        "reproducibility.tsv": (reproducibility(result.seqlets).assign(
            name=lambda d: d["cluster"].map(names)), False),
        "enrichment.tsv": (enrichment, False),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_meme(result.motifs, out / "clusters.meme")
    for file, (frame, index) in frames.items():
        with atomic_write(out / file) as handle:
            frame.to_csv(handle, sep="\t", index=index, float_format="%.6g")
    if len(result.motifs) >= 2:
        # log2 of each model's share of a cluster over the mean share (1 added to every count)
        share = (counts + 1) / (counts + 1).sum(axis=0)
        log_ratio = np.log2(share.div(share.mean(axis=1), axis=0))
        plot_motif_tree(result.motifs, log_ratio.to_numpy(), track_names=list(runs), label="log2 enrichment",
                        title="Seqlet clusters: share of each model's seqlets (log2 over the mean)",
                        path=out / "models.png")
    done(f"{len(runs)} models, {len(result.motifs)} shared motif clusters → {out}")

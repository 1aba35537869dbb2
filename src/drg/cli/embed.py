"""``drg embed``: 2-D maps of a model's representation of sequences, or of its output tracks."""

from __future__ import annotations

import difflib
import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from drg.cli._common import done
from drg.errors import DRGWarning, InputError


def read_color_column(path: Path, column: str, names: np.ndarray) -> pd.Series:
    """Values of ``column`` of a tab-separated table for each of ``names``.

    The table has a header row (a leading ``#`` is ignored) and the item names (regions, sequences or
    tracks) in its first column. Numeric columns are returned as floats, others as strings; names absent
    from the table get a missing value, with a :class:`DRGWarning` saying how many.
    """
    from drg.utils import open_text

    with open_text(path) as handle:
        try:
            table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError(f"cannot read a tab-separated table with a header row: {err}", path=path) from None
    if table.shape[1] < 2:
        raise InputError(f"expected a header row and at least two tab-separated columns (names, then values); "
                         f"found {table.shape[1]}", path=path, line=1)
    table.columns = [str(c) for c in table.columns]
    table = table.rename(columns={table.columns[0]: table.columns[0].lstrip("#").strip()})
    key = table.columns[0]
    if column not in table.columns[1:]:
        valid = list(table.columns[1:])
        close = difflib.get_close_matches(column, valid, n=1, cutoff=0.4)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"no column {column!r}; {hint}columns: {', '.join(valid)}", path=path, line=1)
    duplicated = table[key].duplicated()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError(f"name {table[key].iloc[first]!r} appears twice; expected one row per name", path=path,
                         line=first + 2)
    raw = table.set_index(key)[column]
    present = raw[raw.str.strip() != ""]
    numeric = pd.to_numeric(present, errors="coerce")
    values: pd.Series = numeric.astype(float) if len(present) and numeric.notna().all() else present
    out = values.reindex(pd.Index(names.astype(str)))
    missing = [str(n) for n in names if str(n) not in raw.index]
    if missing:
        warnings.warn(f"{len(missing)} of {len(names)} items have no row in {path} and are drawn as missing "
                      f"(first: {', '.join(missing[:5])})", DRGWarning, stacklevel=2)
    return out


def _write_tsv(path: Path, frame: pd.DataFrame) -> None:
    from drg.utils import atomic_write

    with atomic_write(path) as handle:
        frame.to_csv(handle, sep="\t", index=False, float_format="%.6g")


def embed(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint or run directory (drg train), or a model "
                                        "directory.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (embedding.tsv, embedding.png, "
                                      "embedding.json).")],
    npz: Annotated[Path | None, typer.Option("--npz", help="DRG one-hot .npz of sequences.")] = None,
    fasta: Annotated[Path | None, typer.Option("--fasta", help="FASTA file of sequences.")] = None,
    genome: Annotated[Path | None, typer.Option("--genome", help="Genome FASTA (with --regions).")] = None,
    regions: Annotated[Path | None, typer.Option(
        "--regions", help="BED/narrowPeak/GTF regions in the genome (0-based half-open for BED).")] = None,
    length: Annotated[int | None, typer.Option(
        "--length", help="Centre-pad/crop FASTA sequences and resize regions to this length (default: the "
        "model's input length).")] = None,
    layer: Annotated[str | None, typer.Option(
        "--layer", help="Dotted name of the layer to read (default: the representation the output heads "
        "read).")] = None,
    reduce: Annotated[str, typer.Option("--reduce", help="mean, max or flatten over the length.")] = "mean",
    method: Annotated[str, typer.Option("--method", help="pca, umap (needs umap-learn) or tsne.")] = "pca",
    tracks: Annotated[bool, typer.Option(
        "--tracks", help="Map the output tracks (rows of the last linear layer's weight) instead of sequences.")] = False,
    head: Annotated[str | None, typer.Option("--head", help="Head index or name, with --tracks.")] = None,
    color_by: Annotated[Path | None, typer.Option(
        "--color-by", help="Tab-separated table with a header; first column: sequence/region/track names.")] = None,
    column: Annotated[str | None, typer.Option("--column", help="Column of --color-by to colour by.")] = None,
    vectors: Annotated[bool, typer.Option("--vectors", help="Also write the raw vectors to vectors.npz.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of UMAP and t-SNE.")] = 0,
    n_neighbors: Annotated[int, typer.Option("--n-neighbors", help="UMAP neighbourhood size.")] = 15,
    which: Annotated[str, typer.Option("--which", help="Checkpoint of a run directory: best or last.")] = "best",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Sequences per forward pass.")] = 64,
    device: Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """2-D map (PCA, UMAP or t-SNE) of a model's representation of sequences, or of its output tracks, written
    as a table of coordinates and a scatter plot coloured by metadata."""
    from drg.cli.attribute import load_attribution_model, read_sequences
    from drg.design.embeddings import (
        METHODS,
        REDUCTIONS,
        embed_2d,
        extract_embeddings,
        track_vectors,
    )
    from drg.plotting._style import save_figure
    from drg.plotting.embeddings import plot_embedding
    from drg.utils import atomic_path

    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; expected one of {', '.join(METHODS)}")
    if reduce not in REDUCTIONS:
        raise InputError(f"unknown --reduce {reduce!r}; expected one of {', '.join(REDUCTIONS)}")
    if (color_by is None) != (column is None):
        raise InputError("--color-by TABLE and --column NAME go together")
    if batch_size < 1:
        raise InputError(f"--batch-size must be positive; got {batch_size}")
    net, info = load_attribution_model(model, which)
    record: dict[str, Any] = {**info, "method": method}
    if tracks:
        if any(v is not None for v in (npz, fasta, genome, regions)) or layer is not None:
            raise InputError("--tracks maps the model's output tracks; it takes no sequences and no --layer")
        chosen: int | str | None = int(head) if head is not None and head.lstrip("-").isdigit() else head
        found = track_vectors(net, head=chosen)
        values, names = found.values, found.names
        record.update({"items": "tracks", "layers": found.layers})
    else:
        if head is not None:
            raise InputError("--head applies to --tracks")
        default_length = getattr(getattr(net, "config", None), "input_length", None)
        seqs = read_sequences(npz=npz, fasta=fasta, genome=genome, regions=regions,
                              length=length if length is not None or npz is not None else default_length,
                              verbose=not quiet)
        if len(seqs.names) == 0:
            raise InputError("no sequences to embed")
        values = extract_embeddings(net, seqs.X, layer=layer, reduce=reduce, batch_size=batch_size, device=device,
                                    verbose=not quiet)
        names = seqs.names
        record.update({"items": "sequences", "layer": layer or "input of the output heads", "reduce": reduce})
    emb = embed_2d(values, method=method, seed=seed, n_neighbors=n_neighbors)
    frame = pd.DataFrame({"name": names, "x": emb.coordinates[:, 0], "y": emb.coordinates[:, 1]})
    color = None
    if color_by is not None and column is not None:
        color = read_color_column(color_by, column, np.asarray(names))
        frame[column] = color.to_numpy()
        record.update({"color_by": str(color_by), "column": column})
    out.mkdir(parents=True, exist_ok=True)
    _write_tsv(out / "embedding.tsv", frame)
    what = "tracks" if tracks else "sequences"
    fig = plot_embedding(emb, color=None if color is None else color.to_numpy(), color_name=column,
                         labels=list(names) if tracks else None,
                         title=f"{method.upper() if method != 'tsne' else 't-SNE'} of {len(names)} {what}")
    save_figure(fig, out / "embedding.png")
    files = ["embedding.tsv", "embedding.png", "embedding.json"]
    if vectors:
        with atomic_path(out / "vectors.npz") as tmp:
            np.savez_compressed(tmp, names=np.asarray(names).astype(str), values=values)
        files.append("vectors.npz")
    record.update({"n": len(names), "dimension": int(values.shape[1]), "files": files})
    if emb.explained_variance_ratio is not None:
        record["explained_variance_ratio"] = [float(v) for v in emb.explained_variance_ratio]
    from drg.utils import write_text_atomic

    write_text_atomic(out / "embedding.json", json.dumps(record, indent=2) + "\n")
    done(f"{method} map of {len(names)} {what} ({values.shape[1]}-dimensional vectors) written to {out}")

"""``drg kernels``: first-layer kernels as motifs, kernel knock-out effects, kernels of replicate models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from drg.cli._common import done

app = typer.Typer(help="First-layer kernels: motifs, knock-out effects, replicate models.", no_args_is_help=True)

ModelOpt = Annotated[Path, typer.Option("--model", help="Model directory, checkpoint or training run directory.")]
NpzOpt = Annotated[Path | None, typer.Option("--npz", help="One-hot sequences (DRG .npz: seqfeatures, genenames).")]
RandomOpt = Annotated[int | None, typer.Option("--random", help="Use N uniformly random sequences instead.")]
LengthOpt = Annotated[int | None, typer.Option("--length", help="Length of random sequences (default: model input).")]
LayerOpt = Annotated[str | None, typer.Option("--layer", help="Dotted name of the first-layer convolution.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the random sequences.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Sequences per batch.")]
DeviceOpt = Annotated[str, typer.Option(help="Torch device.")]


def _load_model(path: Path, device: str) -> Any:
    from drg.training.checkpoint import load

    return load(path, device=device)


def _sequences(model: Any, npz: Path | None, n_random: int | None, length: int | None, seed: int) -> tuple[Any, Any]:
    """``(X (N, 4, L) float32, names or None)`` from ``--npz`` or ``--random``."""
    import numpy as np

    from drg.errors import InputError

    if npz is not None and n_random is not None:
        raise InputError("give either --npz or --random, not both")
    if npz is not None:
        from drg.data.drgio import read_onehot_npz

        data = read_onehot_npz(npz)
        if data.X.shape[1] != 4:
            raise InputError(f"expected 4 channels (A, C, G, T), found {data.X.shape[1]}", path=npz)
        return data.X.astype(np.float32), data.names
    if n_random is None:
        raise InputError("sequences are needed: give --npz SEQS or --random N")
    from drg.motifs.kernels import random_onehot

    length = length or int(getattr(getattr(model, "config", None), "input_length", 0) or 0)
    if length <= 0:
        raise InputError("--length is needed for random sequences of this model")
    return random_onehot(n_random, length, seed=seed), None


def _kernel_motifs(model: Any, X: Any, method: str, layer: str | None, selection: str, cut: float | None,
                   transform: str, batch_size: int, device: str, prefix: str = "kernel") -> list[Any]:
    from drg.errors import InputError
    from drg.motifs.kernels import (
        kernel_pwms_from_activations,
        kernel_pwms_from_weights,
    )

    if method == "weights":
        return kernel_pwms_from_weights(model, layer=layer, transform=transform, prefix=prefix)  # type: ignore[arg-type]
    if method != "activations":
        raise InputError(f"--method must be 'weights' or 'activations', got {method!r}")
    return kernel_pwms_from_activations(model, X, layer=layer, method=selection, threshold=cut,  # type: ignore[arg-type]
                                        prefix=prefix, batch_size=batch_size, device=device, verbose=True)


def _targets(path: Path | None, names: Any, X: Any) -> tuple[Any, Any, list[str] | None]:
    """Targets aligned to the sequences (rows without targets dropped with a warning)."""
    if path is None:
        return X, None, None
    from drg.data.targets import align_targets, read_targets
    from drg.errors import InputError

    if names is None:
        raise InputError("--targets needs named sequences (--npz)")
    aligned = align_targets(names, read_targets(path), missing="drop")
    return X[aligned.region_index], aligned.targets.values, list(aligned.targets.tracks)


@app.command("pwms")
def pwms(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", help="Output MEME file.")],
    npz: NpzOpt = None,
    n_random: RandomOpt = None,
    length: LengthOpt = None,
    method: Annotated[str, typer.Option(help="'activations' (most activating windows) or 'weights'.")] = "activations",
    selection: Annotated[str, typer.Option(help="Window selection: 'threshold' (fraction of max) or 'zscore'.")] = "threshold",
    cut: Annotated[float | None, typer.Option(help="Selection cut (default 0.5 of max, or z >= 3).")] = None,
    transform: Annotated[str, typer.Option(help="Weights to probabilities: log_odds, softmax or centered.")] = "log_odds",
    layer: LayerOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 64,
    device: DeviceOpt = "cpu",
) -> None:
    """Write one motif per first-layer kernel to a MEME file."""
    from drg.motifs.io import write_meme

    net = _load_model(model, device)
    X = None
    if method != "weights":
        X, _ = _sequences(net, npz, n_random, length, seed)
    motifs = _kernel_motifs(net, X, method, layer, selection, cut, transform, batch_size, device)
    write_meme(motifs, out)
    done(f"{len(motifs)} kernel motifs → {out}")


@app.command("effects")
def effects(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    npz: NpzOpt = None,
    n_random: RandomOpt = None,
    length: LengthOpt = None,
    targets: Annotated[Path | None, typer.Option("--targets", help="Measured targets (rows matched by name).")] = None,
    layer: LayerOpt = None,
    mean: Annotated[str, typer.Option(help="Knock-out value: 'global' or 'position' mean activation.")] = "global",
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 64,
    kernel_batch: Annotated[int, typer.Option("--kernel-batch", help="Kernels knocked out per forward pass.")] = 16,
    device: DeviceOpt = "cpu",
) -> None:
    """Knock out each kernel: kernel x track tables of prediction changes (and correlation changes) + heatmaps."""
    from drg.motifs.kernels import kernel_effects
    from drg.plotting.motifs import plot_effect_heatmap

    net = _load_model(model, device)
    X, names = _sequences(net, npz, n_random, length, seed)
    X, values, _ = _targets(targets, names, X)
    result = kernel_effects(net, X, values, layer=layer, mean=mean, batch_size=batch_size,  # type: ignore[arg-type]
                            kernel_batch=kernel_batch, device=device, verbose=True)
    paths = result.write(out)
    for key, frame in result.frames().items():
        label = "Δ correlation" if key == "delta_r" else ("mean |Δ prediction|" if key == "mean_abs" else "mean Δ prediction")
        plot_effect_heatmap(frame, label=label, title=f"kernel knock-out: {label}",
                            path=out / f"kernel_effects_{key}.png")
    done(f"{len(result.kernels)} kernels x {len(result.tracks)} tracks → {', '.join(p.name for p in paths)} in {out}")


@app.command("combine")
def combine(
    models: Annotated[list[Path], typer.Argument(help="Model directories of replicate models.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    npz: NpzOpt = None,
    n_random: RandomOpt = None,
    length: LengthOpt = None,
    targets: Annotated[Path | None, typer.Option("--targets", help="Measured targets (adds Δ correlation).")] = None,
    method: Annotated[str, typer.Option(help="Kernel motifs from 'activations' or 'weights'.")] = "activations",
    p_value: Annotated[float, typer.Option("--p-value", help="Tomtom p-value cut of the kernel clustering.")] = 0.01,
    min_effect_corr: Annotated[float, typer.Option("--min-effect-corr", help="Split clusters whose effect vectors correlate less.")] = 0.3,
    min_ic: Annotated[float | None, typer.Option("--min-ic", help="Leave out kernels with fewer bits.")] = None,
    q_value: Annotated[float, typer.Option("--q-value", help="q-value cut of database names.")] = 0.05,
    n_names: Annotated[int, typer.Option("--n-names", help="Database names per cluster.")] = 3,
    database: Annotated[Path | None, typer.Option(help="Motif database (default: bundled JASPAR 2024).")] = None,
    max_plot: Annotated[int, typer.Option("--max-plot", help="Clusters shown in the motif tree.")] = 40,
    layer: LayerOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 64,
    device: DeviceOpt = "cpu",
) -> None:
    """Cluster the kernels of replicate models; write clusters.meme, clusters.tsv and a motif tree."""
    from drg.motifs.io import write_meme
    from drg.motifs.kernel_clusters import combine_kernels
    from drg.motifs.kernels import kernel_effects
    from drg.plotting.motifs import plot_motif_tree
    from drg.utils import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    motif_sets, effect_sets, labels = [], [], []
    X = names = values = None
    for i, path in enumerate(models):
        net = _load_model(path, device)
        if X is None:
            X, names = _sequences(net, npz, n_random, length, seed)
            X, values, _ = _targets(targets, names, X)
        label = f"model_{i}"
        motifs = _kernel_motifs(net, X, method, layer, "threshold", None, "log_odds", batch_size, device)
        write_meme(motifs, out / f"kernels_{label}.meme")
        result = kernel_effects(net, X, values, batch_size=batch_size, device=device, verbose=True)
        result.write(out / label)
        motif_sets.append(motifs)
        effect_sets.append(result.frames()["mean"])
        labels.append(label)
    clusters = combine_kernels(motif_sets, effect_sets, model_names=labels, p_value=p_value,
                               min_effect_corr=min_effect_corr, min_ic=min_ic,
                               database=str(database) if database else "jaspar", q_value=q_value, n_names=n_names)
    write_meme(clusters.motifs, out / "clusters.meme")
    for name, frame in (("clusters.tsv", clusters.table), ("assignments.tsv", clusters.assignments)):
        with atomic_write(out / name) as handle:
            frame.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    if clusters.effects is not None:
        with atomic_write(out / "cluster_effects.tsv") as handle:
            clusters.effects.to_csv(handle, sep="\t", float_format="%.6g")
    shown = min(max_plot, len(clusters.motifs))
    plot_motif_tree(clusters.motifs[:shown], None if clusters.effects is None else clusters.effects.iloc[:shown],
                    label="mean Δ prediction", path=out / "motif_tree.png")
    with_models = int((clusters.table["n_models"] == len(models)).sum())
    done(f"{len(clusters.motifs)} clusters ({with_models} found in all {len(models)} models) → {out}")

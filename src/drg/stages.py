"""Stages shared by :func:`drg.pipeline.run_pipeline` and :func:`drg.quickstart.quickstart`.

Each stage reads what earlier stages wrote, writes its own files under the run directory ``out`` and returns
the section it contributes to ``summary.json`` (paths relative to ``out``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def rel(path: Path, out: Path) -> str:
    """``path`` relative to the run directory ``out`` (as stored in ``summary.json``)."""
    return str(Path(path).resolve().relative_to(Path(out).resolve()))


def training_summary(out: Path, result: Any) -> dict[str, Any]:
    """The ``training`` section: held-out metrics and where the checkpoint is (relative to ``out``)."""
    section = json.loads((Path(result.out_dir) / "summary.json").read_text()).get("training", {})
    section = {key: value for key, value in section.items() if key != "checkpoint"}
    section["checkpoint"] = rel(result.checkpoint_dir, out)
    section["run_dir"] = rel(result.out_dir, out)
    return section


def model_tracks(model: Any, n_outputs: int) -> list[str]:
    """Track names stored in the model's first head (``track_0 …`` when it has none)."""
    names = None
    config = getattr(model, "config", None)
    heads = getattr(config, "heads", None) if config is not None else None
    if heads:
        names = getattr(heads[0], "track_names", None)
    if not names or len(names) != n_outputs:
        names = [f"track_{i}" for i in range(n_outputs)]
    return [str(x) for x in names]


def predict_array(model: Any, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predictions of the first head, ``(N, T)`` float32."""
    from drg.training.prediction import predict_array as predict_heads

    return np.asarray(predict_heads(model, X, batch_size=batch_size)[0], dtype=np.float32)


def baseline_stage(out: Path, train_config: Any, *, k: int, gaps: int, model: str, seed: int,
                   verbose: bool = False) -> dict[str, Any]:
    """A k-mer linear baseline on the CNN's split, and a per-track comparison figure."""
    from drg.baselines import BaselineConfig, run_baseline
    from drg.plotting import plot_model_comparison

    config = BaselineConfig.from_dict({
        "data": train_config.data.to_dict(),
        "features": [{"kind": "kmer", "k": k, "gaps": gaps}],
        "model": {"kind": model},
        "seed": seed,
    })
    folder = out / "baseline"
    result = run_baseline(config, folder, verbose=verbose)
    modality = next(iter(result.evaluations))
    base = _by_track(result.evaluations[modality].per_track)
    cnn = _by_track(pd.read_csv(out / "training" / "evaluation" / modality / "per_track.tsv", sep="\t"))
    figure = folder / "cnn_vs_kmer.png"
    plot_model_comparison(base, cnn, metric="pearson", labels=(f"{k}-mer {model}", "CNN"),
                          title="Held-out Pearson r per track", path=figure)
    return {
        "features": f"{k}-mer" + (f" with {gaps} gaps" if gaps else ""),
        "model": model,
        "test_pearson_mean": float(base["pearson"].mean()),
        "cnn_test_pearson_mean": float(cnn["pearson"].mean()),
        "per_track": pd.DataFrame({"kmer": base["pearson"], "cnn": cnn["pearson"]}).round(4)
        .rename_axis("track").reset_index().to_dict("records"),
        "figure": rel(figure, out),
        "run_dir": rel(folder, out),
    }


def _by_track(table: pd.DataFrame) -> pd.DataFrame:
    """A per-track metrics table indexed by track name."""
    return table.set_index("track") if "track" in table.columns else table


def attribution_stage(out: Path, model: Any, X: np.ndarray, names: Sequence[str], *, method: str = "tism",
                      gauge: str = "corrected", tracks: Sequence[str] | None = None, batch_size: int = 128,
                      n_logos: int = 4, measured: np.ndarray | None = None,
                      boxes: dict[int, list[tuple[int, int, str]]] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Attributions of ``X`` to the selected tracks, stored in ``attribution/held_out.npz`` with logos.

    Returns the summary section and the attributions ``(N, T, 4, L)``. ``boxes`` maps a row of ``X`` to sites
    drawn on its logo (start, end, label); ``measured`` ``(N, T)`` is shown beside the predictions.
    """
    from drg.attribution import attribute, write_attributions
    from drg.plotting import plot_attribution

    predicted = predict_array(model, X)
    all_tracks = model_tracks(model, predicted.shape[1])
    selected = list(tracks) if tracks else all_tracks
    index = [all_tracks.index(t) if t in all_tracks else _track_error(t, all_tracks) for t in selected]
    values = attribute(model, X, method, tracks=index, gauge=gauge, batch_size=batch_size)
    values = np.asarray(values, dtype=np.float32)
    folder = out / "attribution"
    path = folder / "held_out.npz"
    write_attributions(path, values, list(names), selected, method=method, gauge=gauge,
                       model_info={"checkpoint": "training/checkpoints/best"}, X=X)
    top = np.argsort(-np.abs(predicted[:, index]).max(axis=1))[:n_logos]
    logos = []
    for k in top:
        figure = folder / f"logo_{names[k]}.png"
        plot_attribution(values[k], X=X[k], track_names=selected, predicted=predicted[k, index],
                         measured=None if measured is None else measured[k, index],
                         motif_boxes=(boxes or {}).get(int(k)), ylabel=method.upper(), title=str(names[k]),
                         path=figure)
        logos.append(rel(figure, out))
    section = {"method": method, "gauge": gauge, "n_sequences": len(X), "tracks": selected,
               "file": rel(path, out), "logos": logos}
    return section, values


def _track_error(track: str, tracks: list[str]) -> int:
    from drg.errors import InputError

    raise InputError(f"unknown track {track!r}; the model's tracks are {tracks[:10]}"
                     f"{' …' if len(tracks) > 10 else ''}")


def seqlet_stage(out: Path, values: np.ndarray, X: np.ndarray, tracks: Sequence[str], *, method: str = "pvalue",
                 sign: str = "both", threshold: float = 0.3, min_seqlets: int = 5, database: str | None = None,
                 q_threshold: float = 0.05, max_names: int = 3, seed: int = 0,
                 names: Sequence[str] | None = None, verbose: bool = False) -> tuple[dict[str, Any], list[Any]]:
    """Seqlets of the attributions, clustered into motifs named by Tomtom; logos, a motif tree beside the
    track × motif effect heatmap, and the tables. Returns the summary section and the cluster motifs.

    ``names`` (one per row of ``X``) label the seqlet table's regions."""
    from drg.motifs import call_seqlets, cluster_seqlets, effect_matrix, write_meme
    from drg.plotting import plot_motif_logos, plot_motif_tree

    folder = out / "motifs"
    folder.mkdir(parents=True, exist_ok=True)
    # repressors leave negative attributions, so the p-value caller looks at both signs by default; the
    # z-score caller always does
    options = {"sign": sign} if method == "pvalue" else {}
    seqlets = call_seqlets(values, X, method=method, regions=list(names) if names is not None else None,
                           tracks=list(tracks), **options)
    clusters = cluster_seqlets(seqlets, values, X, threshold=threshold, min_seqlets=min_seqlets,
                               database=database, q_threshold=q_threshold, max_names=max_names,
                               seed=seed, verbose=verbose)
    write_meme(clusters.motifs, folder / "attribution_clusters.meme")
    clusters.table.to_csv(folder / "attribution_clusters.tsv", sep="\t", index=False)
    clusters.seqlets.to_csv(folder / "seqlets.tsv", sep="\t", index=False)
    files = {"clusters": rel(folder / "attribution_clusters.meme", out),
             "table": rel(folder / "attribution_clusters.tsv", out),
             "seqlets": rel(folder / "seqlets.tsv", out)}
    table = clusters.table
    # clusters by size (the table lists positive clusters first, then negative ones)
    largest = [int(i) for i in np.argsort(-table["n_seqlets"].to_numpy(), kind="stable")]
    if largest:
        plot_motif_logos([clusters.motifs[i] for i in largest[:12]], kind="ic",
                         path=folder / "attribution_clusters.png")
        files["logos"] = rel(folder / "attribution_clusters.png", out)
    if len(clusters.motifs) >= 2 and "track" in clusters.seqlets.columns:
        effects = effect_matrix(clusters.seqlets, by="track", stat="mean")
        columns = [c for c in largest[:20] if c in effects.columns]
        matrix = effects[columns].T.to_numpy(dtype=float)
        track_labels = [tracks[int(t)] if str(t).isdigit() and int(t) < len(tracks) else str(t)
                        for t in effects.index]
        plot_motif_tree([clusters.motifs[c] for c in columns], matrix, track_names=track_labels,
                        label="mean seqlet score", title="The 20 largest attribution motifs and their effect per track",
                        path=folder / "motif_tree.png")
        files["tree"] = rel(folder / "motif_tree.png", out)
    named = table[table["matches"].fillna("") != ""] if "matches" in table else table.iloc[:0]
    keep = [c for c in ("id", "name", "sign", "n_seqlets", "consensus", "matches") if c in table]
    section = {"n_seqlets": len(seqlets), "n_clusters": len(clusters.motifs),
               "n_named_clusters": len(named), "clusters": table.iloc[largest[:20]][keep].to_dict("records"),
               "files": files}
    return section, list(clusters.motifs)


def kernel_stage(out: Path, model: Any, X: np.ndarray, tracks: Sequence[str], *, targets: np.ndarray | None = None,
                 effects: bool = True, database: str | None = None, q_threshold: float = 0.05,
                 verbose: bool = False) -> tuple[dict[str, Any], list[Any]]:
    """First-layer kernels as PWMs from their most activating windows in ``X``, trimmed of uninformative end
    columns and named by Tomtom, with knock-out effects per track on ``X`` (``targets`` are its measurements):
    the mean change of the prediction when a kernel's activation is replaced by its mean."""
    from drg.motifs import (
        kernel_effects,
        kernel_pwms_from_activations,
        name_motifs,
        write_meme,
    )
    from drg.plotting import plot_motif_tree

    folder = out / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    # a kernel is usually wider than the motif it learned: drop its uninformative end columns before matching
    kernels = [k.trim(0.3) for k in kernel_pwms_from_activations(model, X, verbose=verbose)
               if (k.nsites or 0) > 0 and k.information_content.max() >= 0.3]
    named = name_motifs(kernels, database, q_threshold=q_threshold) if kernels else None
    motifs = list(named.motifs) if named is not None else []
    write_meme(motifs, folder / "kernels.meme")
    files = {"kernels": rel(folder / "kernels.meme", out)}
    section: dict[str, Any] = {"n_kernels": len(motifs)}
    if named is not None:
        named.table.to_csv(folder / "kernels.tsv", sep="\t", index=False)
        files["table"] = rel(folder / "kernels.tsv", out)
        matched = named.table[named.table["matches"].fillna("") != ""] if "matches" in named.table else []
        section["n_named"] = len(matched)
    if effects and motifs:
        result = kernel_effects(model, X, targets, track_names=list(tracks), verbose=verbose)
        frame = pd.DataFrame(result.mean, index=result.kernels, columns=result.tracks)
        frame.to_csv(folder / "effects.tsv", sep="\t")
        files["effects"] = rel(folder / "effects.tsv", out)
        strongest = np.argsort(-np.abs(result.mean).max(axis=1))
        index = {m.id: m for m in motifs}
        order = [int(i) for i in strongest if result.kernels[i] in index][:20]
        if len(order) >= 2:
            plot_motif_tree([index[result.kernels[i]] for i in order], result.mean[order],
                            track_names=list(result.tracks), label="knock-out effect",
                            title="The 20 kernels with the largest knock-out effects",
                            path=folder / "kernel_tree.png")
            files["tree"] = rel(folder / "kernel_tree.png", out)
        section["strongest"] = [{"kernel": index[result.kernels[i]].name,
                                 "consensus": index[result.kernels[i]].consensus,
                                 "max_abs_effect": round(float(np.abs(result.mean[i]).max()), 4)}
                                for i in order[:10]]
    section["files"] = files
    return section, motifs


def design_stage(out: Path, model: Any, X: np.ndarray, names: Sequence[str], tracks: Sequence[str], step: Any, *,
                 seed: int = 0, verbose: bool = False) -> dict[str, Any]:
    """Edit the held-out sequences with a middling objective toward ``step.objective``; FASTA, trajectory table,
    trajectory plot and attribution logos of start and designed sequences.

    ``step`` is a :class:`drg.pipeline.DesignStep`. Starting from sequences in the middle of the objective's
    distribution shows how far a few edits move a typical sequence.
    """
    from drg.attribution import attribute
    from drg.design import DesignConstraints, DesignObjective, optimize_sequences
    from drg.genome import one_hot_decode, write_fasta
    from drg.plotting.design import plot_design_logos, plot_design_trajectory

    folder = out / "design"
    folder.mkdir(parents=True, exist_ok=True)
    objective = DesignObjective(kind=step.objective, tracks=list(step.tracks),
                                against=None if step.against is None else list(step.against))
    resolved = objective.resolve(len(tracks), list(tracks))
    predicted = predict_array(model, X)
    start_scores = resolved(predicted[:, resolved.columns])
    middle = np.argsort(np.abs(start_scores - np.median(start_scores)))[: step.n_sequences]
    constraints = DesignConstraints(forbidden=tuple(step.forbid), gc_range=step.gc)
    result = optimize_sequences(model, X[middle], objective, method=step.method, scorer=step.scorer,
                                n_steps=step.steps, constraints=constraints, seed=seed, verbose=verbose)
    chosen = [str(names[i]) for i in middle]
    write_fasta([f"{n}_start" for n in chosen], one_hot_decode(result.X_start), folder / "start.fa")
    write_fasta([f"{n}_designed" for n in chosen], one_hot_decode(result.X), folder / "designed.fa")
    trajectory = result.trajectory.assign(name=[chosen[i] for i in result.trajectory["sequence"]])
    trajectory.to_csv(folder / "trajectory.tsv", sep="\t", index=False)
    table = result.summary().assign(name=chosen).round(4)
    table.to_csv(folder / "designed.tsv", sep="\t", index=False)
    figures = [folder / "trajectory.png"]
    plot_design_trajectory(result.trajectory, tracks=list(result.track_names), title="Objective and predictions "
                           "along the design trajectory", path=figures[0])
    both = np.concatenate([result.X_start, result.X]).astype(np.float32)
    columns = list(resolved.columns)
    values = np.asarray(attribute(model, both, "ism", tracks=columns, gauge="corrected"), dtype=np.float32)
    both_predicted = predict_array(model, both)[:, columns]
    n = len(chosen)
    for k, name in enumerate(chosen[:3]):
        figure = folder / f"logos_{name}.png"
        plot_design_logos(values[k], values[n + k], result.X_start[k], result.X[k], track_names=resolved.names,
                          predicted_start=both_predicted[k], predicted_final=both_predicted[n + k],
                          ylabel="ISM", title=f"{name}: start (top) and designed (bottom)", path=figure)
        figures.append(figure)
    return {
        "description": f"{step.method} design ({step.scorer} scoring, up to {step.steps} edits) of "
                       f"{n} held-out sequence(s) toward: {objective.describe(resolved.names)}.",
        "objective": objective.describe(resolved.names),
        "start_objective_mean": float(np.mean(result.start_objective)),
        "final_objective_mean": float(np.mean(result.final_objective)),
        "edits_mean": float(np.mean(result.n_edits)),
        "table": table[["name", "start_objective", "final_objective", "gain", "n_edits"]].to_dict("records"),
        "files": {"designed": rel(folder / "designed.fa", out), "start": rel(folder / "start.fa", out),
                  "trajectory": rel(folder / "trajectory.tsv", out)},
        "figures": [rel(f, out) for f in figures],
    }


def embedding_stage(out: Path, model: Any, X: np.ndarray, names: Sequence[str], tracks: Sequence[str], *,
                    color: Sequence[Any] | None = None, color_name: str | None = None,
                    seed: int = 0) -> dict[str, Any]:
    """PCA maps of the held-out regions (the representation the heads read) and of the tracks (rows of the
    output layer). Regions are coloured by ``color`` (default: the measured or predicted first track)."""
    from drg.design import embed_2d, extract_embeddings, track_vectors
    from drg.plotting import plot_embedding, save_figure

    folder = out / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    regions = embed_2d(extract_embeddings(model, X), method="pca", seed=seed)
    if color is None:
        color, color_name = predict_array(model, X)[:, 0], f"predicted {tracks[0]}"
    table = pd.DataFrame({"name": list(names), "x": regions.coordinates[:, 0], "y": regions.coordinates[:, 1],
                          (color_name or "colour"): list(color)})
    table.to_csv(folder / "regions.tsv", sep="\t", index=False)
    figures = [folder / "regions_pca.png"]
    save_figure(plot_embedding(regions, color=list(color), color_name=color_name,
                               title=f"{len(names)} held-out regions (PCA of the model's representation)"),
                figures[0])
    section: dict[str, Any] = {
        "description": "Two-dimensional maps of what the model computes: held-out regions by the "
                       "representation its output heads read, and tracks by their output-layer weights.",
        "regions_explained_variance": [round(float(v), 4) for v in regions.explained_variance_ratio[:2]],
    }
    vectors = track_vectors(model)
    if len(vectors.names) >= 3:
        track_map = embed_2d(vectors.values, method="pca", seed=seed)
        figures.append(folder / "tracks_pca.png")
        save_figure(plot_embedding(track_map, labels=list(vectors.names),
                                   title="Tracks (PCA of their output-layer weights)"), figures[-1])
    section["figures"] = [rel(f, out) for f in figures]
    return section

"""The main job on bundled data: simulate a multi-task data set from JASPAR motifs and make it model-ready.

:func:`quickstart` is what ``drg quickstart`` runs. It needs no user data: the sequences are simulated from
the JASPAR 2024 motifs that ship with DRG, with known ground truth, so every later stage can be checked
against the truth. The output directory holds the data in DRG's formats, a fold file, ``config.yaml``,
``run.json`` and ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drg.config import Config
from drg.provenance import RunRecord, update_summary
from drg.utils import PathLike


class QuickstartConfig(Config):
    """Settings of the bundled main job."""

    seed: int = 0
    n_sequences: int = 20000
    length: int = 200
    n_tracks: int = 8
    noise: float = 0.3
    k_folds: int = 10
    max_epochs: int = 12
    batch_size: int = 128
    n_attribution: int = 500
    n_logos: int = 4


def quickstart_model(length: int) -> dict[str, Any]:
    """The CNN the main job trains: 64 RC-scanning kernels of 15 bp, two dilated residual layers, mean over the
    length (the simulated effects do not depend on where a motif sits) and one FC layer."""
    return {
        "kind": "cnn",
        "input_length": length,
        "activation": "gelu",
        "first_layer": {"n_kernels": 64, "kernel_size": 15, "reverse_complement": True, "strand_pool": "max",
                        "activation": "relu", "pooling": {"mode": "max", "size": 4}},
        "tower": {"n_layers": 2, "kernel_size": 5, "dilations": [2, 4], "batch_norm": True,
                  "residual_every": 1, "pool_every": 2, "pooling": {"mode": "max", "size": 5}},
        "reduction": "mean",
        "heads": [{"name": "targets", "n_outputs": 1, "fc_layers": 1, "fc_size": 128, "dropout": 0.1}],
    }


def quickstart_training(data_dir: Path, run_dir: Path, config: QuickstartConfig) -> dict[str, Any]:
    """Run config of the training stage: fold 0 of the simulated data (validation set 0, test set 1)."""
    return {
        "seed": config.seed,
        "out_dir": str(run_dir),
        "data": {"onehot": str(data_dir / "sequences.npz"), "targets": [str(data_dir / "targets.tsv")],
                 "folds": str(data_dir / "folds.txt"), "fold": 0},
        "model": quickstart_model(config.length),
        "losses": [{"name": "mse"}],
        "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4},
        "schedule": {"name": "cosine", "warmup_epochs": 1},
        "augmentation": {"reverse_complement": True},
        "stopping": {"max_epochs": config.max_epochs, "patience": 3},
        "trainer": {"accelerator": "cpu", "batch_size": config.batch_size},
    }


def quickstart(out_dir: PathLike, config: QuickstartConfig | None = None, *, verbose: bool = True) -> dict[str, Any]:
    """Run the main job into ``out_dir`` and return the ``summary.json`` content.

    Parameters
    ----------
    out_dir
        Output directory (created). It receives ``data/`` (sequences, targets, folds, ground truth),
        ``config.yaml``, ``run.json`` and ``summary.json``.
    config
        Settings; defaults to :class:`QuickstartConfig`.
    verbose
        Show progress.
    """
    import json

    from drg.data import fold_split, read_folds
    from drg.simulate import multitask_regression, write_simulation

    config = config or QuickstartConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out / "config.yaml")
    record = RunRecord(seed=config.seed)

    with record.step("simulate"):
        sim = multitask_regression(
            n=config.n_sequences, length=config.length, n_tracks=config.n_tracks,
            noise=config.noise, seed=config.seed,
        )
    with record.step("write_data"):
        paths = write_simulation(sim, out / "data", k_folds=config.k_folds, seed=config.seed)
    record.add_outputs({name: Path(p).relative_to(out) for name, p in paths.items()})

    sets = read_folds(paths["folds"])
    split = fold_split(list(sim.names), sets, 0)
    y = np.asarray(sim.targets, dtype=np.float64)
    summary = {
        "n_sequences": int(len(sim.names)),
        "length": int(sim.X.shape[-1]),
        "n_tracks": int(y.shape[1]),
        "tracks": [str(t) for t in sim.tracks],
        "planted_motifs": [m.name for m in sim.motifs],
        "motif_instances": int(len(sim.instances)),
        "folds": {
            "k": len(sets),
            "set_sizes": [len(s) for s in sets],
            "fold0_split": {"train": int(len(split.train)), "val": int(len(split.val)),
                            "test": int(len(split.test))},
        },
        "target_mean": np.round(y.mean(axis=0), 4).tolist(),
        "target_std": np.round(y.std(axis=0), 4).tolist(),
        "files": {name: str(Path(p).relative_to(out)) for name, p in paths.items()},
        "seconds": round(sum(record.data["timings_s"].values()), 2),
    }
    update_summary(out, "data", summary)

    from drg.training import fit

    with record.step("train"):
        result = fit(quickstart_training(out / "data", out / "training", config), verbose=verbose)
    training = _training_summary(out, result)
    update_summary(out, "training", training)

    with record.step("attribute"):
        attribution = attribution_stage(out, sim, result.model, split.test, config)
    update_summary(out, "attribution", attribution)
    with record.step("motifs"):
        motifs = motif_stage(out, sim, result.model, config)
    update_summary(out, "motifs", motifs)
    with record.step("report"):
        report = write_report(out)
    update_summary(out, "report", {"index": str(report.relative_to(out))})
    record.write(out)
    if verbose:
        from rich.console import Console

        Console(stderr=True).print(
            f"[bold]DRG quickstart[/bold]: {summary['n_sequences']} sequences × {summary['length']} bp, "
            f"{summary['n_tracks']} tracks, {len(summary['planted_motifs'])} planted motifs; "
            f"held-out Pearson r (mean over tracks) {training['test_pearson_mean']:.3f}; "
            f"attributions find planted motifs with AUROC {attribution['auroc_mean']:.3f}; "
            f"planted motifs recovered from attributions "
            f"{len(motifs['recovered']['attributions'])}/{len(motifs['planted'])}, from kernels "
            f"{len(motifs['recovered']['kernels'])}/{len(motifs['planted'])} → {report}"
        )
    return json.loads((out / "summary.json").read_text())


def _training_summary(out: Path, result: Any) -> dict[str, Any]:
    """The ``training`` section: held-out metrics and where the checkpoint is (relative to ``out``)."""
    import json

    section = json.loads((Path(result.out_dir) / "summary.json").read_text()).get("training", {})
    section = {key: value for key, value in section.items() if not isinstance(value, str) or key != "checkpoint"}
    section["checkpoint"] = str(Path(result.checkpoint_dir).resolve().relative_to(out.resolve()))
    section["run_dir"] = str(Path(result.out_dir).resolve().relative_to(out.resolve()))
    return section


def attribution_stage(out: Path, sim: Any, model: Any, test_index: np.ndarray,
                      config: QuickstartConfig) -> dict[str, Any]:
    """TISM attributions (corrected gauge) of held-out sequences, checked against the planted motif sites.

    For every sequence the importance of a position is the largest absolute attribution of its reference base
    over the tracks; the per-sequence AUROC of that importance against the planted motif positions says how
    well the model's attributions find the motifs. Logos of the sequences with the highest predicted signal
    are drawn with the planted sites boxed.
    """
    from drg.attribution import attribute, write_attributions
    from drg.plotting import plot_attribution
    from drg.training.metrics import auroc

    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(test_index, size=min(config.n_attribution, len(test_index)), replace=False))
    X = sim.X[chosen].astype(np.float32)
    values = attribute(model, X, "tism", gauge="corrected", batch_size=128)
    names = [str(sim.names[i]) for i in chosen]
    tracks = [str(t) for t in sim.tracks]
    folder = out / "attribution"
    write_attributions(folder / "test_tism.npz", values, names, tracks, method="tism", gauge="corrected",
                       model_info={"checkpoint": "training/checkpoints/best"}, X=X)

    importance = np.abs((values * X[:, None]).sum(axis=2)).max(axis=1)  # (n, L)
    planted = np.zeros(importance.shape, dtype=bool)
    instances = sim.instances
    row_of = {int(i): k for k, i in enumerate(chosen)}
    for seq, start, end in zip(instances["seq_index"], instances["start"], instances["end"]):
        if int(seq) in row_of:
            planted[row_of[int(seq)], int(start):int(end)] = True
    has_site = planted.any(axis=1)
    per_sequence = auroc(importance[has_site].T, planted[has_site].T)

    with np.errstate(all="ignore"):
        import torch

        with torch.no_grad():
            predicted = model(torch.from_numpy(X)).numpy()
    top = np.argsort(-np.abs(predicted).max(axis=1))[: config.n_logos]
    logos = []
    for k in top:
        sites = instances[instances["seq_index"] == chosen[k]]
        boxes = [(int(r.start), int(r.end), str(r.motif_name)) for r in sites.itertuples()]
        path = folder / f"logo_{names[k]}.png"
        plot_attribution(values[k], X=X[k], track_names=tracks, predicted=predicted[k],
                         measured=sim.targets[chosen[k]], motif_boxes=boxes,
                         ylabel="TISM", title=f"{names[k]} (planted sites boxed)", path=path)
        logos.append(str(path.relative_to(out)))
    return {
        "method": "tism",
        "gauge": "corrected",
        "n_sequences": int(len(chosen)),
        "auroc_mean": float(np.nanmean(per_sequence)),
        "auroc_median": float(np.nanmedian(per_sequence)),
        "file": str((folder / "test_tism.npz").relative_to(out)),
        "logos": logos,
    }


def motif_stage(out: Path, sim: Any, model: Any, config: QuickstartConfig) -> dict[str, Any]:
    """Motifs from attributions (seqlets → clusters) and from first-layer kernels, named by JASPAR.

    A planted motif counts as recovered when some discovered motif matches its JASPAR matrix with a Tomtom
    q-value below 0.05 against the whole bundled JASPAR 2024 collection.
    """
    from drg.attribution import read_attributions
    from drg.motifs import (
        call_seqlets,
        cluster_seqlets,
        kernel_pwms_from_activations,
        load_bundled_jaspar,
        name_motifs,
        tomtom,
        write_meme,
    )
    from drg.plotting import plot_motif_logos

    folder = out / "motifs"
    folder.mkdir(parents=True, exist_ok=True)
    stored = read_attributions(out / "attribution" / "test_tism.npz")
    values, X = stored.dense(), stored.X
    seqlets = call_seqlets(values, X, method="pvalue")
    clusters = cluster_seqlets(seqlets, values, X, seed=config.seed)
    write_meme(clusters.motifs, folder / "attribution_clusters.meme")
    clusters.table.to_csv(folder / "attribution_clusters.tsv", sep="\t", index=False)

    kernels = [k for k in kernel_pwms_from_activations(model, X) if (k.nsites or 0) > 0]
    named_kernels = name_motifs(kernels)
    write_meme(named_kernels.motifs, folder / "kernels.meme")
    named_kernels.table.to_csv(folder / "kernels.tsv", sep="\t", index=False)

    database = load_bundled_jaspar()
    planted = {m.id: m.name for m in sim.motifs}

    def recovered(found: list[Any]) -> list[str]:
        if not found:
            return []
        hits = tomtom(found, database)
        ids = set(hits.loc[hits["q_value"] < 0.05, "target"])
        return sorted(name for motif_id, name in planted.items() if motif_id in ids)

    named = clusters.table[clusters.table["matches"].fillna("") != ""] if "matches" in clusters.table else None
    top = [clusters.motifs[i] for i in range(min(12, len(clusters.motifs)))]
    figure = folder / "attribution_clusters.png"
    if top:
        plot_motif_logos(top, kind="ic", path=figure)
    return {
        "planted": sorted(planted.values()),
        "recovered": {"attributions": recovered(clusters.motifs), "kernels": recovered(named_kernels.motifs)},
        "n_seqlets": int(len(seqlets)),
        "n_clusters": int(len(clusters.motifs)),
        "n_named_clusters": int(0 if named is None else len(named)),
        "clusters": clusters.table[["id", "name", "n_seqlets", "consensus"]].head(20).to_dict("records"),
        "files": {"clusters": "motifs/attribution_clusters.meme", "kernels": "motifs/kernels.meme",
                  "logos": str(figure.relative_to(out)) if top else None},
    }


def write_report(out: Path) -> Path:
    """Gather the run's numbers and figures into one self-contained ``report/index.html``."""
    import json

    import pandas as pd

    from drg.report import Report

    summary = json.loads((out / "summary.json").read_text())
    data, training = summary["data"], summary["training"]
    report = Report("DRG quickstart", subtitle="a multi-task CNN on sequences simulated from JASPAR motifs")
    report.add_section("Data", f"{data['n_sequences']:,} sequences of {data['length']} bp with "
                       f"{data['motif_instances']:,} planted sites of {len(data['planted_motifs'])} motifs, "
                       f"{data['n_tracks']} tracks; fold 0 of {data['folds']['k']} random sets for "
                       "validation, fold 1 for testing.")
    report.add_table(pd.DataFrame({"mean": data["target_mean"], "std": data["target_std"]},
                                  index=data["tracks"]), caption="Targets per track")
    report.add_section("Training and held-out performance")
    report.add_metrics({key: value for key, value in training.items() if not isinstance(value, (dict, str))})
    evaluation = out / training["run_dir"] / "evaluation" / "targets"
    for name, caption in (("loss_curves", "Training and validation loss"),
                          ("per_track_pearson", "Held-out Pearson r per track"),
                          ("scatter_tracks", "Predicted vs measured on held-out sequences")):
        figure = evaluation / "figures" / f"{name}.png"
        if figure.exists():
            report.add_figure(figure, caption)
    attribution = summary.get("attribution")
    if attribution:
        report.add_section("Attributions", f"TISM attributions (corrected gauge) of {attribution['n_sequences']} "
                           "held-out sequences find the planted motif positions with a mean per-sequence AUROC of "
                           f"{attribution['auroc_mean']:.3f}.")
        for logo in attribution["logos"]:
            report.add_figure(out / logo, Path(logo).stem.removeprefix("logo_"))
    motifs = summary.get("motifs")
    if motifs:
        found = motifs["recovered"]
        report.add_section("Motifs", f"Seqlets called on the attributions were clustered into "
                           f"{motifs['n_clusters']} motifs and named by Tomtom against JASPAR 2024. Planted "
                           f"motifs recovered (q < 0.05) from attributions: "
                           f"{', '.join(found['attributions']) or 'none'}; from first-layer kernels: "
                           f"{', '.join(found['kernels']) or 'none'}; planted: {', '.join(motifs['planted'])}.")
        report.add_table(pd.DataFrame(motifs["clusters"]), caption="Largest attribution clusters")
        if motifs["files"].get("logos"):
            report.add_figure(out / motifs["files"]["logos"], "Logos of the largest attribution clusters")
    return report.write(out / "report" / "index.html")

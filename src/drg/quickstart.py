"""The main job on bundled data: simulate a multi-task data set from JASPAR motifs and run the whole path.

:func:`quickstart` is what ``drg quickstart`` runs. It needs no user data: the sequences are simulated from
the JASPAR 2024 motifs that ship with DRG, with known ground truth. The simulated data then go through the
same stages as a user's own data in :func:`drg.pipeline.run_pipeline` (training, a k-mer baseline,
attributions, motifs, kernels, design, maps, report), and every stage that can be is checked against the
truth: attributions against the planted positions, discovered motifs against the planted JASPAR matrices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drg.config import Config
from drg.pipeline import PipelineConfig, default_model, run_pipeline
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
    kernel_size: int = 13
    """First-layer kernel width. The planted motifs are 7-15 bp; kernels much wider than a short motif (15 bp
    against SOX2's 7) learned partial, palindromic copies of it."""
    batch_size: int = 128
    n_attribution: int = 500
    n_logos: int = 4
    design_steps: int = 10


def quickstart_training(data_dir: Path, run_dir: Path, config: QuickstartConfig) -> dict[str, Any]:
    """Run config of the training stage: fold 0 of the simulated data (validation set 0, test set 1)."""
    return {
        "seed": config.seed,
        "out_dir": str(run_dir),
        "data": {"onehot": str(data_dir / "sequences.npz"), "targets": [str(data_dir / "targets.tsv")],
                 "folds": str(data_dir / "folds.txt"), "fold": 0},
        "model": default_model(config.length, config.kernel_size),
        "losses": [{"name": "mse"}],
        "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4},
        "schedule": {"name": "cosine", "warmup_epochs": 1},
        "augmentation": {"reverse_complement": True},
        "stopping": {"max_epochs": config.max_epochs, "patience": 4},
        "trainer": {"accelerator": "cpu", "batch_size": config.batch_size},
    }


def quickstart_pipeline(out: Path, config: QuickstartConfig) -> PipelineConfig:
    """The pipeline the main job runs on the simulated data in ``out/data``."""
    return PipelineConfig.from_dict({
        "seed": config.seed,
        "title": "DRG quickstart",
        "train": quickstart_training(out / "data", out / "training", config),
        "attribution": {"method": "tism", "gauge": "corrected", "n_sequences": config.n_attribution,
                        "n_logos": config.n_logos},
        "design": {"objective": "difference", "tracks": [0], "against": [1], "steps": config.design_steps},
    })


def quickstart(out_dir: PathLike, config: QuickstartConfig | None = None, *, verbose: bool = True) -> dict[str, Any]:
    """Run the main job into ``out_dir`` and return the ``summary.json`` content.

    Parameters
    ----------
    out_dir
        Output directory (created). It receives ``data/`` (sequences, targets, folds, ground truth), every
        stage's folder (see :func:`drg.pipeline.run_pipeline`), ``config.yaml`` (these settings),
        ``pipeline.yaml``, ``run.json``, ``summary.json`` and ``report/index.html``.
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
        sim = multitask_regression(n=config.n_sequences, length=config.length, n_tracks=config.n_tracks,
                                   noise=config.noise, seed=config.seed)
    with record.step("write_data"):
        paths = write_simulation(sim, out / "data", k_folds=config.k_folds, seed=config.seed)
    record.add_outputs({name: Path(p).relative_to(out) for name, p in paths.items()})

    sets = read_folds(paths["folds"])
    split = fold_split(list(sim.names), sets, 0)
    y = np.asarray(sim.targets, dtype=np.float64)
    update_summary(out, "data", {
        "n_sequences": int(len(sim.names)),
        "length": int(sim.X.shape[-1]),
        "n_tracks": int(y.shape[1]),
        "tracks": [str(t) for t in sim.tracks],
        "planted_motifs": [m.name for m in sim.motifs],
        "motif_instances": int(len(sim.instances)),
        "folds": {"k": len(sets), "set_sizes": [len(s) for s in sets],
                  "fold0_split": {"train": int(len(split.train)), "val": int(len(split.val)),
                                  "test": int(len(split.test))}},
        "target_mean": np.round(y.mean(axis=0), 4).tolist(),
        "target_std": np.round(y.std(axis=0), 4).tolist(),
        "files": {name: str(Path(p).relative_to(out)) for name, p in paths.items()},
    })

    instances = sim.instances
    sites = pd.DataFrame({"name": instances["seq_name"], "start": instances["start"], "end": instances["end"],
                          "label": [str(sim.motifs[int(i)].name) for i in instances["motif_index"]]})
    run_pipeline(quickstart_pipeline(out, config), out, sites=sites, record=record, verbose=verbose)
    with record.step("ground_truth"):
        truth = ground_truth(out, sim)
    from drg.report.runs import write_run_report

    write_run_report(out, title="DRG quickstart",
                     subtitle="a multi-task CNN on sequences simulated from JASPAR motifs",
                     notes=_report_notes(json.loads((out / "summary.json").read_text())))
    record.write(out)
    summary = json.loads((out / "summary.json").read_text())
    if verbose:
        from rich.console import Console

        motifs = summary["motifs"]
        Console(stderr=True).print(
            f"[bold]DRG quickstart[/bold]: {config.n_sequences} sequences × {config.length} bp, "
            f"{config.n_tracks} tracks, {len(motifs['planted'])} planted motifs; held-out Pearson r (mean "
            f"over tracks) {summary['training']['test_pearson_mean']:.3f} (k-mer ridge "
            f"{summary['baseline']['test_pearson_mean']:.3f}); attributions find planted motifs with AUROC "
            f"{truth['auroc_mean']:.3f}; planted motifs recovered from attributions "
            f"{len(motifs['recovered']['attributions'])}/{len(motifs['planted'])}, from kernels "
            f"{len(motifs['recovered']['kernels'])}/{len(motifs['planted'])} → {out / summary['report']['index']}"
        )
    return summary


def ground_truth(out: Path, sim: Any) -> dict[str, Any]:
    """Check the run in ``out`` against the simulation's truth and record it in ``summary.json``.

    - ``attribution.auroc_mean`` / ``auroc_median``: for every attributed sequence with a planted site, the
      AUROC of the per-position importance (largest absolute attribution of the reference base over the
      tracks) against the planted positions.
    - ``motifs.planted`` / ``motifs.recovered``: a planted motif is recovered when some discovered motif
      (attribution cluster, or trimmed first-layer kernel) matches its JASPAR matrix with a Tomtom q-value
      below 0.05 against the whole bundled JASPAR 2024 collection.
    """
    import json

    from drg.attribution import read_attributions
    from drg.motifs import load_bundled_jaspar, read_meme, tomtom
    from drg.training.metrics import auroc

    summary = json.loads((out / "summary.json").read_text())
    stored = read_attributions(out / summary["attribution"]["file"])
    values, X = stored.dense(), np.asarray(stored.X, dtype=np.float32)
    importance = np.abs((values * X[:, None]).sum(axis=2)).max(axis=1)  # (n, L)
    planted = np.zeros(importance.shape, dtype=bool)
    row = {str(name): k for k, name in enumerate(stored.names)}
    instances = sim.instances
    for name, start, end in zip(instances["seq_name"], instances["start"], instances["end"]):
        if str(name) in row:
            planted[row[str(name)], int(start):int(end)] = True
    has_site = planted.any(axis=1)
    per_sequence = auroc(importance[has_site].T, planted[has_site].T)
    attribution = {**summary["attribution"], "auroc_mean": float(np.nanmean(per_sequence)),
                   "auroc_median": float(np.nanmedian(per_sequence))}
    update_summary(out, "attribution", attribution)

    database = load_bundled_jaspar()
    names = {m.id: m.name for m in sim.motifs}

    def recovered(path: Path) -> list[str]:
        found = read_meme(path) if path.exists() else []
        if not found:
            return []
        hits = tomtom(found, database)
        ids = set(hits.loc[hits["q_value"] < 0.05, "target"])
        return sorted(name for motif_id, name in names.items() if motif_id in ids)

    motifs = summary.get("motifs", {})
    files = {**motifs.get("files", {}), "kernels": summary.get("kernels", {}).get("files", {}).get("kernels")}
    motifs = {**motifs, "files": files, "planted": sorted(names.values()),
              "recovered": {"attributions": recovered(out / files["clusters"]) if files.get("clusters") else [],
                            "kernels": recovered(out / files["kernels"]) if files.get("kernels") else []}}
    update_summary(out, "motifs", motifs)
    truth = {"auroc_mean": attribution["auroc_mean"], "auroc_median": attribution["auroc_median"],
             "planted": len(names), "recovered_from_attributions": len(motifs["recovered"]["attributions"]),
             "recovered_from_kernels": len(motifs["recovered"]["kernels"])}
    update_summary(out, "ground_truth", truth)
    return truth


def _report_notes(summary: dict[str, Any]) -> dict[str, str]:
    """Report text that says what the simulation planted and what was found."""
    data, motifs, attribution = summary["data"], summary["motifs"], summary["attribution"]
    found = motifs["recovered"]
    return {
        "data": f"{data['n_sequences']:,} sequences of {data['length']} bp with {data['motif_instances']:,} planted "
                f"sites of {len(data['planted_motifs'])} JASPAR motifs ({', '.join(data['planted_motifs'])}), "
                f"{data['n_tracks']} tracks; fold 0 of {data['folds']['k']} random sets for validation, fold 1 "
                "for testing.",
        "attribution": f"TISM attributions (corrected gauge) of {attribution['n_sequences']} held-out sequences "
                       "find the planted motif positions with a mean per-sequence AUROC of "
                       f"{attribution['auroc_mean']:.3f}; planted sites are boxed on the logos.",
        "motifs": f"{motifs['n_seqlets']:,} seqlets (both signs: repressors leave negative attributions) "
                  f"clustered into {motifs['n_clusters']} motifs and named by Tomtom against JASPAR 2024. Planted "
                  f"motifs recovered (q < 0.05) from attributions: {', '.join(found['attributions']) or 'none'}; "
                  f"from first-layer kernels: {', '.join(found['kernels']) or 'none'}; planted: "
                  f"{', '.join(motifs['planted'])}.",
        "ground_truth": "How the run compares with what the simulation planted.",
    }

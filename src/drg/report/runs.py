"""The report of a whole run (``drg run``, ``drg quickstart``): every stage's figures and tables in one page.

:func:`write_run_report` reads ``summary.json`` of a run directory, so it can be rebuilt at any time
(``drg report DIR``); sections of stages that did not run are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from drg.report.html import Report
from drg.utils import PathLike


def _figure(report: Report, out: Path, path: str | None, caption: str) -> None:
    if path and (out / path).exists():
        report.add_figure(out / path, caption)


def _scalars(section: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in section.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def write_run_report(out_dir: PathLike, *, title: str | None = None, subtitle: str | None = None,
                     notes: dict[str, str] | None = None) -> Path:
    """Write ``out_dir/report/index.html`` from ``out_dir/summary.json``.

    Parameters
    ----------
    out_dir
        Run directory written by :func:`drg.pipeline.run_pipeline` or :func:`drg.quickstart.quickstart`.
    title, subtitle
        Page title (default: the ``title`` stored in the summary, else "DRG run").
    notes
        Extra text per section name (``data``, ``training``, ``baseline``, ``attribution``, ``motifs``,
        ``kernels``, ``design``, ``ground_truth``), shown at the top of that section.

    Returns
    -------
    Path
        The written ``index.html``; the page is self-contained (figures embedded).
    """
    out = Path(out_dir)
    summary = json.loads((out / "summary.json").read_text())
    notes = notes or {}
    report = Report(title or summary.get("title", "DRG run"), subtitle=subtitle or summary.get("subtitle"))

    data = summary.get("data")
    if data:
        report.add_section("Data", notes.get("data"))
        report.add_metrics(_scalars(data))
        if data.get("tracks") and data.get("target_mean"):
            report.add_table(pd.DataFrame({"mean": data["target_mean"], "std": data["target_std"]},
                                          index=data["tracks"]), caption="Targets per track")

    training = summary.get("training")
    if training:
        report.add_section("Training and held-out performance", notes.get("training"))
        report.add_metrics(_scalars(training))
        evaluation = out / training.get("run_dir", "training") / "evaluation"
        for modality in sorted(p.name for p in evaluation.iterdir()) if evaluation.is_dir() else []:
            for name, caption in (("loss_curves", "Training and validation loss"),
                                  ("per_track_pearson", f"{modality}: held-out Pearson r per track"),
                                  ("scatter_tracks", f"{modality}: predicted vs measured (held out)")):
                _figure(report, out, str((evaluation / modality / "figures" / f"{name}.png").relative_to(out)),
                        caption)

    baseline = summary.get("baseline")
    if baseline:
        report.add_section("CNN vs k-mer baseline",
                           notes.get("baseline") or
                           f"A {baseline['features']} {baseline['model']} baseline on the same split reaches a "
                           f"mean held-out Pearson r of {baseline['test_pearson_mean']:.3f}; the CNN "
                           f"{baseline['cnn_test_pearson_mean']:.3f}.")
        _figure(report, out, baseline.get("figure"), "Held-out Pearson r per track: CNN vs baseline")
        report.add_table(pd.DataFrame(baseline["per_track"]), caption="Held-out Pearson r per track")

    attribution = summary.get("attribution")
    if attribution:
        report.add_section("Attributions", notes.get("attribution") or
                           f"{attribution['method'].upper()} attributions ({attribution['gauge']} gauge) of "
                           f"{attribution['n_sequences']} held-out sequences; logos of those with the largest "
                           "predictions.")
        for logo in attribution.get("logos", []):
            _figure(report, out, logo, Path(logo).stem.removeprefix("logo_"))

    motifs = summary.get("motifs")
    if motifs:
        report.add_section("Motifs from attributions", notes.get("motifs") or
                           f"{motifs['n_seqlets']:,} seqlets clustered into {motifs['n_clusters']} motifs, "
                           f"{motifs['n_named_clusters']} of them matched by Tomtom to a database motif.")
        if motifs.get("clusters"):
            report.add_table(pd.DataFrame(motifs["clusters"]), caption="Largest attribution clusters")
        _figure(report, out, motifs.get("files", {}).get("logos"), "Logos of the largest clusters")
        _figure(report, out, motifs.get("files", {}).get("tree"),
                "Motif tree with the mean seqlet score per track")

    kernels = summary.get("kernels")
    if kernels:
        report.add_section("First-layer kernels", notes.get("kernels") or
                           f"{kernels['n_kernels']} kernels with activating windows, "
                           f"{kernels.get('n_named', 0)} matched by Tomtom to a database motif.")
        if kernels.get("strongest"):
            report.add_table(pd.DataFrame(kernels["strongest"]), caption="Kernels with the largest knock-out effect")
        _figure(report, out, kernels.get("files", {}).get("tree"), "Kernel tree with knock-out effects per track")

    ground_truth = summary.get("ground_truth")
    if ground_truth:
        report.add_section("Ground truth", notes.get("ground_truth"))
        report.add_metrics(_scalars(ground_truth))

    design = summary.get("design")
    if design:
        report.add_section("Designed sequences", notes.get("design") or design.get("description"))
        if design.get("table"):
            report.add_table(pd.DataFrame(design["table"]), caption="Start and designed sequences")
        for figure in design.get("figures", []):
            _figure(report, out, figure, Path(figure).stem.replace("_", " "))

    embeddings = summary.get("embeddings")
    if embeddings:
        report.add_section("Embeddings", notes.get("embeddings") or embeddings.get("description"))
        for figure in embeddings.get("figures", []):
            _figure(report, out, figure, Path(figure).stem.replace("_", " "))
    return report.write(out / "report" / "index.html")

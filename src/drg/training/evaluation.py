"""Evaluate predictions against measured targets: metric tables, summary, plots and an HTML report.

:func:`evaluate` reads a predictions file (written by ``drg predict`` with :func:`drg.data.write_targets`,
so the same formats as targets: tsv/csv or ``.npz`` with ``counts``/``names``/``celltypes``) and a targets
file, matches rows by region name and tracks by name, and writes into ``out_dir``:

``per_track.tsv``, ``per_region.tsv``
    Metrics per track (across regions) and per region (across tracks).
``summary.json``
    Means/medians (``pearson_mean`` = mean over tracks of the per-track Pearson r), counts, the shuffled
    baseline and its one-sided Wilcoxon p-value, per-class summaries and the names of the files written.
``per_class.tsv``, ``per_class_tracks.tsv``
    With ``classes``: summaries and per-track metrics within each class of tracks.
``baseline_per_track.tsv``
    With ``baseline``: per-track metrics against row-permuted targets.
``figures/*.png`` and ``report.html``
    Metric distributions (model vs shuffled baseline), density scatters of the best, median and worst
    track, per-class distributions, loss curves (with ``history``); the page embeds every figure.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.training.metrics import (
    Baseline,
    ClassesLike,
    ClassMetrics,
    per_region_metrics,
    per_track_metrics,
    shuffled_baseline,
    split_outclasses,
    summary_metrics,
)
from drg.utils import PathLike, atomic_write

Task = Literal["regression", "classification"]


@dataclass
class EvaluationResult:
    """What :func:`evaluate` computed and wrote.

    Attributes
    ----------
    per_track, per_region
        Metric tables (index: track / region names).
    summary
        The content of ``summary.json``.
    baseline
        Shuffled-target baseline, or None.
    classes
        Per-class metrics, or None.
    files
        ``{label: path}`` of every file written (tables, figures, report).
    out_dir
        The output directory.
    """

    per_track: pd.DataFrame
    per_region: pd.DataFrame
    summary: dict[str, Any]
    baseline: Baseline | None = None
    classes: ClassMetrics | None = None
    files: dict[str, Path] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def report(self) -> Path | None:
        """Path of ``report.html``."""
        return self.files.get("report")


def _load(obj: Any, what: str):
    from drg.data import Targets, read_targets

    if isinstance(obj, Targets):
        return obj
    if isinstance(obj, str | Path):
        return read_targets(obj)
    raise InputError(f"{what} must be a file path or drg.data.Targets, got {type(obj).__name__}")


class MatchedPredictions(NamedTuple):
    """Result of :func:`match_predictions`: ``pred`` and ``target`` (M, K), ``names`` (M,), ``tracks`` (K,)."""

    pred: np.ndarray
    target: np.ndarray
    names: np.ndarray
    tracks: np.ndarray


def match_predictions(predictions: Any, targets: Any) -> MatchedPredictions:
    """Match prediction rows and tracks to target rows and tracks.

    Rows are matched by region name with :func:`drg.data.align_targets` (names on one side only are left
    out with a :class:`DRGWarning` saying how many; no shared name is an error). Tracks are matched by name;
    when the names differ but the counts agree they are matched by position with a warning; when some
    names are shared, only those are kept (with a warning).

    Returns
    -------
    MatchedPredictions
        ``pred`` (M, K), ``target`` (M, K), region ``names`` (M,), ``tracks`` (K,), in prediction order.
    """
    from drg.data import align_targets

    pred, targ = _load(predictions, "predictions"), _load(targets, "targets")
    shared_rows = np.isin(pred.names, targ.names)
    if not shared_rows.any():
        raise InputError("predictions and targets share no region name (e.g. predictions "
                         f"{list(map(str, pred.names[:3]))}, targets {list(map(str, targ.names[:3]))})")
    aligned = align_targets(pred.names, targ, missing="drop")
    p_values = pred.values[aligned.region_index]
    t_values = aligned.targets.values
    names = aligned.targets.names
    p_tracks, t_tracks = pred.tracks, targ.tracks
    if list(p_tracks) == list(t_tracks):
        tracks = p_tracks
    elif set(p_tracks) == set(t_tracks) and len(set(p_tracks)) == len(p_tracks):
        order = pd.Index(t_tracks).get_indexer(p_tracks)
        t_values, tracks = t_values[:, order], p_tracks
    elif len(p_tracks) == len(t_tracks):
        warnings.warn(f"prediction tracks ({', '.join(p_tracks[:3])}, ...) and target tracks "
                      f"({', '.join(t_tracks[:3])}, ...) have different names; matching them by position",
                      DRGWarning, stacklevel=2)
        tracks = t_tracks
    else:
        common = [t for t in p_tracks if t in set(t_tracks)]
        if not common:
            raise InputError(f"predictions have {len(p_tracks)} tracks and targets {len(t_tracks)}, with no "
                             "shared track name")
        warnings.warn(f"keeping the {len(common)} tracks shared by predictions ({len(p_tracks)}) and "
                      f"targets ({len(t_tracks)})", DRGWarning, stacklevel=2)
        p_values = p_values[:, pd.Index(p_tracks).get_indexer(common)]
        t_values = t_values[:, pd.Index(t_tracks).get_indexer(common)]
        tracks = np.asarray(common)
    return MatchedPredictions(p_values, t_values, np.asarray(names), np.asarray(tracks).astype(str))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _write_table(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, sep="\t", float_format="%.6g", na_rep="nan", lineterminator="\n")
    return path


def _pick_tracks(per_track: pd.DataFrame, metric: str) -> list[tuple[str, int]]:
    """(label, column) of the best, median and worst track by ``metric`` (NaN ignored, no repeats)."""
    values = per_track[metric].to_numpy(dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        return []
    order = finite[np.argsort(values[finite], kind="stable")]
    picks = [("best", order[-1]), ("median", order[len(order) // 2]), ("worst", order[0])]
    seen, out = set(), []
    for label, col in picks:
        if col not in seen:
            seen.add(col)
            out.append((label, int(col)))
    return out


def evaluate(
    predictions: Any,
    targets: Any,
    out_dir: PathLike,
    *,
    classes: ClassesLike | None = None,
    mean_classes: ClassesLike | None = None,
    task: Task = "regression",
    baseline: bool = True,
    n_shuffles: int = 1,
    history: pd.DataFrame | PathLike | None = None,
    title: str = "DRG evaluation",
    seed: int = 0,
    verbose: bool = True,
) -> EvaluationResult:
    """Compute per-track and per-region metrics, plots and an HTML report for predictions vs targets.

    Parameters
    ----------
    predictions, targets
        Paths of predictions/targets files (tsv/csv/npz, see :func:`drg.data.read_targets`) or
        :class:`drg.data.Targets`. Rows are matched by name, tracks by name (see :func:`match_predictions`).
    out_dir
        Output directory (created).
    classes
        Track classes (DRG class file ``track class``, mapping or sequence): metrics per class
        (``split_outclasses``).
    mean_classes
        Averaging classes (DRG ``average_outclasses``): tracks of a class are averaged before the
        per-class metrics.
    task
        ``"regression"`` or ``"classification"`` (0/1 targets; AUROC and AUPRC).
    baseline
        Also compute metrics against row-permuted targets and a one-sided Wilcoxon test of the per-track
        primary metric (Pearson r or AUROC) against it.
    n_shuffles
        Number of permutations averaged in the baseline.
    history
        Optional training history (table or csv/tsv) for loss curves.
    title
        Report title.
    seed
        Seed of the baseline permutations and plot jitter.
    verbose
        Print the main numbers to stderr.

    Returns
    -------
    EvaluationResult
    """
    from drg.plotting.curves import plot_loss_curves
    from drg.plotting.performance import (
        plot_class_metrics,
        plot_metric_distribution,
        plot_track_scatter,
    )
    from drg.report.html import Report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figdir = out / "figures"
    pred, target, names, tracks = match_predictions(predictions, targets)
    primary = "pearson" if task == "regression" else "auroc"

    per_track = per_track_metrics(pred, target, tracks, task)
    per_region = per_region_metrics(pred, target, names, task)
    summary: dict[str, Any] = {"task": task}
    summary.update(summary_metrics(task=task, per_track=per_track, per_region=per_region))
    files: dict[str, Path] = {}
    files["per_track"] = _write_table(per_track, out / "per_track.tsv")
    files["per_region"] = _write_table(per_region, out / "per_region.tsv")

    base = None
    if baseline:
        base = shuffled_baseline(pred, target, n=n_shuffles, seed=seed, tracks=tracks, names=names, task=task)
        summary["baseline"] = {k: v for k, v in base.summary.items() if k.endswith("_mean")}
        summary["baseline"]["permute"] = "regions"
        summary["baseline"]["n_shuffles"] = n_shuffles
        model_v = per_track[primary].to_numpy(float)
        base_v = base.per_track[primary].to_numpy(float)
        ok = np.isfinite(model_v) & np.isfinite(base_v)
        p_value = float("nan")
        if ok.sum() >= 5 and np.any(model_v[ok] != base_v[ok]):
            from scipy.stats import wilcoxon

            p_value = float(wilcoxon(model_v[ok], base_v[ok], alternative="greater").pvalue)
        summary["baseline"][f"wilcoxon_p_{primary}"] = p_value
        files["baseline_per_track"] = _write_table(base.per_track, out / "baseline_per_track.tsv")

    class_metrics = None
    if classes is not None:
        class_metrics = split_outclasses(pred, target, classes, tracks, names, mean_classes=mean_classes,
                                         task=task)
        files["per_class"] = _write_table(class_metrics.summary, out / "per_class.tsv")
        files["per_class_tracks"] = _write_table(class_metrics.per_track, out / "per_class_tracks.tsv")
        summary["classes"] = {str(k): {c: (int(row[c]) if c == "n_tracks" else float(row[c]))
                                   for c in row.index if c.endswith("_mean") or c == "n_tracks"}
                              for k, row in class_metrics.summary.iterrows()}
    elif mean_classes is not None:
        raise InputError("mean_classes needs classes (use the same file for both to average every class)")

    # ------------------------------------------------------------------------------------------ figures
    report = Report(title, subtitle=f"{len(names)} regions x {len(tracks)} tracks, task: {task}")
    report.add_section("Summary", f"Mean {primary} over tracks: {summary.get(primary + '_mean', float('nan')):.4f}")
    shown_summary = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    report.add_metrics(shown_summary)

    report.add_section("Per-track performance")
    metric_cols = [c for c in per_track.columns if c != "positives"]
    for metric in metric_cols:
        groups: dict[str, Any] = {"model": per_track}
        if base is not None:
            groups["shuffled targets"] = base.per_track
        plot_metric_distribution(groups, metric, title=f"per-track {metric}",
                                 path=figdir / f"per_track_{metric}.png", seed=seed)
        files[f"per_track_{metric}_figure"] = figdir / f"per_track_{metric}.png"
        report.add_figure(figdir / f"per_track_{metric}.png", f"Per-track {metric} across regions (model vs shuffled-target baseline).")
    report.add_table(per_track.sort_values(primary, ascending=False), "Per-track metrics (best first)",
                     max_rows=100)

    if task == "regression":
        picks = _pick_tracks(per_track, primary)
        if picks:
            report.add_section("Predicted vs measured")
            plot_track_scatter(pred, target, [c for _, c in picks],
                               titles=[f"{label}: {tracks[c]}" for label, c in picks],
                               path=figdir / "scatter_tracks.png", seed=seed)
            files["scatter_figure"] = figdir / "scatter_tracks.png"
            report.add_figure(files["scatter_figure"], "Predicted vs measured values of the best, median "
                              "and worst track (colour: point density).")

    report.add_section("Per-region performance")
    if len(tracks) >= 2 or task == "classification":
        plot_metric_distribution(per_region, primary, title=f"per-region {primary} across tracks",
                                 path=figdir / f"per_region_{primary}.png", seed=seed)
        files["per_region_figure"] = figdir / f"per_region_{primary}.png"
        report.add_figure(files["per_region_figure"], f"Per-region {primary} across tracks.")
    else:
        report.add_text("Per-region correlations need at least two tracks.")

    if class_metrics is not None:
        report.add_section("Track classes", "Metrics computed within each class of tracks.")
        plot_class_metrics(class_metrics.per_track, primary, path=figdir / f"classes_{primary}.png")
        files["class_figure"] = figdir / f"classes_{primary}.png"
        report.add_figure(files["class_figure"], f"Per-track {primary} by class.")
        report.add_table(class_metrics.summary, "Per-class summary")

    if history is not None:
        report.add_section("Training")
        plot_loss_curves(history, path=figdir / "loss_curves.png")
        files["loss_figure"] = figdir / "loss_curves.png"
        report.add_figure(files["loss_figure"], "Loss per epoch (training and validation).")

    files["report"] = report.write(out / "report.html")
    summary["files"] = {k: str(v.relative_to(out)) for k, v in files.items()}
    files["summary"] = out / "summary.json"
    with atomic_write(files["summary"], "w", encoding="utf-8") as handle:
        json.dump(_json_safe(summary), handle, indent=2)
        handle.write("\n")
    if verbose:
        from rich.console import Console

        line = f"{len(names)} regions x {len(tracks)} tracks: mean {primary} {summary[primary + '_mean']:.4f}"
        if base is not None:
            line += f" (shuffled: {summary['baseline'].get(primary + '_mean', float('nan')):.4f})"
        Console(stderr=True).print(line, highlight=False)
    return EvaluationResult(per_track, per_region, summary, base, class_metrics, files, out)

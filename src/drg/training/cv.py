"""Cross-validation over DRG fold sets: train every fold (or chosen folds, e.g. one per process or GPU) and
aggregate the out-of-fold test predictions and per-fold metrics."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike

__all__ = ["CVResult", "cross_validate", "aggregate_cv"]


@dataclass
class CVResult:
    """Outcome of :func:`cross_validate` / :func:`aggregate_cv`.

    Attributes
    ----------
    out_dir
        The cross-validation directory (``fold_<k>/`` run directories inside).
    per_fold
        One row per fold: best epoch, best validation loss, test metrics.
    predictions, targets
        Out-of-fold test predictions and the matching targets, one :class:`~drg.data.Targets` per modality
        (every example that is in a test set of a trained fold, once).
    metrics
        Summary metrics of the pooled out-of-fold predictions per modality, and ``test_pearson_mean``.
    """

    out_dir: Path
    per_fold: pd.DataFrame
    predictions: list[Any] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def cross_validate(
    config: Any,
    *,
    out_dir: PathLike | None = None,
    folds: list[int] | None = None,
    aggregate: bool = True,
    verbose: bool = True,
) -> CVResult:
    """Train the folds of ``config.data.folds`` one after the other into ``out_dir/fold_<k>``.

    Parameters
    ----------
    config
        :class:`~drg.training.config.TrainConfig`, mapping or YAML path; ``data.folds`` is required,
        ``data.fold`` is replaced by each fold index.
    out_dir
        Cross-validation directory (default ``config.out_dir``).
    folds
        Fold indices to train (default: all ``K``). Train disjoint subsets in separate processes (``drg cv
        --fold k``) and call :func:`aggregate_cv` once they are done.
    aggregate
        Aggregate the out-of-fold predictions of all finished folds at the end.
    verbose
        Progress bars.

    Returns
    -------
    CVResult
    """
    from drg.data import read_folds
    from drg.training.fitting import as_config, fit

    cfg = as_config(config)
    if cfg.data.folds is None:
        raise InputError("cross-validation needs data.folds (a DRG fold-set file)")
    out = Path(out_dir or cfg.out_dir or "")
    if not str(out):
        raise InputError("no output directory: pass out_dir or set out_dir in the config")
    k = len(read_folds(cfg.data.folds))
    chosen = list(range(k)) if folds is None else [int(f) for f in folds]
    bad = [f for f in chosen if not 0 <= f < k]
    if bad:
        raise InputError(f"fold indices {bad} out of range for {k} fold sets", path=cfg.data.folds)
    out.mkdir(parents=True, exist_ok=True)
    cfg.to_yaml(out / "cv_config.yaml")
    for fold in chosen:
        data = cfg.data.model_copy(update={"fold": fold})
        fold_cfg = cfg.model_copy(update={"data": data, "out_dir": str(out / f"fold_{fold}")})
        fit(fold_cfg, verbose=verbose)
    if not aggregate:
        return CVResult(out, _per_fold(out))
    return aggregate_cv(out)


def _fold_dirs(out: Path) -> list[tuple[int, Path]]:
    found = []
    for path in out.glob("fold_*"):
        suffix = path.name[len("fold_"):]
        if path.is_dir() and suffix.isdigit() and (path / "metrics.json").exists():
            found.append((int(suffix), path))
    return sorted(found)


def _per_fold(out: Path) -> pd.DataFrame:
    rows = []
    for fold, path in _fold_dirs(out):
        metrics = json.loads((path / "metrics.json").read_text())
        row: dict[str, Any] = {"fold": fold}
        for key, value in metrics.items():
            if isinstance(value, dict):
                row.update({f"{key}_{k}": v for k, v in value.items()})
            else:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate_cv(out_dir: PathLike) -> CVResult:
    """Pool the test predictions of every finished ``fold_<k>`` run in ``out_dir``.

    Writes ``oof_predictions/<modality>.npz``, ``oof_targets/<modality>.npz``, ``cv_metrics.tsv`` (one row
    per fold) and ``cv_summary.json``, and adds a ``cv`` section to ``summary.json``. An example that is in
    the test sets of several folds (it cannot be with DRG fold sets) keeps its first fold's prediction,
    with a :class:`~drg.errors.DRGWarning`.
    """
    from drg.data import Targets, read_targets, write_targets
    from drg.provenance import update_summary, write_json

    out = Path(out_dir)
    dirs = _fold_dirs(out)
    if not dirs:
        raise InputError("no finished fold runs (fold_<k>/metrics.json) to aggregate", path=out)
    per_fold = _per_fold(out)
    per_fold.to_csv(out / "cv_metrics.tsv", sep="\t", index=False)
    modalities = sorted({p.name[:-4] for _, d in dirs for p in (d / "test_predictions").glob("*.npz")})
    predictions, targets = [], []
    metrics: dict[str, Any] = {"folds": [f for f, _ in dirs]}
    all_r = []
    for modality in modalities:
        preds, truths = [], []
        for _, d in dirs:
            file = d / "test_predictions" / f"{modality}.npz"
            if file.exists():
                preds.append(read_targets(file))
                truths.append(read_targets(d / "test_targets" / f"{modality}.npz"))
        names = np.concatenate([p.names for p in preds])
        _, first = np.unique(names, return_index=True)
        keep = np.sort(first)
        if len(keep) < len(names):
            warnings.warn(f"{len(names) - len(keep)} examples are in the test sets of several folds; keeping the "
                          "first fold's prediction", DRGWarning, stacklevel=2)
        tracks = preds[0].tracks
        pred = Targets(np.concatenate([p.values for p in preds])[keep], names[keep], tracks, modality)
        truth = Targets(np.concatenate([t.values for t in truths])[keep], names[keep], tracks, modality)
        write_targets(pred, out / "oof_predictions" / f"{modality}.npz")
        write_targets(truth, out / "oof_targets" / f"{modality}.npz")
        predictions.append(pred)
        targets.append(truth)
        try:
            from drg.training.metrics import per_track_metrics, summary_metrics

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = per_track_metrics(pred.values, truth.values, list(tracks))
                summary = summary_metrics(pred.values, truth.values, per_track=table)
            metrics[modality] = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float))}
            if "pearson" in table.columns:
                all_r.append(table["pearson"].to_numpy(dtype=float))
        except Exception as exc:  # noqa: BLE001 - keep the pooled predictions even if a metric fails
            warnings.warn(f"out-of-fold metrics for {modality!r} failed: {exc}", DRGWarning, stacklevel=2)
    if all_r:
        r = np.concatenate(all_r)
        metrics["test_pearson_mean"] = float(np.nanmean(r)) if np.isfinite(r).any() else None
    write_json(out / "cv_summary.json", metrics)
    update_summary(out, "cv", {k: v for k, v in metrics.items() if not isinstance(v, dict)})
    return CVResult(out, per_fold, predictions, targets, metrics)

"""``drg evaluate``: metrics, plots and an HTML report of predictions against measured targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done


def evaluate(
    predictions: Annotated[Path, typer.Option("--predictions", help="Predictions file (tsv/csv/npz from drg predict).")],
    targets: Annotated[Path, typer.Option("--targets", help="Measured targets (tsv/csv/npz); rows matched by name.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    classes: Annotated[Path | None, typer.Option(help="Class file 'track class': metrics per class.")] = None,
    mean_classes: Annotated[Path | None, typer.Option(
        "--mean-classes", help="Class file: average the tracks of each class before the per-class metrics.")] = None,
    task: Annotated[str, typer.Option(help="'regression' or 'classification' (0/1 targets).")] = "regression",
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Compare with shuffled targets.")] = True,
    n_shuffles: Annotated[int, typer.Option("--n-shuffles", help="Permutations averaged in the baseline.")] = 1,
    history: Annotated[Path | None, typer.Option(help="Training history csv/tsv for loss curves.")] = None,
    title: Annotated[str, typer.Option(help="Report title.")] = "DRG evaluation",
    seed: Annotated[int, typer.Option(help="Seed of the baseline permutations.")] = 0,
) -> None:
    """Per-track and per-region metrics, plots and report.html for predictions vs targets."""
    from drg.errors import InputError
    from drg.training.evaluation import evaluate as run

    if task not in ("regression", "classification"):
        raise InputError(f"--task must be 'regression' or 'classification', got {task!r}")
    result = run(predictions, targets, out, classes=classes, mean_classes=mean_classes, task=task,  # type: ignore[arg-type]
                 baseline=baseline, n_shuffles=n_shuffles, history=history, title=title, seed=seed)
    done(f"evaluation written to {out} (report: {result.report})")

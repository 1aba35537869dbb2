"""``drg run`` (the whole path on a user's data) and ``drg report`` (rebuild a run's HTML report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done


def run(
    config: Annotated[Path, typer.Argument(help="Pipeline YAML (see drg.pipeline.PipelineConfig).")],
    out: Annotated[Path, typer.Option("--out", help="Run directory.")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted training.")] = False,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Folds → train → k-mer baseline → attributions → motifs → kernels → design → embeddings → report."""
    from drg.pipeline import PipelineConfig, run_pipeline

    cfg = PipelineConfig.from_yaml(config)
    if seed is not None:
        cfg = PipelineConfig.from_dict({**cfg.to_dict(), "seed": seed})
    run_pipeline(cfg, out, resume=resume, verbose=not quiet)
    done(f"run written to {out} (report: {out / 'report' / 'index.html'})")


def report(
    run_dir: Annotated[Path, typer.Argument(help="Directory written by drg run or drg quickstart.")],
    title: Annotated[str | None, typer.Option(help="Page title.")] = None,
) -> None:
    """Rebuild RUN_DIR/report/index.html from RUN_DIR/summary.json."""
    from drg.errors import InputError
    from drg.report.runs import write_run_report

    if not (run_dir / "summary.json").is_file():
        raise InputError("no summary.json: not a run directory of drg run / drg quickstart", path=run_dir)
    path = write_run_report(run_dir, title=title)
    done(f"report written to {path}")

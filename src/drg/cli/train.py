"""``drg train``, ``drg cv``, ``drg predict`` and ``drg finetune``: the training engine on the command line.

Each function here only parses options, calls :mod:`drg.training` and reports; ``app`` bundles them so the
module also runs on its own (``python -m drg.cli.train train run.yaml --out runs/a``), which is how DDP
launches its worker processes in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from drg.cli._common import done, parse_devices, run_app, split_list

app = typer.Typer(help="Train, cross-validate, fine-tune and predict.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

ConfigArg = Annotated[Optional[Path], typer.Argument(help="Run config YAML (see drg.training.TrainConfig).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Run directory (default: out_dir of the config).")]
DevicesOpt = Annotated[Optional[str], typer.Option(help="Devices per node: a count, 'auto' or a list '0,1'.")]
StrategyOpt = Annotated[Optional[str], typer.Option(help="Lightning strategy, e.g. ddp.")]
NodesOpt = Annotated[Optional[int], typer.Option("--num-nodes", help="Number of nodes.")]
AccelOpt = Annotated[Optional[str], typer.Option(help="cpu, gpu or auto.")]
PrecisionOpt = Annotated[Optional[str], typer.Option(help="32, bf16-mixed or 16-mixed.")]
EpochsOpt = Annotated[Optional[int], typer.Option("--max-epochs", help="Override stopping.max_epochs.")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Override trainer.batch_size.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--num-workers", help="Override trainer.num_workers.")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Override the seed.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar or model summary.")]


def _overrides(config: Any, *, devices: str | None = None, strategy: str | None = None,
               num_nodes: int | None = None, accelerator: str | None = None, precision: str | None = None,
               max_epochs: int | None = None, batch_size: int | None = None, num_workers: int | None = None,
               seed: int | None = None, fold: int | None = None) -> Any:
    """Apply command-line overrides to a TrainConfig."""
    from drg.training.config import TrainConfig

    raw = config.to_dict()
    trainer = raw["trainer"]
    for key, value in (("devices", parse_devices(devices)), ("strategy", strategy), ("num_nodes", num_nodes),
                       ("accelerator", accelerator), ("precision", precision), ("batch_size", batch_size),
                       ("num_workers", num_workers)):
        if value is not None:
            trainer[key] = value
    if max_epochs is not None:
        raw["stopping"]["max_epochs"] = max_epochs
    if seed is not None:
        raw["seed"] = seed
    if fold is not None:
        raw["data"]["fold"] = fold
    return TrainConfig.from_dict(raw)


def _load_config(config: Path | None, resume: Path | None) -> Any:
    from drg.errors import InputError
    from drg.training.config import TrainConfig

    if config is not None:
        return TrainConfig.from_yaml(config)
    if resume is not None and (resume / "config.yaml").exists():
        return TrainConfig.from_yaml(resume / "config.yaml")
    raise InputError("give a run config (CONFIG) or --resume DIR of a run that has config.yaml")


def _report(result: Any) -> None:
    if result.model is None:  # a non-zero DDP rank
        return
    metrics = result.metrics
    parts = [f"best epoch {metrics.get('best_epoch')}"]
    if metrics.get("best_loss") is not None:
        parts.append(f"loss {metrics['best_loss']:.4g}")
    if metrics.get("test_pearson_mean") is not None:
        parts.append(f"test mean Pearson r {metrics['test_pearson_mean']:.3f}")
    done(", ".join(parts) + f" → {result.checkpoint_dir}")


@app.command("train")
def train(
    config: ConfigArg = None,
    out: OutOpt = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the interrupted run in DIR.")] = None,
    devices: DevicesOpt = None,
    strategy: StrategyOpt = None,
    num_nodes: NodesOpt = None,
    accelerator: AccelOpt = None,
    precision: PrecisionOpt = None,
    max_epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    num_workers: WorkersOpt = None,
    fold: Annotated[Optional[int], typer.Option(help="Override data.fold.")] = None,
    seed: SeedOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a model from a run config; writes checkpoints/{best,last}, history, test predictions and metrics."""
    from drg.training.fitting import fit

    cfg = _overrides(_load_config(config, resume), devices=devices, strategy=strategy, num_nodes=num_nodes,
                     accelerator=accelerator, precision=precision, max_epochs=max_epochs, batch_size=batch_size,
                     num_workers=num_workers, seed=seed, fold=fold)
    out_dir = out or (resume if resume is not None else None)
    result = fit(cfg, out_dir=out_dir, resume=resume if resume is not None else False, verbose=not quiet)
    _report(result)


@app.command("cv")
def cv(
    config: Annotated[Path, typer.Argument(help="Run config YAML with data.folds.")],
    out: OutOpt = None,
    fold: Annotated[Optional[list[int]], typer.Option(help="Train only these folds (repeatable); others later "
                                                           "or in other processes.")] = None,
    aggregate_only: Annotated[bool, typer.Option("--aggregate-only", help="Only pool finished folds.")] = False,
    devices: DevicesOpt = None,
    accelerator: AccelOpt = None,
    max_epochs: EpochsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Cross-validate: train every fold (or --fold k) and pool the out-of-fold test predictions."""
    from drg.training.config import TrainConfig
    from drg.training.cv import aggregate_cv, cross_validate

    cfg = _overrides(TrainConfig.from_yaml(config), devices=devices, accelerator=accelerator,
                     max_epochs=max_epochs)
    out_dir = out or (Path(cfg.out_dir) if cfg.out_dir else None)
    if aggregate_only:
        if out_dir is None:
            raise typer.BadParameter("--out is required")
        result = aggregate_cv(out_dir)
    else:
        result = cross_validate(cfg, out_dir=out_dir, folds=fold or None, verbose=not quiet)
    r = result.metrics.get("test_pearson_mean")
    shown = f", out-of-fold mean Pearson r {r:.3f}" if isinstance(r, float) else ""
    done(f"{len(result.per_fold)} fold(s){shown} → {result.out_dir}")


@app.command("predict")
def predict(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint or run directory.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.npz, .tsv, .csv; one per head if several).")],
    npz: Annotated[Optional[Path], typer.Option(help="DRG one-hot .npz or a memmap cache directory.")] = None,
    fasta: Annotated[Optional[Path], typer.Option(help="FASTA of sequences.")] = None,
    genome: Annotated[Optional[Path], typer.Option(help="Genome FASTA (with --regions).")] = None,
    regions: Annotated[Optional[Path], typer.Option(help="Regions (BED/narrowPeak/GTF/table).")] = None,
    length: Annotated[Optional[int], typer.Option(help="Window length (genome) or pad/crop length (FASTA).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 or auto.")] = "auto",
    rc: Annotated[bool, typer.Option("--rc", help="Average both strands.")] = False,
    shift: Annotated[int, typer.Option(help="Average over shifts -s, 0, s.")] = 0,
    num_workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Predict with a trained model; writes names, track names and values."""
    from drg.errors import InputError
    from drg.training.prediction import predict as run_predict
    from drg.training.prediction import write_predictions

    sources = [s for s in (npz, fasta, genome) if s is not None]
    if len(sources) != 1:
        raise InputError("give exactly one of --npz, --fasta or --genome (with --regions)")
    if genome is not None and regions is None:
        raise InputError("--genome needs --regions")
    preds = run_predict(model, npz or fasta, genome=genome, regions=regions, length=length,
                        batch_size=batch_size, device=device, rc_average=rc, shift_average=shift,
                        num_workers=num_workers or 0, verbose=not quiet)
    paths = write_predictions(preds, out)
    done(f"{len(preds[0].names)} sequences x {sum(len(p.tracks) for p in preds)} tracks → "
         + ", ".join(str(p) for p in paths))


@app.command("finetune")
def finetune(
    config: Annotated[Path, typer.Argument(help="Run config YAML (finetune section or --checkpoint).")],
    out: OutOpt = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint to start from.")] = None,
    freeze: Annotated[Optional[str], typer.Option(help="Comma-separated parameter-name patterns to freeze.")] = None,
    keep_tracks: Annotated[Optional[str], typer.Option("--keep-tracks", help="Comma-separated checkpoint tracks "
                                                                            "to keep.")] = None,
    devices: DevicesOpt = None,
    accelerator: AccelOpt = None,
    max_epochs: EpochsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fine-tune a checkpoint on new data: partial loading, track subsets, frozen layers, new heads."""
    from drg.training.config import TrainConfig
    from drg.training.finetuning import finetune as run_finetune

    cfg = _overrides(TrainConfig.from_yaml(config), devices=devices, accelerator=accelerator,
                     max_epochs=max_epochs)
    raw = cfg.to_dict()
    section = raw.get("finetune") or {}
    if checkpoint is not None:
        section["checkpoint"] = str(checkpoint.resolve())
    if freeze:
        section["freeze"] = split_list(freeze)
    if keep_tracks:
        section["keep_tracks"] = [int(t) if t.lstrip("-").isdigit() else t for t in split_list(keep_tracks)]
    if section:
        raw["finetune"] = section
    result = run_finetune(TrainConfig.from_dict(raw), out_dir=out, verbose=not quiet)
    _report(result)


if __name__ == "__main__":
    run_app(app)

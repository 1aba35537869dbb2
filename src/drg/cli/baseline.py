"""``drg baseline``: k-mer / PWM features and a penalised linear model on a training run's data and split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from drg.cli._common import done, split_list

_SHORT_KEYS = {"kmer": "k", "pwm": "statistic"}
"""The setting a bare value sets in a ``--features`` item (``kmer:6`` is k = 6, ``pwm:max`` statistic = max)."""


def _value(text: str) -> Any:
    """An option value as int, float, bool or None when it reads as one, else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "false", "no"):
        return lowered in ("true", "yes")
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_features(text: str) -> list[dict[str, Any]]:
    """Feature blocks from ``--features``: comma-separated ``kind[:value][:key=value...]`` items.

    ``kmer:6`` (k = 6), ``kmer:k=4:gaps=2``, ``kmer:8:canonical=false``, ``pwm``, ``pwm:max``,
    ``pwm:statistic=count:threshold=1e-5``, ``pwm:motifs=my.meme``. Keys are those of
    :class:`drg.baselines.runner.KmerFeatureConfig` and :class:`~drg.baselines.runner.PwmFeatureConfig`.
    """
    from drg.errors import InputError

    blocks = []
    for item in split_list(text):
        kind, *params = item.split(":")
        kind = kind.strip().lower()
        if kind not in _SHORT_KEYS:
            raise InputError(f"--features item {item!r}: the kind must be 'kmer' or 'pwm', got {kind!r}")
        block: dict[str, Any] = {"kind": kind}
        for param in params:
            if "=" in param:
                key, value = param.split("=", 1)
                block[key.strip()] = _value(value.strip())
            elif param.strip():
                block[_SHORT_KEYS[kind]] = _value(param.strip())
        blocks.append(block)
    if not blocks:
        raise InputError("--features is empty; give e.g. kmer:6 or kmer:6,pwm")
    return blocks


def baseline(
    config: Annotated[Optional[Path], typer.Argument(help="Baseline config YAML (see "
                                                           "drg.baselines.BaselineConfig).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Run directory (default: out_dir of the config).")] = None,
    train_config: Annotated[Optional[Path], typer.Option("--train-config", help="Take the data section and seed "
                                                                                 "of this training run config.")] = None,
    onehot: Annotated[Optional[Path], typer.Option(help="DRG one-hot .npz or memmap cache directory.")] = None,
    genome: Annotated[Optional[Path], typer.Option(help="Genome FASTA (with --regions).")] = None,
    regions: Annotated[Optional[Path], typer.Option(help="Regions (BED/narrowPeak/GTF/table).")] = None,
    length: Annotated[Optional[int], typer.Option(help="Window length for genome data.")] = None,
    targets: Annotated[Optional[str], typer.Option(help="Target files, comma-separated (one per modality).")] = None,
    folds: Annotated[Optional[Path], typer.Option(help="DRG fold-set file.")] = None,
    fold: Annotated[Optional[int], typer.Option(help="Fold index (validation set[fold], test set[fold+1]).")] = None,
    features: Annotated[Optional[str], typer.Option(help="Feature blocks, e.g. 'kmer:6', 'kmer:6,pwm', "
                                                         "'kmer:k=4:gaps=2', 'pwm:statistic=max'.")] = None,
    model: Annotated[Optional[str], typer.Option(help="ridge, lasso or elasticnet.")] = None,
    alpha: Annotated[Optional[str], typer.Option(help="Penalty: a number, or 'cv' to choose it per track on "
                                                      "the validation rows.")] = None,
    l1_ratio: Annotated[Optional[float], typer.Option("--l1-ratio", help="Elastic-net mixing.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress or summary line.")] = False,
) -> None:
    """Fit a k-mer / PWM linear baseline on the same data and split as a training run, and evaluate it."""
    from drg.baselines.runner import BaselineConfig, run_baseline
    from drg.errors import InputError

    if config is not None and train_config is not None:
        raise InputError("give either a baseline CONFIG or --train-config, not both")
    if config is not None:
        raw = BaselineConfig.from_yaml(config).to_dict()
    elif train_config is not None:
        raw = BaselineConfig.from_training(train_config).to_dict()
    else:
        raw = BaselineConfig().to_dict()
    data = raw["data"]
    for key, value in (("onehot", onehot), ("genome", genome), ("regions", regions), ("folds", folds)):
        if value is not None:
            data[key] = str(value)
    if onehot is not None:
        data["genome"] = data["regions"] = None
    if genome is not None:
        data["onehot"] = None
    if length is not None:
        data["length"] = length
    if targets is not None:
        data["targets"] = split_list(targets)
    if fold is not None:
        data["fold"] = fold
    if features is not None:
        raw["features"] = parse_features(features)
    if model is not None:
        raw["model"]["kind"] = model
    if alpha is not None:
        raw["model"]["alpha"] = alpha if alpha.strip().lower() == "cv" else _value(alpha)
    if l1_ratio is not None:
        raw["model"]["l1_ratio"] = l1_ratio
    if seed is not None:
        raw["seed"] = seed
    cfg = BaselineConfig.from_dict(raw, source=str(config) if config is not None else None)
    if out is None and cfg.out_dir is None:
        raise InputError("give --out DIR (or out_dir in the baseline config)")
    result = run_baseline(cfg, out, verbose=not quiet)
    r = result.metrics.get("test_pearson_mean")
    shown = f", test mean Pearson r {r:.3f}" if isinstance(r, float) else ""
    done(f"{result.metrics['n_features']} features, {cfg.model.kind}{shown} → {result.out_dir}")

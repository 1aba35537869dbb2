"""The whole path on a user's own data: folds, training, baseline, attributions, motifs, kernels, design, maps.

:func:`run_pipeline` is what ``drg run PIPELINE.yaml`` runs, and :func:`drg.quickstart.quickstart` runs the
same stages on simulated data. Every stage writes its files under the output directory, adds a section to
``summary.json`` and is skipped when its ``enabled`` flag is false; ``report/index.html`` gathers them.

A minimal pipeline file::

    train:
      data:
        genome: hg38.fa
        regions: peaks.narrowPeak
        length: 500
        targets: [atac.tsv]
    design:
      tracks: [B_cell]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from drg.config import Config
from drg.errors import InputError
from drg.provenance import RunRecord, update_summary
from drg.training.config import TrainConfig
from drg.utils import PathLike


class FoldsStep(Config):
    """Chromosome folds made when the data names regions but no split: ``k`` sets, whole chromosomes each."""

    k: int = Field(default=10, ge=3)
    exclude: list[str] = Field(default_factory=lambda: ["chrX", "chrY", "chrM"])
    sizes: Literal["regions", "bases"] = "regions"


class BaselineStep(Config):
    """A k-mer ridge baseline fitted on the same split as the CNN."""

    enabled: bool = True
    k: int = Field(default=6, ge=1, le=10)
    gaps: int = Field(default=0, ge=0)
    model: Literal["ridge", "lasso", "elasticnet"] = "ridge"


class AttributionStep(Config):
    """Attributions of held-out sequences (``split``) to every track (or ``tracks``)."""

    enabled: bool = True
    method: Literal["tism", "ism", "gradient", "deeplift_shap", "integrated_gradients"] = "tism"
    gauge: str = "corrected"
    split: Literal["test", "val", "train"] = "test"
    n_sequences: int = Field(default=500, ge=1)
    tracks: list[str] | None = None
    batch_size: int = Field(default=128, ge=1)
    n_logos: int = Field(default=4, ge=0)


class MotifStep(Config):
    """Seqlets → clusters named by Tomtom against ``database`` (default: the bundled JASPAR 2024)."""

    enabled: bool = True
    seqlet_method: Literal["pvalue", "zscore"] = "pvalue"
    sign: Literal["both", "positive", "negative"] = "both"
    cluster_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    min_seqlets: int = Field(default=5, ge=1)
    database: str | None = None
    q_threshold: float = Field(default=0.05, gt=0.0, le=1.0)
    max_names: int = Field(default=3, ge=1)


class KernelStep(Config):
    """First-layer kernels as PWMs from their most activating windows in the attributed held-out sequences,
    and their knock-out effects per track on the same sequences."""

    enabled: bool = True
    effects: bool = True


class DesignStep(Config):
    """Greedy design of ``n_sequences`` held-out sequences toward ``objective`` on ``tracks``."""

    enabled: bool = True
    objective: Literal["maximize", "minimize", "difference"] = "maximize"
    tracks: list[str | int] = Field(default_factory=lambda: [0])
    against: list[str | int] | None = None
    method: Literal["greedy", "beam", "anneal"] = "greedy"
    scorer: Literal["ism", "tism"] = "tism"
    steps: int = Field(default=10, ge=1)
    n_sequences: int = Field(default=1, ge=1)
    forbid: list[str] = Field(default_factory=list)
    gc: tuple[float, float] | None = None


class EmbeddingStep(Config):
    """PCA maps of held-out regions (coloured by the first track's measurement) and of the tracks."""

    enabled: bool = True


class PipelineConfig(Config):
    """Every stage of :func:`run_pipeline`; read with :meth:`PipelineConfig.from_yaml`.

    ``train`` is a complete :class:`drg.training.TrainConfig` (data, model, losses, …); its ``model`` may be
    left out, in which case :func:`default_model` sized to the input length is trained. Relative paths are
    resolved against the YAML file's folder.
    """

    seed: int = 0
    train: TrainConfig
    folds: FoldsStep = Field(default_factory=FoldsStep)
    baseline: BaselineStep = Field(default_factory=BaselineStep)
    attribution: AttributionStep = Field(default_factory=AttributionStep)
    motifs: MotifStep = Field(default_factory=MotifStep)
    kernels: KernelStep = Field(default_factory=KernelStep)
    design: DesignStep = Field(default_factory=DesignStep)
    embeddings: EmbeddingStep = Field(default_factory=EmbeddingStep)
    title: str = "DRG run"

    @classmethod
    def from_yaml(cls, path: PathLike) -> PipelineConfig:  # type: ignore[override]
        """Read a pipeline YAML; relative paths are taken relative to its folder."""
        from drg.training.config import resolve_paths

        config = super().from_yaml(path)
        base = Path(path).resolve().parent
        raw = config.to_dict()
        raw["train"] = resolve_paths(config.train, base).to_dict()
        if raw["motifs"]["database"]:
            database = Path(raw["motifs"]["database"]).expanduser()
            raw["motifs"]["database"] = str(database if database.is_absolute() else base / database)
        return cls.from_dict(raw, source=str(path))


def default_model(length: int, kernel_size: int = 15) -> dict[str, Any]:
    """The CNN trained when a pipeline names none: 64 reverse-complement-scanning kernels of ``kernel_size``
    bp, two dilated residual layers, mean over the length and one FC layer (``n_outputs`` follows the
    targets)."""
    return {
        "kind": "cnn",
        "input_length": length,
        "activation": "gelu",
        "first_layer": {"n_kernels": 64, "kernel_size": kernel_size, "reverse_complement": True, "strand_pool": "max",
                        "activation": "relu", "pooling": {"mode": "max", "size": 4}},
        "tower": {"n_layers": 2, "kernel_size": 5, "dilations": [2, 4], "batch_norm": True,
                  "residual_every": 1, "pool_every": 2, "pooling": {"mode": "max", "size": 5}},
        "reduction": "mean",
        "heads": [{"name": "targets", "n_outputs": 1, "fc_layers": 1, "fc_size": 128, "dropout": 0.1}],
    }


def prepare_training(config: PipelineConfig, out: Path) -> TrainConfig:
    """The run config actually trained: chromosome folds when needed, the default model, ``out/training``."""
    raw = config.train.to_dict()
    data = raw["data"]
    has_split = data["folds"] is not None or data["train"] is not None
    if not has_split and data["regions"] is not None:
        from drg.data import chromosome_folds, write_folds
        from drg.genome import prepare_regions

        regions = prepare_regions(data["regions"], length=data["length"])
        eligible = set(regions["chrom"]) - set(config.folds.exclude)
        if len(eligible) < config.folds.k:
            raise InputError(f"{len(eligible)} chromosomes remain after excluding {config.folds.exclude}, too "
                             f"few for folds.k = {config.folds.k}; lower folds.k or give train.data.folds",
                             path=data["regions"])
        sets = chromosome_folds(regions, config.folds.k, seed=config.seed, exclude=config.folds.exclude,
                                sizes=config.folds.sizes)
        path = out / "folds.txt"
        write_folds(sets, path)
        data["folds"] = str(path)
    if raw["model"] is None and not raw.get("finetune"):
        raw["model"] = default_model(_input_length(config.train))
    raw["seed"] = config.seed
    raw["out_dir"] = str(out / "training")
    return TrainConfig.from_dict(raw)


def _input_length(config: TrainConfig) -> int:
    """Sequence length of the run's data (one-hot file or ``data.length``/region widths)."""
    data = config.data
    if data.length is not None:
        return int(data.length)
    if data.onehot is not None:
        from drg.data import read_sequences

        return int(read_sequences(data.onehot).X.shape[-1])
    from drg.genome import prepare_regions

    regions = prepare_regions(data.regions)
    widths = np.unique((regions["end"] - regions["start"]).to_numpy())
    if len(widths) != 1:
        raise InputError(f"regions have {len(widths)} different widths; set train.data.length",
                         path=data.regions)
    return int(widths[0])


def held_out_sequences(data: Any, index: np.ndarray) -> np.ndarray:
    """One-hot ``(n, 4, L)`` float32 of examples ``index`` of a :class:`drg.training.RunData`.

    The windows are the ones training reads, without augmentation (for genome data: centred on each region,
    reverse-complemented on the ``-`` strand).
    """
    from drg.training.inputs import make_dataset

    dataset = make_dataset(data, np.asarray(index, dtype=np.int64), augmentation=None, seed=0, with_targets=False)
    if len(dataset) == 0:
        return np.zeros((0, 4, data.length), dtype=np.float32)
    return np.stack([dataset[i].numpy() for i in range(len(dataset))])


def choose(index: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` entries of ``index``, drawn without replacement with ``seed``, in their original order."""
    index = np.asarray(index, dtype=np.int64)
    if len(index) <= n:
        return index
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(index, size=n, replace=False))


def run_pipeline(config: PipelineConfig | dict[str, Any] | PathLike, out_dir: PathLike, *, resume: bool = False,
                 sites: pd.DataFrame | None = None, record: RunRecord | None = None,
                 verbose: bool = True) -> dict[str, Any]:
    """Run every enabled stage into ``out_dir`` and return the ``summary.json`` content.

    Parameters
    ----------
    config
        A :class:`PipelineConfig`, its mapping, or the path of its YAML file.
    out_dir
        Run directory: ``pipeline.yaml``, ``run.json``, ``summary.json``, ``training/`` (the CNN run),
        ``baseline/``, ``attribution/``, ``motifs/``, ``kernels/``, ``design/``, ``embeddings/`` and
        ``report/index.html``.
    resume
        Continue an interrupted training from ``training/checkpoints/last``.
    sites
        Known sites drawn as boxes on the attribution logos: columns ``name`` (example name), ``start``,
        ``end`` (0-based half-open, in sequence coordinates) and ``label``.
    record
        A :class:`drg.provenance.RunRecord` the stage timings are added to; the caller then writes it.
        By default the pipeline keeps its own and writes ``run.json``.
    verbose
        Progress bars and a one-line summary at the end.

    Notes
    -----
    The ``data`` section of ``summary.json`` gets the number of examples, the length, the tracks, the split
    sizes and the targets' mean and standard deviation; keys a caller already wrote there are kept.
    """
    import json

    from drg.stages import (
        attribution_stage,
        baseline_stage,
        design_stage,
        embedding_stage,
        kernel_stage,
        seqlet_stage,
        training_summary,
    )
    from drg.training import fit, load_data

    if isinstance(config, (str, Path)):
        config = PipelineConfig.from_yaml(config)
    elif isinstance(config, dict):
        config = PipelineConfig.from_dict(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out / "pipeline.yaml")
    own_record = record is None
    record = record or RunRecord(seed=config.seed)
    update_summary(out, "title", config.title)

    train_config = prepare_training(config, out)
    data = load_data(train_config.data, seed=config.seed)
    record.add_inputs(data.inputs)
    _data_section(out, data)
    with record.step("train"):
        result = fit(train_config, resume=resume, verbose=verbose)
    update_summary(out, "training", training_summary(out, result))
    model = result.model.eval()

    if config.baseline.enabled:
        step = config.baseline
        with record.step("baseline"):
            section = baseline_stage(out, train_config, k=step.k, gaps=step.gaps, model=step.model,
                                     seed=config.seed, verbose=verbose)
        update_summary(out, "baseline", section)

    chosen = choose(getattr(data.split, config.attribution.split), config.attribution.n_sequences, config.seed)
    X = held_out_sequences(data, chosen)
    names = [str(data.names[i]) for i in chosen]
    targets = np.asarray(data.targets[0].values[chosen], dtype=np.float32)
    tracks = [str(t) for t in data.targets[0].tracks]

    values = None
    if config.attribution.enabled:
        step = config.attribution
        with record.step("attribution"):
            section, values = attribution_stage(out, model, X, names, method=step.method, gauge=step.gauge,
                                                tracks=step.tracks, batch_size=step.batch_size,
                                                n_logos=step.n_logos, measured=targets,
                                                boxes=_boxes(sites, names))
        update_summary(out, "attribution", section)
    if config.motifs.enabled and values is not None:
        step = config.motifs
        with record.step("motifs"):
            section, _ = seqlet_stage(out, values, X, section["tracks"], method=step.seqlet_method,
                                      sign=step.sign, threshold=step.cluster_threshold,
                                      min_seqlets=step.min_seqlets, database=step.database,
                                      q_threshold=step.q_threshold, max_names=step.max_names, seed=config.seed,
                                      names=names, verbose=verbose)
        update_summary(out, "motifs", section)
    if config.kernels.enabled:
        step = config.kernels
        with record.step("kernels"):
            section, _ = kernel_stage(out, model, X, tracks, targets=targets, effects=step.effects,
                                      database=config.motifs.database, q_threshold=config.motifs.q_threshold,
                                      verbose=verbose)
        update_summary(out, "kernels", section)
    if config.design.enabled:
        with record.step("design"):
            section = design_stage(out, model, X, names, tracks, config.design, seed=config.seed,
                                   verbose=verbose)
        update_summary(out, "design", section)
    if config.embeddings.enabled:
        with record.step("embeddings"):
            section = embedding_stage(out, model, X, names, tracks, color=targets[:, 0],
                                      color_name=f"measured {tracks[0]}", seed=config.seed)
        update_summary(out, "embeddings", section)

    from drg.report.runs import write_run_report

    with record.step("report"):
        report = write_run_report(out)
    update_summary(out, "report", {"index": str(report.relative_to(out))})
    summary = json.loads((out / "summary.json").read_text())
    if own_record:  # a caller that passed its record writes it and reports itself
        record.write(out)
    if own_record and verbose:
        from rich.console import Console

        training = summary["training"]
        Console(stderr=True).print(f"[bold]{config.title}[/bold]: held-out Pearson r "
                                   f"{training.get('test_pearson_mean', float('nan')):.3f} → {report}")
    return summary


def _data_section(out: Path, data: Any) -> None:
    """Write the generic ``data`` section, keeping keys already there."""
    import json

    values = np.asarray(data.targets[0].values, dtype=np.float64)
    section = {
        "n_sequences": int(len(data.names)),
        "length": int(data.length),
        "n_tracks": int(values.shape[1]),
        "tracks": [str(t) for t in data.targets[0].tracks],
        "split": {name: int(len(getattr(data.split, name))) for name in ("train", "val", "test")},
        "split_source": data.split_source,
        "target_mean": np.round(np.nanmean(values, axis=0), 4).tolist(),
        "target_std": np.round(np.nanstd(values, axis=0), 4).tolist(),
    }
    path = out / "summary.json"
    existing = json.loads(path.read_text()).get("data", {}) if path.exists() else {}
    update_summary(out, "data", {**section, **existing})


def _boxes(sites: pd.DataFrame | None, names: list[str]) -> dict[int, list[tuple[int, int, str]]] | None:
    """Logo boxes per row of the attributed sequences from a ``name/start/end/label`` table."""
    if sites is None:
        return None
    row = {name: i for i, name in enumerate(names)}
    boxes: dict[int, list[tuple[int, int, str]]] = {}
    for name, start, end, label in zip(sites["name"], sites["start"], sites["end"], sites["label"]):
        if str(name) in row:
            boxes.setdefault(row[str(name)], []).append((int(start), int(end), str(label)))
    return boxes

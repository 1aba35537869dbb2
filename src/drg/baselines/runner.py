"""A baseline run: the data section and split of a training run, sequence features, one linear model per
track, and the same test-set evaluation and report as a CNN run.

Example (``baseline.yaml``)::

    seed: 0
    data:                               # the same section as a training run config (drg.training.DataConfig)
      onehot: data/sequences.npz
      targets: [data/atac.tsv]
      folds: data/folds.txt
      fold: 0
      normalize: [log1p, standardize]
    features:
      - {kind: kmer, k: 6}              # canonical 6-mer counts
      - {kind: kmer, k: 4, gaps: 2}     # gapped 4-mers in windows of 6
      - {kind: pwm, statistic: max}     # best JASPAR log-odds score per motif (or motifs: my.meme)
    model: {kind: ridge, alpha: cv}     # alpha chosen per track on the validation rows

Because :func:`drg.training.load_data` reads the data section, a baseline sees exactly the sequences,
normalised targets and train/validation/test rows a CNN trained with the same section sees.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from drg.config import Config
from drg.errors import DRGWarning, InputError
from drg.training.config import DataConfig
from drg.utils import PathLike, atomic_write

__all__ = [
    "BaselineConfig",
    "BaselineResult",
    "KmerBaseline",
    "KmerFeatureConfig",
    "LinearModelConfig",
    "PwmFeatureConfig",
    "build_features",
    "kmer_baseline",
    "run_baseline",
]


class KmerFeatureConfig(Config):
    """k-mer counts (:func:`~drg.baselines.kmer_features`): ``k`` informative positions, ``gaps`` gaps,
    reverse complements merged when ``canonical``, row frequencies when ``normalize``, sparse storage when
    ``sparse`` (None: when the dense matrix would exceed 64 million entries)."""

    kind: Literal["kmer"] = "kmer"
    k: int = Field(default=6, ge=1, le=12)
    gaps: int = Field(default=0, ge=0)
    canonical: bool = True
    normalize: bool = False
    sparse: bool | None = None


class PwmFeatureConfig(Config):
    """Motif-scan statistics (:func:`~drg.baselines.pwm_features`): ``motifs`` is a MEME/JASPAR file (None:
    the bundled JASPAR 2024 vertebrates collection); ``statistic`` ``count`` (hits with ``p <= threshold``),
    ``max`` (best log-odds score) or ``both``; ``background``, ``pseudocount`` and ``both_strands`` as in
    :func:`drg.motifs.scan_motifs`."""

    kind: Literal["pwm"] = "pwm"
    motifs: str | None = None
    threshold: float = Field(default=1e-4, gt=0.0, le=1.0)
    statistic: Literal["count", "max", "both"] = "both"
    background: str | list[float] | None = None
    pseudocount: float = Field(default=0.1, ge=0.0)
    both_strands: bool = True


FeatureConfig = Annotated[KmerFeatureConfig | PwmFeatureConfig, Field(discriminator="kind")]


class LinearModelConfig(Config):
    """The linear model (:func:`~drg.baselines.fit_linear`): ``kind`` ridge, lasso or elasticnet; ``alpha`` a
    number or ``cv`` (chosen per track among ``alphas`` on the validation rows, or by ``cv``-fold
    cross-validation on the training rows when there are none)."""

    kind: Literal["ridge", "lasso", "elasticnet"] = "ridge"
    alpha: float | Literal["cv"] = "cv"
    alphas: list[float] | None = None
    l1_ratio: float = Field(default=0.5, gt=0.0, le=1.0)
    standardize: bool = True
    cv: int = Field(default=5, ge=2)
    max_iter: int = Field(default=5000, ge=1)
    tol: float = Field(default=1e-4, gt=0.0)


class BaselineConfig(Config):
    """Everything :func:`run_baseline` needs; read with :meth:`BaselineConfig.from_yaml`.

    Attributes
    ----------
    seed
        Seed of a random split (as in training) and of inner cross-validation.
    out_dir
        Run directory (the ``out_dir`` argument of :func:`run_baseline` wins).
    data
        The data section of a training run config (:class:`drg.training.DataConfig`).
    features
        Feature blocks, joined column-wise: ``{kind: kmer, ...}`` and ``{kind: pwm, ...}``.
    model
        The linear model.
    top_features
        Features listed per track in ``top_features/<modality>.tsv``.
    """

    seed: int = 0
    out_dir: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    features: list[FeatureConfig] = Field(default_factory=lambda: [KmerFeatureConfig()], min_length=1)
    model: LinearModelConfig = Field(default_factory=LinearModelConfig)
    top_features: int = Field(default=20, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _feature_keys(cls, data: Any) -> Any:
        """Name unknown keys of a feature block against the keys of its own kind."""
        import difflib

        blocks = data.get("features") if isinstance(data, dict) else None
        kinds = {"kmer": KmerFeatureConfig, "pwm": PwmFeatureConfig}
        for i, block in enumerate(blocks if isinstance(blocks, list) else []):
            if isinstance(block, dict) and "kind" not in block:
                raise ValueError(f"features.{i} has no 'kind'; every feature block needs kind: kmer or kind: pwm")
            if not isinstance(block, dict) or block["kind"] not in kinds:
                continue
            kind = block["kind"]
            valid = list(kinds[kind].model_fields)
            for key in block:
                if key not in valid:
                    close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
                    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(valid))}"
                    raise ValueError(f"unknown key 'features.{i}.{key}' of a {kind} feature block; {hint}")
        return data

    @classmethod
    def from_yaml(cls, path: PathLike) -> BaselineConfig:  # type: ignore[override]
        """Read a YAML baseline config; relative data, motif and output paths are taken relative to its folder."""
        config = super().from_yaml(path)
        return config.resolved(Path(path).resolve().parent)

    @classmethod
    def from_training(cls, config: Any, **sections: Any) -> BaselineConfig:
        """A baseline config with the data section and seed of a training run config.

        Parameters
        ----------
        config
            :class:`drg.training.TrainConfig` or the path of its YAML file.
        sections
            Other settings (``features=[...]``, ``model={...}``, ``out_dir=...``).
        """
        from drg.training.config import TrainConfig

        train = config if isinstance(config, TrainConfig) else TrainConfig.from_yaml(config)
        raw = {"seed": train.seed, "data": train.data.to_dict(), **sections}
        return cls.from_dict(raw)

    def resolved(self, base: PathLike) -> BaselineConfig:
        """Copy whose relative file paths are made absolute against ``base``."""
        from drg.training.config import TrainConfig, resolve_paths

        raw = self.to_dict()
        raw["data"] = resolve_paths(TrainConfig(data=self.data), base).data.to_dict()
        for block in raw["features"]:
            if block.get("kind") == "pwm" and block.get("motifs") and block["motifs"].lower() != "jaspar":
                path = Path(block["motifs"]).expanduser()
                block["motifs"] = str(path if path.is_absolute() else Path(base) / path)
        if raw.get("out_dir"):
            path = Path(raw["out_dir"]).expanduser()
            raw["out_dir"] = str(path if path.is_absolute() else Path(base) / path)
        return BaselineConfig.from_dict(raw)


@dataclass
class BaselineResult:
    """Outcome of :func:`run_baseline`.

    Attributes
    ----------
    out_dir
        The run directory.
    models
        Fitted model per modality.
    predictions
        Test-set predictions per modality (:class:`drg.data.Targets`, rows in data order).
    metrics
        Per modality: chosen ``alpha`` per track and test summary metrics; ``test_pearson_mean`` is the mean
        over all tracks of the per-track test Pearson r (as in a training run's ``metrics.json``).
    evaluations
        :class:`drg.training.EvaluationResult` per modality (``evaluation/<modality>/``).
    feature_names
        The ``F`` feature names, in column order.
    split
        The train/validation/test indices (:class:`drg.data.Split`) into the run's examples.
    names
        ``(N,)`` example names.
    """

    out_dir: Path
    models: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluations: dict[str, Any] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    split: Any = None
    names: np.ndarray | None = None


# ----------------------------------------------------------------------------------------------- sequences
def _codes_of_rows(X: Any, rows: np.ndarray, chunk: int = 8192) -> np.ndarray:
    from drg.baselines.features import sequence_codes

    parts = [sequence_codes(np.asarray(X[rows[i:i + chunk]])) for i in range(0, len(rows), chunk)]
    if not parts:
        return np.zeros((0, int(X.shape[2])), dtype=np.uint8)
    return np.concatenate(parts)


def _genome_codes(data: Any, seed: int, verbose: bool) -> np.ndarray:
    """Letter codes of the windows a training run reads for genome data (no jitter, region strand)."""
    from drg.baselines.features import sequence_codes
    from drg.genome import Genome
    from drg.training.inputs import make_dataset
    from drg.utils import progress

    dataset = make_dataset(data, np.arange(len(data.names)), augmentation=None, seed=seed, with_targets=False)
    base = dataset.dataset
    with Genome(data.genome) as genome:
        seqs = [genome.fetch(*base.window(int(i))) for i in
                progress(dataset.indices, total=len(dataset.indices), description="fetching sequences",
                         verbose=verbose)]
    return sequence_codes(seqs)


def run_sequences(data: Any, *, seed: int = 0, verbose: bool = False) -> list[np.ndarray]:
    """Letter codes ``(N, L_i)`` of every sequence input of a run's data (:func:`drg.training.load_data`).

    One array per input (several for multi-input data), rows in ``data.names`` order.
    """
    if data.X is None:
        return [_genome_codes(data, seed, verbose)]
    if getattr(data, "X_inputs", None) is not None:
        return [_codes_of_rows(X, np.asarray(r)) for X, r in zip(data.X_inputs, data.input_rows)]
    rows = np.arange(len(data.X)) if data.rows is None else np.asarray(data.rows)
    return [_codes_of_rows(data.X, rows)]


def build_features(codes: Any, blocks: list[Any], *, regions: Any = None, verbose: bool = False) -> Any:
    """Join the feature blocks of a config for sequences ``codes``.

    Parameters
    ----------
    codes
        Sequences: letter codes ``(N, L)`` (from :func:`run_sequences`), one-hot ``(N, 4, L)`` or strings;
        or a list of such, one per sequence input, whose feature names get an ``in<i>:`` prefix.
    blocks
        :class:`KmerFeatureConfig` / :class:`PwmFeatureConfig` items (or their mappings).
    regions
        ``(N,)`` region names.
    verbose
        Progress of the motif scan.

    Returns
    -------
    FeatureMatrix
    """
    from drg.baselines.features import FeatureMatrix, kmer_features, pwm_features

    inputs = codes if isinstance(codes, list) and codes and not isinstance(codes[0], str) else [codes]
    parsed = [b if isinstance(b, (KmerFeatureConfig, PwmFeatureConfig)) else
              BaselineConfig.from_dict({"features": [b]}).features[0] for b in blocks]
    matrices = []
    for i, seqs in enumerate(inputs):
        X = _onehot_view(seqs)
        for block in parsed:
            if isinstance(block, KmerFeatureConfig):
                fm = kmer_features(X, block.k, gaps=block.gaps, canonical=block.canonical,
                                   normalize=block.normalize, sparse=block.sparse, regions=regions)
                prefix = f"k{block.k}g{block.gaps}:" if block.gaps else ""
            else:
                fm = pwm_features(X, block.motifs, threshold=block.threshold, statistic=block.statistic,
                                  background=block.background, pseudocount=block.pseudocount,
                                  both_strands=block.both_strands, regions=regions, verbose=verbose)
                prefix = ""
            if len(inputs) > 1:
                prefix = f"in{i}:{prefix}"
            if prefix:
                fm = FeatureMatrix(fm.values, [prefix + n for n in fm.names], fm.regions)
            matrices.append(fm)
    return FeatureMatrix.hstack(matrices)


def _onehot_view(seqs: Any) -> Any:
    """Letter codes ``(N, L)`` become a one-hot ``(N, 4, L)`` int8 array; anything else passes through."""
    if isinstance(seqs, np.ndarray) and seqs.ndim == 2 and seqs.dtype == np.uint8:
        X = np.zeros((seqs.shape[0], 4, seqs.shape[1]), dtype=np.int8)
        for letter in range(4):
            X[:, letter, :] = seqs == letter
        return X
    return seqs


# ------------------------------------------------------------------------------------------------ writing
def _write_table(frame: pd.DataFrame, path: Path, index: bool = True) -> Path:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, sep="\t", index=index, float_format="%.6g", na_rep="nan", lineterminator="\n")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _describe(config: BaselineConfig) -> str:
    parts = []
    for block in config.features:
        if isinstance(block, KmerFeatureConfig):
            parts.append(f"{block.k}-mers" + (f" ({block.gaps} gaps)" if block.gaps else ""))
        else:
            parts.append(f"PWM {block.statistic}")
    return f"{config.model.kind} on {' + '.join(parts)}"


def as_baseline_config(config: BaselineConfig | dict[str, Any] | PathLike) -> BaselineConfig:
    """A :class:`BaselineConfig` from a config, a mapping or a YAML path."""
    if isinstance(config, BaselineConfig):
        return config
    if isinstance(config, dict):
        return BaselineConfig.from_dict(config)
    return BaselineConfig.from_yaml(config)


def run_baseline(
    config: BaselineConfig | dict[str, Any] | PathLike,
    out_dir: PathLike | None = None,
    *,
    verbose: bool = True,
) -> BaselineResult:
    """Fit a feature + linear-model baseline on a run's training rows and evaluate it on its test rows.

    Parameters
    ----------
    config
        :class:`BaselineConfig`, mapping, or YAML path.
    out_dir
        Run directory (default ``config.out_dir``). Receives ``config.yaml``, ``run.json``,
        ``metrics.json``, ``summary.json`` (section ``baseline``) and, per modality:
        ``test_predictions/<modality>.tsv`` and ``test_targets/<modality>.tsv`` (held-out rows),
        ``val_predictions/<modality>.tsv`` (when there are validation rows), ``coefficients/<modality>.tsv``
        (features x tracks, on standardised features), ``top_features/<modality>.tsv``,
        ``alpha_scores/<modality>.tsv`` (validation error of every candidate alpha, when chosen) and
        ``evaluation/<modality>/`` (per-track and per-region metrics, plots and ``report.html`` written by
        :func:`drg.training.evaluate`, as for a trained model).
    verbose
        Progress and the main numbers on stderr.

    Returns
    -------
    BaselineResult
    """
    from drg.baselines.linear import fit_linear
    from drg.data import Targets, write_targets
    from drg.provenance import RunRecord, update_summary, write_json
    from drg.training.evaluation import evaluate
    from drg.training.inputs import load_data
    from drg.utils import seed_everything

    cfg = as_baseline_config(config)
    out = Path(out_dir) if out_dir is not None else (Path(cfg.out_dir) if cfg.out_dir else None)
    if out is None:
        raise InputError("no output directory: pass out_dir or set out_dir in the baseline config")
    cfg = cfg.model_copy(update={"out_dir": str(out)})
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    record = RunRecord(seed=cfg.seed)
    with record.step("load_data"):
        data = load_data(cfg.data, seed=cfg.seed)
    cfg.to_yaml(out / "config.yaml")
    record.add_inputs(data.inputs + [b.motifs for b in cfg.features
                                     if isinstance(b, PwmFeatureConfig) and b.motifs])
    split = data.split
    if len(split.test) == 0:
        warnings.warn("the test set is empty; the baseline is fitted but not evaluated", DRGWarning, stacklevel=2)
    with record.step("features"):
        codes = run_sequences(data, seed=cfg.seed, verbose=verbose)
        features = build_features(codes if len(codes) > 1 else codes[0], list(cfg.features),
                                  regions=data.names, verbose=verbose)
    F_train, F_val, F_test = (features.rows(split.train), features.rows(split.val), features.rows(split.test))
    mc = cfg.model
    has_val = len(split.val) > 0
    result = BaselineResult(out, feature_names=list(features.names), split=split, names=data.names)
    metrics: dict[str, Any] = {"model": mc.kind, "features": [b.to_dict() for b in cfg.features],
                               "n_features": features.shape[1], "sparse": features.is_sparse,
                               "n_examples": {"train": len(split.train), "val": len(split.val),
                                              "test": len(split.test)},
                               "split": data.split_source,
                               "alpha_selection": ("fixed" if mc.alpha != "cv" else
                                                   "validation" if has_val else f"{mc.cv}-fold inner cv")}
    all_r: list[np.ndarray] = []
    title = _describe(cfg)
    for target in data.targets:
        name = target.modality
        y = np.asarray(target.values, dtype=np.float64)
        with record.step(f"fit_{name}"):
            model = fit_linear(F_train, y[split.train], model=mc.kind, alpha=mc.alpha, alphas=mc.alphas,
                               l1_ratio=mc.l1_ratio, standardize=mc.standardize,
                               F_val=F_val if has_val and mc.alpha == "cv" else None,
                               y_val=y[split.val] if has_val and mc.alpha == "cv" else None, cv=mc.cv,
                               track_names=list(target.tracks), max_iter=mc.max_iter, tol=mc.tol, seed=cfg.seed)
        result.models[name] = model
        _write_table(model.coefficients(), out / "coefficients" / f"{name}.tsv")
        _write_table(model.top_features(cfg.top_features), out / "top_features" / f"{name}.tsv", index=False)
        if not model.alpha_scores.empty:
            _write_table(model.alpha_scores, out / "alpha_scores" / f"{name}.tsv")
        entry: dict[str, Any] = {"alpha": {t: float(a) for t, a in zip(model.track_names, model.alpha)}}
        if has_val:
            val_pred = Targets(model.predict(F_val), data.names[split.val], target.tracks, name)
            write_targets(val_pred, out / "val_predictions" / f"{name}.tsv")
        if len(split.test):
            idx = split.test
            pred = Targets(model.predict(F_test), data.names[idx], target.tracks, name)
            truth = Targets(np.asarray(target.values[idx], dtype=np.float32), data.names[idx], target.tracks, name)
            write_targets(pred, out / "test_predictions" / f"{name}.tsv")
            write_targets(truth, out / "test_targets" / f"{name}.tsv")
            result.predictions[name] = pred
            with record.step(f"evaluate_{name}"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = evaluate(pred, truth, out / "evaluation" / name, task="regression",
                                  title=f"{name}: {title} baseline, held-out test set", seed=cfg.seed,
                                  verbose=False)
            result.evaluations[name] = report
            entry["test"] = {k: float(v) for k, v in report.summary.items()
                             if isinstance(v, (int, float)) and not isinstance(v, bool)}
            entry["report"] = str(report.report)
            all_r.append(report.per_track["pearson"].to_numpy(dtype=float))
        metrics[f"baseline_{name}"] = entry
    if all_r:
        r = np.concatenate(all_r)
        metrics["test_pearson_mean"] = float(np.nanmean(r)) if np.isfinite(r).any() else math.nan
    metrics["timings_s"] = dict(record.data["timings_s"])
    metrics = _finite(metrics)
    write_json(out / "metrics.json", metrics)
    record.add_outputs({"metrics": out / "metrics.json", "config": out / "config.yaml"})
    record.write(out)
    update_summary(out, "baseline", {"description": title, "test_pearson_mean": metrics.get("test_pearson_mean"),
                                     "n_features": features.shape[1], "model": mc.kind,
                                     "n_examples": metrics["n_examples"]})
    result.metrics = metrics
    if verbose:
        from rich.console import Console

        r_mean = metrics.get("test_pearson_mean")
        shown = f"test mean Pearson r {r_mean:.3f}" if isinstance(r_mean, float) else "no test rows"
        Console(stderr=True).print(f"{title}: {features.shape[1]} features, {shown} → {out}", highlight=False)
    return result


# ------------------------------------------------------------------------------------------ in memory
class KmerBaseline(NamedTuple):
    """Result of :func:`kmer_baseline`.

    Attributes
    ----------
    predictions
        ``(n_test, T)`` float32 predictions of the test rows (in ``test`` order).
    pearson
        ``(T,)`` per-track Pearson r on the test rows.
    pearson_mean
        Mean of ``pearson`` over tracks (NaN tracks ignored).
    model
        The fitted :class:`~drg.baselines.LinearBaseline`.
    test
        ``(n_test,)`` the test indices used.
    seconds
        Wall time of features, fit and prediction.
    """

    predictions: np.ndarray
    pearson: np.ndarray
    pearson_mean: float
    model: Any
    test: np.ndarray
    seconds: float


def _split_parts(split: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(split, dict):
        parts = [split.get(k) for k in ("train", "val", "test")]
    elif hasattr(split, "train") and hasattr(split, "test"):
        parts = [split.train, getattr(split, "val", None), split.test]
    elif isinstance(split, (tuple, list)) and len(split) == 3:
        parts = list(split)
    else:
        raise InputError("split must have train, val and test index arrays (drg.data.Split, a mapping or a "
                         f"3-tuple), got {type(split).__name__}")
    return tuple(np.asarray([] if p is None else p, dtype=np.int64).ravel() for p in parts)  # type: ignore[return-value]


def kmer_baseline(
    X: Any,
    y: Any,
    split: Any,
    *,
    k: int = 6,
    gaps: int = 0,
    canonical: bool = True,
    model: Literal["ridge", "lasso", "elasticnet"] = "ridge",
    alpha: float | Literal["cv"] = "cv",
    seed: int = 0,
) -> KmerBaseline:
    """k-mer counts and a per-track linear model, in memory: fit on ``split.train``, score ``split.test``.

    Parameters
    ----------
    X
        ``(N, 4, L)`` one-hot sequences (or strings).
    y
        ``(N, T)`` targets (or ``(N,)``).
    split
        Train/validation/test indices into ``X``: :class:`drg.data.Split`, a mapping or a 3-tuple. ``alpha``
        is chosen on the validation rows (5-fold cross-validation on the training rows when there are none).
    k, gaps, canonical
        As in :func:`~drg.baselines.kmer_features`.
    model, alpha
        As in :func:`~drg.baselines.fit_linear`.
    seed
        Seed of inner cross-validation.

    Returns
    -------
    KmerBaseline
        Test predictions, per-track Pearson r and its mean, the model.
    """
    from drg.baselines.features import kmer_features
    from drg.baselines.linear import fit_linear
    from drg.training.metrics import per_track_metrics

    start = time.perf_counter()
    train, val, test = _split_parts(split)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    features = kmer_features(X, k, gaps=gaps, canonical=canonical)
    n = features.shape[0]
    if y.shape[0] != n:
        raise InputError(f"{n} sequences but {y.shape[0]} target rows")
    for part, idx in (("train", train), ("val", val), ("test", test)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise InputError(f"split.{part} holds indices outside 0..{n - 1}")
    if train.size < 2 or test.size == 0:
        raise InputError(f"the split needs at least 2 training and 1 test rows (got {train.size} and {test.size})")
    use_val = val.size > 0 and alpha == "cv"
    fitted = fit_linear(features.rows(train), y[train], model=model, alpha=alpha,
                        F_val=features.rows(val) if use_val else None, y_val=y[val] if use_val else None,
                        seed=seed)
    pred = fitted.predict(features.rows(test))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = per_track_metrics(pred, y[test], fitted.track_names, warn=False)["pearson"].to_numpy(dtype=float)
    mean = float(np.nanmean(r)) if np.isfinite(r).any() else math.nan
    return KmerBaseline(pred, r, mean, fitted, test, time.perf_counter() - start)

"""``fit``: train a model from a run configuration with Lightning, write checkpoints, history, test predictions
and metrics, and resume an interrupted run exactly."""

from __future__ import annotations

import copy
import math
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.training.config import TrainConfig
from drg.utils import PathLike

__all__ = ["FitResult", "fit", "as_config", "build_model", "check_inputs", "make_losses"]


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model
        The trained model with the best weights, in eval mode (None on non-zero DDP ranks).
    checkpoint_dir
        ``out_dir/checkpoints/best`` (accepted by :func:`drg.training.load`).
    metrics
        Best epoch and validation loss, test metrics per modality (``test_pearson_mean`` is the mean over
        all tracks of the held-out per-track Pearson r), stopping reason.
    history
        One row per epoch: losses, learning rate, throughput, validation Pearson.
    out_dir
        The run directory.
    """

    model: Any
    checkpoint_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    out_dir: Path | None = None


def as_config(config: TrainConfig | dict[str, Any] | PathLike) -> TrainConfig:
    """A :class:`TrainConfig` from a config, a mapping or a YAML path."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    return TrainConfig.from_yaml(config)


def make_losses(config: TrainConfig, n_modalities: int) -> list[tuple[Any, float]]:
    """``(loss, weight)`` per modality; ``none`` gives ``(None, 0)``."""
    from drg.training.losses import get_loss

    out = []
    for m in range(n_modalities):
        spec = config.loss_for(m, n_modalities)
        if spec.name.lower() == "none":
            out.append((None, 0.0))
        else:
            out.append((get_loss(spec.name, **spec.params), spec.weight))
    return out


def _model_dict(config: TrainConfig) -> dict[str, Any] | None:
    import yaml

    spec = config.model
    if spec is None and config.finetune is not None:
        from drg.training.checkpoint import find_checkpoint

        path = find_checkpoint(config.finetune.checkpoint) / "config.yaml"
        if not path.exists():
            raise InputError("the fine-tuning checkpoint has no config.yaml; give a model section", path=path.parent)
        return yaml.safe_load(path.read_text())
    if isinstance(spec, str):
        path = Path(spec)
        if path.is_dir():
            path = path / "config.yaml"
        if not path.exists():
            raise InputError("model config file not found", path=path)
        return yaml.safe_load(path.read_text())
    return None if spec is None else copy.deepcopy(spec)


def build_model(config: TrainConfig, length: int | list[int], targets: list[Any]) -> Any:
    """Build the run's model; inline/file configs get ``input_length`` and one head per modality if unset.

    When ``heads`` has one entry per modality, their ``n_outputs`` and ``track_names`` are set from the
    targets (this is how a fine-tuned checkpoint gets heads for new or fewer tracks). ``length`` is one
    length per input for a multi-input model (``kind: multi_input``): a trunk without ``input_length`` gets
    its input's length, and when ``outputs`` has one entry per modality, ``network`` outputs without
    ``n_outputs`` get the modality's track count and outputs without ``track_names`` get the target's
    track names (when the widths agree).
    """
    from drg.models import build

    spec = _model_dict(config)
    if spec is None:
        raise InputError("the run config has no model: set 'model' (inline config, {zoo: name}, or a YAML path)")
    if "zoo" in spec:
        from drg.models import zoo

        extra = set(spec) - {"zoo", "overrides"}
        if extra:
            raise InputError(f"a zoo model takes only 'zoo' and 'overrides', got {sorted(extra)}")
        model = zoo(spec["zoo"], **(spec.get("overrides") or {}))
    else:
        kind = spec.get("kind", "cnn")
        lengths = [int(v) for v in length] if isinstance(length, (list, tuple)) else [int(length)]
        if kind == "multi_input":
            spec = _fill_multi_input(spec, lengths, targets, config.seed)
        if kind == "cnn":
            spec.setdefault("input_length", lengths[0])
            spec.setdefault("seed", config.seed)
            heads = spec.get("heads")
            if not heads:
                spec["heads"] = [{"name": t.modality, "n_outputs": int(t.values.shape[1]),
                                  "track_names": [str(x) for x in t.tracks]} for t in targets]
            elif len(heads) == len(targets):
                for head, t in zip(heads, targets):
                    head["n_outputs"] = int(t.values.shape[1])
                    head["track_names"] = [str(x) for x in t.tracks]
        model = build(spec)
    check_outputs(model, targets)
    return model


def _fill_multi_input(spec: dict[str, Any], lengths: list[int], targets: list[Any], seed: int) -> dict[str, Any]:
    """Complete a multi-input model config from the data (see :func:`build_model`)."""
    from drg.models import MultiInputConfig

    spec.setdefault("seed", seed)
    trunks = spec.get("trunks") or []
    shared = bool(spec.get("shared", False))
    spec.setdefault("n_inputs", len(lengths))
    for i, trunk in enumerate(trunks):
        if isinstance(trunk, dict) and "input_length" not in trunk:
            wanted = set(lengths) if shared else {lengths[i]} if i < len(lengths) else set()
            if len(wanted) > 1:
                raise InputError(f"a shared trunk scans inputs of lengths {lengths}; set trunks[0].input_length")
            if wanted:
                trunk["input_length"] = wanted.pop()
            trunk.setdefault("seed", seed)
    outputs = spec.get("outputs") or []
    if len(outputs) == len(targets):
        for out, t in zip(outputs, targets):
            if isinstance(out, dict) and out.get("function", "network") == "network":
                out.setdefault("n_outputs", int(t.values.shape[1]))
    cfg = MultiInputConfig.from_dict(spec)
    if len(outputs) == len(targets):
        for m, (out, t) in enumerate(zip(outputs, targets)):
            if isinstance(out, dict) and out.get("track_names") is None and cfg.output_width(m) == t.values.shape[1]:
                out["track_names"] = [str(x) for x in t.tracks]
    return spec


def check_inputs(model: Any, n_inputs: int, multi_input: bool, lengths: list[int]) -> None:
    """InputError when the data's sequence inputs do not fit the model.

    A multi-input model (``config.kind == "multi_input"``) needs ``data.onehot`` to list one file per
    input, with each trunk's ``input_length`` equal to its input's length; any other model takes one input.
    """
    config = getattr(model, "config", None)
    if getattr(config, "kind", None) == "multi_input":
        if not multi_input:
            raise InputError(f"the model takes {config.n_inputs} sequence inputs but data.onehot names one source; "
                             "list one file per input under data.onehot")
        if config.n_inputs != n_inputs:
            raise InputError(f"the model takes {config.n_inputs} sequence inputs but data.onehot lists {n_inputs} "
                             "files")
        for i, data_length in enumerate(lengths):
            expected = config.trunk_config(i).input_length
            if expected != data_length:
                raise InputError(f"input {i} has sequences of length {data_length} but its trunk expects "
                                 f"input_length {expected}")
    elif multi_input:
        raise InputError(f"data.onehot lists {n_inputs} file(s) but the model takes a single sequence input; use a "
                         "'kind: multi_input' model, or give data.onehot as one path")


def check_outputs(model: Any, targets: list[Any]) -> None:
    """InputError when the model's outputs per head do not match the targets' track counts."""
    n_out = getattr(model, "n_outputs", None)
    if n_out is None:
        return
    n_out = [int(n) for n in (n_out if isinstance(n_out, (list, tuple)) else [n_out])]
    wanted = [int(t.values.shape[1]) for t in targets]
    if len(n_out) == len(wanted) and n_out != wanted:
        raise InputError(f"the model has outputs {n_out} per head but the targets have {wanted} tracks per "
                         "modality; set the heads' n_outputs to match")


def _rank() -> int:
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def _loggers(out: Path) -> list[Any]:
    import importlib.util

    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(str(out), name="logs")]
    if importlib.util.find_spec("tensorboard") is not None:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(out), name="tensorboard"))
    return loggers


class _Data:
    """Loaders created once the strategy knows this process's rank and the world size."""

    def __init__(self, data: Any, config: TrainConfig) -> None:
        self.data, self.config = data, config

    def module(self) -> Any:
        import lightning.pytorch as pl

        owner = self

        class DataModule(pl.LightningDataModule):
            def train_dataloader(self) -> Any:
                return owner.loader("train", self.trainer)

            def val_dataloader(self) -> Any:
                return owner.loader("val", self.trainer)

        return DataModule()

    def loader(self, part: str, trainer: Any) -> Any:
        from drg.training.inputs import make_dataset, make_loader

        cfg = self.config
        idx = getattr(self.data.split, part)
        train = part == "train"
        dataset = make_dataset(self.data, idx, augmentation=cfg.augmentation if train else None, seed=cfg.seed)
        gpu = trainer is not None and trainer.accelerator.__class__.__name__.lower().startswith("cuda")
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        batch = cfg.trainer.batch_size if train else (cfg.trainer.eval_batch_size or cfg.trainer.batch_size)
        return make_loader(dataset, cfg.trainer, shuffle=train, seed=cfg.seed, rank=rank, world_size=world,
                           batch_size=batch, gpu=gpu)


def fit(
    config: TrainConfig | dict[str, Any] | PathLike,
    *,
    out_dir: PathLike | None = None,
    resume: bool | PathLike = False,
    model: Any = None,
    callbacks: list[Any] | None = None,
    verbose: bool = True,
) -> FitResult:
    """Train a model as described by ``config`` and write the run directory.

    Parameters
    ----------
    config
        :class:`TrainConfig`, mapping, or YAML path.
    out_dir
        Run directory (default ``config.out_dir``). Receives ``config.yaml``, ``run.json``,
        ``history.csv``/``history.json``, ``logs/metrics.csv``, ``checkpoints/{best,last}``,
        ``test_predictions/`` (one npz per modality with the held-out predictions, and the matching
        ``test_targets/``), ``evaluation/<modality>/`` (per-track and per-region metrics, plots and
        ``report.html`` with the loss curves) and ``metrics.json``; ``summary.json`` gets a ``training``
        section.
    resume
        True to continue the run in ``out_dir`` from ``checkpoints/last``, or the run directory to
        continue from: optimiser, schedule, epoch, early-stopping state and RNG states are restored, so
        an interrupted run ends with the same weights as an uninterrupted one (on CPU).
    model
        Use this ``torch.nn.Module`` instead of building ``config.model``.
    callbacks
        Extra Lightning callbacks.
    verbose
        Progress bar and model summary.

    Returns
    -------
    FitResult
        Model with the best weights, in eval mode, and where everything was written.
    """
    import torch

    cfg = as_config(config)
    threads = torch.get_num_threads()
    try:
        return _fit(cfg, out_dir, resume, model, callbacks, verbose)
    finally:
        torch.set_num_threads(threads)


def _fit(cfg: TrainConfig, out_dir: PathLike | None, resume: bool | PathLike, model: Any,
         callbacks: list[Any] | None, verbose: bool) -> FitResult:
    import lightning.pytorch as pl
    import torch

    from drg.provenance import RunRecord, update_summary, write_json
    from drg.training.callbacks import RunController
    from drg.training.inputs import load_data
    from drg.training.module import DRGModule
    from drg.utils import seed_everything

    resume_dir: Path | None = None
    if resume:
        resume_dir = Path(out_dir or cfg.out_dir or "") if resume is True else Path(resume)
    out = Path(out_dir or cfg.out_dir or (resume_dir if resume_dir else "")) if (out_dir or cfg.out_dir or
                                                                                 resume_dir) else None
    if out is None:
        raise InputError("no output directory: pass out_dir or set out_dir in the config")
    state_path = None
    if resume_dir is not None:
        from drg.training.checkpoint import STATE, find_checkpoint

        try:
            state_path = find_checkpoint(resume_dir, "last") / STATE
        except InputError:
            state_path = None
        if state_path is None or not state_path.exists():
            raise InputError("nothing to resume: no checkpoints/last/state.ckpt", path=resume_dir)
    cfg = cfg.model_copy(update={"out_dir": str(out)})
    out.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    seed_everything(cfg.seed)
    record = RunRecord(seed=cfg.seed)
    is_zero = _rank() == 0
    with record.step("load_data"):
        data = load_data(cfg.data, seed=cfg.seed)
    if is_zero:
        cfg.to_yaml(out / "config.yaml")
        record.add_inputs(data.inputs)
    with record.step("build_model"):
        if model is None:
            model = build_model(cfg, data.lengths if data.multi_input else data.length, data.targets)
        else:
            check_outputs(model, data.targets)
        check_inputs(model, data.n_inputs, data.multi_input, data.lengths)
        finetune_report = None
        if cfg.finetune is not None and resume_dir is None:
            from drg.training.finetuning import load_partial

            ft = cfg.finetune
            report = load_partial(model, ft.checkpoint, include=ft.include, exclude=ft.exclude, rename=ft.rename,
                                  keep_tracks=ft.keep_tracks)
            finetune_report = {"checkpoint": ft.checkpoint, "loaded": len(report.loaded),
                               "subset": report.subset, "initialised": report.missing}
        if cfg.finetune is not None and cfg.finetune.freeze:
            from drg.training.finetuning import freeze

            freeze(model, cfg.finetune.freeze)
    losses = make_losses(cfg, len(data.targets))
    module = DRGModule(model, losses, optimizer=cfg.optimizer, schedule=cfg.schedule, stopping=cfg.stopping,
                       gradient_clip=cfg.trainer.gradient_clip, seed=cfg.seed,
                       predict_rc=cfg.augmentation.predict_rc, predict_shift=cfg.augmentation.predict_shift,
                       modalities=data.modalities)
    outputs = {"modalities": data.modalities, "tracks": [[str(x) for x in t.tracks] for t in data.targets]}
    provenance = {
        "inputs": record.data["inputs"], "split": data.split_source, "seed": cfg.seed,
        "normalization": {m: p for m, p in zip(data.modalities, data.normalization)},
        "n_examples": {"train": len(data.split.train), "val": len(data.split.val), "test": len(data.split.test)},
    }
    if finetune_report is not None:
        provenance["finetune"] = finetune_report
    has_val = len(data.split.val) > 0
    if not has_val:
        warnings.warn("the validation set is empty; early stopping and the best checkpoint follow the training "
                      "loss", DRGWarning, stacklevel=2)
    controller = RunController(out, has_validation=has_val,
                               checkpoint_info={"train_config": cfg, "outputs": outputs, "provenance": provenance})
    tc = cfg.trainer
    _quiet_lightning(verbose)
    trainer = pl.Trainer(
        accelerator=tc.accelerator, devices=tc.devices, num_nodes=tc.num_nodes, strategy=tc.strategy,
        precision=tc.precision, max_epochs=cfg.stopping.max_epochs, logger=_loggers(out),
        callbacks=[controller, *(callbacks or [])], enable_checkpointing=False, num_sanity_val_steps=0,
        use_distributed_sampler=False, limit_train_batches=tc.limit_train_batches,
        log_every_n_steps=tc.log_every_n_steps, enable_progress_bar=verbose and tc.progress_bar,
        enable_model_summary=verbose, default_root_dir=str(out), limit_val_batches=1.0 if has_val else 0,
    )
    loaders = _Data(data, cfg)
    with record.step("train"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        trainer.fit(module, datamodule=loaders.module(), ckpt_path=str(state_path) if state_path else None,
                    weights_only=True)
    _close_process_group()
    best_dir = out / "checkpoints" / "best"
    if not trainer.is_global_zero:
        return FitResult(None, best_dir, {}, pd.DataFrame(controller.history), out)
    from drg.training.checkpoint import load_weights

    model = module.model.cpu()
    if (best_dir / "weights.safetensors").exists():
        model.load_state_dict(load_weights(best_dir))
    model.eval()
    metrics: dict[str, Any] = {"best_epoch": controller.best_epoch, "best_loss": controller.best,
                               "epochs_run": len(controller.history), "rounds": controller.round,
                               "stopped": controller.stopped_reason or "max_epochs reached",
                               "world_size": int(trainer.world_size)}
    with record.step("test"):
        metrics.update(_test(model, data, cfg, out, verbose))
    write_json(out / "metrics.json", _finite(metrics))
    record.add_outputs({"best": best_dir, "last": out / "checkpoints" / "last", "history": out / "history.csv"})
    record.write(out)
    summary = {"checkpoint": str(best_dir), **{k: v for k, v in metrics.items() if not isinstance(v, dict)}}
    update_summary(out, "training", _finite(summary))
    return FitResult(model, best_dir, metrics, pd.DataFrame(controller.history), out)


_CLASSIFICATION_LOSSES = {"bce", "ce"}
"""Losses whose modality is evaluated as classification (AUROC/AUPRC) on the test set."""


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _test(model: Any, data: Any, cfg: TrainConfig, out: Path, verbose: bool) -> dict[str, Any]:
    """Predict the test split, write predictions/targets per modality and return summary metrics."""
    from drg.data import Targets, write_targets
    from drg.training.inputs import make_dataset
    from drg.training.prediction import predict_dataset

    idx = data.split.test
    if len(idx) == 0:
        return {}
    dataset = make_dataset(data, idx, augmentation=None, seed=cfg.seed, with_targets=False)
    preds = predict_dataset(model, dataset, batch_size=cfg.trainer.eval_batch_size or cfg.trainer.batch_size,
                            rc=cfg.augmentation.predict_rc, shift=cfg.augmentation.predict_shift, verbose=False)
    names = data.names[idx]
    result: dict[str, Any] = {"n_test": int(len(idx))}
    all_r: list[np.ndarray] = []
    losses = make_losses(cfg, len(data.targets))
    for m, (pred, target) in enumerate(zip(preds, data.targets, strict=False)):
        if pred.ndim != 2 or pred.shape[1] != target.values.shape[1]:
            continue
        name = target.modality
        write_targets(Targets(pred, names, target.tracks, name), out / "test_predictions" / f"{name}.npz")
        truth = Targets(target.values[idx], names, target.tracks, name)
        write_targets(truth, out / "test_targets" / f"{name}.npz")
        try:
            from drg.training.evaluation import evaluate

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loss = losses[m][0]
                task = "classification" if getattr(loss, "name", None) in _CLASSIFICATION_LOSSES else "regression"
                report = evaluate(Targets(pred, names, target.tracks, name), truth, out / "evaluation" / name,
                                  task=task,
                                  history=out / "history.csv" if (out / "history.csv").exists() else None,
                                  title=f"{name}: held-out test set", seed=cfg.seed, verbose=False)
        except Exception as exc:  # noqa: BLE001 - metrics must not lose a finished training run
            warnings.warn(f"test metrics for {name!r} failed: {exc}", DRGWarning, stacklevel=2)
            continue
        result[f"test_{name}"] = {k: float(v) for k, v in report.summary.items()
                                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        result[f"report_{name}"] = str(report.report)
        if "pearson" in report.per_track.columns:
            all_r.append(report.per_track["pearson"].to_numpy(dtype=float))
    if all_r:
        r = np.concatenate(all_r)
        result["test_pearson_mean"] = float(np.nanmean(r)) if np.isfinite(r).any() else math.nan
    return result


def _close_process_group() -> None:
    """End the DDP process group on every rank once training is over.

    Left open, gloo's worker threads are torn down at interpreter exit and a rank can abort ("terminate called
    without an active exception"), which makes Lightning kill the whole run after it has finished.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class _NoAdverts(logging.Filter):
    """Drop Lightning's advertisements for its cloud services from the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡")


def _quiet_lightning(verbose: bool) -> None:
    """Keep Lightning's info lines (device summary) only when ``verbose``; never its advertisements."""
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
        for handler in logger.handlers:  # filters on handlers also see records from child loggers
            if not any(isinstance(f, _NoAdverts) for f in handler.filters):
                handler.addFilter(_NoAdverts())

"""Training and evaluation: run configs, the Lightning fit loop, checkpoints, fine-tuning, cross-validation,
prediction, losses, metrics and evaluation.

``torch`` and ``lightning`` are imported only when a name that needs them is first used.
"""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # configuration
    "TrainConfig": "config",
    "DataConfig": "config",
    "LossConfig": "config",
    "OptimizerConfig": "config",
    "ScheduleConfig": "config",
    "AugmentationConfig": "config",
    "StoppingConfig": "config",
    "TrainerConfig": "config",
    "FinetuneConfig": "config",
    # fitting
    "fit": "fitting",
    "FitResult": "fitting",
    "build_model": "fitting",
    "DRGModule": "module",
    "load_data": "inputs",
    "RunData": "inputs",
    # checkpoints
    "load": "checkpoint",
    "load_weights": "checkpoint",
    "write_checkpoint": "checkpoint",
    "find_checkpoint": "checkpoint",
    # fine-tuning
    "finetune": "finetuning",
    "load_partial": "finetuning",
    "LoadReport": "finetuning",
    "freeze": "finetuning",
    # cross-validation
    "cross_validate": "cv",
    "CVResult": "cv",
    "aggregate_cv": "cv",
    # prediction
    "predict": "prediction",
    "write_predictions": "prediction",
    # losses, metrics and evaluation
    "get_loss": "losses",
    "per_track_metrics": "metrics",
    "per_region_metrics": "metrics",
    "summary_metrics": "metrics",
    "evaluate": "evaluation",
    "EvaluationResult": "evaluation",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

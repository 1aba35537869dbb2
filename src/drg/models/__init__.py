"""Models: the configurable CNN, multi-input and base-pair-resolution models, the zoo and DRG checkpoint import.

``torch`` is imported only when a model name is first used.
"""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # configs
    "ModelConfig": "config",
    "FirstLayerConfig": "config",
    "ConvTowerConfig": "config",
    "AttentionConfig": "config",
    "FCConfig": "config",
    "HeadConfig": "config",
    "PoolingConfig": "config",
    "PWMInitConfig": "config",
    "load_config": "config",
    "register_model_kind": "config",
    # building
    "build": "cnn",
    "CNN": "cnn",
    "motif_kernels": "cnn",
    # summaries
    "describe": "summary",
    "ModelSummary": "summary",
    "LayerRow": "summary",
    "receptive_field": "summary",
    "receptive_window": "summary",
    # weights
    "save_model": "weights",
    "load_model": "weights",
    "export_state_dict": "weights",
    # DRG checkpoints
    "load_drg": "drg_compat",
    "read_drg_params": "drg_compat",
    "read_drg_state_dict": "drg_compat",
    "drg_params_to_config": "drg_compat",
    # zoo, multi-input and profile models
    "zoo": "published",
    "zoo_names": "published",
    "zoo_config": "published",
    "load_beluga_state_dict": "published",
    "MultiInputModel": "multi",
    "MultiInputConfig": "multi",
    "CombinedOutput": "multi",
    "ProfileModel": "profile",
    "ProfileConfig": "profile",
    "ProfileOutput": "profile",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Model directories: ``weights.safetensors`` + ``config.yaml`` + ``outputs.json``.

A model directory holds everything needed to rebuild a model without executing pickled code:

* ``config.yaml`` — the model config (its ``kind`` chooses the architecture);
* ``weights.safetensors`` — the state dict (parameters and buffers), float tensors as stored in the model;
* ``outputs.json`` — head names, outputs per head and track names.

Each file is written atomically; other files already in the directory are left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drg.errors import InputError
from drg.utils import PathLike, atomic_path, atomic_write

WEIGHTS = "weights.safetensors"
CONFIG = "config.yaml"
OUTPUTS = "outputs.json"


def save_model(model: Any, out_dir: PathLike, *, output_names: list[str] | None = None) -> Path:
    """Write ``model`` to ``out_dir`` (created if needed).

    Parameters
    ----------
    model
        A DRG model (with ``config``).
    out_dir
        Output directory.
    output_names
        Track names to record instead of ``model.output_names``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    from safetensors.torch import save_file

    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_yaml"):
        raise InputError(f"{type(model).__name__} has no DRG config; only DRG models can be saved")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    names = output_names if output_names is not None else getattr(model, "output_names", None)
    outputs = {"heads": list(getattr(model, "head_names", []) or []),
               "n_outputs": [int(n) for n in getattr(model, "n_outputs", [])],
               "output_names": None if names is None else [str(n) for n in names]}
    metadata = {"format": "drg-model", "kind": str(getattr(config, "kind", "cnn"))}
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    config.to_yaml(out_dir / CONFIG)
    with atomic_write(out_dir / OUTPUTS) as handle:
        json.dump(outputs, handle, indent=2)
    return out_dir


def load_model(model_dir: PathLike, *, device: str = "cpu") -> Any:
    """Rebuild a model saved by :func:`save_model`, in eval mode.

    Motif files named in a ``pwm_init`` block are not read again: the weights come from the file.

    Raises
    ------
    InputError
        When a file is missing or the weights do not match the config (missing or unexpected tensors, or
        shapes that differ), naming the tensors.
    """
    from safetensors.torch import load_file

    from drg.models.cnn import CNN, build
    from drg.models.config import load_config

    model_dir = Path(model_dir)
    for name in (CONFIG, WEIGHTS):
        if not (model_dir / name).exists():
            raise InputError(f"model directory lacks {name}", path=model_dir)
    config = load_config(model_dir / CONFIG)
    try:
        state = load_file(str(model_dir / WEIGHTS))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise InputError(f"cannot read safetensors weights: {exc}", path=model_dir / WEIGHTS) from None
    if getattr(config, "kind", "cnn") == "cnn":
        frozen = state.get("first_layer.conv.frozen_weight")
        model = CNN(config, n_frozen=0 if frozen is None else int(frozen.shape[0]), init_motifs=False)
    else:
        model = build(config)
    _load_state(model, state, model_dir / WEIGHTS)
    names_file = model_dir / OUTPUTS
    if names_file.exists() and getattr(model, "output_names", None) is None:
        names = json.loads(names_file.read_text()).get("output_names")
        if names is not None:
            model.output_names = names
    return model.to(device).eval()


def _load_state(model: Any, state: dict[str, Any], source: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}")
        if wrong:
            parts.append(f"shape mismatches {wrong[:5]}")
        raise InputError("weights do not match the config: " + "; ".join(parts), path=source)
    model.load_state_dict(state, strict=True)


def export_state_dict(state_file: PathLike, config: Any, out_dir: PathLike) -> Path:
    """Turn a PyTorch state-dict file plus a model config into a model directory.

    ``state_file`` is read with ``torch.load(weights_only=True)`` (no pickled code runs); a checkpoint
    holding ``{"state_dict": ...}`` (PyTorch Lightning) is unwrapped and a common ``model.`` key prefix is
    removed.
    """
    import torch

    from drg.models.cnn import build

    state_file = Path(state_file)
    if not state_file.exists():
        raise InputError("state-dict file not found", path=state_file)
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors have many types
        raise InputError(f"cannot read a weights-only state dict: {exc}", path=state_file) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"expected a state dict, found {type(state).__name__}", path=state_file)
    if state and all(str(k).startswith("model.") for k in state):
        state = {str(k)[len("model."):]: v for k, v in state.items()}
    model = build(config)
    _load_state(model, state, state_file)
    return save_model(model.eval(), out_dir)

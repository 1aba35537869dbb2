"""Checkpoint directories: model weights (safetensors) + model config + run config + provenance + metrics.

A checkpoint directory holds

* ``weights.safetensors`` and ``config.yaml`` — the model, readable by :func:`drg.models.load_model`;
* ``train_config.yaml`` — the run configuration that produced it;
* ``outputs.json`` — modality names and the track names of every output;
* ``provenance.json`` — input file hashes, split (fold), normalisation parameters, seed;
* ``metrics.json`` — epoch and validation metrics at the time of saving;
* ``state.ckpt`` (``last`` only) — everything needed to resume: optimiser, loop progress, learning-rate
  and early-stopping state and RNG states. It holds tensors and plain Python values only, so it loads with
  ``torch.load(..., weights_only=True)``.

Directories are written with :func:`drg.utils.atomic_directory`: a run killed while saving leaves the
previous checkpoint intact and no partial directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.utils import PathLike, atomic_directory

__all__ = ["write_checkpoint", "find_checkpoint", "load", "load_weights", "read_outputs", "read_state",
           "save_weights"]

WEIGHTS = "weights.safetensors"
STATE = "state.ckpt"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else str(value)
    return value


def save_weights(model: Any, directory: PathLike) -> None:
    """Write ``model`` into ``directory`` as ``weights.safetensors`` (+ ``config.yaml`` when it has a config).

    Uses :func:`drg.models.save_model` for DRG models; other modules get their state dict only.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if getattr(model, "config", None) is not None:
        try:
            from drg.models import save_model
        except ImportError:  # pragma: no cover - models sub-package always present in releases
            save_model = None
        if save_model is not None:
            save_model(model, directory)
            return
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS))


def write_checkpoint(
    directory: PathLike,
    model: Any,
    *,
    train_config: Any = None,
    outputs: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Path:
    """Write one checkpoint directory atomically (see the module notes for its files).

    Parameters
    ----------
    directory
        Target directory; an existing checkpoint there is replaced only once the new one is complete.
    model
        The network (weights and, for DRG models, its config).
    train_config
        A :class:`~drg.training.config.TrainConfig` (or dict) written as ``train_config.yaml``.
    outputs, provenance, metrics
        JSON-serialisable dictionaries.
    state
        Resume state (tensors and plain values) saved with ``torch.save`` as ``state.ckpt``.
    """
    import yaml

    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        save_weights(model, tmp)
        if train_config is not None:
            raw = train_config.to_dict() if hasattr(train_config, "to_dict") else dict(train_config)
            (tmp / "train_config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        for name, payload in (("outputs.json", outputs), ("provenance.json", provenance),
                              ("metrics.json", metrics)):
            if payload is not None:
                (tmp / name).write_text(json.dumps(_plain(payload), indent=2) + "\n")
        if state is not None:
            import torch

            torch.save(state, tmp / STATE)
    return directory


def find_checkpoint(path: PathLike, which: str = "best") -> Path:
    """The checkpoint directory at ``path``: itself if it holds weights, else ``path/checkpoints/<which>``.

    Raises :class:`InputError` when neither exists.
    """
    path = Path(path)
    if (path / WEIGHTS).exists():
        return path
    for candidate in (path / "checkpoints" / which, path / which):
        if (candidate / WEIGHTS).exists():
            return candidate
    raise InputError(f"no checkpoint found (expected {WEIGHTS} here or in checkpoints/{which}/)", path=path)


def load_weights(path: PathLike) -> dict[str, Any]:
    """The state dict stored in a checkpoint directory (tensors on CPU)."""
    from safetensors.torch import load_file

    return load_file(str(find_checkpoint(path) / WEIGHTS))


def read_outputs(path: PathLike) -> dict[str, Any]:
    """``outputs.json`` of a checkpoint: ``{"modalities": [...], "tracks": [[...], ...]}`` (empty if absent)."""
    file = find_checkpoint(path) / "outputs.json"
    if not file.exists():
        return {}
    return json.loads(file.read_text())


def read_state(path: PathLike) -> dict[str, Any]:
    """The resume state of a ``last`` checkpoint, loaded with ``weights_only=True``."""
    import torch

    file = find_checkpoint(path, "last") / STATE
    if not file.exists():
        raise InputError(f"the checkpoint has no {STATE}; only 'last' checkpoints can be resumed", path=file.parent)
    return torch.load(file, map_location="cpu", weights_only=True)


def load(path: PathLike, *, device: str | Any = "cpu", which: str = "best") -> Any:
    """Load a trained model from a checkpoint or run directory, in eval mode.

    Parameters
    ----------
    path
        A checkpoint directory (``weights.safetensors`` + ``config.yaml``) or a run directory written by
        :func:`drg.training.fit` (its ``checkpoints/<which>`` is used).
    device
        Device to move the model to.
    which
        ``"best"`` or ``"last"`` when ``path`` is a run directory.

    Returns
    -------
    torch.nn.Module
        The model with ``.eval()`` applied.
    """
    directory = find_checkpoint(path, which)
    if not (directory / "config.yaml").exists():
        raise InputError("the checkpoint has no config.yaml describing the model; load its weights with "
                         "drg.training.checkpoint.load_weights into a model you build", path=directory)
    from drg.models import load_model

    model = load_model(directory)
    outputs = read_outputs(directory)
    if outputs.get("tracks") and getattr(model, "output_names", None) is None:
        try:
            model.output_names = outputs["tracks"]
        except AttributeError:  # read-only property
            pass
    return model.to(device).eval()

"""Attributions averaged over model ensembles (e.g. cross-validation folds) and MC-dropout samples."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from drg.errors import InputError


class EnsembleResult(NamedTuple):
    """Mean and spread of attributions over ensemble members.

    Attributes
    ----------
    mean
        ``(N, T, 4, L)`` float32 mean over members.
    std
        ``(N, T, 4, L)`` float32 population standard deviation over members (0 for one member).
    n
        Number of members averaged (models x dropout samples).
    """

    mean: np.ndarray
    std: np.ndarray
    n: int


_DROPOUT_NAMES = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")


@contextlib.contextmanager
def fixed_dropout(model: Any, seed: int) -> Iterator[None]:
    """Apply one fixed dropout mask per dropout module to every input while the block runs.

    Each ``nn.Dropout*`` module (whatever its train/eval mode) multiplies its input by a mask drawn once
    from ``seed`` for the shape of one example and scaled by ``1 / (1 - p)``, the same for every example and
    every forward pass. The model is thus one thinned network, so methods that run several forward passes
    (ISM, DeepLIFT, integrated gradients) explain the same function. ``Dropout1d/2d/3d`` drop whole channels.

    Parameters
    ----------
    model
        ``torch.nn.Module``.
    seed
        Seed of the masks; different seeds give different MC-dropout samples.
    """
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(int(seed))
    masks: dict[tuple[int, tuple[int, ...]], Any] = {}
    handles = []

    def hook(module, inputs, output):
        x = inputs[0]
        p = float(module.p)
        if p <= 0:
            return x
        key = (id(module), tuple(x.shape[1:]))
        if key not in masks:
            shape = list(x.shape[1:])
            if type(module).__name__ in ("Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"):
                shape = shape[:1] + [1] * (len(shape) - 1)
            keep = (torch.rand(shape, generator=gen) >= p).to(x.dtype) / (1.0 - p)
            masks[key] = keep
        return x * masks[key].to(x.device)

    for module in model.modules():
        if isinstance(module, nn.Module) and type(module).__name__ in _DROPOUT_NAMES:
            handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def ensemble_attribute(
    models: Sequence[Any] | Any,
    X: Any,
    method: str = "gradient",
    *,
    tracks: Any = None,
    mc_dropout: int = 0,
    seed: int = 0,
    verbose: bool = False,
    **kwargs: Any,
) -> EnsembleResult:
    """Attributions of several models (e.g. CV folds) and/or MC-dropout samples: mean and standard deviation.

    Parameters
    ----------
    models
        One ``torch.nn.Module`` or a sequence of them, all with the same inputs and outputs.
    X
        One-hot sequences ``(N, 4, L)``.
    method
        Any method of :func:`drg.attribution.attribute`.
    tracks
        Tracks, as for :func:`drg.attribution.attribute`.
    mc_dropout
        Number of MC-dropout samples per model (each a fixed dropout mask, see :func:`fixed_dropout`);
        ``0`` runs each model once in eval mode.
    seed
        Seed of the dropout masks (sample ``j`` of model ``i`` uses ``seed + 1000003 * i + j``).
    verbose
        Show progress.
    **kwargs
        Passed to :func:`drg.attribution.attribute` (``gauge``, ``baseline``, ``batch_size``, ``device``, ...).

    Returns
    -------
    EnsembleResult
        ``mean`` and ``std`` ``(N, T, 4, L)`` over all members and their number ``n``.
    """
    from drg.attribution.api import attribute
    from drg.utils import progress

    if not isinstance(models, (list, tuple)):
        models = [models]
    if not models:
        raise InputError("models is empty; give at least one model")
    if mc_dropout < 0:
        raise InputError(f"mc_dropout must be >= 0, got {mc_dropout}")
    samples = max(1, mc_dropout)
    members = [(i, j) for i in range(len(models)) for j in range(samples)]
    mean = m2 = None
    for n, (i, j) in enumerate(progress(members, total=len(members), description="ensemble", verbose=verbose),
                               start=1):
        ctx = fixed_dropout(models[i], seed + 1000003 * i + j) if mc_dropout else contextlib.nullcontext()
        with ctx:
            values = np.asarray(attribute(models[i], X, method, tracks=tracks, **kwargs), dtype=np.float64)
        if mean is None:
            mean, m2 = np.zeros_like(values), np.zeros_like(values)
        elif values.shape != mean.shape:
            raise InputError(f"model {i} gives attributions of shape {values.shape}, the first {mean.shape}")
        delta = values - mean
        mean += delta / n
        m2 += delta * (values - mean)
    std = np.sqrt(np.maximum(m2 / len(members), 0.0))
    return EnsembleResult(mean.astype(np.float32), std.astype(np.float32), len(members))

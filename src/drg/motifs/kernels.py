"""First-layer kernel analysis: kernels as motifs, kernel knock-out effects, kernels of replicate models.

A first-layer convolution kernel ``W`` of shape ``(4, w)`` scores every window of a one-hot sequence with
``sum W * window + bias``. This module turns kernels into :class:`~drg.motifs.Motif` objects in two ways,

* from the weights alone (:func:`kernel_pwms_from_weights`), and
* from the sequence windows that activate each kernel most (:func:`kernel_pwms_from_activations`),

measures what each kernel does to the predictions by replacing its activation with its mean
(:func:`kernel_effects`), and merges the kernels of replicate models into reproducible, named motif
clusters (:func:`combine_kernels`).

The first layer may be the ``StrandConv1d`` of :class:`drg.models.CNN` (``model.first_layer.conv``; its
reverse-complement option is honoured) or any :class:`torch.nn.Conv1d` over 4 one-hot channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.motifs.motif import Motif, uniform_background
from drg.utils import PathLike, atomic_write, progress

WeightTransform = Literal["log_odds", "softmax", "centered"]


# ------------------------------------------------------------------------------------------ layers
def find_first_conv(model: Any, layer: Any = None) -> Any:
    """The first-layer convolution of ``model``.

    Parameters
    ----------
    model
        A :class:`torch.nn.Module`.
    layer
        ``None`` (``model.first_layer.conv`` when present, else the first :class:`torch.nn.Conv1d`), a dotted
        sub-module name (``"first_layer.conv"``) or the module itself.

    Returns
    -------
    torch.nn.Module
        A ``StrandConv1d`` or :class:`torch.nn.Conv1d`.
    """
    from torch import nn

    if layer is not None and not isinstance(layer, str):
        return layer
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name][:10]
            raise InputError(f"model has no layer {layer!r}; layers include {names}") from None
    first = getattr(model, "first_layer", None)
    if first is not None and hasattr(first, "conv"):
        return first.conv
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            return module
    raise InputError("model has no Conv1d layer; pass layer= to name the first-layer convolution")


def _conv_spec(conv: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(weights (K, 4, w) float64, bias (K,), scans both strands)`` of a first-layer convolution."""
    from torch import nn

    if hasattr(conv, "kernels") and callable(conv.kernels):
        weight = conv.kernels()
        rc = bool(getattr(conv, "reverse_complement", False))
    elif isinstance(conv, nn.Conv1d):
        if conv.groups != 1 or conv.dilation[0] != 1 or conv.stride[0] != 1:
            raise InputError("the first-layer Conv1d must have groups=1, dilation=1 and stride=1 to read its "
                             f"kernels as motifs (got groups={conv.groups}, dilation={conv.dilation[0]}, "
                             f"stride={conv.stride[0]})")
        weight, rc = conv.weight, False
    else:
        raise InputError(f"expected a Conv1d-like first layer, got {type(conv).__name__}")
    weights = weight.detach().cpu().double().numpy()
    if weights.ndim != 3 or weights.shape[1] != 4:
        raise InputError(f"first-layer kernels must have 4 input channels (A, C, G, T), got shape {weights.shape}")
    bias = np.zeros(weights.shape[0]) if conv.bias is None else conv.bias.detach().cpu().double().numpy()
    return weights, bias, rc


def _as_kernels(source: Any, layer: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    if isinstance(source, np.ndarray):
        weights = np.asarray(source, dtype=np.float64)
        if weights.ndim != 3 or weights.shape[1] != 4:
            raise InputError(f"kernels must have shape (K, 4, w), got {weights.shape}")
        return weights, np.zeros(weights.shape[0]), False
    return _conv_spec(find_first_conv(source, layer))


# ------------------------------------------------------------------------------------------ weights -> PWM
def weights_to_ppm(weights: np.ndarray, transform: WeightTransform = "log_odds", *, scale: float = 1.0,
                   background: Any = None) -> np.ndarray:
    """Probabilities from one kernel's weights.

    Parameters
    ----------
    weights
        (w, 4) kernel weights, columns A, C, G, T.
    transform
        ``log_odds``: the weights are read as log2-odds scores, ``p_b = bg_b 2^(s w_b) / sum_c bg_c 2^(s w_c)``
        (the exact inverse of :meth:`Motif.pwm` and of ``drg.models.motif_kernels(scale="log_odds")``);
        ``softmax``: ``p = softmax(s w)`` with the natural exponential (weights read as nats, no background);
        ``centered``: each position's weights minus their mean, negatives set to 0, rows normalised (a
        position without any above-mean weight becomes uniform).
    scale
        ``s`` above (an inverse temperature).
    background
        (4,) background of ``log_odds``; uniform by default.

    Returns
    -------
    numpy.ndarray
        (w, 4) float64 rows summing to 1.
    """
    w = np.asarray(weights, dtype=np.float64)
    bg = uniform_background() if background is None else np.asarray(background, dtype=np.float64)
    if transform in ("log_odds", "softmax"):
        base = np.log(2.0) if transform == "log_odds" else 1.0
        logits = scale * base * w + (np.log(bg) if transform == "log_odds" else 0.0)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)
    if transform == "centered":
        centered = np.clip(w - w.mean(axis=1, keepdims=True), 0.0, None)
        sums = centered.sum(axis=1, keepdims=True)
        out = np.full_like(centered, 0.25)
        np.divide(centered, sums, out=out, where=sums > 0)
        return out
    raise InputError(f"unknown weight transform {transform!r}; expected 'log_odds', 'softmax' or 'centered'")


def _names(n: int, prefix: str) -> list[str]:
    return [f"{prefix}_{k}" for k in range(n)]


def kernel_pwms_from_weights(
    model: Any,
    *,
    layer: Any = None,
    transform: WeightTransform = "log_odds",
    scale: float = 1.0,
    prefix: str = "kernel",
) -> list[Motif]:
    """One motif per first-layer kernel, read directly from the weights.

    Parameters
    ----------
    model
        A model (see :func:`find_first_conv`) or the kernels themselves, ``(K, 4, w)``.
    layer
        First-layer convolution (module or dotted name); found automatically by default.
    transform, scale
        How weights become probabilities (:func:`weights_to_ppm`).
    prefix
        Motif ids are ``{prefix}_{k}`` with the 0-based kernel index ``k``.

    Returns
    -------
    list[Motif]
        ``K`` motifs of length ``w``; ``Motif.weights`` holds each kernel's raw ``(w, 4)`` weights.
    """
    weights, _, _ = _as_kernels(model, layer)
    return [Motif(name=name, id=name, ppm=weights_to_ppm(w.T, transform, scale=scale), weights=w.T.copy())
            for name, w in zip(_names(len(weights), prefix), weights)]


# ------------------------------------------------------------------------------------------ activations -> PWM
def random_onehot(n: int, length: int, *, seed: int = 0) -> np.ndarray:
    """``(n, 4, length)`` float32 one-hot of uniformly random sequences."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    X = np.zeros((n, 4, length), dtype=np.float32)
    X[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1.0
    return X


def _strand_scores(x: Any, fwd: Any, rev: Any, bias: Any) -> list[Any]:
    import torch.nn.functional as F

    out = [F.conv1d(x, fwd, bias)]
    if rev is not None:
        out.append(F.conv1d(x, rev, bias))
    return out


def kernel_pwms_from_activations(
    model: Any,
    X: Any,
    *,
    layer: Any = None,
    method: Literal["threshold", "zscore"] = "threshold",
    threshold: float | None = None,
    weighting: Literal["activation", "count"] = "activation",
    both_strands: bool | None = None,
    pseudocount: float = 0.01,
    prefix: str = "kernel",
    batch_size: int = 64,
    device: str = "cpu",
    verbose: bool = False,
) -> list[Motif]:
    """One motif per first-layer kernel, from the sequence windows that activate it most.

    Each kernel's score of every full window (``sum W * window + bias``, the convolution before any
    normalisation or nonlinearity) is computed over all sequences; the selected windows are summed into a
    count matrix, each weighted by its score (``weighting="activation"``) or by 1 (``"count"``).

    Parameters
    ----------
    model
        A model (see :func:`find_first_conv`).
    X
        (N, 4, L) one-hot sequences (real ones, or :func:`random_onehot`), numpy or torch.
    layer
        First-layer convolution (module or dotted name); found automatically by default.
    method
        ``threshold``: windows scoring at least ``threshold`` (default 0.5) times the kernel's maximum
        score over the data set (none when that maximum is not positive); ``zscore``: windows whose score is
        at least ``threshold`` (default 3) standard deviations above the kernel's mean score (weights are then
        the z-scores).
    threshold
        The cut of ``method``.
    weighting
        Weight of each selected window in the counts.
    both_strands
        Also score the reverse-complement strand (a reverse-strand window enters the counts reverse
        complemented). Default: whether the layer itself scans both strands.
    pseudocount
        Added to each count (scaled to the total weight of the selected windows) before normalising.
    prefix
        Motif ids are ``{prefix}_{k}`` with the 0-based kernel index ``k``.
    batch_size, device, verbose
        Sequences per batch, torch device, progress bar.

    Returns
    -------
    list[Motif]
        ``K`` motifs of the kernel length; ``counts`` are the weighted window counts, ``nsites`` the number
        of selected windows (0 and a uniform matrix for a kernel that nothing activates), ``weights`` the raw
        kernel weights.
    """
    import torch

    weights, bias, rc = _as_kernels(model, layer)
    rc = rc if both_strands is None else bool(both_strands)
    if method not in ("threshold", "zscore"):
        raise InputError(f"method must be 'threshold' or 'zscore', got {method!r}")
    if weighting not in ("activation", "count"):
        raise InputError(f"weighting must be 'activation' or 'count', got {weighting!r}")
    cut = (0.5 if method == "threshold" else 3.0) if threshold is None else float(threshold)
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"X must be one-hot (N, 4, L), got shape {tuple(X.shape)}")
    K, _, w = weights.shape
    if X.shape[-1] < w:
        raise InputError(f"sequences of length {X.shape[-1]} are shorter than the kernels ({w})")
    fwd = torch.as_tensor(weights, dtype=torch.float32, device=device)
    rev = fwd.flip(1, 2) if rc else None
    b = torch.as_tensor(bias, dtype=torch.float32, device=device)
    starts = list(range(0, X.shape[0], batch_size))

    def batches(label: str):
        for start in progress(starts, description=label, verbose=verbose):
            yield X[start:start + batch_size].to(device=device, dtype=torch.float32)

    # pass 1: per-kernel maximum, mean and standard deviation of the window scores (both strands)
    top = torch.full((K,), -torch.inf, dtype=torch.float64)
    total = torch.zeros(K, dtype=torch.float64)
    total2 = torch.zeros(K, dtype=torch.float64)
    n = 0
    with torch.inference_mode():
        for x in batches("kernel scores"):
            for s in _strand_scores(x, fwd, rev, b):
                top = torch.maximum(top, s.amax(dim=(0, 2)).double().cpu())
                total += s.sum(dim=(0, 2)).double().cpu()
                total2 += s.square().sum(dim=(0, 2)).double().cpu()
                n += s.shape[0] * s.shape[2]
        mean = total / n
        std = torch.sqrt(torch.clamp(total2 / n - mean * mean, min=0.0))
        if method == "threshold":
            floor = torch.where(top > 0, cut * top, torch.full_like(top, torch.inf))
        else:
            floor = torch.where(std > 0, mean + cut * std, torch.full_like(top, torch.inf))
        # pass 2: weighted counts of the selected windows. With the (B, K, P) matrix M of window weights
        # (0 where not selected), counts[k, c, j] = sum_{n, p} M[n, k, p] X[n, c, p + j]: one matrix product
        # of M (K, B P) with the windows (B P, 4 w).
        acc = [torch.zeros((K, 4, w), dtype=torch.float64) for _ in range(2 if rc else 1)]
        n_sites = torch.zeros(K, dtype=torch.float64)
        floor_d = floor.to(device=device, dtype=torch.float32)[None, :, None]
        mean_d = mean.to(device=device, dtype=torch.float32)[None, :, None]
        std_d = torch.where(std > 0, std, 1.0).to(device=device, dtype=torch.float32)[None, :, None]
        for x in batches("kernel windows"):
            windows = x.unfold(2, w, 1).permute(0, 2, 1, 3).reshape(-1, 4 * w)  # (B P, 4 w)
            for strand, s in enumerate(_strand_scores(x, fwd, rev, b)):
                mask = s >= floor_d
                if method == "zscore":
                    s = (s - mean_d) / std_d
                weight = torch.where(mask, s if weighting == "activation" else 1.0, 0.0)
                acc[strand] += (weight.transpose(0, 1).reshape(K, -1) @ windows).reshape(K, 4, w).double().cpu()
                n_sites += mask.sum(dim=(0, 2)).double().cpu()
    counts = acc[0] + (acc[1].flip(1, 2) if rc else 0.0)
    counts = counts.numpy()
    motifs = []
    for name, k in zip(_names(K, prefix), range(K)):
        c = counts[k].T  # (w, 4)
        weight_total = c.sum(axis=1, keepdims=True)
        if n_sites[k] == 0 or not (weight_total > 0).all():
            ppm = np.full((w, 4), 0.25)
        else:
            pc = pseudocount * weight_total
            ppm = (c + pc / 4.0) / (weight_total + pc)
        motifs.append(Motif(name=name, id=name, ppm=ppm, counts=np.clip(c, 0.0, None),
                            nsites=float(n_sites[k]), weights=weights[k].T.copy()))
    return motifs


# ------------------------------------------------------------------------------------------ knock-out effects
@dataclass
class KernelEffects:
    """Effects of knocking out each kernel (see :func:`kernel_effects`).

    Attributes
    ----------
    kernels
        (K,) kernel names.
    tracks
        (T,) track names.
    mean_abs
        (K, T) mean over sequences of ``|prediction_knocked_out - prediction|``.
    mean
        (K, T) signed mean of ``prediction_knocked_out - prediction`` (negative: the kernel raises the track).
    delta_r
        (K, T) Pearson correlation of the knocked-out predictions with the targets minus that of the intact
        model (negative: the kernel helps); ``None`` without targets. Knocked-out predictions that no longer
        vary (the kernel was a track's only input) count as correlation 0.
    baseline_r
        (T,) Pearson correlation of the intact model's predictions with the targets, or ``None``.
    n_sequences
        Number of sequences averaged over.
    """

    kernels: list[str]
    tracks: list[str]
    mean_abs: np.ndarray
    mean: np.ndarray
    delta_r: np.ndarray | None
    baseline_r: np.ndarray | None
    n_sequences: int

    def frames(self) -> dict[str, pd.DataFrame]:
        """``{"mean_abs", "mean"[, "delta_r"]}`` as kernel x track DataFrames."""
        out = {"mean_abs": self.mean_abs, "mean": self.mean}
        if self.delta_r is not None:
            out["delta_r"] = self.delta_r
        return {key: pd.DataFrame(value, index=pd.Index(self.kernels, name="kernel"), columns=self.tracks)
                for key, value in out.items()}

    def write(self, directory: PathLike) -> list[Path]:
        """Write ``kernel_effects_{mean_abs,mean,delta_r}.tsv`` (kernels as rows) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for key, frame in self.frames().items():
            path = directory / f"kernel_effects_{key}.tsv"
            with atomic_write(path) as handle:
                frame.to_csv(handle, sep="\t", float_format="%.6g")
            paths.append(path)
        return paths


def _flat_predictions(out: Any) -> Any:
    import torch

    if isinstance(out, (list, tuple)):
        out = torch.cat([o.reshape(o.shape[0], -1) for o in out], dim=1)
    if not isinstance(out, torch.Tensor):
        raise InputError(f"model output must be a tensor or a list of tensors, got {type(out).__name__}")
    return out.reshape(out.shape[0], -1)


def _effect_layer(model: Any, layer: Any) -> Any:
    if layer is not None:
        return find_first_conv(model, layer)
    first = getattr(model, "first_layer", None)
    return first if first is not None else find_first_conv(model)


def kernel_effects(
    model: Any,
    X: Any,
    targets: Any = None,
    *,
    layer: Any = None,
    kernels: Sequence[int] | None = None,
    mean: Literal["global", "position"] = "global",
    track_names: Sequence[str] | None = None,
    batch_size: int = 64,
    kernel_batch: int = 16,
    device: str = "cpu",
    verbose: bool = False,
) -> KernelEffects:
    """In-silico knock-out of each first-layer kernel and its effect on every predicted track.

    A forward hook replaces channel ``k`` of the layer's output by its mean over the data set and the model
    is run on; ``kernel_batch`` kernels are knocked out in one forward pass (the hook stacks that many
    copies of the layer output, one per knocked-out kernel).

    Parameters
    ----------
    model
        A model returning ``(N, T)`` predictions (or a list of them, concatenated).
    X
        (N, 4, L) one-hot sequences.
    targets
        (N, T) measured values for the per-track correlations, or ``None``.
    layer
        The module whose output channels are the kernels' activations; default ``model.first_layer``
        (convolution, normalisation, activation and pooling) when present, else the first ``Conv1d``.
    kernels
        Kernel (channel) indices to knock out; all by default.
    mean
        ``global``: one mean per channel over sequences and positions; ``position``: a mean per channel and
        position (over sequences).
    track_names
        (T,) names; default ``model.output_names`` or ``track_0 ...``.
    batch_size, kernel_batch, device, verbose
        Sequences per batch, kernels knocked out per forward pass, torch device, progress bar.

    Returns
    -------
    KernelEffects
        Kernel x track matrices.
    """
    import torch

    module = _effect_layer(model, layer)
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if X.ndim != 3:
        raise InputError(f"X must be (N, 4, L), got shape {tuple(X.shape)}")
    N = X.shape[0]
    if mean not in ("global", "position"):
        raise InputError(f"mean must be 'global' or 'position', got {mean!r}")
    if targets is not None:
        targets = np.asarray(targets, dtype=np.float64).reshape(N, -1) if np.size(targets) else None
    model = model.to(device).eval()
    state: dict[str, Any] = {"mode": "record", "sum": None}

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        if state["mode"] == "record":
            s = output.detach().double().sum(dim=0)
            state["sum"] = s if state["sum"] is None else state["sum"] + s
            return None
        group, fill = state["group"], state["fill"]
        stacked = output.unsqueeze(0).repeat(len(group), 1, 1, 1)
        for i, k in enumerate(group):
            stacked[i, :, k, :] = fill[k].to(output.dtype)
        return stacked.reshape(len(group) * output.shape[0], *output.shape[1:])

    handle = module.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            base = []
            for start in progress(range(0, N, batch_size), description="baseline", verbose=verbose):
                x = X[start:start + batch_size].to(device=device, dtype=torch.float32)
                base.append(_flat_predictions(model(x)).double().cpu())
            base_pred = torch.cat(base)
            total = state["sum"]
            if total is None or total.ndim != 2:
                raise InputError("the knock-out layer must output (N, channels, length) activations")
            n_channels = total.shape[0]
            fill = total / N
            if mean == "global":
                fill = fill.mean(dim=1, keepdim=True).expand_as(fill)
            kernel_list = list(range(n_channels)) if kernels is None else [int(k) for k in kernels]
            bad = [k for k in kernel_list if not 0 <= k < n_channels]
            if bad:
                raise InputError(f"kernel indices {bad[:5]} are outside 0..{n_channels - 1}")
            K, T = len(kernel_list), base_pred.shape[1]
            if targets is not None and targets.shape[1] != T:
                raise InputError(f"targets have {targets.shape[1]} tracks but the model predicts {T}")
            sum_abs = torch.zeros(K, T, dtype=torch.float64)
            sum_d = torch.zeros(K, T, dtype=torch.float64)
            sy = torch.zeros(K, T, dtype=torch.float64)
            syy = torch.zeros(K, T, dtype=torch.float64)
            syt = torch.zeros(K, T, dtype=torch.float64)
            t_all = None if targets is None else torch.as_tensor(targets)
            state.update(mode="knockout", fill=fill.to(device))
            groups = [kernel_list[i:i + kernel_batch] for i in range(0, K, kernel_batch)]
            for start in progress(range(0, N, batch_size), description="kernel knock-out", verbose=verbose):
                x = X[start:start + batch_size].to(device=device, dtype=torch.float32)
                b = base_pred[start:start + x.shape[0]]
                for g_index, group in enumerate(groups):
                    state["group"] = group
                    pred = _flat_predictions(model(x)).double().cpu().reshape(len(group), x.shape[0], T)
                    rows = slice(g_index * kernel_batch, g_index * kernel_batch + len(group))
                    delta = pred - b[None]
                    sum_abs[rows] += delta.abs().sum(dim=1)
                    sum_d[rows] += delta.sum(dim=1)
                    if t_all is not None:
                        t = t_all[start:start + x.shape[0]]
                        sy[rows] += pred.sum(dim=1)
                        syy[rows] += (pred * pred).sum(dim=1)
                        syt[rows] += (pred * t[None]).sum(dim=1)
    finally:
        handle.remove()
    delta_r = baseline_r = None
    if targets is not None:
        baseline_r = _pearson_columns(base_pred.numpy(), targets)
        t_sum, t_sq = targets.sum(axis=0), (targets * targets).sum(axis=0)
        cov = N * syt.numpy() - sy.numpy() * t_sum
        var_y = N * syy.numpy() - sy.numpy() ** 2
        var_t = N * t_sq - t_sum ** 2
        constant = var_y <= 1e-12 * np.maximum(N * syy.numpy(), 1e-300)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.sqrt(np.clip(var_y, 0, None) * np.clip(var_t, 0, None))
        r[constant & np.isfinite(var_t)[None, :]] = 0.0
        delta_r = r - baseline_r[None, :]
    names = track_names if track_names is not None else getattr(model, "output_names", None)
    if names is None or len(names) != T:
        names = [f"track_{t}" for t in range(T)]
    return KernelEffects([f"kernel_{k}" for k in kernel_list], [str(n) for n in names], (sum_abs / N).numpy(),
                         (sum_d / N).numpy(), delta_r, baseline_r, int(N))


def _pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))

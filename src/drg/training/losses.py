"""Loss functions for sequence-to-function models, selected by name with :func:`get_loss`.

Every loss is a :class:`torch.nn.Module` called as ``loss(pred, target)`` that returns a scalar tensor
(mean reduction). Shapes follow the model contract: ``pred`` and ``target`` are ``(N, T)`` (regions x
tracks) unless stated otherwise; ``(N,)`` is treated as one track. All losses run on any device and accept
a batch of one region.

Names and their DRG (``drg_tools.modules``) equivalents:

===================  ====================  ===========================================================
name                 DRG name              definition
===================  ====================  ===========================================================
``mse``              ``MSE``               mean squared error
``poisson``          ``PoissonNNL``        Poisson negative log-likelihood (``log_input`` selects
                                           whether ``pred`` is the log rate)
``pearson_tracks``   ``Correlationdata``   1 - Pearson r across tracks within each region, mean over
                                           regions
``pearson_regions``  ``Correlationclass``  1 - Pearson r across regions within each track, mean over
                                           tracks
``correlation_mse``  ``Correlationmse``    ``ratio * (1 - r) + (1 - ratio) * MSE`` with ``ratio=0.95``
                                           and r across tracks per region (``dim="regions"`` gives
                                           DRG's ``MSECorrelation``)
``cosine``           ``Cosinedata``        1 - cosine similarity across tracks per region
``bce``              --                    binary cross-entropy on logits
``ce``               ``CrossEntropy``      softmax cross-entropy on logits (class indices or
                                           probabilities as target)
``profile``          --                    BPNet: multinomial NLL of profile logits + weighted MSE of
                                           log(1 + total counts)
``none``             ``None``              returns 0 and marks the modality as excluded
===================  ====================  ===========================================================

DRG computes ``Correlationmse`` element-wise (``reduction='none'``) and averages afterwards; since every
region contributes ``T`` elements, that average equals ``0.95 * mean_regions(1 - r) + 0.05 * MSE``, which is
what ``correlation_mse`` returns. Pearson correlations here are centred cosine similarities with ``eps``
added under the square roots, so a constant vector gives r = 0 (loss 1) and finite gradients instead of NaN.

Any loss except ``none`` and ``profile`` takes ``pairwise_weight``: the loss then adds
``pairwise_weight * mean_{n,i,j}((pred[n,i] - pred[n,j]) - (target[n,i] - target[n,j]))**2``, the squared
error of every pairwise track difference (DRG's ``ContrastiveLoss`` with ``Dif``), computed in O(N T) as
``2 * mean_n var_t(pred - target)``.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from drg.errors import InputError

LOSS_NAMES: tuple[str, ...] = (
    "mse", "poisson", "pearson_tracks", "pearson_regions", "correlation_mse", "cosine", "bce", "ce",
    "profile", "none",
)

#: DRG loss names accepted by :func:`get_loss`, mapped to ``(name, parameters)``.
DRG_LOSS_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "MSE": ("mse", {}),
    "PoissonNNL": ("poisson", {}),
    "Correlationdata": ("pearson_tracks", {}),
    "Correlationclass": ("pearson_regions", {}),
    "Correlationmse": ("correlation_mse", {"dim": "tracks"}),
    "MSECorrelation": ("correlation_mse", {"dim": "regions"}),
    "Cosinedata": ("cosine", {}),
    "CrossEntropy": ("ce", {}),
    "None": ("none", {}),
}

Dim = Literal["tracks", "regions"]


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1) if x.ndim == 1 else x


def _check_same_shape(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise InputError(f"loss {name!r}: prediction shape {tuple(pred.shape)} differs from target shape "
                         f"{tuple(target.shape)}")


def _axis(dim: Dim | int) -> int:
    if dim == "tracks":
        return 1
    if dim == "regions":
        return 0
    if isinstance(dim, int):
        return dim
    raise InputError(f"dim must be 'tracks' or 'regions', got {dim!r}")


def pearson_r(pred: torch.Tensor, target: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Differentiable Pearson correlation along ``dim``.

    Parameters
    ----------
    pred, target
        Tensors of the same shape, e.g. (N, T).
    dim
        Dimension the correlation runs over (1: across tracks per region, 0: across regions per track).
    eps
        Added to each sum of squares before the square root; constant inputs give r = 0.

    Returns
    -------
    torch.Tensor
        Correlations with ``dim`` removed.
    """
    pc = pred - pred.mean(dim=dim, keepdim=True)
    tc = target - target.mean(dim=dim, keepdim=True)
    num = (pc * tc).sum(dim=dim)
    den = torch.sqrt((pc * pc).sum(dim=dim) + eps) * torch.sqrt((tc * tc).sum(dim=dim) + eps)
    return num / den


def pairwise_difference_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of all pairwise track differences, ``mean_{n,i,j}((p_i-p_j)-(t_i-t_j))**2``.

    Parameters
    ----------
    pred, target
        (N, T) tensors.

    Returns
    -------
    torch.Tensor
        Scalar; equals ``2 * mean_n(var_t(pred - target))`` (population variance), computed in O(N T).
    """
    d = _as_2d(pred) - _as_2d(target)
    d = d - d.mean(dim=1, keepdim=True)
    return 2.0 * (d * d).mean()


class DRGLoss(nn.Module):
    """Base class of the named losses.

    Attributes
    ----------
    name
        The :func:`get_loss` name.
    excluded
        True for ``none``: the modality takes no part in training, validation or early stopping.
    pairwise_weight
        Weight of the pairwise track-difference term (0 disables it).
    """

    name: str = "loss"
    excluded: bool = False

    def __init__(self, pairwise_weight: float = 0.0) -> None:
        super().__init__()
        if pairwise_weight < 0:
            raise InputError(f"pairwise_weight must be >= 0, got {pairwise_weight}")
        self.pairwise_weight = float(pairwise_weight)

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, pred: Any, target: Any) -> torch.Tensor:
        """Scalar loss of ``pred`` against ``target``."""
        if isinstance(pred, torch.Tensor) and isinstance(target, torch.Tensor):
            _check_same_shape(pred, target, self.name)
        value = self.compute(pred, target)
        if self.pairwise_weight > 0:
            value = value + self.pairwise_weight * pairwise_difference_mse(pred, target)
        return value

    def extra_repr(self) -> str:
        return f"pairwise_weight={self.pairwise_weight}" if self.pairwise_weight else ""


class MSELoss(DRGLoss):
    """Mean squared error over all elements."""

    name = "mse"

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target)


class PoissonLoss(DRGLoss):
    """Poisson negative log-likelihood.

    Parameters
    ----------
    log_input
        True: ``pred`` is the log rate, loss ``exp(pred) - target * pred``; False: ``pred`` is the rate,
        loss ``pred - target * log(pred + eps)``.
    full
        Add the Stirling approximation of ``log(target!)`` (constant in ``pred``).
    eps
        Keeps the logarithm finite when ``log_input`` is False.
    """

    name = "poisson"

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                 pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), float(eps)

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.poisson_nll_loss(pred, target, log_input=self.log_input, full=self.full, eps=self.eps)


class PearsonLoss(DRGLoss):
    """``1 - r``, with r the Pearson correlation across tracks (per region) or across regions (per track).

    Parameters
    ----------
    dim
        ``"tracks"``: r across tracks for every region, mean over regions (DRG ``Correlationdata``);
        ``"regions"``: r across the regions of the batch for every track, mean over tracks.
    eps
        Stabiliser, see :func:`pearson_r`.
    """

    def __init__(self, dim: Dim = "tracks", eps: float = 1e-8, pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        self.dim, self.axis, self.eps = dim, _axis(dim), float(eps)
        self.name = f"pearson_{dim}"

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = pearson_r(_as_2d(pred), _as_2d(target), dim=self.axis, eps=self.eps)
        return (1.0 - r).mean()


class CorrelationMSELoss(DRGLoss):
    """DRG's ``Correlationmse``: ``ratio * mean(1 - r) + (1 - ratio) * MSE``.

    Parameters
    ----------
    ratio
        Weight of the correlation term (DRG: 0.95).
    dim
        Direction of the correlation: ``"tracks"`` (DRG ``Correlationmse``) or ``"regions"`` (DRG
        ``MSECorrelation``).
    eps
        Stabiliser, see :func:`pearson_r`.
    """

    name = "correlation_mse"

    def __init__(self, ratio: float = 0.95, dim: Dim = "tracks", eps: float = 1e-8,
                 pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        if not 0.0 <= ratio <= 1.0:
            raise InputError(f"correlation_mse ratio must be within [0, 1], got {ratio}")
        self.ratio, self.dim, self.axis, self.eps = float(ratio), dim, _axis(dim), float(eps)

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = _as_2d(pred), _as_2d(target)
        r = pearson_r(p, t, dim=self.axis, eps=self.eps)
        return self.ratio * (1.0 - r).mean() + (1.0 - self.ratio) * F.mse_loss(p, t)


class CosineLoss(DRGLoss):
    """``1 - cos(pred, target)`` along ``dim`` (no centring), mean over the other dimension."""

    def __init__(self, dim: Dim = "tracks", eps: float = 1e-8, pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        self.dim, self.axis, self.eps = dim, _axis(dim), float(eps)
        self.name = "cosine"

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = _as_2d(pred), _as_2d(target)
        num = (p * t).sum(dim=self.axis)
        den = torch.sqrt((p * p).sum(dim=self.axis) + self.eps) * torch.sqrt((t * t).sum(dim=self.axis) + self.eps)
        return (1.0 - num / den).mean()


class BCELoss(DRGLoss):
    """Binary cross-entropy on logits (``pred`` are logits, ``target`` in [0, 1]).

    Parameters
    ----------
    pos_weight
        Optional weight of positive examples (scalar or one value per track).
    """

    name = "bce"

    def __init__(self, pos_weight: float | list[float] | None = None, pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        self.register_buffer("pos_weight", None if pos_weight is None
                             else torch.as_tensor(pos_weight, dtype=torch.float32))

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(pred, target.to(pred.dtype), pos_weight=self.pos_weight)


class CELoss(DRGLoss):
    """Softmax cross-entropy; ``pred`` (N, C) logits, ``target`` (N,) class indices or (N, C) probabilities.

    Parameters
    ----------
    label_smoothing
        As in :func:`torch.nn.functional.cross_entropy`.
    """

    name = "ce"

    def __init__(self, label_smoothing: float = 0.0, pairwise_weight: float = 0.0) -> None:
        super().__init__(pairwise_weight)
        self.label_smoothing = float(label_smoothing)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.ndim == pred.ndim - 1:
            return F.cross_entropy(pred, target.long(), label_smoothing=self.label_smoothing)
        return super().forward(pred, target)

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(pred, target.to(pred.dtype), label_smoothing=self.label_smoothing)


class ProfileLoss(DRGLoss):
    """BPNet profile loss: multinomial NLL of the profile plus ``count_weight`` x MSE of log total counts.

    ``pred`` is a tuple ``(logits, log_counts)`` with logits (N, T, L) (or (N, L)) and log_counts (N, T)
    (or (N,) / (N, 1)); ``target`` are the observed counts (N, T, L) (or (N, L)). The profile term is
    ``-log Multinomial(target | n = target.sum(-1), p = softmax(logits))``, averaged over regions and tracks;
    the count term compares ``log_counts`` with ``log(1 + target.sum(-1))``.

    Parameters
    ----------
    count_weight
        Weight (lambda) of the log-count MSE.
    full
        Include the multinomial coefficient ``log n! - sum log k!`` (constant in the prediction), so the
        profile term is exactly the negative log-probability mass.
    """

    name = "profile"

    def __init__(self, count_weight: float = 1.0, full: bool = True) -> None:
        super().__init__(0.0)
        self.count_weight, self.full = float(count_weight), bool(full)

    def forward(self, pred: Any, target: torch.Tensor) -> torch.Tensor:
        if not isinstance(pred, list | tuple) or len(pred) != 2:
            raise InputError("loss 'profile' expects the prediction as a (logits, log_counts) pair")
        logits, log_counts = pred
        if logits.ndim == 2:
            logits, target = logits.unsqueeze(1), target.unsqueeze(1)
        _check_same_shape(logits, target, self.name)
        target = target.to(logits.dtype)
        log_p = torch.log_softmax(logits, dim=-1)
        nll = -(target * log_p).sum(dim=-1)
        total = target.sum(dim=-1)
        if self.full:
            nll = nll - torch.lgamma(total + 1.0) + torch.lgamma(target + 1.0).sum(dim=-1)
        log_counts = log_counts.reshape(total.shape)
        count_mse = F.mse_loss(log_counts, torch.log1p(total))
        return nll.mean() + self.count_weight * count_mse


class NoLoss(DRGLoss):
    """Zero loss: the modality is excluded from training, validation and early stopping."""

    name = "none"
    excluded = True

    def forward(self, pred: Any, target: Any) -> torch.Tensor:
        first = pred[0] if isinstance(pred, list | tuple) else pred
        return torch.zeros((), dtype=first.dtype, device=first.device)


_FACTORIES: dict[str, Any] = {
    "mse": MSELoss,
    "poisson": PoissonLoss,
    "pearson_tracks": lambda **kw: PearsonLoss(dim="tracks", **kw),
    "pearson_regions": lambda **kw: PearsonLoss(dim="regions", **kw),
    "correlation_mse": CorrelationMSELoss,
    "cosine": CosineLoss,
    "bce": BCELoss,
    "ce": CELoss,
    "profile": ProfileLoss,
    "none": NoLoss,
}


def get_loss(name: str, **params: Any) -> DRGLoss:
    """Build a loss module by name.

    Parameters
    ----------
    name
        One of :data:`LOSS_NAMES` (case-insensitive) or a DRG name from :data:`DRG_LOSS_ALIASES`
        (``"Correlationmse"``, ``"MSE"``, ...).
    **params
        Keyword arguments of the loss class, e.g. ``log_input`` for ``poisson``, ``ratio`` and ``dim`` for
        ``correlation_mse``, ``count_weight`` for ``profile``, ``pairwise_weight`` for most losses.

    Returns
    -------
    DRGLoss
        A module ``loss(pred, target) -> scalar tensor``; ``loss.excluded`` is True for ``none``.

    Raises
    ------
    InputError
        Unknown name (the closest valid one is suggested) or parameter.
    """
    key = str(name)
    if key in DRG_LOSS_ALIASES:
        key, defaults = DRG_LOSS_ALIASES[key]
        params = {**defaults, **params}
    key = key.lower()
    if key not in _FACTORIES:
        valid = list(LOSS_NAMES) + list(DRG_LOSS_ALIASES)
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid names: {', '.join(LOSS_NAMES)}"
        raise InputError(f"unknown loss {name!r}{hint}")
    try:
        return _FACTORIES[key](**params)
    except TypeError as exc:
        raise InputError(f"loss {key!r}: invalid parameters {sorted(params)}: {exc}") from None

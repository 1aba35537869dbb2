"""The configurable CNN and :func:`build`, which turns any model config into a module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from drg.errors import InputError
from drg.models.config import (
    ConvTowerConfig,
    FCConfig,
    ModelConfig,
    PoolingConfig,
    PWMInitConfig,
    load_config,
    model_class,
    same_padding,
)
from drg.models.layers import (
    AttentionBlock,
    ConvTower,
    FCTower,
    FirstLayer,
    Head,
    LayerStep,
    Pool1d,
    StrandConv1d,
    n_params,
)


def build(config: dict | str | Path | Any, **overrides: Any) -> nn.Module:
    """Build a model from a config object, a dict or a YAML path (a directory means its ``config.yaml``).

    The ``kind`` field chooses the architecture (``cnn`` by default; ``multi_input`` and ``profile`` are
    the other registered kinds). Parameters are initialised after ``torch.manual_seed(config.seed)`` inside
    a forked random state, so the same config always gives the same weights and the caller's random state
    is untouched.

    Parameters
    ----------
    config
        :class:`~drg.models.config.ModelConfig` (or another registered config), mapping or YAML path.
    **overrides
        Top-level fields to replace (``seed=3``).

    Returns
    -------
    torch.nn.Module
        With attributes ``config``, ``output_names`` and ``n_outputs``.
    """
    cfg = load_config(config)
    if overrides:
        cfg = type(cfg).from_dict({**cfg.to_dict(), **overrides})
    cls = model_class(getattr(cfg, "kind", "cnn"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(getattr(cfg, "seed", 0)))
        return cls.from_config(cfg)


def motif_kernels(motifs: list[Any], kernel_size: int, *, scale: str = "log_odds",
                  pseudocount: float = 0.1) -> np.ndarray:
    """Kernels from motifs, one per motif.

    A motif shorter than ``kernel_size`` is centred (the extra position of an odd difference goes to the
    right) and the uncovered positions are 0; a longer motif is cropped to the ``kernel_size`` window with
    the largest information content (the leftmost on ties).

    Parameters
    ----------
    motifs
        :class:`drg.motifs.Motif` objects.
    kernel_size
        Kernel length.
    scale
        ``log_odds``: ``Motif.pwm(pseudocount)`` (log2 odds over the motif's background);
        ``ic``: probability matrix times each position's information content in bits.
    pseudocount
        Used by ``log_odds``.

    Returns
    -------
    numpy.ndarray
        ``(n_motifs, 4, kernel_size)`` float32.
    """
    out = np.zeros((len(motifs), 4, kernel_size), dtype=np.float32)
    for index, motif in enumerate(motifs):
        if scale == "log_odds":
            matrix = motif.pwm(pseudocount)
        elif scale == "ic":
            ppm = motif.ppm / motif.ppm.sum(axis=1, keepdims=True)
            matrix = ppm * motif.information_content[:, None]
        else:
            raise InputError(f"unknown motif kernel scale {scale!r}; expected 'log_odds' or 'ic'")
        length = matrix.shape[0]
        if length > kernel_size:
            ic = motif.information_content
            sums = np.convolve(ic, np.ones(kernel_size), mode="valid")
            start = int(np.argmax(sums))
            matrix, length = matrix[start:start + kernel_size], kernel_size
        offset = (kernel_size - length) // 2
        out[index, :, offset:offset + length] = matrix.T
    return out


def _select_motifs(init: PWMInitConfig) -> list[Any]:
    from drg.motifs import read_motifs

    motifs = read_motifs(init.path)
    if init.motifs is None:
        return motifs
    by_key: dict[str, Any] = {}
    for motif in motifs:
        by_key.setdefault(motif.name, motif)
        by_key.setdefault(motif.id, motif)
    missing = [name for name in init.motifs if name not in by_key]
    if missing:
        raise InputError(f"motifs not found: {missing[:5]} ({len(missing)} missing)", path=init.path)
    return [by_key[name] for name in init.motifs]


def _pool(pooling: PoolingConfig | None) -> Pool1d | None:
    if pooling is None:
        return None
    size = None if pooling.size == "global" else pooling.size
    return Pool1d(pooling.mode, size, pooling.stride, softmax_padding=pooling.softmax_padding)


def _pool_kwargs(pooling: PoolingConfig | None) -> dict | None:
    if pooling is None:
        return None
    size = None if pooling.size == "global" else pooling.size
    return {"mode": pooling.mode, "size": size, "stride": pooling.stride, "softmax_padding": pooling.softmax_padding}


class CNN(nn.Module):
    """The configurable sequence-to-function CNN (``kind: cnn``).

    ``forward(X)`` takes ``X: (N, n_channels, input_length)`` float and returns ``(N, n_outputs)`` for one
    head or a list with one ``(N, n_outputs_h)`` tensor per head. :meth:`features` returns the
    representation before the reduction, ``(N, C, L')``.

    Attributes
    ----------
    config
        The :class:`~drg.models.config.ModelConfig`.
    head_names
        Head names in output order.
    n_outputs
        Outputs per head.
    output_names
        Track names of all heads concatenated, or ``None`` when a head has none.
    """

    def __init__(self, config: ModelConfig, *, n_frozen: int | None = None, init_motifs: bool = True) -> None:
        super().__init__()
        config.check_shapes()
        self.config = config
        g = config
        first = g.first_layer
        motifs = None
        if first.pwm_init is not None and init_motifs:
            motifs = _select_motifs(first.pwm_init)
            if len(motifs) > first.n_kernels:
                raise InputError(f"{len(motifs)} motifs for {first.n_kernels} first-layer kernels",
                                 path=first.pwm_init.path)
            if n_frozen is None:
                n_frozen = len(motifs) if first.pwm_init.freeze else 0
        padding = same_padding(first.kernel_size) if first.padding == "same" else (0, 0)
        conv = StrandConv1d(g.n_channels, first.n_kernels, first.kernel_size, bias=first.bias, padding=padding,
                            reverse_complement=first.reverse_complement, strand_pool=first.strand_pool,
                            n_frozen=n_frozen or 0)
        if motifs:
            conv.set_kernels(torch.from_numpy(motif_kernels(
                motifs, first.kernel_size, scale=first.pwm_init.scale, pseudocount=first.pwm_init.pseudocount)))
            if conv.bias is not None:
                with torch.no_grad():
                    conv.bias[: len(motifs)] = 0.0
        self.first_layer = FirstLayer(conv, batch_norm=self._pick(first.batch_norm, g.batch_norm),
                                      activation_name=first.activation or g.activation, pool=_pool(first.pooling),
                                      dropout=self._pick(first.dropout, g.dropout))
        sizes = g.check_shapes()
        channels, length = sizes["first_layer"]
        self.tower = self._tower(g.tower, channels) if g.tower is not None else None
        if self.tower is not None:
            channels, length = sizes["tower"]
        self.attention = None
        if g.attention is not None:
            a = g.attention
            self.attention = AttentionBlock(channels, length, d_model=a.d_model or channels, n_layers=a.n_layers,
                                            n_heads=a.n_heads, ff_factor=a.ff_factor, activation_name=a.activation,
                                            dropout=self._pick(a.dropout, g.dropout), positional=a.positional,
                                            norm_first=a.norm_first)
            channels, length = sizes["attention"]
        self.pooled_tower = self._tower(g.pooled_tower, channels) if g.pooled_tower is not None else None
        if self.pooled_tower is not None:
            channels, length = sizes["pooled_tower"]
        self.feature_shape = (channels, length)
        self.reduce = None if g.reduction == "flatten" else Pool1d(g.reduction, None)
        features = channels * length if g.reduction == "flatten" else channels
        self.shared_fc = None
        if g.shared_fc is not None and g.shared_fc.n_layers > 0:
            self.shared_fc = self._fc(g.shared_fc, features)
            features = self.shared_fc.out_features
        self.heads = nn.ModuleList()
        for head in g.heads:
            fc = head.fc()
            tower = self._fc(fc, features) if (fc.n_layers > 0 or fc.projection) else None
            self.heads.append(Head(features, head.n_outputs, tower=tower,
                                   batch_norm=self._pick(head.batch_norm, g.batch_norm),
                                   output_activation=head.output_activation))
        self.head_names = [head.name for head in g.heads]
        self.n_outputs = [head.n_outputs for head in g.heads]
        names = [head.track_names for head in g.heads]
        self.output_names = None if any(n is None for n in names) else [t for n in names for t in n]

    @classmethod
    def from_config(cls, config: ModelConfig) -> CNN:
        """Build from a validated config (use :func:`build` for seeding)."""
        return cls(config)

    @staticmethod
    def _pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    def _tower(self, tower: ConvTowerConfig, channels: int) -> ConvTower:
        g = self.config
        return ConvTower(channels, tower.layer_channels(channels), tower.per_layer("kernel_size"),
                         tower.per_layer("dilations"), bias=tower.bias,
                         activation_name=tower.activation or g.activation, preactivation=tower.preactivation,
                         batch_norm=self._pick(tower.batch_norm, g.batch_norm),
                         dropout=self._pick(tower.dropout, g.dropout), residual_every=tower.residual_every,
                         residual_from=tower.residual_from, pool_every=tower.pool_every,
                         pooling=_pool_kwargs(tower.pooling))

    def _fc(self, fc: FCConfig, features: int) -> FCTower:
        g = self.config
        return FCTower(features, n_layers=fc.n_layers, size=fc.size, projection=fc.projection,
                       widening=fc.widening, residual_every=fc.residual_every,
                       activation_name=fc.activation or g.activation,
                       batch_norm=self._pick(fc.batch_norm, g.batch_norm), dropout=self._pick(fc.dropout, g.dropout))

    def _check_input(self, X: torch.Tensor) -> None:
        if X.ndim != 3 or X.shape[1] != self.config.n_channels:
            raise InputError(f"expected input (N, {self.config.n_channels}, L), got {tuple(X.shape)}")
        fixed = self.config.reduction == "flatten" or (
            self.config.attention is not None and self.config.attention.positional == "learned")
        if fixed and X.shape[-1] != self.config.input_length:
            raise InputError(f"this model needs input length {self.config.input_length}, got {X.shape[-1]}")

    def features(self, X: torch.Tensor) -> torch.Tensor:
        """Representation before the reduction: ``(N, C, L')`` (see :attr:`feature_shape`)."""
        self._check_input(X)
        x = self.first_layer(X)
        if self.tower is not None:
            x = self.tower(x)
        if self.attention is not None:
            x = self.attention(x)
        if self.pooled_tower is not None:
            x = self.pooled_tower(x)
        return x

    def forward(self, X: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        x = self.features(X)
        x = x.flatten(1) if self.reduce is None else self.reduce(x).squeeze(-1)
        if self.shared_fc is not None:
            x = self.shared_fc(x)
        outputs = [head(x) for head in self.heads]
        return outputs[0] if len(outputs) == 1 else outputs

    def steps(self, input_length: int | None = None) -> list[LayerStep]:
        """Per-layer arithmetic for an input of ``input_length`` (default: the configured length)."""
        length = input_length or self.config.input_length
        out = self.first_layer.steps(length)
        channels, length = out[-1].out_channels, out[-1].out_length
        if self.tower is not None:
            out += self.tower.steps(channels, length, "tower")
            channels, length = out[-1].out_channels, out[-1].out_length
        if self.attention is not None:
            channels = self.attention.d_model
            out.append(LayerStep("attention", f"transformer x{len(self.attention.layers)}", channels, length,
                                 params=n_params(self.attention), is_global=True))
        if self.pooled_tower is not None:
            out += self.pooled_tower.steps(channels, length, "pooled_tower")
            channels, length = out[-1].out_channels, out[-1].out_length
        if self.reduce is None:
            features = channels * length
            out.append(LayerStep("reduce", "flatten", features, 1, kernel=length, stride=length, is_global=True))
        else:
            features = channels
            out.append(LayerStep("reduce", f"pool:{self.config.reduction}:global", channels, 1, kernel=length,
                                 stride=length, is_global=True))
        if self.shared_fc is not None:
            features = self.shared_fc.out_features
            out.append(LayerStep("shared_fc", f"fc x{len(self.shared_fc.layers)}", features, 1,
                                 params=n_params(self.shared_fc)))
        for name, head in zip(self.head_names, self.heads):
            out.append(LayerStep(f"heads.{name}", f"head:{self.config.heads[self.head_names.index(name)].output_activation}",
                                 head.linear.out_features, 1, params=n_params(head)))
        return out

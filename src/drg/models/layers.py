"""Building blocks of the configurable CNN.

Every block that changes the length axis reports its arithmetic through ``steps(length)``: a list of
:class:`LayerStep` records (output channels and length, kernel, stride, left padding, parameters) from
which :mod:`drg.models.summary` derives the layer table and the receptive field analytically.
Inputs and outputs are ``(N, C, L)`` float tensors unless stated otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drg.models.config import pool_length, pool_padding, same_padding


@dataclass(frozen=True)
class LayerStep:
    """Arithmetic of one layer for summaries.

    ``kernel`` is the effective window length over the layer's input (``dilation * (k - 1) + 1``), and an
    output position ``i`` reads input positions ``[i * stride - pad_left, i * stride - pad_left + kernel)``.
    ``is_global`` marks layers whose every output sees the whole input (global pooling, attention,
    flattening).
    """

    name: str
    type: str
    out_channels: int
    out_length: int
    kernel: int = 1
    stride: int = 1
    pad_left: int = 0
    params: int = 0
    is_global: bool = False


def n_params(*modules: nn.Module | None) -> int:
    """Number of parameter values in ``modules`` (trainable and frozen)."""
    return sum(p.numel() for m in modules if m is not None for p in m.parameters())


class Exponential(nn.Module):
    """``exp(x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def activation(name: str) -> nn.Module:
    """The module for an activation name (see :data:`drg.models.config.Activation`); ``none``/``linear`` is identity."""
    table = {"relu": nn.ReLU, "gelu": nn.GELU, "exponential": Exponential, "softplus": nn.Softplus, "elu": nn.ELU,
             "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "none": nn.Identity, "linear": nn.Identity}
    if name == "softmax":
        return nn.Softmax(dim=1)
    return table[name]()


class StrandConv1d(nn.Module):
    """Convolution over a one-hot sequence, optionally scanning both strands.

    With ``reverse_complement`` the input is reversed along channels and length (A<->T, C<->G for the
    A, C, G, T order), padded with the same ``(left, right)`` zeros, convolved with the same kernels and the
    output reversed back, so both strands' scores line up per position; they are combined per kernel with
    ``max``, ``mean`` or ``softmax`` (``sum_s y_s softmax_s(y)``).

    Kernels ``0 .. n_frozen - 1`` live in ``frozen_weight`` (``requires_grad=False``), the rest in
    ``weight``; :meth:`kernels` returns all of them as ``(n_kernels, in_channels, kernel_size)``.
    """

    def __init__(self, in_channels: int, n_kernels: int, kernel_size: int, *, bias: bool = True,
                 padding: tuple[int, int] = (0, 0), reverse_complement: bool = False,
                 strand_pool: str = "max", n_frozen: int = 0) -> None:
        super().__init__()
        self.in_channels, self.n_kernels, self.kernel_size = in_channels, n_kernels, kernel_size
        self.padding = tuple(int(p) for p in padding)
        self.reverse_complement, self.strand_pool = reverse_complement, strand_pool
        conv = nn.Conv1d(in_channels, n_kernels, kernel_size, bias=bias)  # default initialisation
        self.n_frozen = int(n_frozen)
        self.weight = nn.Parameter(conv.weight.data[self.n_frozen:].clone())
        if self.n_frozen:
            self.frozen_weight = nn.Parameter(conv.weight.data[: self.n_frozen].clone(), requires_grad=False)
        else:
            self.register_parameter("frozen_weight", None)
        self.bias = nn.Parameter(conv.bias.data.clone()) if bias else None

    def kernels(self) -> torch.Tensor:
        """All kernels, frozen first: ``(n_kernels, in_channels, kernel_size)``."""
        if self.frozen_weight is None:
            return self.weight
        return torch.cat([self.frozen_weight, self.weight], dim=0)

    def set_kernels(self, values: torch.Tensor, start: int = 0) -> None:
        """Overwrite kernels ``start .. start + len(values) - 1`` (frozen or not) in place."""
        with torch.no_grad():
            for offset, value in enumerate(values):
                index = start + offset
                if index < self.n_frozen:
                    self.frozen_weight[index].copy_(value)
                else:
                    self.weight[index - self.n_frozen].copy_(value)

    def _scan(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv1d(F.pad(x, self.padding), weight, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.kernels()
        forward = self._scan(x, weight)
        if not self.reverse_complement:
            return forward
        reverse = self._scan(torch.flip(x, dims=(1, 2)), weight).flip(-1)
        if self.strand_pool == "max":
            return torch.maximum(forward, reverse)
        if self.strand_pool == "mean":
            return (forward + reverse) / 2
        both = torch.stack([forward, reverse])
        return (both * torch.softmax(both, dim=0)).sum(dim=0)

    def extent(self) -> tuple[int, int]:
        """``(kernel, pad_left)`` of the union of both strands' windows (one more than the kernel for even
        kernels with unequal padding)."""
        left, right = self.padding
        if self.reverse_complement and left != right:
            return self.kernel_size + abs(right - left), max(left, right)
        return self.kernel_size, left


class Pool1d(nn.Module):
    """Max / mean / softmax-weighted / mean+max pooling with symmetric "ceil" padding (see the config notes).

    Parameters
    ----------
    mode
        ``max``, ``mean``, ``softmax`` or ``mean_max`` (channels ``[mean, max]`` concatenated).
    size
        Window, or ``None`` for global pooling (output length 1).
    stride
        Step (default ``size``).
    softmax_padding
        ``ignore`` (padded positions get weight 0) or ``batch_min`` (padded with the batch tensor's minimum).
    max_pad_value
        Value of padded positions for max pooling; ``None`` means minus infinity (padding never wins).
    """

    def __init__(self, mode: str, size: int | None, stride: int | None = None, *,
                 softmax_padding: str = "ignore", max_pad_value: float | None = None) -> None:
        super().__init__()
        self.mode, self.size = mode, size
        self.stride = stride or size
        self.softmax_padding, self.max_pad_value = softmax_padding, max_pad_value

    def out_length(self, length: int) -> int:
        """Output length for an input of ``length``."""
        return 1 if self.size is None else pool_length(length, self.size, self.stride)

    def _global(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        if mode == "max":
            return x.amax(dim=-1, keepdim=True)
        if mode == "mean":
            return x.mean(dim=-1, keepdim=True)
        return (x * torch.softmax(x, dim=-1)).sum(dim=-1, keepdim=True)

    def _windowed(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        pad = pool_padding(x.shape[-1], self.size, self.stride)
        if mode == "max":
            if self.max_pad_value is None:
                return F.max_pool1d(x, self.size, self.stride, padding=pad)
            return F.max_pool1d(F.pad(x, (pad, pad), value=self.max_pad_value), self.size, self.stride)
        if mode == "mean":
            return F.avg_pool1d(x, self.size, self.stride, padding=pad, count_include_pad=False)
        if self.softmax_padding == "batch_min":
            fill = float(x.min()) if x.numel() else 0.0
            values = logits = F.pad(x, (pad, pad), value=fill)
        else:
            values = F.pad(x, (pad, pad), value=0.0)
            logits = F.pad(x, (pad, pad), value=-math.inf)
        values = values.unfold(-1, self.size, self.stride)
        weights = torch.softmax(logits.unfold(-1, self.size, self.stride), dim=-1)
        return (values * weights).sum(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = self._global if self.size is None else self._windowed
        if self.mode == "mean_max":
            return torch.cat([pool(x, "mean"), pool(x, "max")], dim=1)
        return pool(x, self.mode)

    def step(self, name: str, channels: int, length: int) -> LayerStep:
        """The pooling's :class:`LayerStep` for an input of ``(channels, length)``."""
        out_channels = channels * (2 if self.mode == "mean_max" else 1)
        if self.size is None:
            return LayerStep(name, f"pool:{self.mode}:global", out_channels, 1, kernel=length, stride=length,
                             is_global=True)
        pad = pool_padding(length, self.size, self.stride)
        return LayerStep(name, f"pool:{self.mode}", out_channels, self.out_length(length), kernel=self.size,
                         stride=self.stride, pad_left=pad)


class FirstLayer(nn.Module):
    """Strand-aware convolution -> [batch norm] -> activation -> [pooling] -> [dropout]."""

    def __init__(self, conv: StrandConv1d, *, batch_norm: bool, activation_name: str,
                 pool: Pool1d | None, dropout: float) -> None:
        super().__init__()
        self.conv = conv
        self.norm = nn.BatchNorm1d(conv.n_kernels) if batch_norm else None
        self.act = activation(activation_name)
        self.pool = pool
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        x = self.act(x)
        if self.pool is not None:
            x = self.pool(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return x

    def steps(self, length: int, prefix: str = "first_layer") -> list[LayerStep]:
        """Arithmetic of the convolution and the pooling."""
        kernel, pad_left = self.conv.extent()
        out_length = length + sum(self.conv.padding) - self.conv.kernel_size + 1
        name = "conv:rc" if self.conv.reverse_complement else "conv"
        steps = [LayerStep(f"{prefix}.conv", name, self.conv.n_kernels, out_length, kernel=kernel,
                           pad_left=pad_left, params=n_params(self.conv, self.norm))]
        if self.pool is not None:
            steps.append(self.pool.step(f"{prefix}.pool", self.conv.n_kernels, out_length))
        return steps


class _TowerLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, *, bias: bool,
                 activation_name: str, preactivation: bool, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        self.preactivation = preactivation
        self.padding = same_padding(kernel_size, dilation)
        self.kernel_size, self.dilation = kernel_size, dilation
        norm_channels = in_channels if preactivation else out_channels
        self.norm = nn.BatchNorm1d(norm_channels) if batch_norm else None
        self.act = activation(activation_name)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.shortcut: _Shortcut | None = None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.pool: Pool1d | None = None

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        if self.preactivation:
            if self.norm is not None:
                x = self.norm(x)
            return self.conv(F.pad(self.act(x), self.padding))
        x = self.conv(F.pad(x, self.padding))
        if self.norm is not None:
            x = self.norm(x)
        return self.act(x)


class _Shortcut(nn.Module):
    """1x1 projection (when channels change) followed by the main path's poolings since the last shortcut."""

    def __init__(self, in_channels: int, out_channels: int, pools: list[Pool1d]) -> None:
        super().__init__()
        self.project = nn.Conv1d(in_channels, out_channels, 1, bias=False) if in_channels != out_channels else None
        self.pools = nn.ModuleList(pools)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is not None:
            x = self.project(x)
        for pool in self.pools:
            x = pool(x)
        return x


class ConvTower(nn.Module):
    """Residual (dilated) convolution tower; see :class:`drg.models.config.ConvTowerConfig` for the layer order."""

    def __init__(self, in_channels: int, channels: list[int], kernel_sizes: list[int], dilations: list[int], *,
                 bias: bool, activation_name: str, preactivation: bool, batch_norm: bool, dropout: float,
                 residual_every: int, residual_from: str, pool_every: int, pooling: dict | None) -> None:
        super().__init__()
        self.residual_from = residual_from
        self.layers = nn.ModuleList()
        current, residual_channels, pending = in_channels, in_channels, []
        for n, (out, kernel, dilation) in enumerate(zip(channels, kernel_sizes, dilations)):
            layer = _TowerLayer(current, out, kernel, dilation, bias=bias, activation_name=activation_name,
                                preactivation=preactivation, batch_norm=batch_norm, dropout=dropout)
            if residual_every and (n + 1) % residual_every == 0:
                shortcut_pools = [Pool1d(p.mode, p.size, p.stride, softmax_padding=p.softmax_padding,
                                         max_pad_value=0.0) for p in pending]
                layer.shortcut = _Shortcut(residual_channels, out, shortcut_pools)
                residual_channels, pending = out, []
            current = out
            if pooling is not None and (n + 1) % pool_every == 0:
                layer.pool = Pool1d(**pooling)
                pending.append(layer.pool)
                if layer.pool.mode == "mean_max":
                    current *= 2
            self.layers.append(layer)
        self.out_channels = current

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x
        for layer in self.layers:
            x = layer.convolve(x)
            if layer.shortcut is not None:
                conv_out = x
                x = x + layer.shortcut(res)
                res = conv_out if self.residual_from == "conv" else x
            if layer.dropout is not None:
                x = layer.dropout(x)
            if layer.pool is not None:
                x = layer.pool(x)
        return x

    def steps(self, channels: int, length: int, prefix: str) -> list[LayerStep]:
        """Arithmetic of every convolution and pooling."""
        out: list[LayerStep] = []
        for n, layer in enumerate(self.layers):
            effective = layer.dilation * (layer.kernel_size - 1) + 1
            channels = layer.conv.out_channels
            kind = "conv" if layer.dilation == 1 else f"conv:d{layer.dilation}"
            if layer.shortcut is not None:
                kind += "+res"
            out.append(LayerStep(f"{prefix}.{n}.conv", kind, channels, length, kernel=effective,
                                 pad_left=layer.padding[0], params=n_params(layer.norm, layer.conv, layer.shortcut)))
            if layer.pool is not None:
                step = layer.pool.step(f"{prefix}.{n}.pool", channels, length)
                out.append(step)
                channels, length = step.out_channels, step.out_length
        return out


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine position encoding of Vaswani et al. to ``(N, L, D)`` inputs."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        position = torch.arange(length, dtype=x.dtype, device=x.device)[:, None]
        freq = torch.exp(torch.arange(0, self.d_model, 2, dtype=x.dtype, device=x.device)
                         * (-math.log(10000.0) / self.d_model))
        table = torch.zeros(length, self.d_model, dtype=x.dtype, device=x.device)
        table[:, 0::2] = torch.sin(position * freq)
        table[:, 1::2] = torch.cos(position * freq)[:, : self.d_model // 2]
        return x + table


class AttentionBlock(nn.Module):
    """Optional 1x1 projection, position encoding and independent transformer encoder layers (batch first)."""

    def __init__(self, in_channels: int, length: int, *, d_model: int, n_layers: int, n_heads: int,
                 ff_factor: float, activation_name: str, dropout: float, positional: str, norm_first: bool) -> None:
        super().__init__()
        self.project = nn.Conv1d(in_channels, d_model, 1) if d_model != in_channels else None
        if positional == "sinusoidal":
            self.positions: nn.Module | None = SinusoidalPositions(d_model)
            self.learned = None
        elif positional == "learned":
            self.positions = None
            self.learned = nn.Parameter(torch.randn(1, length, d_model) * 0.02)
        else:
            self.positions, self.learned = None, None
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=max(1, round(ff_factor * d_model)),
                                       dropout=dropout, activation=activation_name, batch_first=True,
                                       norm_first=norm_first)
            for _ in range(n_layers))
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is not None:
            x = self.project(x)
        x = x.transpose(1, 2)
        if self.positions is not None:
            x = self.positions(x)
        if self.learned is not None:
            if x.shape[1] != self.learned.shape[1]:
                raise ValueError(f"learned positions cover length {self.learned.shape[1]}, got {x.shape[1]}")
            x = x + self.learned
        for layer in self.layers:
            x = layer(x)
        return x.transpose(1, 2)


class FCTower(nn.Module):
    """Fully connected layers ``[batch norm] -> linear -> [dropout] -> activation`` with optional projection
    and linear shortcuts; see :class:`drg.models.config.FCConfig` for the width schedule."""

    def __init__(self, in_features: int, *, n_layers: int, size: int | None, projection: bool, widening: float,
                 residual_every: int, activation_name: str, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        base = size or in_features
        self.projection = nn.Linear(in_features, base) if projection else None
        current = base if projection else in_features
        widths, w = [], base
        half, odd = n_layers // 2, n_layers % 2
        for _ in range(half):
            w = int(w * widening)
            widths.append(w)
        if odd:
            widths.append(w)
        for n in range(half):
            w = base if n == half - 1 else int(w / widening)
            widths.append(w)
        self.layers = nn.ModuleList()
        residual = current
        for n, width in enumerate(widths):
            block = nn.Module()
            block.norm = nn.BatchNorm1d(current) if batch_norm else None
            block.linear = nn.Linear(current, width)
            block.dropout = nn.Dropout(dropout) if dropout > 0 else None
            block.act = activation(activation_name)
            block.shortcut = None
            if residual_every and (n + 1) % residual_every == 0:
                block.shortcut = nn.Linear(residual, width, bias=False)
                residual = width
            self.layers.append(block)
            current = width
        self.out_features = current

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is not None:
            x = self.projection(x)
        res = x
        for block in self.layers:
            if block.norm is not None:
                x = block.norm(x)
            x = block.linear(x)
            if block.dropout is not None:
                x = block.dropout(x)
            x = block.act(x)
            if block.shortcut is not None:
                x = x + block.shortcut(res)
                res = x
        return x


class Head(nn.Module):
    """One output modality: FC tower -> [batch norm] -> linear -> output activation; returns ``(N, n_outputs)``."""

    def __init__(self, in_features: int, n_outputs: int, *, tower: FCTower | None, batch_norm: bool,
                 output_activation: str) -> None:
        super().__init__()
        self.tower = tower
        features = tower.out_features if tower is not None else in_features
        self.norm = nn.BatchNorm1d(features) if batch_norm else None
        self.linear = nn.Linear(features, n_outputs)
        self.output = activation(output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tower is not None:
            x = self.tower(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.output(self.linear(x))

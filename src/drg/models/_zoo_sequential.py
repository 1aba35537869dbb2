"""An explicit layer-list network (``kind: sequential``) for reproducing published architectures exactly.

The DRG-style :class:`~drg.models.config.ModelConfig` describes blocks with DRG's semantics; published
networks (DeepSEA/Beluga, Basset, AI-TAC, the Koo-lab benchmark CNNs) fix details those blocks do not offer:
unpadded convolutions inside towers, batch norm after pooling, explicit pooling padding, bias-free dense
layers. A :class:`SequentialConfig` lists the layers one by one, in YAML, and :class:`SequentialModel`
builds exactly them.

Layers act on ``(N, C, L)`` until ``flatten`` (channel-major, ``(N, C * L)``), then on ``(N, F)``.
``batch_norm`` infers its width from whichever shape it receives.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from drg.config import Config
from drg.errors import InputError
from drg.models.layers import activation

__all__ = ["SequentialConfig", "SequentialModel", "layer_shapes"]


class ConvLayer(Config):
    """``nn.Conv1d``; ``padding`` ``valid`` (none), ``same`` (extra zero on the right for even widths) or an int."""

    type: Literal["conv"] = "conv"
    out_channels: int = Field(..., ge=1)
    kernel_size: int = Field(..., ge=1)
    dilation: int = Field(1, ge=1)
    padding: Literal["valid", "same"] | int = "valid"
    bias: bool = True


class PoolLayer(Config):
    """``max`` or ``mean`` pooling; ``padding`` positions on both ends (``-inf`` for max, excluded from means)."""

    type: Literal["pool"] = "pool"
    mode: Literal["max", "mean"] = "max"
    size: int = Field(..., ge=1)
    stride: int | None = Field(None, ge=1)
    padding: int = Field(0, ge=0)
    ceil_mode: bool = False


class BatchNormLayer(Config):
    """Batch normalisation over channels (``(N, C, L)``) or features (``(N, F)``)."""

    type: Literal["batch_norm"] = "batch_norm"
    eps: float = Field(1e-5, gt=0)
    momentum: float = Field(0.1, ge=0, le=1)


class ActivationLayer(Config):
    """Element-wise activation."""

    type: Literal["activation"] = "activation"
    name: Literal["relu", "gelu", "exponential", "softplus", "elu", "silu", "sigmoid", "tanh", "softmax"]


class DropoutLayer(Config):
    """Dropout (identity in eval mode)."""

    type: Literal["dropout"] = "dropout"
    p: float = Field(..., ge=0, lt=1)


class FlattenLayer(Config):
    """``(N, C, L) -> (N, C * L)``, channel-major."""

    type: Literal["flatten"] = "flatten"


class LinearLayer(Config):
    """``nn.Linear``."""

    type: Literal["linear"] = "linear"
    out_features: int = Field(..., ge=1)
    bias: bool = True


LayerSpec = Annotated[
    ConvLayer | PoolLayer | BatchNormLayer | ActivationLayer | DropoutLayer | FlattenLayer | LinearLayer,
    Field(discriminator="type"),
]


class SequentialConfig(Config):
    """A network given as a list of layers (YAML key ``kind: sequential``).

    Parameters
    ----------
    input_length, n_channels
        Expected input ``(N, n_channels, input_length)``.
    layers
        The layers in order; the last one must produce ``(N, T)`` (a ``linear`` followed by optional
        activation/dropout).
    output_names
        Optional names of the ``T`` outputs.
    seed
        Parameters are initialised after ``torch.manual_seed(seed)``.
    """

    kind: Literal["sequential"] = "sequential"
    input_length: int = Field(..., ge=1)
    n_channels: int = Field(4, ge=1)
    layers: list[LayerSpec] = Field(..., min_length=1)
    output_names: list[str] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> SequentialConfig:
        shapes = layer_shapes(self)
        final = shapes[-1]
        if len(final) != 1:
            raise ValueError(f"the last layer leaves shape (N, {final[0]}, {final[1]}); add flatten and linear "
                             "layers so the network returns (N, T)")
        if self.output_names is not None and len(self.output_names) != final[0]:
            raise ValueError(f"output_names has {len(self.output_names)} names for {final[0]} outputs")
        return self


def _pool_out(length: int, spec: PoolLayer) -> int:
    stride = spec.stride or spec.size
    span = length + 2 * spec.padding - spec.size
    if span < 0:
        return 0
    return (-(-span // stride) if spec.ceil_mode else span // stride) + 1


def layer_shapes(config: SequentialConfig) -> list[tuple[int, ...]]:
    """Shape after every layer: ``(C, L)`` before ``flatten``, ``(F,)`` after (pure arithmetic, no torch).

    Raises
    ------
    ValueError
        When a layer cannot take the shape it receives; the message names the 1-based layer and the numbers.
    """
    shape: tuple[int, ...] = (config.n_channels, config.input_length)
    out: list[tuple[int, ...]] = []
    for i, spec in enumerate(config.layers, start=1):
        where = f"layer {i} ({spec.type})"
        if spec.type in ("conv", "pool", "flatten") and len(shape) != 2:
            raise ValueError(f"{where} needs (N, C, L) input but receives (N, {shape[0]})")
        if spec.type == "conv":
            c, length = shape
            if spec.padding == "same":
                new = length
            else:
                pad = 0 if spec.padding == "valid" else 2 * spec.padding
                new = length + pad - spec.dilation * (spec.kernel_size - 1)
            if new < 1:
                raise ValueError(f"{where}: kernel {spec.kernel_size} (dilation {spec.dilation}) on length {length} "
                                 f"leaves {new} positions")
            shape = (spec.out_channels, new)
        elif spec.type == "pool":
            c, length = shape
            new = _pool_out(length, spec)
            if new < 1:
                raise ValueError(f"{where}: pooling size {spec.size} on length {length} leaves {new} positions")
            if spec.padding * 2 > spec.size:
                raise ValueError(f"{where}: padding {spec.padding} exceeds half the window {spec.size}")
            shape = (c, new)
        elif spec.type == "flatten":
            shape = (shape[0] * shape[1],)
        elif spec.type == "linear":
            if len(shape) != 1:
                raise ValueError(f"{where} needs (N, F) input; add a flatten layer before it")
            shape = (spec.out_features,)
        out.append(shape)
    return out


class _SameConv1d(nn.Conv1d):
    """Zero-pads to keep the length (extra zero on the right for even effective widths), then convolves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.dilation[0] * (self.kernel_size[0] - 1)
        return super().forward(nn.functional.pad(x, (total // 2, total - total // 2)))


class _MeanPool(nn.AvgPool1d):
    """Mean pooling whose padded positions do not count in the mean."""


def _module(spec: Any, shape: tuple[int, ...]) -> nn.Module:
    if spec.type == "conv":
        if spec.padding == "same":
            return _SameConv1d(shape[0], spec.out_channels, spec.kernel_size, dilation=spec.dilation,
                               bias=spec.bias)
        pad = 0 if spec.padding == "valid" else spec.padding
        return nn.Conv1d(shape[0], spec.out_channels, spec.kernel_size, dilation=spec.dilation, padding=pad,
                         bias=spec.bias)
    if spec.type == "pool":
        if spec.mode == "max":
            return nn.MaxPool1d(spec.size, spec.stride or spec.size, padding=spec.padding, ceil_mode=spec.ceil_mode)
        return _MeanPool(spec.size, spec.stride or spec.size, padding=spec.padding, ceil_mode=spec.ceil_mode,
                         count_include_pad=False)
    if spec.type == "batch_norm":
        return nn.BatchNorm1d(shape[0], eps=spec.eps, momentum=spec.momentum)
    if spec.type == "activation":
        return activation(spec.name)
    if spec.type == "dropout":
        return nn.Dropout(spec.p)
    if spec.type == "flatten":
        return nn.Flatten(1)
    return nn.Linear(shape[0], spec.out_features, bias=spec.bias)


class SequentialModel(nn.Module):
    """The network a :class:`SequentialConfig` lists; ``model(X)`` maps ``(N, C, L)`` to ``(N, T)``.

    The layers are ``model.layers`` (an ``nn.Sequential``), so parameters are named ``layers.<index>.weight``
    with the 0-based position of the layer in the list.
    """

    def __init__(self, config: SequentialConfig | dict[str, Any]) -> None:
        super().__init__()
        if not isinstance(config, SequentialConfig):
            config = SequentialConfig.from_dict(dict(config))
        self.config = config
        shapes = layer_shapes(config)
        self.output_names = None if config.output_names is None else list(config.output_names)
        self.n_outputs = [shapes[-1][0]]
        inputs = [(config.n_channels, config.input_length), *shapes[:-1]]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.layers = nn.Sequential(*(_module(spec, shape) for spec, shape in zip(config.layers, inputs)))

    @classmethod
    def from_config(cls, config: SequentialConfig | dict[str, Any]) -> SequentialModel:
        """Build the model from a config (same as the constructor)."""
        return cls(config)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``X: (N, n_channels, input_length)`` -> ``(N, T)``."""
        expected = (self.config.n_channels, self.config.input_length)
        if X.dim() != 3 or tuple(X.shape[1:]) != expected:
            raise InputError(f"expected input of shape (N, {expected[0]}, {expected[1]}), got {tuple(X.shape)}")
        return self.layers(X)


def _register() -> None:
    from drg.models.config import MODEL_KINDS, register_model_kind

    if "sequential" not in MODEL_KINDS:
        register_model_kind("sequential", SequentialConfig, SequentialModel)


_register()

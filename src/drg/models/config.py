"""Configuration of the configurable sequence-to-function CNN (``kind: cnn``).

A model is described by one :class:`ModelConfig`: a first convolution layer scanning the one-hot sequence,
an optional dilated residual convolution tower, an optional transformer block, an optional second
("pooled") convolution tower, a reduction of the length axis, an optional fully connected tower shared by
all outputs and one head (fully connected tower + output layer) per output modality.

Block-level ``activation``, ``batch_norm`` and ``dropout`` left at ``None`` take the model-wide defaults.
All length arithmetic is checked when the config is validated, so a config whose pooling would shrink the
sequence to nothing is rejected with a message naming the block and the arithmetic.

Length conventions
------------------
* ``same`` convolution padding of an effective kernel length ``e = dilation * (kernel_size - 1) + 1``
  adds ``e // 2 - (e even)`` zeros on the left and ``e // 2`` on the right, so the length is kept; for even
  kernels the extra context is on the right.
* Pooling with window ``size`` and ``stride`` (default ``size``) pads both ends symmetrically with
  ``p = ceil((size - L % stride) / 2)`` positions when ``L % stride > 0`` (0 otherwise), so no position is
  ignored, and yields ``floor((L + 2 p - size) / stride) + 1`` positions (``ceil(L / size)`` when
  ``stride == size``). ``size: global`` pools the whole length to one position.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from drg.config import Config

Activation = Literal["relu", "gelu", "exponential", "softplus", "elu", "silu", "sigmoid", "tanh", "none"]
"""Names of the activation functions accepted by every block."""

OutputActivation = Literal["linear", "softplus", "sigmoid", "softmax", "exponential", "relu"]
"""Names of the activations a head may apply to its outputs (``softmax`` runs over the head's outputs)."""

PoolMode = Literal["max", "mean", "softmax", "mean_max"]
"""``softmax`` is weighted ("attention") pooling: ``sum_i x_i softmax(x)_i`` over each window, per channel;
``mean_max`` concatenates mean and max pooling along the channels (mean first), doubling them."""


class PoolingConfig(Config):
    """Pooling along the length axis.

    Parameters
    ----------
    mode
        ``max``, ``mean``, ``softmax`` (weighted) or ``mean_max`` (both, channels concatenated).
    size
        Window length, or ``"global"`` to pool the whole length into one position.
    stride
        Step between windows (default: ``size``); ``softmax`` pooling requires ``stride == size``.
    softmax_padding
        How ``softmax`` pooling treats the padded positions: ``ignore`` gives them zero weight;
        ``batch_min`` fills them with the minimum of the whole input batch (the behaviour of the original
        DRG code, needed to reproduce its checkpoints; it makes outputs depend on the batch composition).
    """

    mode: PoolMode = "max"
    size: int | Literal["global"] = Field(2, description="window length or 'global'")
    stride: int | None = None
    softmax_padding: Literal["ignore", "batch_min"] = "ignore"

    @field_validator("size", "stride")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> PoolingConfig:
        if self.size == "global" and self.stride is not None:
            raise ValueError("global pooling takes no stride")
        if self.mode == "softmax" and self.stride is not None and self.stride != self.size:
            raise ValueError(f"softmax pooling needs stride == size, got stride {self.stride}, size {self.size}")
        return self


class PWMInitConfig(Config):
    """Initialise first-layer kernels from motifs.

    Parameters
    ----------
    path
        MEME or JASPAR motif file (relative paths are taken from the working directory).
    motifs
        Names or identifiers of the motifs to use, in this order (default: every motif in the file).
    scale
        ``log_odds``: ``log2`` probability over background with ``pseudocount`` smoothing (``Motif.pwm``);
        ``ic``: the probability matrix scaled per position by its information content (bits).
    pseudocount
        Pseudocount for ``log_odds``.
    freeze
        Keep the motif kernels fixed during training (they are held in a separate parameter,
        ``frozen_weight``, with ``requires_grad=False``, so optimisers never touch them).
    """

    path: str
    motifs: list[str] | None = None
    scale: Literal["log_odds", "ic"] = "log_odds"
    pseudocount: float = Field(0.1, ge=0)
    freeze: bool = False


class FirstLayerConfig(Config):
    """The convolution scanning the one-hot sequence, then activation, pooling and dropout.

    Parameters
    ----------
    n_kernels, kernel_size
        Number and length of kernels.
    bias
        Learn one bias per kernel.
    activation, batch_norm, dropout
        ``None`` takes the model-wide default; batch norm sits between convolution and activation.
    reverse_complement
        Scan both strands with the same kernels (the input reversed along channels and length, which needs
        the A, C, G, T channel order) and combine the two per-kernel outputs with ``strand_pool``.
    strand_pool
        ``max``, ``mean`` or ``softmax`` (``sum_s y_s softmax_s(y)`` over the two strands).
    padding
        ``same`` keeps the length (see the module notes for even kernels); ``valid`` does not pad.
    pwm_init
        Initialise the first kernels from motifs.
    pooling
        Pooling after the activation.
    """

    n_kernels: int = Field(128, ge=1)
    kernel_size: int = Field(15, ge=1)
    bias: bool = True
    activation: Activation | None = None
    batch_norm: bool | None = None
    dropout: float | None = Field(None, ge=0, lt=1)
    reverse_complement: bool = False
    strand_pool: Literal["max", "mean", "softmax"] = "max"
    padding: Literal["same", "valid"] = "same"
    pwm_init: PWMInitConfig | None = None
    pooling: PoolingConfig | None = None


class ConvTowerConfig(Config):
    """A tower of ``same``-padded (dilated) convolutions with residual shortcuts and periodic pooling.

    Each layer ``n`` runs ``[batch norm] -> activation -> conv`` (``preactivation: true``) or
    ``conv -> [batch norm] -> activation`` (``false``); then, every ``residual_every`` layers, a shortcut is
    added; then dropout; then, every ``pool_every`` layers, pooling.

    Parameters
    ----------
    n_layers
        Number of convolutions.
    channels
        Output channels: one integer for the first layer (later layers multiply by ``growth``), a list with
        one entry per layer, or ``None`` (first layer: ``int(in_channels * growth)``).
    growth
        Channel growth factor per layer: ``out = int(in * growth)``.
    kernel_size, dilations
        One value for every layer or one per layer.
    bias
        Convolution bias.
    residual_every
        Add a shortcut after every k-th layer (0: none). The shortcut is a 1x1 convolution without bias
        when the channels changed, followed by every pooling applied on the main path since the previous
        shortcut (max pooling on the shortcut pads with zeros).
    residual_from
        Where a shortcut starts: ``sum`` (standard: the output after the previous addition) or ``conv`` (the
        previous residual point's convolution output before its addition, as the original DRG code does).
    pool_every, pooling
        Pool after every k-th layer.
    """

    n_layers: int = Field(1, ge=1)
    channels: int | list[int] | None = None
    growth: float = Field(1.0, gt=0)
    kernel_size: int | list[int] = 3
    dilations: int | list[int] = 1
    bias: bool = True
    activation: Activation | None = None
    preactivation: bool = True
    batch_norm: bool | None = None
    dropout: float | None = Field(None, ge=0, lt=1)
    residual_every: int = Field(1, ge=0)
    residual_from: Literal["sum", "conv"] = "sum"
    pool_every: int = Field(1, ge=1)
    pooling: PoolingConfig | None = None

    @model_validator(mode="after")
    def _lists(self) -> ConvTowerConfig:
        for name in ("channels", "kernel_size", "dilations"):
            value = getattr(self, name)
            if isinstance(value, list):
                if len(value) != self.n_layers:
                    raise ValueError(f"{name} lists {len(value)} values for {self.n_layers} layers")
                if any(v < 1 for v in value):
                    raise ValueError(f"{name} values must be at least 1, got {value}")
            elif isinstance(value, int) and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.pooling is not None and self.pooling.mode == "mean_max" and self.residual_every:
            raise ValueError("mean_max pooling doubles the channels and cannot be combined with residual shortcuts; "
                             "set residual_every: 0 or choose another pooling mode")
        return self

    def per_layer(self, name: str) -> list[int]:
        """``kernel_size`` or ``dilations`` expanded to one value per layer."""
        value = getattr(self, name)
        return list(value) if isinstance(value, list) else [int(value)] * self.n_layers

    def layer_channels(self, in_channels: int) -> list[int]:
        """Output channels of every layer given the tower's input channels."""
        if isinstance(self.channels, list):
            return list(self.channels)
        out: list[int] = []
        current = in_channels
        for n in range(self.n_layers):
            current = self.channels if (n == 0 and self.channels is not None) else int(current * self.growth)
            out.append(current)
        return out


class AttentionConfig(Config):
    """Transformer encoder layers over the length axis (multi-head self-attention + feed-forward).

    Parameters
    ----------
    n_layers, n_heads
        Encoder layers and attention heads (``d_model`` must be divisible by ``n_heads``).
    d_model
        Embedding width; when it differs from the incoming channels a 1x1 convolution projects first.
    ff_factor
        Feed-forward width as a multiple of ``d_model``.
    positional
        ``sinusoidal`` (fixed), ``learned`` (one vector per position) or ``none``.
    norm_first
        Layer norm before (pre-LN) or after the attention and feed-forward sub-layers.
    """

    n_layers: int = Field(1, ge=1)
    n_heads: int = Field(4, ge=1)
    d_model: int | None = Field(None, ge=1)
    ff_factor: float = Field(2.0, gt=0)
    activation: Literal["relu", "gelu"] = "gelu"
    dropout: float | None = Field(None, ge=0, lt=1)
    positional: Literal["sinusoidal", "learned", "none"] = "sinusoidal"
    norm_first: bool = True


class FCConfig(Config):
    """A tower of fully connected layers, each ``[batch norm] -> linear -> [dropout] -> activation``.

    Parameters
    ----------
    n_layers
        Number of layers (0: none).
    size
        Base width (default: the input width).
    projection
        Start with a linear map to ``size`` without activation (the original DRG arrangement).
    widening
        Widths grow as ``int(w * widening)`` over the first half of the layers, keep the width in the middle
        layer of an odd count and shrink as ``int(w / widening)``; the last layer returns to ``size``.
    residual_every
        Add a linear shortcut (no bias) after every k-th layer (0: none).
    """

    n_layers: int = Field(1, ge=0)
    size: int | None = Field(None, ge=1)
    projection: bool = False
    widening: float = Field(1.0, gt=0)
    residual_every: int = Field(0, ge=0)
    activation: Activation | None = None
    batch_norm: bool | None = None
    dropout: float | None = Field(None, ge=0, lt=1)


class HeadConfig(Config):
    """One output modality: its own fully connected tower, ``[batch norm] -> linear`` and output activation.

    ``fc_*`` fields configure the head's tower exactly as :class:`FCConfig` does; ``batch_norm`` applies to
    the tower and to the output layer's input.
    """

    name: str = "output"
    n_outputs: int = Field(1, ge=1)
    track_names: list[str] | None = None
    fc_layers: int = Field(0, ge=0)
    fc_size: int | None = Field(None, ge=1)
    fc_projection: bool = False
    fc_widening: float = Field(1.0, gt=0)
    fc_residual_every: int = Field(0, ge=0)
    activation: Activation | None = None
    batch_norm: bool | None = None
    dropout: float | None = Field(None, ge=0, lt=1)
    output_activation: OutputActivation = "linear"

    @model_validator(mode="after")
    def _names(self) -> HeadConfig:
        if self.track_names is not None and len(self.track_names) != self.n_outputs:
            raise ValueError(f"head {self.name!r}: {len(self.track_names)} track_names for {self.n_outputs} outputs")
        return self

    def fc(self) -> FCConfig:
        """The head's tower as an :class:`FCConfig`."""
        return FCConfig(n_layers=self.fc_layers, size=self.fc_size, projection=self.fc_projection,
                        widening=self.fc_widening, residual_every=self.fc_residual_every,
                        activation=self.activation, batch_norm=self.batch_norm, dropout=self.dropout)


class ModelConfig(Config):
    """The configurable CNN (``kind: cnn``); see the module notes for the block order and length rules.

    Parameters
    ----------
    input_length, n_channels
        Expected input ``(N, n_channels, input_length)``.
    seed
        Parameters are initialised after ``torch.manual_seed(seed)``.
    activation, batch_norm, dropout
        Defaults for blocks that leave these at ``None``.
    reduction
        How the length axis is removed before the fully connected layers: ``flatten`` (channel-major,
        ``(N, C * L)``), or global ``max`` / ``mean`` / ``softmax`` pooling (``(N, C)``).
    """

    kind: Literal["cnn"] = "cnn"
    input_length: int = Field(..., ge=1)
    n_channels: int = Field(4, ge=1)
    seed: int = 0
    activation: Activation = "gelu"
    batch_norm: bool = False
    dropout: float = Field(0.0, ge=0, lt=1)
    first_layer: FirstLayerConfig = Field(default_factory=FirstLayerConfig)
    tower: ConvTowerConfig | None = None
    attention: AttentionConfig | None = None
    pooled_tower: ConvTowerConfig | None = None
    reduction: Literal["flatten", "max", "mean", "softmax"] = "flatten"
    shared_fc: FCConfig | None = None
    heads: list[HeadConfig] = Field(default_factory=lambda: [HeadConfig()], min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        names = [head.name for head in self.heads]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"head names must be unique, repeated: {duplicated}")
        if self.first_layer.reverse_complement and self.n_channels != 4:
            raise ValueError(f"reverse_complement needs 4 channels (A, C, G, T), got n_channels {self.n_channels}")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> ModelConfig:
        """Validate ``data`` including the length arithmetic; ``source`` (a file name) is named in errors."""
        config = super().from_dict(data, source=source)
        config.check_shapes(source=source)
        return config

    def check_shapes(self, *, source: str | None = None) -> dict[str, tuple[int, int]]:
        """Run :func:`shapes`, turning an arithmetic problem into :class:`~drg.errors.InputError`."""
        from drg.errors import InputError

        try:
            return shapes(self)
        except ValueError as exc:
            raise InputError(f"invalid model: {exc}", path=source) from None


# ---------------------------------------------------------------------------------------------- arithmetic
def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """Left and right zero padding that keeps the length: ``(e // 2 - (e even), e // 2)``, ``e`` effective length."""
    effective = dilation * (kernel_size - 1) + 1
    return effective // 2 - int(effective % 2 == 0), effective // 2


def pool_padding(length: int, size: int, stride: int) -> int:
    """Symmetric padding of pooling: ``ceil((size - L % stride) / 2)`` when ``L % stride > 0``, else 0."""
    remainder = length % stride
    return math.ceil((size - remainder) / 2) if remainder else 0


def pool_length(length: int, size: int, stride: int) -> int:
    """Number of pooled positions: ``floor((L + 2 p - size) / stride) + 1`` with ``p`` from :func:`pool_padding`."""
    pad = pool_padding(length, size, stride)
    return (length + 2 * pad - size) // stride + 1


def _pool(pooling: PoolingConfig, channels: int, length: int, where: str) -> tuple[int, int]:
    factor = 2 if pooling.mode == "mean_max" else 1
    if pooling.size == "global":
        return channels * factor, 1
    stride = pooling.stride or pooling.size
    if pooling.size > length:
        raise ValueError(f"{where}: pooling window {pooling.size} is longer than the incoming length {length}")
    out = pool_length(length, pooling.size, stride)
    if out < 1:
        raise ValueError(f"{where}: pooling size {pooling.size}, stride {stride} on length {length} gives {out}")
    return channels * factor, out


def _tower(tower: ConvTowerConfig, channels: int, length: int, block: str) -> tuple[int, int]:
    outs = tower.layer_channels(channels)
    for n in range(tower.n_layers):
        channels = outs[n]
        if channels < 1:
            raise ValueError(f"{block} layer {n + 1}: channel growth {tower.growth} leaves {channels} channels")
        if tower.pooling is not None and (n + 1) % tower.pool_every == 0:
            channels, length = _pool(tower.pooling, channels, length, f"{block} layer {n + 1}")
    return channels, length


def shapes(config: ModelConfig) -> dict[str, tuple[int, int]]:
    """``(channels, length)`` after every block of ``config`` (pure arithmetic, no torch).

    Raises
    ------
    ValueError
        When a block would make the length smaller than 1; the message names the block and the arithmetic.
    """
    out: dict[str, tuple[int, int]] = {}
    first = config.first_layer
    length = config.input_length
    if first.padding == "valid":
        length = config.input_length - first.kernel_size + 1
        if length < 1:
            raise ValueError(f"first_layer: valid convolution with kernel_size {first.kernel_size} on input_length "
                             f"{config.input_length} gives length {config.input_length} - {first.kernel_size} + 1 "
                             f"= {length}")
    channels = first.n_kernels
    if first.pooling is not None:
        channels, length = _pool(first.pooling, channels, length, "first_layer")
    out["first_layer"] = (channels, length)
    if config.tower is not None:
        channels, length = _tower(config.tower, channels, length, "tower")
        out["tower"] = (channels, length)
    if config.attention is not None:
        d_model = config.attention.d_model or channels
        if d_model % config.attention.n_heads:
            raise ValueError(f"attention: d_model {d_model} is not divisible by n_heads {config.attention.n_heads}")
        channels = d_model
        out["attention"] = (channels, length)
    if config.pooled_tower is not None:
        channels, length = _tower(config.pooled_tower, channels, length, "pooled_tower")
        out["pooled_tower"] = (channels, length)
    return out


# ---------------------------------------------------------------------------------------------- registry
MODEL_KINDS: dict[str, tuple[str, str, str]] = {
    "cnn": ("drg.models.config", "ModelConfig", "drg.models.cnn:CNN"),
    "multi_input": ("drg.models.multi", "MultiInputConfig", "drg.models.multi:MultiInputModel"),
    "profile": ("drg.models.profile", "ProfileConfig", "drg.models.profile:ProfileModel"),
    "sequential": ("drg.models._zoo_sequential", "SequentialConfig", "drg.models._zoo_sequential:SequentialModel"),
}
"""``kind -> (module, config class, "module:model class")``; model classes build through ``from_config``."""


def register_model_kind(kind: str, config_class: type[Config], model_class: type) -> None:
    """Make :func:`drg.models.build` and :func:`drg.models.load_model` understand ``kind``.

    ``config_class`` is a :class:`drg.config.Config` with a ``kind`` and a ``seed`` field; ``model_class``
    has a ``from_config(config)`` classmethod returning the module.
    """
    MODEL_KINDS[kind] = (config_class.__module__, config_class.__name__,
                         f"{model_class.__module__}:{model_class.__name__}")


def config_class(kind: str) -> type[Config]:
    """The config class registered for ``kind``."""
    from importlib import import_module

    from drg.errors import InputError

    if kind not in MODEL_KINDS:
        raise InputError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    module, name, _ = MODEL_KINDS[kind]
    return getattr(import_module(module), name)


def model_class(kind: str) -> type:
    """The module class registered for ``kind``."""
    from importlib import import_module

    config_class(kind)
    module, name = MODEL_KINDS[kind][2].split(":")
    return getattr(import_module(module), name)


def load_config(config: Any) -> Config:
    """A model config from a config object, a dict or a YAML path, dispatched on its ``kind`` (default ``cnn``)."""
    from pathlib import Path

    import yaml

    from drg.errors import InputError

    if isinstance(config, Config):
        return config
    source = None
    if isinstance(config, (str, Path)):
        path = Path(config)
        if path.is_dir():
            path = path / "config.yaml"
        if not path.exists():
            raise InputError("model config file not found", path=path)
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {exc}", path=path) from None
        source = str(path)
    if not isinstance(config, dict):
        raise InputError(f"expected a model config mapping, got {type(config).__name__}", path=source)
    kind = config.get("kind", "cnn")
    if kind not in MODEL_KINDS:
        raise InputError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}", path=source)
    return config_class(kind).from_dict(config, source=source)

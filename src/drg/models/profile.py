"""Base-pair-resolution profile models (BPNet / ChromBPNet family).

A :class:`ProfileModel` reads one-hot DNA ``X: (N, 4, L)`` and predicts, for every output track ``t``
(a track is one strand of one experiment: a stranded ChIP-nexus experiment contributes two tracks):

* ``profile_logits: (N, T, L_out)`` -- unnormalised per-base logits; ``softmax`` over the last axis gives the
  predicted distribution of reads along the output window (the multinomial of BPNet);
* ``log_counts: (N, T)`` -- the predicted log of the total read count in the output window (``(N, 1)`` with
  ``count_head="total"``, one count for all tracks together, as bpnet-lite does).

Architecture (Avsec et al. 2021, Nat. Genet. 53:354; Pampari et al. ChromBPNet): a wide first convolution,
a tower of dilated residual convolutions ``x <- x + act(conv_d(x))``, a wide profile convolution producing the
per-base logits, and a count head (dense layer on the average of the tower output over the positions the
output window depends on).

With ``padding="valid"`` no convolution is padded: every layer shortens the sequence by ``(k - 1) * d`` and the
residual input is centre-cropped to the convolution output, so no prediction ever sees zero padding. The
output length is ``L_out = L - trimming`` with ``trimming = (first_kernel - 1) + sum((kernel_size - 1) * d)
+ (profile_kernel - 1)`` (1114 for the bpnet-lite defaults, hence 2114 -> 1000). With ``padding="same"``
the tower keeps the input length. ``output_length`` centre-crops the profile to a fixed length in both
modes; that is how bpnet-lite (same padding + cropping) works and gives identical values to the valid layout.

Optional control (bias) tracks ``X_ctl: (N, C, L)`` aligned with the input sequence are used as in BPNet:
the control profile, cropped to the positions the profile head reads, is concatenated to the profile head
input (so it enters the logits linearly through the control channels of the profile convolution, without
bias), and ``log(1 + total control reads)`` over the positions the count head averages (all control tracks
summed) is appended to the count head input. When a model has control tracks and ``X_ctl`` is omitted,
zeros are used (the model then predicts a control-free baseline).

Losses (multinomial NLL of the profile, MSE of log counts) are provided by :mod:`drg.training.losses`.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch
from pydantic import Field, model_validator
from torch import nn

from drg.config import Config
from drg.errors import InputError
from drg.models.config import Activation
from drg.models.layers import activation as make_activation

__all__ = ["ProfileConfig", "ProfileModel", "ProfileOutput", "count_parameters", "receptive_field"]


class ProfileOutput(NamedTuple):
    """What :class:`ProfileModel` returns.

    Attributes
    ----------
    profile_logits
        ``(N, T, L_out)`` per-base logits; ``softmax(-1)`` gives the profile shape.
    log_counts
        ``(N, T)`` (or ``(N, 1)`` with ``count_head="total"``) natural log of predicted total counts.
    """

    profile_logits: torch.Tensor
    log_counts: torch.Tensor


class ProfileConfig(Config):
    """Settings of a BPNet-like profile model (YAML key ``kind: profile``).

    Parameters
    ----------
    kind
        Always ``"profile"``.
    input_length
        Input length ``L`` the model is meant for (used to report the output length; any length at least
        ``trimming + 1`` works in valid mode).
    n_tracks
        Number of profile tracks ``T`` (experiments x strands).
    n_filters
        Channels of the first convolution and of the residual tower.
    first_kernel
        Width of the first convolution.
    n_layers
        Number of dilated residual layers.
    kernel_size
        Width of each dilated convolution.
    dilations
        Dilation of each layer; default ``2, 4, ..., 2**n_layers`` (BPNet).
    profile_kernel
        Width of the profile convolution.
    padding
        ``"valid"`` (no padding, output shorter than input) or ``"same"`` (tower keeps the length; even
        widths put the extra zero on the right).
    output_length
        Centre-crop the profile to this length (``None``: keep what the layers produce).
    n_control_tracks
        Number of control/bias tracks given as ``X_ctl`` (0: none).
    count_head
        ``"per_track"``: one log count per profile track; ``"total"``: one log count per example.
    activation
        Activation after the first convolution and inside every residual layer (any name of :data:`drg.models.config.Activation`).
    output_names
        Optional names of the profile tracks.
    seed
        Parameters are initialised after ``torch.manual_seed(seed)``.
    """

    kind: Literal["profile"] = "profile"
    input_length: int = Field(2114, ge=1)
    n_tracks: int = Field(2, ge=1)
    n_filters: int = Field(64, ge=1)
    first_kernel: int = Field(21, ge=1)
    n_layers: int = Field(8, ge=0)
    kernel_size: int = Field(3, ge=1)
    dilations: list[int] | None = None
    profile_kernel: int = Field(75, ge=1)
    padding: Literal["valid", "same"] = "valid"
    output_length: int | None = Field(None, ge=1)
    n_control_tracks: int = Field(0, ge=0)
    count_head: Literal["per_track", "total"] = "per_track"
    activation: Activation = "relu"
    output_names: list[str] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> ProfileConfig:
        if self.dilations is not None:
            if len(self.dilations) != self.n_layers:
                raise ValueError(f"dilations has {len(self.dilations)} entries but n_layers is {self.n_layers}")
            if any(d < 1 for d in self.dilations):
                raise ValueError("dilations must be positive integers")
        if self.output_names is not None and len(self.output_names) != self.n_tracks:
            raise ValueError(f"output_names has {len(self.output_names)} names but n_tracks is {self.n_tracks}")
        if self.input_length <= self.trimming:
            raise ValueError(f"input_length {self.input_length} is not longer than the trimming {self.trimming} of the layers")
        if self.output_length is not None and self.output_length > self.input_length - self.trimming:
            raise ValueError(f"output_length {self.output_length} exceeds the {self.input_length - self.trimming} "
                             f"positions the layers produce from input_length {self.input_length}")
        return self

    @property
    def layer_dilations(self) -> list[int]:
        """Dilation of each residual layer."""
        if self.dilations is not None:
            return list(self.dilations)
        return [2 ** (i + 1) for i in range(self.n_layers)]

    @property
    def trimming(self) -> int:
        """Total number of positions the layers remove (0 in ``same`` mode)."""
        if self.padding == "same":
            return 0
        tower = sum((self.kernel_size - 1) * d for d in self.layer_dilations)
        return (self.first_kernel - 1) + tower + (self.profile_kernel - 1)

    def out_length(self, length: int | None = None) -> int:
        """Length ``L_out`` of the profile for an input of ``length`` (default ``input_length``)."""
        length = self.input_length if length is None else length
        produced = length - self.trimming
        return produced if self.output_length is None else min(self.output_length, produced)


def _same_pad(effective: int) -> tuple[int, int]:
    """Left/right zero padding that keeps the length for a convolution of effective width ``effective``."""
    total = effective - 1
    return total // 2, total - total // 2


def _crop(x: torch.Tensor, left: int, length: int) -> torch.Tensor:
    return x[..., left:left + length]


class _ResidualLayer(nn.Module):
    """``x + act(conv_d(x))`` with the residual centre-cropped in valid mode."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, padding: str, activation_name: str) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.act = make_activation(activation_name)
        self.effective = (kernel_size - 1) * dilation + 1
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            return x + self.act(self.conv(nn.functional.pad(x, _same_pad(self.effective))))
        y = self.act(self.conv(x))
        left = (self.effective - 1) // 2
        return _crop(x, left, y.shape[-1]) + y


class ProfileModel(nn.Module):
    """BPNet-like base-pair-resolution model; see the module documentation for the architecture.

    Parameters
    ----------
    config
        A :class:`ProfileConfig` or a mapping of its fields.

    Examples
    --------
    >>> model = ProfileModel(ProfileConfig())                      # bpnet-lite layout, 2114 -> 1000
    >>> profile_logits, log_counts = model(torch.zeros(2, 4, 2114))
    >>> tuple(profile_logits.shape), tuple(log_counts.shape)
    ((2, 2, 1000), (2, 2))
    """

    def __init__(self, config: ProfileConfig | dict[str, Any]) -> None:
        super().__init__()
        if not isinstance(config, ProfileConfig):
            config = ProfileConfig.from_dict(dict(config))
        self.config = config
        self.output_names = None if config.output_names is None else list(config.output_names)
        n_counts = config.n_tracks if config.count_head == "per_track" else 1
        self.n_outputs = [config.n_tracks, n_counts]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self._build_layers(config, n_counts)

    def _build_layers(self, config: ProfileConfig, n_counts: int) -> None:
        self.first_conv = nn.Conv1d(4, config.n_filters, config.first_kernel)
        self.first_act = make_activation(config.activation)
        self.layers = nn.ModuleList(
            _ResidualLayer(config.n_filters, config.kernel_size, d, config.padding, config.activation)
            for d in config.layer_dilations
        )
        self.profile_conv = nn.Conv1d(config.n_filters + config.n_control_tracks, config.n_tracks,
                                      config.profile_kernel)
        self.count_linear = nn.Linear(config.n_filters + (1 if config.n_control_tracks else 0), n_counts)

    @classmethod
    def from_config(cls, config: ProfileConfig | dict[str, Any]) -> ProfileModel:
        """Build the model from a config (same as the constructor)."""
        return cls(config)

    def _tower_offset(self) -> int:
        """Input position of tower output position 0 (valid mode; 0 in same mode)."""
        cfg = self.config
        if cfg.padding == "same":
            return 0
        offset = (cfg.first_kernel - 1) // 2
        for d in cfg.layer_dilations:
            offset += ((cfg.kernel_size - 1) * d) // 2
        return offset

    def trunk(self, X: torch.Tensor) -> torch.Tensor:
        """Output of the first convolution and the residual tower, ``(N, n_filters, L_tower)``."""
        cfg = self.config
        if cfg.padding == "same":
            X = nn.functional.pad(X, _same_pad(cfg.first_kernel))
        h = self.first_act(self.first_conv(X))
        for layer in self.layers:
            h = layer(h)
        return h

    def forward(self, X: torch.Tensor, X_ctl: torch.Tensor | None = None) -> ProfileOutput:
        """Predict profiles and log counts.

        Parameters
        ----------
        X
            ``(N, 4, L)`` one-hot sequences (float).
        X_ctl
            ``(N, n_control_tracks, L)`` control/bias tracks aligned with ``X`` (read counts per base); only
            for models with ``n_control_tracks > 0``; zeros when omitted.

        Returns
        -------
        ProfileOutput
            ``profile_logits (N, T, L_out)`` and ``log_counts (N, T)`` (``(N, 1)`` for ``count_head="total"``).
        """
        cfg = self.config
        if X.dim() != 3 or X.shape[1] != 4:
            raise InputError(f"expected X of shape (N, 4, L), got {tuple(X.shape)}")
        n, _, length = X.shape
        if length <= cfg.trimming:
            raise InputError(f"input length {length} is too short: the layers remove {cfg.trimming} positions")
        if cfg.n_control_tracks == 0 and X_ctl is not None:
            raise InputError("this profile model has no control tracks (n_control_tracks = 0) but X_ctl was given")
        if cfg.n_control_tracks and X_ctl is None:
            X_ctl = X.new_zeros(n, cfg.n_control_tracks, length)
        if X_ctl is not None and (X_ctl.dim() != 3 or X_ctl.shape[0] != n or X_ctl.shape[1] != cfg.n_control_tracks
                                  or X_ctl.shape[2] != length):
            raise InputError(f"expected X_ctl of shape ({n}, {cfg.n_control_tracks}, {length}) aligned with X, "
                             f"got {tuple(X_ctl.shape)}")

        h = self.trunk(X)
        tower_len = h.shape[-1]
        offset = self._tower_offset()
        head_in = h
        ctl = None
        if X_ctl is not None:
            ctl = _crop(X_ctl, offset, tower_len)
            head_in = torch.cat([h, ctl], dim=1)
        k = cfg.profile_kernel
        if cfg.padding == "same":
            pad_left, _ = _same_pad(k)
            logits = self.profile_conv(nn.functional.pad(head_in, _same_pad(k)))
        else:
            pad_left = 0
            logits = self.profile_conv(head_in)
        produced = logits.shape[-1]
        out_len = produced if cfg.output_length is None else min(cfg.output_length, produced)
        start = (produced - out_len) // 2
        logits = _crop(logits, start, out_len)

        # tower positions read by the kept profile outputs
        lo = max(0, start - pad_left)
        hi = min(tower_len, start - pad_left + out_len + k - 1)
        features = h[..., lo:hi].mean(dim=-1)
        if ctl is not None:
            total = ctl[..., lo:hi].sum(dim=(1, 2))
            features = torch.cat([features, torch.log1p(total).unsqueeze(-1)], dim=-1)
        return ProfileOutput(logits, self.count_linear(features))


def count_parameters(config: ProfileConfig) -> int:
    """Number of parameters of :class:`ProfileModel` for ``config``, from the layer shapes alone."""
    f, t = config.n_filters, config.n_tracks
    n_counts = t if config.count_head == "per_track" else 1
    first = 4 * f * config.first_kernel + f
    tower = config.n_layers * (f * f * config.kernel_size + f)
    profile = (f + config.n_control_tracks) * t * config.profile_kernel + t
    counts = (f + (1 if config.n_control_tracks else 0)) * n_counts + n_counts
    return first + tower + profile + counts


def receptive_field(config: ProfileConfig) -> int:
    """Number of input positions one profile logit depends on."""
    tower = sum((config.kernel_size - 1) * d for d in config.layer_dilations)
    return config.first_kernel + tower + config.profile_kernel - 1


"""Multi-input models: one trunk per input sequence, combined per output modality (``kind: multi_input``).

Each input sequence ``X[i]: (N, 4, L_i)`` (lengths may differ) runs through its own trunk, a configurable
CNN (:class:`~drg.models.config.ModelConfig`) whose head(s) produce an embedding or a prediction. With
``shared: true`` a single trunk (one parameter set) scans every input.

Every output modality then reads the trunk outputs listed in its ``inputs`` (the original DRG's
``input_to_combinefunc``) and combines them with ``function``:

``network``
    concatenate the trunk outputs (all heads of a multi-head trunk, or the head chosen by ``trunk_head``)
    and run a fully connected tower and a linear output layer (DRG's combining network);
``difference``
    ``a - b`` of two inputs, e.g. ``log(expression) = log(transcription) - log(degradation)``;
``ratio``
    ``(relu(a) + eps) / (relu(b) + eps)`` -- what the original DRG calls ``FRACTION``;
``fraction``
    ``relu(a) / (relu(a) + relu(b) + eps)``, the share of ``a``;
``direct``
    the single input's trunk output itself.

For the analytic functions (everything except ``network``) the trunk output that feeds an output is the
trunk's only head or, for multi-head trunks, the head with the output's index (``trunk_head`` overrides
this), and both operands must have the output's width. Optionally ``log_offset`` applies
``log(log_offset + x) / log(log_base)`` afterwards (DRG's ``LOGXPLUS`` variants; ``log_base`` ``None``
means the natural log).

``forward(X)`` takes a list or tuple with one tensor per input and returns ``(N, T)`` for one output
modality or a list of ``(N, T_m)`` tensors, one per modality.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from drg.config import Config
from drg.errors import InputError
from drg.models.config import Activation, ModelConfig, OutputActivation

__all__ = ["CombinedOutput", "MultiInputConfig", "MultiInputModel"]


class CombinedOutput(Config):
    """One output modality of a multi-input model.

    Parameters
    ----------
    name
        Name of the modality.
    inputs
        0-based indices of the inputs whose trunk outputs feed this modality (``difference``, ``ratio`` and
        ``fraction`` use exactly two, in the order ``a, b``; ``direct`` exactly one).
    function
        ``network``, ``difference``, ``ratio``, ``fraction`` or ``direct`` (see the module notes).
    n_outputs
        Width of the output; required for ``network``; for analytic functions it defaults to (and must
        equal) the width of the trunk output.
    trunk_head
        Which head of a multi-head trunk feeds this modality (default: see the module notes).
    fc_layers, fc_size, activation, batch_norm, dropout
        The fully connected tower of a ``network`` combiner (``fc_size`` defaults to the concatenated width).
    output_activation
        Activation of the ``network`` output layer.
    log_offset, log_base
        Apply ``log(log_offset + x) / log(log_base)`` to the result.
    eps
        Offset of ``ratio`` and ``fraction``.
    track_names
        Names of the ``n_outputs`` tracks.
    """

    name: str = "output"
    inputs: list[int] = Field(..., min_length=1)
    function: Literal["network", "difference", "ratio", "fraction", "direct"] = "network"
    n_outputs: int | None = Field(None, ge=1)
    trunk_head: int | None = Field(None, ge=0)
    fc_layers: int = Field(0, ge=0)
    fc_size: int | None = Field(None, ge=1)
    activation: Activation = "gelu"
    batch_norm: bool = False
    dropout: float = Field(0.0, ge=0, lt=1)
    output_activation: OutputActivation = "linear"
    log_offset: float | None = Field(None, gt=0)
    log_base: float | None = Field(None, gt=1)
    eps: float = Field(1e-12, ge=0)
    track_names: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> CombinedOutput:
        need = {"difference": 2, "ratio": 2, "fraction": 2, "direct": 1}.get(self.function)
        if need is not None and len(self.inputs) != need:
            raise ValueError(f"output {self.name!r}: function {self.function!r} takes {need} input(s), "
                             f"got inputs {self.inputs}")
        if self.function == "network" and self.n_outputs is None:
            raise ValueError(f"output {self.name!r}: a 'network' combiner needs n_outputs")
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"output {self.name!r}: repeated input index in {self.inputs}")
        if self.log_base is not None and self.log_offset is None:
            raise ValueError(f"output {self.name!r}: log_base needs log_offset")
        return self


class MultiInputConfig(Config):
    """Settings of a multi-input model (YAML key ``kind: multi_input``).

    Parameters
    ----------
    kind
        Always ``"multi_input"``.
    n_inputs
        Number of input sequences.
    trunks
        One :class:`~drg.models.config.ModelConfig` per input (its ``input_length`` is that input's
        length), or a single one used for every input when ``shared`` is true.
    shared
        Scan all inputs with one trunk (one parameter set).
    outputs
        The output modalities, in output order.
    seed
        Seed of the combiner layers; trunk ``i`` of a non-shared model is initialised with its own
        ``seed + i`` so that identical trunk configs do not start identical.
    """

    kind: Literal["multi_input"] = "multi_input"
    n_inputs: int = Field(..., ge=1)
    trunks: list[ModelConfig] = Field(..., min_length=1)
    shared: bool = False
    outputs: list[CombinedOutput] = Field(..., min_length=1)
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> MultiInputConfig:
        expected = 1 if self.shared else self.n_inputs
        if len(self.trunks) != expected:
            raise ValueError(f"{len(self.trunks)} trunk configs for {self.n_inputs} inputs "
                             f"({'shared: one trunk' if self.shared else 'one trunk per input'} expected)")
        for trunk in self.trunks:
            trunk.check_shapes()
        names = [o.name for o in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"output names must be unique, got {names}")
        for m, out in enumerate(self.outputs):
            bad = [i for i in out.inputs if i >= self.n_inputs]
            if bad:
                raise ValueError(f"output {out.name!r} reads input(s) {bad} but there are {self.n_inputs} inputs")
            if out.function != "network":
                widths = [self._head_width(i, out, m) for i in out.inputs]
                if len(set(widths)) != 1:
                    raise ValueError(f"output {out.name!r}: {out.function} needs trunk outputs of equal width, "
                                     f"got {widths}")
                if out.n_outputs is not None and out.n_outputs != widths[0]:
                    raise ValueError(f"output {out.name!r}: n_outputs {out.n_outputs} differs from the trunk "
                                     f"output width {widths[0]}")
            if out.track_names is not None and len(out.track_names) != self.output_width(m):
                raise ValueError(f"output {out.name!r}: {len(out.track_names)} track_names for "
                                 f"{self.output_width(m)} outputs")
        return self

    def trunk_config(self, i: int) -> ModelConfig:
        """Config of the trunk that scans input ``i``."""
        return self.trunks[0 if self.shared else i]

    def head_index(self, i: int, out: CombinedOutput, m: int) -> int | None:
        """Head of trunk ``i`` that feeds output ``m`` (``None``: all heads, concatenated)."""
        n_heads = len(self.trunk_config(i).heads)
        if out.trunk_head is not None:
            if out.trunk_head >= n_heads:
                raise ValueError(f"output {out.name!r}: trunk_head {out.trunk_head} but trunk {i} has {n_heads} heads")
            return out.trunk_head
        if n_heads == 1:
            return 0
        if out.function == "network":
            return None
        if m >= n_heads:
            raise ValueError(f"output {out.name!r} (index {m}) has no head of its own in trunk {i} "
                             f"({n_heads} heads); set trunk_head")
        return m

    def _head_width(self, i: int, out: CombinedOutput, m: int) -> int:
        heads = self.trunk_config(i).heads
        h = self.head_index(i, out, m)
        return sum(head.n_outputs for head in heads) if h is None else heads[h].n_outputs

    def output_width(self, m: int) -> int:
        """Number of tracks of output ``m``."""
        out = self.outputs[m]
        if out.function == "network":
            return int(out.n_outputs)  # type: ignore[arg-type]
        return self._head_width(out.inputs[0], out, m)


class _Analytic(nn.Module):
    """Parameter-free combination of one or two trunk outputs."""

    def __init__(self, function: str, eps: float) -> None:
        super().__init__()
        self.function = function
        self.eps = eps

    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:
        if self.function == "direct":
            x = parts[0]
        elif self.function == "difference":
            x = parts[0] - parts[1]
        elif self.function == "ratio":
            x = (torch.relu(parts[0]) + self.eps) / (torch.relu(parts[1]) + self.eps)
        else:
            a, b = torch.relu(parts[0]), torch.relu(parts[1])
            x = a / (a + b + self.eps)
        return x

    def extra_repr(self) -> str:
        return f"function={self.function}"


class _Combiner(nn.Module):
    """Combining network: FC tower on the concatenated trunk outputs, then the output layer."""

    def __init__(self, in_features: int, out: CombinedOutput) -> None:
        super().__init__()
        from drg.models.layers import FCTower, Head

        tower = None
        if out.fc_layers > 0:
            tower = FCTower(in_features, n_layers=out.fc_layers, size=out.fc_size, projection=False, widening=1.0,
                            residual_every=0, activation_name=out.activation, batch_norm=out.batch_norm,
                            dropout=out.dropout)
        self.head = Head(in_features, int(out.n_outputs), tower=tower, batch_norm=out.batch_norm,  # type: ignore[arg-type]
                         output_activation=out.output_activation)

    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return self.head(torch.cat(parts, dim=-1))


class MultiInputModel(nn.Module):
    """Several input sequences -> trunks -> per-modality combination; see the module notes.

    Attributes
    ----------
    config
        The :class:`MultiInputConfig`.
    trunks
        The distinct trunk modules (one when ``shared``).
    n_outputs
        Tracks per output modality.
    output_names
        Track names of all modalities concatenated, or ``None`` when a modality has none.
    """

    def __init__(self, config: MultiInputConfig | dict[str, Any]) -> None:
        super().__init__()
        if not isinstance(config, MultiInputConfig):
            config = MultiInputConfig.from_dict(dict(config))
        self.config = config
        from drg.models.cnn import CNN

        self.trunks = nn.ModuleList()
        with torch.random.fork_rng(devices=[]):
            for i, trunk in enumerate(config.trunks):
                torch.manual_seed(trunk.seed + i)
                self.trunks.append(CNN.from_config(trunk))
            torch.manual_seed(config.seed)
            self.combiners = nn.ModuleList()
            for m, out in enumerate(config.outputs):
                if out.function == "network":
                    width = sum(config._head_width(i, out, m) for i in out.inputs)
                    self.combiners.append(_Combiner(width, out))
                else:
                    self.combiners.append(_Analytic(out.function, out.eps))
        self._log = [(o.log_offset, 1.0 if o.log_base is None else math.log(o.log_base)) for o in config.outputs]
        self.output_head_names = [o.name for o in config.outputs]
        self.n_outputs = [config.output_width(m) for m in range(len(config.outputs))]
        names = [o.track_names for o in config.outputs]
        self.output_names = None if any(n is None for n in names) else [t for n in names for t in n]

    @classmethod
    def from_config(cls, config: MultiInputConfig | dict[str, Any]) -> MultiInputModel:
        """Build the model from a config (same as the constructor)."""
        return cls(config)

    def trunk_for(self, i: int) -> nn.Module:
        """The trunk module that scans input ``i`` (the same object for every input when shared)."""
        return self.trunks[0 if self.config.shared else i]

    def embed(self, X: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor | list[torch.Tensor]]:
        """Trunk outputs, one per input (a list per input for multi-head trunks)."""
        if not isinstance(X, (list, tuple)):
            raise InputError(f"a multi-input model takes a list or tuple of {self.config.n_inputs} tensors, "
                             f"got {type(X).__name__}")
        if len(X) != self.config.n_inputs:
            raise InputError(f"a multi-input model takes {self.config.n_inputs} input tensors (a list or tuple, or "
                             f"separate arguments), got {len(X)}")
        sizes = {int(x.shape[0]) for x in X}
        if len(sizes) != 1:
            raise InputError(f"all inputs need the same batch size, got {sorted(sizes)}")
        return [self.trunk_for(i)(x) for i, x in enumerate(X)]

    def forward(self, *X: Any) -> torch.Tensor | list[torch.Tensor]:
        """``X[i]: (N, 4, L_i)`` -> ``(N, T)`` for one modality, else a list of ``(N, T_m)``.

        The inputs come as one list (``model([a, b])``) or as separate arguments (``model(a, b)``, how the
        attribution methods call a model).
        """
        if len(X) == 1 and isinstance(X[0], (list, tuple)):
            X = tuple(X[0])
        embedded = self.embed(X)
        results = []
        for m, (out, combiner) in enumerate(zip(self.config.outputs, self.combiners)):
            parts = []
            for i in out.inputs:
                value = embedded[i]
                h = self.config.head_index(i, out, m)
                if isinstance(value, (list, tuple)):
                    value = torch.cat(list(value), dim=-1) if h is None else value[h]
                parts.append(value)
            y = combiner(parts)
            offset, scale = self._log[m]
            if offset is not None:
                y = torch.log(offset + y) / scale
            results.append(y)
        return results[0] if len(results) == 1 else results

"""Model summaries: layer table, receptive field, parameter counts and output shapes.

The receptive field is derived analytically from each layer's window arithmetic (kernel, stride, left
padding; see :class:`drg.models.layers.LayerStep`): with ``r`` the field, ``j`` the distance in input
bases between neighbouring positions and ``a`` the first input position read by output position 0,
a layer with effective window ``k``, stride ``s`` and left padding ``p`` gives ``r' = r + (k - 1) j``,
``a' = a - p j``, ``j' = j s``. Output position ``i`` of the last local layer reads the input bases
``[a + i j, a + i j + r)`` (clipped to the sequence).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from drg.errors import InputError


@dataclass(frozen=True)
class LayerRow:
    """One row of the layer table; ``receptive_field`` is ``None`` once every position sees the whole input."""

    name: str
    type: str
    out_channels: int
    out_length: int
    params: int
    receptive_field: int | None


@dataclass
class ModelSummary:
    """What :func:`describe` reports.

    Attributes
    ----------
    receptive_field
        Input bases read by one position of the last layer that keeps positions local (before global
        pooling, attention or flattening).
    rf_jump, rf_offset
        Stride in input bases between neighbouring positions of that layer, and the first input position
        read by its position 0 (negative when it reaches into padding).
    global_context
        True when the outputs see the whole input (flatten, global pooling or attention).
    """

    kind: str
    input_length: int | None
    n_params: int
    n_trainable: int
    n_frozen: int
    output_shapes: list[tuple[int, ...]]
    output_names: list[str] | None
    receptive_field: int | None
    rf_jump: int | None
    rf_offset: int | None
    global_context: bool
    feature_shape: tuple[int, int] | None
    layers: list[LayerRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return asdict(self)

    def table(self) -> Any:
        """The layer table as a :class:`rich.table.Table`."""
        from rich.table import Table

        table = Table(title=f"{self.kind} model, input length {self.input_length}")
        for column in ("layer", "type", "channels", "length", "params", "receptive field"):
            table.add_column(column, justify="left" if column in ("layer", "type") else "right")
        for row in self.layers:
            rf = "whole input" if row.receptive_field is None else str(row.receptive_field)
            table.add_row(row.name, row.type, str(row.out_channels), str(row.out_length), f"{row.params:,}", rf)
        return table

    def text(self) -> str:
        """A plain-text rendering of the summary lines (without the table)."""
        rf = "n/a" if self.receptive_field is None else f"{self.receptive_field} bp"
        lines = [
            f"parameters: {self.n_params:,} ({self.n_trainable:,} trainable, {self.n_frozen:,} frozen)",
            f"receptive field: {rf}" + (" (outputs see the whole input)" if self.global_context else ""),
            "output shapes: " + ", ".join(str(tuple(s)) for s in self.output_shapes),
        ]
        return "\n".join(lines)


def _walk(steps: list[Any]) -> tuple[list[int | None], int | None, int | None, int | None, bool]:
    rf, jump, offset, is_global = 1, 1, 0, False
    fields: list[int | None] = []
    last = (None, None, None)
    for step in steps:
        if step.is_global:
            is_global = True
        if is_global:
            fields.append(None)
            continue
        rf += (step.kernel - 1) * jump
        offset -= step.pad_left * jump
        jump *= step.stride
        fields.append(rf)
        last = (rf, jump, offset)
    return fields, last[0], last[1], last[2], is_global


def _output_shapes(model: Any, length: int | None, channels: int) -> list[tuple[int, ...]]:
    import torch

    if length is None:
        return []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parameter = next(model.parameters(), None)
            X = torch.zeros(1, channels, length,
                            dtype=torch.float32, device=parameter.device if parameter is not None else "cpu")
            out = model(X)
    finally:
        model.train(was_training)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [tuple(o.shape) for o in outs]


def describe(model: Any, input_length: int | None = None) -> ModelSummary:
    """Summarise a model: layer table, receptive field, parameter counts and output shapes.

    Models with a ``steps(input_length)`` method (:class:`drg.models.cnn.CNN`) get the full layer table
    and an analytic receptive field; other modules get parameter counts per top-level child and output
    shapes from one forward pass of zeros (when the input length is known).

    Parameters
    ----------
    model
        A DRG model.
    input_length
        Input length to describe (default: ``model.config.input_length``).

    Returns
    -------
    ModelSummary
    """
    config = getattr(model, "config", None)
    length = input_length or getattr(config, "input_length", None)
    channels = getattr(config, "n_channels", 4)
    params = list(model.parameters())
    n_total = sum(p.numel() for p in params)
    n_trainable = sum(p.numel() for p in params if p.requires_grad)
    rows: list[LayerRow] = []
    rf = jump = offset = None
    is_global = False
    feature_shape = None
    if hasattr(model, "steps"):
        if length is None:
            raise InputError("describe needs input_length for this model")
        steps = model.steps(length)
        fields, rf, jump, offset, is_global = _walk(steps)
        rows = [LayerRow(s.name, s.type, s.out_channels, s.out_length, s.params, f)
                for s, f in zip(steps, fields)]
        first_global = next((i for i, s in enumerate(steps) if s.is_global), len(steps))
        local = steps[:first_global]
        if local:
            feature_shape = (local[-1].out_channels, local[-1].out_length)
    else:
        for name, child in model.named_children():
            rows.append(LayerRow(name, type(child).__name__, 0, 0, sum(p.numel() for p in child.parameters()), None))
    try:
        shapes = _output_shapes(model, length, channels) if not isinstance(channels, (list, tuple)) else []
    except (RuntimeError, TypeError, ValueError, IndexError):  # several inputs: no forward pass
        shapes = []
    return ModelSummary(kind=getattr(config, "kind", type(model).__name__), input_length=length, n_params=n_total,
                        n_trainable=n_trainable, n_frozen=n_total - n_trainable, output_shapes=shapes,
                        output_names=getattr(model, "output_names", None), receptive_field=rf, rf_jump=jump,
                        rf_offset=offset, global_context=is_global, feature_shape=feature_shape, layers=rows)


def receptive_field(model: Any, input_length: int | None = None) -> int:
    """Input bases read by one position of the model's last local layer (see :func:`describe`)."""
    summary = describe_arithmetic(model, input_length)
    if summary[0] is None:
        raise InputError(f"{type(model).__name__} does not report its layer arithmetic (no steps method)")
    return int(summary[0])


def receptive_window(model: Any, position: int, input_length: int | None = None) -> tuple[int, int]:
    """Half-open input interval ``[start, end)`` read by ``position`` of the last local layer.

    The interval is not clipped: it may start below 0 or end past the input length (padding).
    """
    rf, jump, offset = describe_arithmetic(model, input_length)
    if rf is None:
        raise InputError(f"{type(model).__name__} does not report its layer arithmetic (no steps method)")
    start = offset + position * jump
    return start, start + rf


def describe_arithmetic(model: Any, input_length: int | None = None) -> tuple[int | None, int | None, int | None]:
    """``(receptive_field, jump, offset)`` of the last local layer without running the model."""
    if not hasattr(model, "steps"):
        return None, None, None
    length = input_length or model.config.input_length
    _, rf, jump, offset, _ = _walk(model.steps(length))
    return rf, jump, offset


def print_summary(summary: ModelSummary, console: Any = None) -> None:
    """Print the summary lines and the layer table with rich."""
    from rich.console import Console

    console = console or Console()
    console.print(summary.table())
    console.print(summary.text(), highlight=False)

"""Output-track selection for attributions: indices, names, ``"all"``, model heads and averaged track groups.

Every attribution method works on a model whose outputs are exactly the selected tracks. :class:`SelectedOutputs`
wraps any ``torch.nn.Module`` that way (picking one head of a multi-head model and averaging track groups), so the
methods themselves never see heads or groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.utils import open_text

TrackSpec = Any  # None | "all" | int | str | Sequence[int | str] | Mapping[str, Sequence[int | str]]


@dataclass(frozen=True)
class TrackSelection:
    """Resolved track selection.

    Attributes
    ----------
    names
        One name per selected output (a track name, ``"track_<i>"`` when the model has no names, or a group name).
    groups
        For each selected output, the model output columns averaged into it (one column for a plain track).
    n_outputs
        Number of output columns of the (head of the) model.
    """

    names: list[str]
    groups: list[list[int]]
    n_outputs: int

    @property
    def is_plain(self) -> bool:
        """True when every selected output is a single model column (no averaging)."""
        return all(len(g) == 1 for g in self.groups)

    @property
    def indices(self) -> list[int]:
        """The single column of each selected output (only meaningful when :attr:`is_plain`)."""
        return [g[0] for g in self.groups]

    def weights(self) -> np.ndarray:
        """Averaging matrix ``(T_selected, n_outputs)`` float32 such that ``selected = outputs @ weights.T``."""
        w = np.zeros((len(self.groups), self.n_outputs), dtype=np.float32)
        for row, group in enumerate(self.groups):
            w[row, group] = 1.0 / len(group)
        return w


def read_track_groups(path: str | PathLike[str]) -> dict[str, list[str]]:
    """Read a DRG class file: two whitespace-separated columns ``track class`` per line.

    Blank lines and lines starting with ``#`` are skipped. Groups keep the order in which classes first appear,
    and tracks keep file order within a class.

    Parameters
    ----------
    path
        Plain or gzipped text file.

    Returns
    -------
    dict
        ``class name -> list of track names``.

    Raises
    ------
    InputError
        A line without exactly two columns (names the 1-based line), or a track listed twice.
    """
    groups: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split()
            if len(fields) != 2:
                raise InputError(
                    f"expected two columns 'track class', found {len(fields)}", path=path, line=number
                )
            track, group = fields
            if track in seen:
                raise InputError(
                    f"track {track!r} already assigned on line {seen[track]}", path=path, line=number
                )
            seen[track] = number
            groups.setdefault(group, []).append(track)
    if not groups:
        raise InputError("no 'track class' lines found", path=path)
    return groups


def _column(item: Any, n_outputs: int, names: Sequence[str] | None) -> int:
    if isinstance(item, (bool, np.bool_)):
        raise InputError(f"track {item!r} is not an index or a name")
    if isinstance(item, (int, np.integer)):
        index = int(item)
        if not -n_outputs <= index < n_outputs:
            raise InputError(f"track index {index} out of range for a model with {n_outputs} outputs")
        return index % n_outputs
    if isinstance(item, str):
        if names is None:
            raise InputError(f"track {item!r} given by name but the model has no output_names")
        try:
            return list(names).index(item)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(item, list(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown track name {item!r}{hint}") from None
    raise InputError(f"track {item!r} is not an index or a name")


def resolve_tracks(tracks: TrackSpec, n_outputs: int, output_names: Sequence[str] | None = None) -> TrackSelection:
    """Turn a user track specification into a :class:`TrackSelection`.

    Parameters
    ----------
    tracks
        ``None`` or ``"all"`` (every output), an index, a name, a list of indices/names, or a dict
        ``group name -> list of indices/names`` whose outputs are averaged (as DRG's class files).
    n_outputs
        Number of model outputs.
    output_names
        Names of the model outputs (``model.output_names``), or None.

    Returns
    -------
    TrackSelection
    """
    if output_names is not None and len(output_names) != n_outputs:
        output_names = None

    def label(i: int) -> str:
        return str(output_names[i]) if output_names is not None else f"track_{i}"

    if tracks is None or (isinstance(tracks, str) and tracks == "all"):
        cols = list(range(n_outputs))
        return TrackSelection([label(i) for i in cols], [[i] for i in cols], n_outputs)
    if isinstance(tracks, Mapping):
        names, groups = [], []
        for group, members in tracks.items():
            if isinstance(members, (str, int, np.integer)):
                members = [members]
            cols = [_column(m, n_outputs, output_names) for m in members]
            if not cols:
                raise InputError(f"track group {group!r} is empty")
            names.append(str(group))
            groups.append(cols)
        if not groups:
            raise InputError("no track groups given")
        return TrackSelection(names, groups, n_outputs)
    if isinstance(tracks, (int, np.integer, str)):
        tracks = [tracks]
    items = list(np.asarray(tracks).tolist()) if isinstance(tracks, np.ndarray) else list(tracks)
    if not items:
        raise InputError("empty track selection")
    cols = [_column(t, n_outputs, output_names) for t in items]
    return TrackSelection([label(i) for i in cols], [[i] for i in cols], n_outputs)


def _select_head(out: Any, head: int | None) -> Any:
    import torch

    if isinstance(out, (list, tuple)):
        if head is None:
            out = torch.cat([o.reshape(o.shape[0], -1) if o.ndim != 2 else o for o in out], dim=1)
        else:
            if not -len(out) <= head < len(out):
                raise InputError(f"head {head} out of range for a model with {len(out)} heads")
            out = out[head]
    elif head not in (None, 0):
        raise InputError(f"head {head} requested but the model returns a single tensor")
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2:
        raise InputError(f"expected model outputs of shape (N, T), got {tuple(out.shape)}")
    return out


def model_output_names(model: Any, head: int | None = None) -> list[str] | None:
    """``model.output_names`` for the chosen head (a list of lists is indexed by ``head``), or None."""
    names = getattr(model, "output_names", None)
    if names is None:
        return None
    names = list(names)
    if names and isinstance(names[0], (list, tuple)):
        if head is None:
            return [str(n) for sub in names for n in sub]
        return [str(n) for n in names[head]]
    return [str(n) for n in names]


def _make_selected(model: Any, selection: TrackSelection, head: int | None) -> Any:
    import torch

    class SelectedOutputs(torch.nn.Module):
        """``model`` restricted to the selected tracks (one head, groups averaged): ``(N, T_selected)``."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.head = head
            self.plain = selection.is_plain
            self.register_buffer("index", torch.tensor(selection.indices if selection.is_plain else [0]))
            self.register_buffer("weight", torch.from_numpy(selection.weights()))

        def select(self, out: Any) -> torch.Tensor:
            out = _select_head(out, self.head)
            if self.plain:
                return out.index_select(1, self.index)
            return out @ self.weight.to(out.dtype).T

        def forward(self, *xs: torch.Tensor) -> torch.Tensor:
            return self.select(self.model(*xs))

    return SelectedOutputs()


def select_outputs(
    model: Any, tracks: TrackSpec, example: Any, head: int | None = None
) -> tuple[Any, TrackSelection]:
    """Wrap ``model`` so that it returns only the selected tracks.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping ``(N, 4, L)`` (or several such inputs) to ``(N, T)`` or a list of heads.
    tracks
        See :func:`resolve_tracks`.
    example
        One batch of inputs (tensor or list of tensors, on the model's device) used to count the outputs.
    head
        Head index for multi-head models (None concatenates all heads, as DRG does).

    Returns
    -------
    (wrapped model, TrackSelection)
    """
    import torch

    xs = list(example) if isinstance(example, (list, tuple)) else [example]
    with torch.no_grad():
        out = _select_head(model(*xs), head)
    n_outputs = int(out.shape[1])
    selection = resolve_tracks(tracks, n_outputs, model_output_names(model, head))
    wrapped = _make_selected(model, selection, head).to(out.device)
    return wrapped, selection

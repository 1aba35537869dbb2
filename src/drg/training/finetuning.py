"""Fine-tuning: load all or part of a checkpoint into a model, subset output tracks, freeze layers, continue.

:func:`load_partial` copies parameters from a checkpoint into a (possibly different) model: names are
filtered with ``include``/``exclude`` patterns and renamed by prefix; output-layer rows can be subset to the
tracks kept; parameters whose shapes still differ (a new head for new tracks) stay freshly initialised and
are reported. :func:`freeze` stops training of parameters matching patterns. :func:`finetune` is
:func:`drg.training.fit` with a required ``finetune`` section.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike

__all__ = ["LoadReport", "load_partial", "freeze", "track_indices", "finetune"]


class LoadReport(NamedTuple):
    """What :func:`load_partial` did.

    Attributes
    ----------
    loaded
        Model parameter names that received checkpoint values.
    subset
        Names among ``loaded`` whose output rows were subset to the kept tracks.
    skipped
        Checkpoint names not loaded, with the reason (excluded, no such parameter, shape).
    missing
        Model parameter names left as initialised.
    """

    loaded: list[str]
    subset: list[str]
    skipped: dict[str, str]
    missing: list[str]


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _rename(name: str, rename: Mapping[str, str]) -> str:
    for old, new in rename.items():
        if name.startswith(old):
            return new + name[len(old):]
    return name


def track_indices(tracks: Sequence[str | int], available: Sequence[str] | None, n_tracks: int) -> list[int]:
    """Positions of ``tracks`` (names or indices) among ``available`` track names (``n_tracks`` of them)."""
    lookup = {str(t): i for i, t in enumerate(available or [])}
    out = []
    for item in tracks:
        if isinstance(item, int) and not isinstance(item, bool):
            if not -n_tracks <= item < n_tracks:
                raise InputError(f"track index {item} out of range for {n_tracks} checkpoint tracks")
            out.append(item % n_tracks)
        elif str(item) in lookup:
            out.append(lookup[str(item)])
        else:
            shown = ", ".join(list(lookup)[:10]) or "no names recorded"
            raise InputError(f"track {item!r} is not an output of the checkpoint (tracks: {shown})")
    return out


def _source_tracks(path: PathLike | None) -> list[list[str]]:
    """Track names per head of a checkpoint (outputs.json, else the model config's heads)."""
    if path is None:
        return []
    from drg.training.checkpoint import find_checkpoint, read_outputs

    outputs = read_outputs(path)
    if outputs.get("tracks"):
        return [list(map(str, t)) for t in outputs["tracks"]]
    config = find_checkpoint(path) / "config.yaml"
    if config.exists():
        import yaml

        raw = yaml.safe_load(config.read_text()) or {}
        heads = raw.get("heads") or []
        return [list(h.get("track_names") or [f"track_{i}" for i in range(h.get("n_outputs", 1))]) for h in heads]
    return []


def load_partial(
    model: Any,
    source: PathLike | Mapping[str, Any],
    *,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
    keep_tracks: Sequence[str | int] | Mapping[int, Sequence[str | int]] | None = None,
    verbose: bool = False,
) -> LoadReport:
    """Copy matching parameters of a checkpoint into ``model`` in place.

    Parameters
    ----------
    model
        Target ``torch.nn.Module``.
    source
        Checkpoint or run directory (``weights.safetensors``), or a state dict.
    include, exclude
        ``fnmatch`` patterns on (renamed) parameter names: a tensor is loaded when it matches an
        ``include`` pattern and no ``exclude`` pattern.
    rename
        Prefix mapping old -> new applied to checkpoint names first (``{"heads.0.": "heads.1."}``).
    keep_tracks
        Output tracks to keep (names need ``outputs.json`` or track names in the checkpoint's config):
        a list applies to the first head, ``{head: [...]}`` to head ``head``. The output layer of a head is
        the last layer (in state-dict order, within names containing ``.<head>.`` for the mapping form)
        whose tensors have one row per checkpoint track; its weight and bias get the kept rows, in the
        given order (this also reorders tracks).
    verbose
        Print a one-line summary.

    Returns
    -------
    LoadReport
        Loaded, subset, skipped (with reasons) and missing names. A checkpoint tensor whose shape does not
        fit is skipped with a :class:`~drg.errors.DRGWarning` listing how many and the first names.
    """
    import torch

    rename = dict(rename or {})
    path = None
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        from drg.training.checkpoint import load_weights

        path = source
        state = load_weights(source)
    target = model.state_dict()
    heads_tracks = _source_tracks(path)
    subsets: list[tuple[int | None, int, list[int]]] = []  # (head, n_source, rows)
    if keep_tracks is not None:
        items = keep_tracks.items() if isinstance(keep_tracks, Mapping) else [(None, keep_tracks)]
        for head, tracks in items:
            h = 0 if head is None else int(head)
            names = heads_tracks[h] if h < len(heads_tracks) else None
            n_source = len(names) if names else None
            if n_source is None:
                if any(isinstance(t, str) for t in tracks):
                    raise InputError("the checkpoint records no track names; give keep_tracks as indices")
                n_source = 1 + max(int(t) for t in tracks)
            subsets.append((None if head is None else h, n_source, track_indices(tracks, names, n_source)))
    row_select: dict[str, list[int]] = {}
    for head, n_source, rows in subsets:
        candidates = [k for k, v in state.items() if v.ndim >= 1 and v.shape[0] == n_source
                      and (head is None or f".{head}." in f".{k}")]
        if not candidates:
            raise InputError(f"no output layer with {n_source} rows found in the checkpoint for keep_tracks")
        layer = candidates[-1].rsplit(".", 1)[0]
        for k in candidates:
            if k.rsplit(".", 1)[0] == layer:
                row_select[k] = rows
    loaded, subset, skipped = [], [], {}
    new_state = {}
    for old_name, value in state.items():
        name = _rename(old_name, rename)
        if not _matches(name, include) or _matches(name, exclude):
            skipped[old_name] = "excluded by include/exclude patterns"
            continue
        if name not in target:
            skipped[old_name] = f"the model has no parameter {name!r}"
            continue
        want = tuple(target[name].shape)
        if old_name in row_select:
            value = value[torch.as_tensor(row_select[old_name], dtype=torch.long)]
            subset.append(name)
        if tuple(value.shape) != want:
            skipped[old_name] = f"shape {tuple(value.shape)} does not fit the model's {want}"
            continue
        new_state[name] = value.to(dtype=target[name].dtype)
        loaded.append(name)
    model.load_state_dict(new_state, strict=False)
    missing = [n for n in target if n not in new_state]
    shape_skips = [n for n, why in skipped.items() if why.startswith("shape")]
    if shape_skips:
        warnings.warn(f"{len(shape_skips)} checkpoint tensor(s) do not fit the model and stay freshly initialised "
                      f"(first: {shape_skips[:5]})", DRGWarning, stacklevel=2)
    if not loaded:
        raise InputError("no checkpoint parameter matched the model; check include/exclude/rename patterns",
                         path=None if path is None else str(path))
    if verbose:
        print(f"loaded {len(loaded)} tensors ({len(subset)} subset to kept tracks), {len(skipped)} skipped, "
              f"{len(missing)} left initialised")
    return LoadReport(loaded, subset, skipped, missing)


def freeze(model: Any, patterns: Sequence[str]) -> list[str]:
    """Set ``requires_grad=False`` on parameters whose names match any ``fnmatch`` pattern; return them.

    Raises :class:`InputError` when a pattern matches no parameter (a typo would otherwise train everything).
    """
    frozen = []
    for pattern in patterns:
        hits = [n for n, _ in model.named_parameters() if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            names = [n for n, _ in model.named_parameters()][:8]
            raise InputError(f"freeze pattern {pattern!r} matches no parameter (names look like {names})")
        frozen.extend(hits)
    chosen = set(frozen)
    for name, param in model.named_parameters():
        if name in chosen:
            param.requires_grad_(False)
    return sorted(chosen)


def finetune(config: Any, **kwargs: Any) -> Any:
    """Fine-tune a checkpoint: :func:`drg.training.fit` with a ``finetune`` section (required here).

    Parameters
    ----------
    config
        :class:`~drg.training.config.TrainConfig`, mapping or YAML path with ``finetune.checkpoint`` set.
    **kwargs
        Passed to :func:`drg.training.fit` (``out_dir``, ``verbose``, ...).

    Returns
    -------
    FitResult
    """
    from drg.training.fitting import as_config, fit

    cfg = as_config(config)
    if cfg.finetune is None:
        raise InputError("finetune needs a 'finetune' section with at least 'checkpoint'")
    return fit(cfg, **kwargs)

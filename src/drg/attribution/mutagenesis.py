"""Exact in-silico saturation mutagenesis (ISM).

Every true single-base substitution (the three alternative bases at every position of a window; all four at
positions that are not a clean one-hot column) is predicted, batched across sequences; identity edits are skipped
and their effect is exactly 0. For one-input convolutional models the edits are computed with
:class:`drg.attribution._receptive.ReceptiveFieldISM`, which recomputes only the receptive field of each edit; the
fast path is checked against full forward passes on edits at both ends of the window before it is used, and any
model it cannot handle (multi-input, attention, strided convolutions, custom layers, ...) falls back to batched
full forward passes of the edited sequences.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from drg.errors import DRGWarning, InputError
from drg.utils import progress


def _edits(x: Any, start: int, end: int) -> tuple[Any, Any, Any]:
    """True edits of ``x`` ``(N, 4, L)`` in ``[start, end)``: (sequence, base, position) index tensors."""
    import torch

    window = x[:, :, start:end]
    identity = (window == 1) & (window.sum(1, keepdim=True) == 1)
    seq, base, pos = torch.nonzero(~identity, as_tuple=True)
    return seq, base, pos + start


def _edited(x: Any, seq: Any, base: Any, pos: Any) -> Any:
    import torch

    xe = x[seq].clone()
    rows = torch.arange(seq.shape[0])
    xe[rows, :, pos] = 0
    xe[rows, base, pos] = 1
    return xe


def _window(start: int, end: int | None, length: int) -> tuple[int, int]:
    if end is None:
        end = length
    if end < 0:
        end = length + end
    if not 0 <= start < end <= length:
        raise InputError(f"ISM window [{start}, {end}) is not inside a sequence of length {length}")
    return start, end


def _brute_force(
    wrapped: Any, xs: list[Any], k: int, seq: Any, base: Any, pos: Any, device: Any
) -> Any:
    """Selected outputs of full forward passes on edited copies of input ``k`` (others unchanged)."""
    inputs = [x[seq] for x in xs]
    inputs[k] = _edited(xs[k], seq, base, pos)
    return wrapped(*[t.to(device) for t in inputs])


def saturation_mutagenesis(
    model: Any,
    X: Any,
    tracks: Any = None,
    *,
    head: int | None = None,
    start: int = 0,
    end: int | None = None,
    batch_size: int | None = None,
    device: Any = None,
    fast: bool | None = None,
    verbose: bool = False,
) -> np.ndarray | list[np.ndarray]:
    """Exact ISM deltas ``f(x with base b at l) - f(x)`` for the selected tracks.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` (or a list of inputs) to ``(N, T)`` or a list of heads.
    X
        ``(N, 4, L)`` one-hot sequences (numpy or torch), or a list of them for multi-input models (each input is
        mutated in turn while the others stay at their reference).
    tracks
        Track selection (see :func:`drg.attribution.tracks.resolve_tracks`); averaged groups are supported.
    head
        Head index for multi-head models.
    start, end
        Window of positions to mutate, 0-based half-open (``end=None``: to the end; negative counts from the end).
        Positions outside the window get 0.
    batch_size
        Edited sequences per model call (default 128).
    device
        Torch device (None: CUDA if available, else CPU).
    fast
        None: use the receptive-field path when the model supports it; True: the same but warn when it cannot be
        used; False: always run full forward passes.
    verbose
        Show a progress bar.

    Returns
    -------
    np.ndarray or list
        Float32 ``(N, T, 4, L)`` (one per input for multi-input models); exactly 0 at the reference base.
    """
    import torch

    from drg.attribution._receptive import ReceptiveFieldISM, Unsupported
    from drg.attribution.gradients import as_input_list, inference_state, resolve_device
    from drg.attribution.tracks import select_outputs

    xs, multi = as_input_list(X)
    device = resolve_device(device)
    n = xs[0].shape[0]
    results = []
    with inference_state(model, device):
        wrapped, selection = select_outputs(model, tracks, [x[:1].to(device) for x in xs], head)
        n_tracks = len(selection.names)
        engine = None
        reason = "the model has several inputs" if multi else None
        if fast is not False and not multi:
            try:
                engine = ReceptiveFieldISM(model)
            except Unsupported as err:
                reason = str(err)
        if engine is None and fast and reason:
            warnings.warn(f"ISM uses full forward passes because {reason}", DRGWarning, stacklevel=2)
        with torch.no_grad():
            y0 = torch.cat(
                [
                    wrapped(*[x[s : s + 256].to(device) for x in xs]).float().cpu()
                    for s in range(0, n, 256)
                ]
            )
        for k, x in enumerate(xs):
            length = x.shape[-1]
            lo, hi = _window(start, end, length)
            out = np.zeros((n, n_tracks, x.shape[1], length), dtype=np.float32)
            per_seq = max(1, 3 * (hi - lo))
            if engine is not None:
                # Edits per receptive-field pass: small batches keep the windowed activations in cache
                # (on RefCNN, 128 edits run ~1.8x faster than 1024).
                bs = batch_size or 128
                seq_chunk = max(1, min(n, 16, (4 * bs) // per_seq))
            else:
                bs = batch_size or 128
                seq_chunk = max(1, min(n, bs // per_seq))
            starts = list(range(0, n, seq_chunk))
            checked = engine is None
            for s0 in progress(starts, total=len(starts), description="ISM", verbose=verbose):
                xc = x[s0 : s0 + seq_chunk]
                seq, base, pos = _edits(xc, lo, hi)
                if engine is not None:
                    engine.prepare(xc.to(device))
                    if not checked:
                        checked = True
                        reason = _verify(engine, wrapped, xc, seq, base, pos, device)
                        if reason is not None:
                            if fast:
                                warnings.warn(f"ISM uses full forward passes because {reason}", DRGWarning,
                                              stacklevel=2)
                            engine = None
                with torch.no_grad():
                    for e0 in range(0, seq.shape[0], bs):
                        sq, bb, pp = seq[e0 : e0 + bs], base[e0 : e0 + bs], pos[e0 : e0 + bs]
                        if engine is not None:
                            y = wrapped.select(engine.predict_edits(sq.to(device), pp.to(device), bb.to(device)))
                        else:
                            shifted = [t[s0 : s0 + seq_chunk] for t in xs]
                            y = _brute_force(wrapped, shifted, k, sq, bb, pp, device)
                        delta = y.float().cpu() - y0[s0 + sq]
                        out[(s0 + sq).numpy(), :, bb.numpy(), pp.numpy()] = delta.numpy()
            results.append(out)
    return results if multi else results[0]


def _verify(engine: Any, wrapped: Any, xc: Any, seq: Any, base: Any, pos: Any, device: Any) -> str | None:
    """Compare the fast path with full forward passes on edits at both ends and across the window."""
    import torch

    first = seq == seq[0]
    idx = torch.nonzero(first, as_tuple=True)[0]
    p = pos[idx]
    edge = idx[(p == p.min()) | (p == p.max())]
    spread = idx[torch.linspace(0, idx.shape[0] - 1, min(32, idx.shape[0])).round().long()]
    keep = torch.unique(torch.cat([edge, spread]))
    sq, bb, pp = seq[keep], base[keep], pos[keep]
    with torch.no_grad():
        try:
            fast = wrapped.select(engine.predict_edits(sq.to(device), pp.to(device), bb.to(device))).float().cpu()
        except Exception as err:  # noqa: BLE001 - any failure of the traced path means: do not use it
            return f"the receptive-field path failed ({type(err).__name__}: {err})"
        slow = _brute_force(wrapped, [xc], 0, sq, bb, pp, device).float().cpu()
    if fast.shape != slow.shape:
        return "the receptive-field path returned a different shape"
    err = float((fast - slow).abs().max())
    scale = max(1.0, float(slow.abs().max()))
    if not err <= 1e-4 * scale:
        return f"the receptive-field path differed from full passes by {err:.3g}"
    return None

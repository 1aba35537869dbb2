"""One entry point for every attribution method, and the DRG-style ``takegrad`` / ``ism`` / ``deepliftshap``."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Literal

import numpy as np

from drg.errors import InputError

Method = Literal["gradient", "tism", "ism", "deeplift_shap", "integrated_gradients", "smoothgrad"]
METHODS: tuple[str, ...] = ("gradient", "tism", "ism", "deeplift_shap", "integrated_gradients", "smoothgrad")
_GRADIENT_GAUGES = ("local", "global", "hypothetical", "corrected", "input", "tism", "raw")
_DELTA_GAUGES = ("raw", "local", "corrected", "hypothetical", "global", "input")
_EXTERNAL = {
    "deeplift_shap": ("drg.attribution.deeplift", "deeplift_shap"),
    "integrated_gradients": ("drg.attribution.integrated", "integrated_gradients"),
    "smoothgrad": ("drg.attribution.integrated", "smoothgrad"),
}


def _numpy_inputs(X: Any) -> list[np.ndarray]:
    from drg.attribution.gradients import as_input_list

    xs, _ = as_input_list(X)
    return [x.numpy() for x in xs]


def attribute(
    model: Any,
    X: Any,
    method: Method,
    tracks: Any = None,
    gauge: str = "hypothetical",
    baseline: Any = None,
    batch_size: int | None = None,
    device: Any = None,
    *,
    head: int | None = None,
    start: int = 0,
    end: int | None = None,
    fast: bool | None = None,
    verbose: bool = False,
    **kwargs: Any,
) -> np.ndarray | list[np.ndarray]:
    """Attributions of the selected tracks to every base of every position.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` (or a list of inputs) to ``(N, T)`` or a list of heads.
    X
        ``(N, 4, L)`` one-hot sequences, numpy or torch (a list of them for multi-input models).
    method
        ``gradient`` (input gradients), ``tism`` (first-order ISM from gradients, Sasse et al. 2023), ``ism`` (exact
        in-silico saturation mutagenesis), ``deeplift_shap``, ``integrated_gradients`` or ``smoothgrad``.
    tracks
        None or ``"all"``, an index, a name (``model.output_names``), a list of them, or a dict
        ``group -> tracks`` whose outputs are averaged (see :func:`drg.attribution.tracks.read_track_groups`).
    gauge
        For ``gradient``: ``local`` (m), ``global`` (m * (x - b)), ``hypothetical`` (m(j) - sum_i b(i) m(i)),
        ``corrected`` (mean over bases removed), ``input`` (gradient x input) or ``tism``.
        For ``tism`` and ``ism``: ``raw`` (deltas, 0 at the reference base), ``corrected`` (mean-centred at every
        position), ``hypothetical`` (sum_i b(i) d(i) removed), ``global`` or ``input``.
        The other methods document their own gauges.
    baseline
        Background ``b`` for the gauges: ``(4,)``, ``(4, L)`` or ``(N, 4, L)``; None = uniform 0.25. For
        ``deeplift_shap``/``integrated_gradients`` the reference, as those functions document.
    batch_size
        Sequences per forward pass (ISM: edited sequences per model call); None = a method-specific default.
    device
        Torch device (None: CUDA if available, else CPU).
    head
        Head index for multi-head models (None concatenates the heads' outputs).
    start, end
        ISM window (0-based half-open); other methods ignore them.
    fast
        ISM only: see :func:`drg.attribution.mutagenesis.saturation_mutagenesis`.
    verbose
        Show a progress bar.
    **kwargs
        Passed to the DeepLIFT/IG/SmoothGrad implementations (e.g. number of references, steps or samples).

    Returns
    -------
    np.ndarray or list
        Float32 ``(N, T, 4, L)`` for the T selected tracks (one array per input for multi-input models).
    """
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; expected one of {', '.join(METHODS)}")
    if method in ("gradient", "tism") and gauge not in _GRADIENT_GAUGES:
        raise InputError(f"gauge {gauge!r} is not available for {method}; expected one of {_GRADIENT_GAUGES}")
    if method == "ism" and gauge not in _DELTA_GAUGES:
        raise InputError(f"gauge {gauge!r} is not available for ism; expected one of {_DELTA_GAUGES}")
    if kwargs and method in ("gradient", "tism", "ism"):
        raise InputError(f"unexpected arguments for {method}: {', '.join(sorted(kwargs))}")
    from drg.attribution.gauges import apply_delta_gauge, apply_gauge

    multi = isinstance(X, (list, tuple))
    if method in ("gradient", "tism"):
        from drg.attribution.gradients import input_gradients

        grads = input_gradients(
            model, X, tracks, head=head, batch_size=batch_size or 32, device=device, verbose=verbose
        )
        grads = grads if multi else [grads]
        out = []
        for g, x in zip(grads, _numpy_inputs(X)):
            if method == "gradient":
                out.append(apply_gauge(g, x, "local" if gauge == "raw" else gauge, baseline))
            else:
                out.append(apply_delta_gauge(apply_gauge(g, x, "tism"), x, gauge, baseline))
        return out if multi else out[0]
    if method == "ism":
        from drg.attribution.mutagenesis import saturation_mutagenesis

        deltas = saturation_mutagenesis(
            model, X, tracks, head=head, start=start, end=end, batch_size=batch_size, device=device,
            fast=fast, verbose=verbose,
        )
        deltas = deltas if multi else [deltas]
        out = [apply_delta_gauge(d, x, gauge, baseline) for d, x in zip(deltas, _numpy_inputs(X))]
        return out if multi else out[0]
    return _external(method, model, X, tracks, gauge, baseline, batch_size, device, head, verbose, kwargs)


def _external(
    method: str, model: Any, X: Any, tracks: Any, gauge: str, baseline: Any, batch_size: int | None,
    device: Any, head: int | None, verbose: bool, kwargs: dict[str, Any],
) -> np.ndarray | list[np.ndarray]:
    """Run a reference-based method on the model restricted to the selected tracks."""
    from drg.attribution.gradients import as_input_list, inference_state, resolve_device
    from drg.attribution.tracks import select_outputs

    module, name = _EXTERNAL[method]
    fn = getattr(import_module(module), name)
    xs, multi = as_input_list(X)
    device = resolve_device(device)
    with inference_state(model, device):
        wrapped, selection = select_outputs(model, tracks, [x[:1].to(device) for x in xs], head)
        extra = {"batch_size": batch_size} if batch_size is not None else {}
        return fn(
            wrapped, xs if multi else xs[0], list(range(len(selection.names))), gauge=gauge, baseline=baseline,
            device=device, verbose=verbose, **extra, **kwargs,
        )


def takegrad(
    x: Any,
    model: Any,
    tracks: Any = None,
    output: str = "corrected",
    device: Any = None,
    baseline: Any = None,
    *,
    head: int | None = None,
    batch_size: int = 32,
) -> np.ndarray:
    """Gradient attributions in DRG's ``takegrad`` form.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot sequences (numpy or torch).
    model
        ``torch.nn.Module`` returning ``(N, T)`` (or a list of heads, concatenated unless ``head`` is given).
    tracks
        Output columns (None: all), names or averaged groups.
    output
        ``local``, ``global``, ``corrected``, ``hypothetical`` or ``tism``.
    device
        Torch device; None = CUDA when available, else CPU.
    baseline
        Background for ``global``/``hypothetical``: ``(4,)``, ``(4, L)`` or ``(N, 4, L)``; None = uniform.
    head
        Head index for multi-head models.
    batch_size
        Sequences per forward pass.

    Returns
    -------
    np.ndarray
        ``(N, T, 4, L)`` float32.
    """
    if output == "tism":
        return attribute(model, x, "tism", tracks, "raw", baseline, batch_size, device, head=head)
    return attribute(model, x, "gradient", tracks, output, baseline, batch_size, device, head=head)


def ism(
    x: Any,
    model: Any,
    tracks: Any = None,
    output: str = "raw",
    device: Any = None,
    baseline: Any = None,
    *,
    start: int = 0,
    end: int | None = None,
    head: int | None = None,
    batch_size: int | None = None,
    fast: bool | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """Exact ISM in DRG's call form: ``f(x with base b at l) - f(x)`` for every position and base.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot sequences.
    model
        ``torch.nn.Module``.
    tracks
        Track selection as in :func:`attribute`.
    output
        ``raw`` (deltas, 0 at the reference base), ``corrected`` (mean over bases removed), ``hypothetical``,
        ``global`` or ``input``.
    device, baseline, start, end, head, batch_size, fast, verbose
        As in :func:`attribute`.

    Returns
    -------
    np.ndarray
        ``(N, T, 4, L)`` float32.
    """
    return attribute(
        model, x, "ism", tracks, output, baseline, batch_size, device, head=head, start=start, end=end,
        fast=fast, verbose=verbose,
    )


def deepliftshap(
    x: Any,
    model: Any,
    tracks: Any = None,
    output: str = "hypothetical",
    device: Any = None,
    baseline: Any = None,
    *,
    head: int | None = None,
    batch_size: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """DeepLIFT-SHAP attributions in DRG's call form (see :func:`drg.attribution.deeplift_shap`).

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot sequences.
    model
        ``torch.nn.Module``.
    tracks
        Track selection as in :func:`attribute`.
    output
        Gauge passed on to the DeepLIFT-SHAP implementation.
    device, baseline, head, batch_size
        As in :func:`attribute`.
    **kwargs
        Passed to the DeepLIFT-SHAP implementation.

    Returns
    -------
    np.ndarray
        ``(N, T, 4, L)`` float32.
    """
    return attribute(
        model, x, "deeplift_shap", tracks, output, baseline, batch_size, device, head=head, **kwargs
    )

"""Gauges of gradient-type attributions (the multipliers ``m`` of a local linear model of the network).

With ``m`` of shape ``(N, T, 4, L)``, one-hot ``X`` of shape ``(N, 4, L)`` and a background ``b``:

- ``local``: ``m`` as is;
- ``global``: ``m * (X - b)`` (uniform ``b = 0.25`` by default, as DRG's ``takegrad``);
- ``hypothetical``: ``m(j) - sum_i b(i) m(i)`` at every position (uniform ``b`` by default);
- ``corrected``: ``m`` minus its mean over the four bases at every position (Majdandzic et al. 2023), identical to
  ``hypothetical`` with the uniform background;
- ``input``: gradient x input, ``m * X``;
- ``tism``: ``m(j) - m(ref)``, the first-order estimate of the ISM effect of substituting base ``j`` (Sasse et al.
  2023); ``raw`` is the same for gradients (and the identity for ISM deltas).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from drg.errors import InputError

Gauge = Literal["local", "global", "hypothetical", "corrected", "input", "tism", "raw"]
GAUGES: tuple[str, ...] = ("local", "global", "hypothetical", "corrected", "input", "tism", "raw")


def expand_baseline(baseline: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """Background frequencies broadcastable against ``X`` of shape ``(N, 4, L)``.

    Parameters
    ----------
    baseline
        None (uniform 0.25), ``(4,)``, ``(4, L)`` or ``(N, 4, L)``.
    X
        ``(N, 4, L)`` sequences.

    Returns
    -------
    np.ndarray
        Float32 array of shape ``(1, 4, 1)``, ``(1, 4, L)`` or ``(N, 4, L)``.
    """
    n, c, length = X.shape
    if baseline is None:
        return np.full((1, c, 1), 1.0 / c, dtype=np.float32)
    if hasattr(baseline, "detach"):
        baseline = baseline.detach().cpu().numpy()
    b = np.asarray(baseline, dtype=np.float32)
    if b.shape == (c,):
        return b.reshape(1, c, 1)
    if b.shape == (c, length):
        return b[None]
    if b.shape == (n, c, length):
        return b
    raise InputError(
        f"baseline of shape {b.shape} does not fit sequences of shape {X.shape}; "
        f"expected ({c},), ({c}, {length}) or ({n}, {c}, {length})"
    )


def apply_gauge(
    m: np.ndarray, X: np.ndarray, gauge: str, baseline: np.ndarray | None = None
) -> np.ndarray:
    """Express gradient-type multipliers in a gauge.

    Parameters
    ----------
    m
        ``(N, T, 4, L)`` multipliers (gradients), float.
    X
        ``(N, 4, L)`` one-hot sequences the multipliers were taken at.
    gauge
        One of ``local``, ``global``, ``hypothetical``, ``corrected``, ``input``, ``tism``, ``raw`` (module docs).
    baseline
        Background ``b`` for ``global`` and ``hypothetical``: ``(4,)``, ``(4, L)`` or ``(N, 4, L)``; None = uniform.

    Returns
    -------
    np.ndarray
        ``(N, T, 4, L)`` float32.
    """
    m = np.asarray(m, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    if m.ndim != 4 or X.ndim != 3 or m.shape[0] != X.shape[0] or m.shape[2:] != X.shape[1:]:
        raise InputError(f"multipliers of shape {m.shape} do not match sequences of shape {X.shape}")
    if gauge == "local":
        return m
    if gauge == "corrected":
        return m - m.mean(axis=2, keepdims=True)
    if gauge == "hypothetical":
        b = expand_baseline(baseline, X)
        return m - (m * b[:, None]).sum(axis=2, keepdims=True)
    if gauge == "global":
        b = expand_baseline(baseline, X)
        return m * (X - b)[:, None]
    if gauge == "input":
        return m * X[:, None]
    if gauge in ("tism", "raw"):
        return m - (m * X[:, None]).sum(axis=2, keepdims=True)
    raise InputError(f"unknown gauge {gauge!r}; expected one of {', '.join(GAUGES)}")


def apply_delta_gauge(
    d: np.ndarray, X: np.ndarray, gauge: str, baseline: np.ndarray | None = None
) -> np.ndarray:
    """Express substitution effects (ISM or TISM deltas, 0 at the reference base) in a gauge.

    ``raw`` and ``local`` return the deltas; ``corrected`` removes the mean over bases at every position;
    ``hypothetical`` subtracts ``sum_i b(i) d(i)``; ``global`` multiplies by ``X - b``; ``input`` by ``X``.

    Parameters
    ----------
    d
        ``(N, T, 4, L)`` deltas.
    X
        ``(N, 4, L)`` sequences.
    gauge
        Gauge name.
    baseline
        Background for ``hypothetical``/``global`` (see :func:`expand_baseline`).

    Returns
    -------
    np.ndarray
        ``(N, T, 4, L)`` float32.
    """
    if gauge in ("raw", "local", "tism"):
        return np.asarray(d, dtype=np.float32)
    return apply_gauge(d, X, gauge, baseline)

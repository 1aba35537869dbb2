"""Integrated gradients, expected gradients and SmoothGrad.

All three average input gradients over points sampled around or along a path to each sequence:

- integrated gradients (Sundararajan et al. 2017): the gradient averaged along the straight path from a
  baseline ``x0`` to ``x`` with the trapezoid rule; ``(x - x0) * mean gradient`` sums to ``f(x) - f(x0)``
  up to the discretisation error (checked, with a warning);
- expected gradients (Erion et al. 2021): baselines drawn from dinucleotide shuffles and the position on the
  path drawn uniformly, one gradient per sample;
- SmoothGrad (Smilkov et al. 2017): the gradient averaged over copies of ``x`` with Gaussian noise.

One forward pass per batch is shared by all selected tracks (one backward pass per track).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from drg.attribution.deeplift import (
    GAUGES,
    _as_tensor,
    _check_convergence,
    _inference_state,
    _model_device,
    _resolve_tracks,
    _select_output,
    make_references,
)
from drg.errors import InputError


def _baseline(X, baseline: Any, seed: int | None) -> np.ndarray:
    """One baseline per sequence, ``(N, 4, L)`` float32 (``None`` is the all-zero baseline)."""
    if baseline is None:
        baseline = "zero"
    if isinstance(baseline, str):
        if baseline not in ("zero", "uniform", "shuffle"):
            raise InputError(f"baseline must be 'zero', 'uniform', 'shuffle' or an array, got {baseline!r}")
        return make_references(X, baseline, 1, seed)[:, 0]
    B = np.asarray(baseline.detach().cpu() if hasattr(baseline, "detach") else baseline, dtype=np.float32)
    N, _, L = X.shape
    if B.ndim == 2:
        B = B[None]
    if B.ndim != 3 or B.shape[1:] != (4, L) or B.shape[0] not in (1, N):
        raise InputError(f"baseline must have shape (4, L) or (N, 4, L) with N={N}, L={L}; got {B.shape}")
    return np.array(np.broadcast_to(B, (N, 4, L)), dtype=np.float32)


def _sampled_gradients(
    model: Any,
    X,
    tracks: Sequence[int] | int | None,
    n_points: int,
    make_points: Callable[[np.ndarray], tuple[Any, Any]],
    *,
    batch_size: int,
    device: Any,
    head: int | None,
    verbose: bool,
    description: str,
    keep_outputs: bool = False,
):
    """Weighted sums of gradients over ``n_points`` points per sequence.

    ``make_points(seq_indices)`` returns ``(points (b * n_points, 4, L), weights (b * n_points,))`` for
    sequences ``seq_indices``, rows grouped by sequence. Returns ``(sums (N, T, 4, L), outputs)`` where
    ``outputs`` is ``(N, n_points, T)`` model outputs at the points when ``keep_outputs`` else ``None``.
    """
    import torch

    from drg.utils import progress

    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    N, _, L = X.shape
    dev = _model_device(model, device)
    per_batch = max(1, batch_size // n_points)
    starts = range(0, N, per_batch)
    sums = outputs = cols = None
    with _inference_state(model, dev), torch.enable_grad():
        for s0 in progress(starts, total=len(starts), description=description, verbose=verbose):
            seqs = np.arange(s0, min(s0 + per_batch, N))
            points, weights = make_points(seqs)
            points = torch.as_tensor(points, dtype=torch.float32)
            weights = torch.as_tensor(weights, dtype=torch.float32)
            for r0 in range(0, len(points), batch_size):
                p = points[r0:r0 + batch_size].to(dev).requires_grad_(True)
                w = weights[r0:r0 + batch_size].to(dev)
                rows = np.arange(r0, r0 + len(p))
                owner = seqs[rows // n_points]
                y = _select_output(model(p), head)
                if cols is None:
                    cols = _resolve_tracks(tracks, y.shape[1])
                    sums = np.zeros((N, len(cols), 4, L), dtype=np.float64)
                    if keep_outputs:
                        outputs = np.zeros((N, n_points, len(cols)), dtype=np.float64)
                y = y[:, cols]
                if keep_outputs:
                    outputs[owner, rows % n_points] = y.detach().double().cpu().numpy()
                for t in range(len(cols)):
                    (g,) = torch.autograd.grad(y[:, t].sum(), p, retain_graph=t < len(cols) - 1)
                    g = (g * w[:, None, None]).double().cpu().numpy()
                    for s in np.unique(owner):
                        sums[s, t] += g[owner == s].sum(axis=0)
    return sums, outputs


def _check_gauge(gauge: str, method: str) -> None:
    if gauge not in GAUGES:
        raise InputError(f"gauge {gauge!r} is not available for {method}; expected one of {', '.join(GAUGES)}")


def _project(mean_grad: np.ndarray, X: np.ndarray, x0: np.ndarray, gauge: str) -> np.ndarray:
    """Report path-mean gradients ``g`` (N, T, 4, L) against baselines ``x0`` (N, 4, L) in ``gauge``.

    ``global``: ``(x - x0) * g``; ``hypothetical``: ``g(b) - sum_c g(c) x0(c)``; ``input``: hypothetical
    times ``X``; ``local``: ``g``; ``corrected``: ``g`` minus its mean over bases.
    """
    x0 = x0[:, None]
    if gauge == "global":
        out = mean_grad * (X[:, None] - x0)
    elif gauge in ("hypothetical", "input"):
        out = mean_grad - (mean_grad * x0).sum(axis=2, keepdims=True)
        if gauge == "input":
            out = out * X[:, None]
    elif gauge == "corrected":
        out = mean_grad - mean_grad.mean(axis=2, keepdims=True)
    else:
        out = mean_grad
    return np.asarray(out, dtype=np.float32)


def integrated_gradients(
    model: Any,
    X: Any,
    tracks: Sequence[int] | int | None = None,
    *,
    gauge: str = "global",
    baseline: Any = None,
    n_steps: int = 50,
    seed: int | None = 0,
    batch_size: int = 64,
    device: Any = None,
    head: int | None = None,
    warn_threshold: float = 1e-2,
    verbose: bool = False,
) -> np.ndarray:
    """Integrated gradients with the trapezoid rule on ``n_steps`` points from the baseline to ``x``.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` to ``(N, T)`` (or a list/tuple, see ``head``).
    X
        One-hot sequences ``(N, 4, L)``.
    tracks
        Output columns to explain; ``None`` for all.
    gauge
        How the path-mean gradient ``g`` is reported: ``"global"`` (default), ``(x - x0) * g`` for every base
        (standard IG); ``"hypothetical"``, ``g(b, l) - sum_c g(c, l) x0(c, l)`` (as DeepSHAP's hypothetical
        contributions); ``"input"``, hypothetical times ``X`` (the observed bases, summing per position to the
        standard IG); ``"local"``, ``g``; ``"corrected"``, ``g`` minus its mean over bases.
    baseline
        ``None`` or ``"zero"``, ``"uniform"`` (0.25 per base), ``"shuffle"`` (one dinucleotide shuffle per
        sequence, seeded by ``seed``) or an array ``(4, L)`` / ``(N, 4, L)``.
    n_steps
        Points on the path including both ends (``alpha = k / (n_steps - 1)``), at least 2. The weights are
        the exact trapezoid rule (``1 / (n_steps - 1)``, halved at both ends); captum's
        ``riemann_trapezoid`` uses ``1 / n_steps``, so its values are ``(n_steps - 1) / n_steps`` of ours.
    seed
        Seed of the shuffled baseline.
    batch_size
        Path points per forward/backward pass.
    device
        Device to compute on (default: that of the model's parameters).
    head
        Which output of a model returning a list/tuple.
    warn_threshold
        A :class:`~drg.errors.DRGWarning` is raised for examples whose attributions sum to
        ``f(x) - f(x0)`` with an error above ``warn_threshold * max(1, |f(x) - f(x0)|)``; raise
        ``n_steps`` to reduce it.
    verbose
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        ``(N, T, 4, L)`` float32.
    """
    Xt = _as_tensor(X)
    Xn = Xt.numpy()
    _check_gauge(gauge, "integrated gradients")
    if n_steps < 2:
        raise InputError(f"n_steps must be at least 2, got {n_steps}")
    x0 = _baseline(Xn, baseline, seed)
    alphas = np.linspace(0.0, 1.0, n_steps, dtype=np.float64)
    weights = np.full(n_steps, 1.0 / (n_steps - 1))
    weights[[0, -1]] *= 0.5

    def points(seqs):
        d = Xn[seqs] - x0[seqs]
        p = x0[seqs, None] + alphas[None, :, None, None].astype(np.float32) * d[:, None]
        return p.reshape(-1, *Xn.shape[1:]), np.tile(weights, len(seqs))

    sums, outputs = _sampled_gradients(model, Xt, tracks, n_steps, points, batch_size=batch_size, device=device,
                                       head=head, verbose=verbose, description="integrated gradients",
                                       keep_outputs=True)
    diff = outputs[:, -1] - outputs[:, 0]
    total = (sums * (Xn[:, None] - x0[:, None])).sum(axis=(2, 3))
    _check_convergence(total - diff, diff, warn_threshold, "integrated gradients completeness")
    return _project(sums, Xn, x0, gauge)


def expected_integrated_gradients(
    model: Any,
    X: Any,
    tracks: Sequence[int] | int | None = None,
    *,
    gauge: str = "global",
    baseline: Any = None,
    n_samples: int = 20,
    seed: int | None = 0,
    batch_size: int = 64,
    device: Any = None,
    head: int | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """Expected gradients: IG averaged over random baselines with a random position on each path.

    For sample ``j`` of sequence ``x`` a reference ``r_j`` and ``alpha_j ~ U(0, 1)`` are drawn and the
    attribution is the mean over samples of ``(x - r_j) * grad f(r_j + alpha_j (x - r_j))``.

    Parameters
    ----------
    model, X, tracks, batch_size, device, head, verbose
        As for :func:`integrated_gradients`.
    gauge
        As for :func:`integrated_gradients`, applied to each sample's gradient against its own reference
        before averaging (``"global"`` is the expected-gradients attribution).
    baseline
        ``None`` or ``"shuffle"`` (``n_samples`` dinucleotide shuffles), ``"uniform"``, ``"zero"`` or an
        array ``(N, n, 4, L)`` / ``(n, 4, L)`` of references, cycled over the samples.
    n_samples
        Samples per sequence.
    seed
        Seed of the shuffles and of the path positions.

    Returns
    -------
    numpy.ndarray
        ``(N, T, 4, L)`` float32.
    """
    Xt = _as_tensor(X)
    Xn = Xt.numpy()
    _check_gauge(gauge, "expected integrated gradients")
    if n_samples < 1:
        raise InputError(f"n_samples must be at least 1, got {n_samples}")
    R = make_references(Xn, "shuffle" if baseline is None else baseline, n_samples, seed)
    R = R[:, np.arange(n_samples) % R.shape[1]]
    alphas = np.random.default_rng(seed).random((len(Xn), n_samples)).astype(np.float32)

    # The projection depends on each sample's reference, so samples are accumulated one at a time.
    total = None
    for j in range(n_samples):
        rj = R[:, j]

        def one(seqs, j=j):
            d = Xn[seqs] - R[seqs, j]
            p = R[seqs, j] + alphas[seqs, j][:, None, None] * d
            return p, np.full(len(seqs), 1.0 / n_samples)

        g, _ = _sampled_gradients(model, Xt, tracks, 1, one, batch_size=batch_size, device=device, head=head,
                                  verbose=verbose, description=f"expected gradients {j + 1}/{n_samples}")
        part = _project(g, Xn, rj, gauge)
        total = part if total is None else total + part
    return total.astype(np.float32)


def smoothgrad(
    model: Any,
    X: Any,
    tracks: Sequence[int] | int | None = None,
    *,
    gauge: str = "local",
    baseline: Any = None,
    n_samples: int = 25,
    sigma: float = 0.1,
    seed: int | None = 0,
    batch_size: int = 64,
    device: Any = None,
    head: int | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """SmoothGrad: the input gradient averaged over ``n_samples`` noisy copies of each sequence.

    Parameters
    ----------
    model, X, tracks, batch_size, device, head, verbose
        As for :func:`integrated_gradients`.
    gauge, baseline
        Gauge of the mean gradient and its background, as :func:`drg.attribution.gauges.apply_gauge`
        (default ``"local"``: the mean gradient itself).
    n_samples
        Noisy copies per sequence.
    sigma
        Standard deviation of the Gaussian noise added to every entry of the one-hot input (one-hot units;
        ``0`` gives the plain gradient).
    seed
        Seed of the noise.

    Returns
    -------
    numpy.ndarray
        ``(N, T, 4, L)`` float32 mean gradients in ``gauge``.
    """
    Xt = _as_tensor(X)
    Xn = Xt.numpy()
    if n_samples < 1:
        raise InputError(f"n_samples must be at least 1, got {n_samples}")
    if sigma < 0:
        raise InputError(f"sigma must be non-negative, got {sigma}")
    base = np.random.SeedSequence(seed).entropy

    def points(seqs):
        # Sequence i always gets the same noise, whatever batch it falls in.
        noise = np.stack([np.random.default_rng([base, int(i)]).standard_normal((n_samples, *Xn.shape[1:]),
                                                                               dtype=np.float32)
                          for i in seqs]) * np.float32(sigma)
        p = Xn[seqs, None] + noise
        return p.reshape(-1, *Xn.shape[1:]), np.full(len(seqs) * n_samples, 1.0 / n_samples)

    sums, _ = _sampled_gradients(model, Xt, tracks, n_samples, points, batch_size=batch_size, device=device,
                                 head=head, verbose=verbose, description="SmoothGrad")
    from drg.attribution.gauges import apply_gauge

    return apply_gauge(sums.astype(np.float32), Xn, gauge, baseline)


#: Alias of :func:`expected_integrated_gradients`.
expected_gradients = expected_integrated_gradients

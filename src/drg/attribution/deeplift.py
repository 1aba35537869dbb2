"""DeepLIFT / DeepSHAP attributions for any ``torch.nn.Module`` (rescale rule as a modified gradient).

The rescale rule replaces the local derivative of every nonlinearity by the secant
``(y(x) - y(r)) / (x_in - r_in)`` between the activations of the explained sequence ``x`` and a reference
``r``; with that replacement the chain rule yields multipliers ``m`` whose contributions ``m * (x - r)`` sum
exactly to ``f(x) - f(r)``. DeepSHAP averages these over several references (dinucleotide shuffles).

The implementation runs the explained sequences once without a graph, recording the input and output of every
nonlinear module, then runs the references with a graph in which each nonlinear module's output is rewired so
that its backward pass uses the secant (max pooling routes the change of each window back to the positions
that won it, as in DeepLIFT's max-pool rule). The gradient with respect to the reference input is then the
DeepLIFT multiplier of the pair. Linear modules (convolutions, linear layers, batch norm in eval mode,
average pooling, additions) need no rule. Nonlinear operations written as plain function calls instead of
modules get no rule: they are differentiated at the reference and the convergence check reports the error.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from drg.errors import DRGWarning, InputError

#: Gauges the reference-based methods report in (see :func:`deeplift_shap`).
GAUGES = ("hypothetical", "input", "global", "local", "corrected")

#: Class names of elementwise activation modules defined outside ``torch.nn`` that get the rescale rule.
ELEMENTWISE_NAMES = frozenset({"Exponential", "DRGExp", "Exp", "ExpActivation"})


def _elementwise_types() -> tuple[type, ...]:
    from torch import nn

    names = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
             "Sigmoid", "Tanh", "Softplus", "LogSigmoid", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish",
             "Softshrink", "Tanhshrink"]
    return tuple(getattr(nn, n) for n in names if hasattr(nn, n))


# ---------------------------------------------------------------------------------------------------------
# shared input handling (also used by drg.attribution.integrated)


def _as_tensor(X: Any, name: str = "X"):
    """``X`` as a float32 CPU tensor of shape (N, 4, L) (a single (4, L) sequence gets a batch axis)."""
    import torch

    if isinstance(X, (list, tuple)):
        raise InputError(f"{name}: reference-based attributions support single-input models only "
                         f"(got a list of {len(X)} inputs)")
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[1] != 4:
        raise InputError(f"{name} must have shape (N, 4, L) (one-hot, channels A,C,G,T), got {tuple(t.shape)}")
    return t.detach().to("cpu", torch.float32)


def _model_device(model, device):
    import torch

    if device is not None:
        return torch.device(device)
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _select_output(y: Any, head: int | None):
    """The (N, T) tensor of a model output (a tuple/list output needs ``head``)."""
    if isinstance(y, (list, tuple)):
        if head is None:
            if len(y) != 1:
                raise InputError(f"the model returns {len(y)} outputs; pass head= to choose one")
            head = 0
        y = y[head]
    elif head not in (None, 0):
        raise InputError(f"head={head} given but the model returns a single output")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim > 2:
        if int(np.prod(y.shape[2:])) != 1:
            raise InputError(f"the model must return (N, T) predictions, got shape {tuple(y.shape)}")
        y = y.reshape(y.shape[0], y.shape[1])
    return y


def _resolve_tracks(tracks: Sequence[int] | int | None, n_outputs: int) -> list[int]:
    if tracks is None:
        return list(range(n_outputs))
    if isinstance(tracks, (int, np.integer)):
        tracks = [int(tracks)]
    out = [int(t) for t in tracks]
    bad = [t for t in out if not -n_outputs <= t < n_outputs]
    if bad:
        raise InputError(f"track index {bad[0]} out of range for a model with {n_outputs} outputs")
    if not out:
        raise InputError("tracks is empty; give at least one track index or None for all")
    return [t % n_outputs for t in out]


@contextlib.contextmanager
def _inference_state(model, device) -> Iterator[None]:
    """Put ``model`` in eval mode on ``device`` with in-place activations disabled; restore afterwards."""
    was_training = model.training
    inplace = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    model.eval()
    for m in inplace:
        m.inplace = False
    try:
        yield
    finally:
        for m in inplace:
            m.inplace = True
        model.train(was_training)


def _check_convergence(deltas: np.ndarray, scale: np.ndarray, threshold: float, what: str) -> None:
    """Warn when ``|deltas| > threshold * max(1, |scale|)`` for some examples. ``deltas``: (N, T)."""
    if deltas.size == 0:
        return
    bound = threshold * np.maximum(1.0, np.abs(scale))
    bad = np.abs(deltas) > bound
    per_example = bad.any(axis=1)
    n_bad = int(per_example.sum())
    if n_bad:
        worst = np.unravel_index(int(np.argmax(np.abs(deltas))), deltas.shape)
        first = np.flatnonzero(per_example)[:5].tolist()
        warnings.warn(
            f"{what}: {n_bad} of {deltas.shape[0]} examples do not converge (sum of contributions differs "
            f"from the prediction difference by more than {threshold:g} x max(1, |difference|)); max delta "
            f"{float(np.abs(deltas[worst])):.4g} at example {int(worst[0])}, track column {int(worst[1])}; "
            f"first examples: {first}",
            DRGWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------------------------
# the modified backward pass


def _functions():
    import torch

    class _Secant(torch.autograd.Function):
        """Returns the reference activation; backward multiplies the gradient by the DeepLIFT multiplier."""

        @staticmethod
        def forward(ctx, r_in, r_out, multiplier):
            ctx.save_for_backward(multiplier)
            return r_out

        @staticmethod
        def backward(ctx, grad):
            (multiplier,) = ctx.saved_tensors
            return grad * multiplier, None, None

    class _MaxPoolRoute(torch.autograd.Function):
        """Returns the pooled reference; backward routes each window's change to the winners of ``x`` and ``r``."""

        @staticmethod
        def forward(ctx, r_in, r_out, idx_x, coef_x, idx_r, coef_r):
            ctx.save_for_backward(idx_x, coef_x, idx_r, coef_r)
            ctx.in_shape = r_in.shape
            return r_out

        @staticmethod
        def backward(ctx, grad):
            idx_x, coef_x, idx_r, coef_r = ctx.saved_tensors
            n, c = grad.shape[0], grad.shape[1]
            g = grad.reshape(n, c, -1)
            full = torch.zeros(n, c, int(np.prod(ctx.in_shape[2:])), dtype=grad.dtype, device=grad.device)
            full.scatter_add_(-1, idx_x, g * coef_x)
            full.scatter_add_(-1, idx_r, g * coef_r)
            return full.reshape(ctx.in_shape), None, None, None, None, None

    return _Secant, _MaxPoolRoute


def _is_drg_max_pool(module) -> bool:
    """DRG's ``Pool1d`` in plain max mode (functional max pooling with -inf padding)."""
    return (type(module).__name__ == "Pool1d" and getattr(module, "mode", None) == "max"
            and getattr(module, "max_pad_value", 0.0) is None)


class _DRGPoolSpec:
    """The ``nn.MaxPool1d`` parameters equivalent to DRG's ``Pool1d(mode="max")`` for inputs of ``length``."""

    def __init__(self, module, length: int) -> None:
        from drg.models.config import pool_padding

        if module.size is None:
            self.kernel_size, self.stride, self.padding = length, length, 0
        else:
            self.kernel_size, self.stride = module.size, module.stride
            self.padding = pool_padding(length, module.size, module.stride)
        self.dilation, self.ceil_mode = 1, False


def _pool_with_indices(module, x):
    import torch.nn.functional as F

    pool = F.max_pool1d if x.ndim == 3 else F.max_pool2d
    return pool(x, module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode, True)


class _Rewire:
    """Wrap the forward of every nonlinear module to record ``x`` (mode "record") or rewire references ("apply").

    Batches are grids: the recorded batch holds ``b`` sequences and the reference batch ``b * k`` rows, row
    ``i * k + j`` being reference ``j`` of sequence ``i``. In "apply" mode the ``c``-th call of a module
    during the reference pass is paired with its ``c``-th recorded call.
    """

    def __init__(self, model) -> None:
        from torch import nn

        elementwise = _elementwise_types()
        self.modules = []
        for module in model.modules():
            if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
                kind = "pool"
            elif _is_drg_max_pool(module):
                kind = "drg_pool"
            elif isinstance(module, elementwise) or type(module).__name__ in ELEMENTWISE_NAMES:
                kind = "elementwise"
            else:
                continue
            had = "forward" in module.__dict__
            self.modules.append((module, had, module.__dict__.get("forward")))
            module.forward = self._wrap(module, kind, module.forward)
        self.mode = "off"
        self.k = 1
        self.cache: dict[int, list] = {}
        self.calls: dict[int, int] = {}
        self.secant, self.route = _functions()

    def record(self) -> None:
        self.mode, self.cache, self.calls = "record", {}, {}

    def apply(self, k: int) -> None:
        self.mode, self.calls, self.k = "apply", {}, k

    def close(self) -> None:
        for module, had, original in self.modules:
            if had:
                module.forward = original
            else:
                del module.forward
        self.modules, self.cache = [], {}

    def _wrap(self, module, kind, forward):
        import torch

        def wrapped(x, *args, **kwargs):
            if self.mode == "off" or args or kwargs:
                return forward(x, *args, **kwargs)
            key = id(module)
            spec = _DRGPoolSpec(module, x.shape[-1]) if kind == "drg_pool" else module
            if self.mode == "record":
                with torch.no_grad():
                    if kind in ("pool", "drg_pool"):
                        out, idx = _pool_with_indices(spec, x)
                    else:
                        out, idx = forward(x), None
                self.cache.setdefault(key, []).append((x.detach(), out, idx))
                return out
            c = self.calls.get(key, 0)
            self.calls[key] = c + 1
            cached = self.cache[key][c]
            if kind in ("pool", "drg_pool"):
                return self._pool(spec, x, cached)
            return self._elementwise(module, forward, x, cached)

        return wrapped

    def _grid(self, t):
        return t.reshape(t.shape[0] // self.k, self.k, *t.shape[1:])

    def _elementwise(self, module, forward, r_in, cached):
        import torch

        x_in, x_out, _ = cached
        with torch.no_grad():
            r_det = r_in.detach()
            r_out = forward(r_det)
            d_in = torch.sub(x_in.unsqueeze(1), self._grid(r_det)).reshape(r_det.shape)
            small = d_in.abs() < 1e-6
            multiplier = torch.sub(x_out.unsqueeze(1), self._grid(r_out)).reshape(r_det.shape)
            multiplier.div_(d_in.masked_fill_(small, 1.0))
            where = small.nonzero(as_tuple=True)
            if where[0].numel():
                multiplier[where] = self._local(module, forward, r_det, where)
        return self.secant.apply(r_in, r_out, multiplier)

    @staticmethod
    def _local(module, forward, r, where):
        """Derivative of the activation at the reference where the input barely changes."""
        import torch

        with torch.enable_grad():
            if any(p.numel() > 1 for p in module.parameters()):
                z = r.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(forward(z).sum(), z)
                return g[where]
            z = r[where].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(forward(z).sum(), z)
            return g

    def _pool(self, module, r_in, cached):
        import torch

        x_in, x_out, idx_x = cached
        with torch.no_grad():
            r_det = r_in.detach()
            r_out, idx_r = _pool_with_indices(module, r_det)
            n, c = r_out.shape[0], r_out.shape[1]
            b = n // self.k
            xo = x_out.reshape(b, 1, c, -1)
            ro = r_out.reshape(b, self.k, c, -1)
            ix = idx_x.reshape(b, 1, c, -1).expand(b, self.k, c, -1).reshape(n, c, -1)
            ir = idx_r.reshape(n, c, -1)
            top = torch.maximum(xo, ro)
            # x_in at x's winners is x_out; r_in at r's winners is r_out.
            d_x = (xo - torch.gather(r_det.reshape(n, c, -1), -1, ix).reshape(b, self.k, c, -1)).reshape(n, c, -1)
            x_at_r = torch.gather(x_in.reshape(b, 1, c, -1).expand(b, self.k, c, -1), -1,
                                  ir.reshape(b, self.k, c, -1))
            d_r = (x_at_r - ro).reshape(n, c, -1)
            # Identical windows of x and r can differ by rounding when computed in different batches, so a
            # change below 1e-6 counts as none (the gradient at x is used there, as for activations).
            zero_x, zero_r = d_x.abs() < 1e-6, d_r.abs() < 1e-6
            coef_x = torch.where(zero_x, 1.0, (top - ro).reshape(n, c, -1) / d_x.masked_fill(zero_x, 1.0))
            coef_r = torch.where(zero_r, 0.0, (xo - top).reshape(n, c, -1) / d_r.masked_fill(zero_r, 1.0))
        return self.route.apply(r_in, r_out, ix, coef_x, ir, coef_r)


def _grid_batches(N: int, n_ref: int, batch_size: int) -> list[tuple[int, int, int, int]]:
    """Cover the (N, n_ref) pairs with grids ``(first seq, n seqs, first ref, n refs)`` of ~batch_size pairs."""
    if n_ref <= batch_size:
        b = batch_size // n_ref
        return [(i, min(b, N - i), 0, n_ref) for i in range(0, N, b)]
    return [(i, 1, j, min(batch_size, n_ref - j)) for i in range(N) for j in range(0, n_ref, batch_size)]


# ---------------------------------------------------------------------------------------------------------
# public API


def make_references(X: Any, references: Any = "shuffle", n_shuffles: int = 20, seed: int | None = 0) -> np.ndarray:
    """The references DeepSHAP and expected gradients average over.

    Parameters
    ----------
    X
        One-hot sequences ``(N, 4, L)``.
    references
        ``"shuffle"``: ``n_shuffles`` dinucleotide shuffles of each sequence
        (:func:`drg.genome.dinucleotide_shuffle`); ``"uniform"``: one reference of 0.25 everywhere;
        ``"zero"``: one all-zero reference; an array ``(N, n, 4, L)``, ``(n, 4, L)`` (the same references for
        every sequence) or ``(4, L)``.
    n_shuffles
        Number of shuffles for ``"shuffle"``.
    seed
        Seed of the shuffles.

    Returns
    -------
    numpy.ndarray
        ``(N, n, 4, L)`` float32 references.
    """
    Xt = _as_tensor(X)
    N, _, L = Xt.shape
    if isinstance(references, str):
        if references == "shuffle":
            if n_shuffles < 1:
                raise InputError(f"n_shuffles must be at least 1, got {n_shuffles}")
            from drg.genome import dinucleotide_shuffle

            return dinucleotide_shuffle(Xt.numpy(), n_shuffles, seed).astype(np.float32, copy=False)
        if references in ("uniform", "zero"):
            return np.full((N, 1, 4, L), 0.25 if references == "uniform" else 0.0, dtype=np.float32)
        raise InputError(f"references must be 'shuffle', 'uniform', 'zero' or an array, got {references!r}")
    R = np.asarray(references.detach().cpu() if hasattr(references, "detach") else references, dtype=np.float32)
    if R.ndim == 2:
        R = R[None, None]
    if R.ndim == 3:
        R = R[None]
    if R.ndim != 4 or R.shape[2:] != (4, L) or R.shape[0] not in (1, N):
        raise InputError(f"references must have shape (N, n, 4, L), (n, 4, L) or (4, L) with N={N}, L={L}; "
                         f"got {R.shape}")
    return np.array(np.broadcast_to(R, (N, *R.shape[1:])), dtype=np.float32, order="C")


def deeplift_shap(
    model: Any,
    X: Any,
    tracks: Sequence[int] | int | None = None,
    *,
    gauge: str = "hypothetical",
    baseline: Any = None,
    n_shuffles: int = 20,
    references: Any = None,
    seed: int | None = 0,
    batch_size: int = 32,
    device: Any = None,
    head: int | None = None,
    warn_threshold: float = 1e-3,
    verbose: bool = False,
) -> np.ndarray:
    """DeepLIFT (rescale rule) contributions averaged over references (DeepSHAP).

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` to ``(N, T)`` (or a list/tuple of such; see
        ``head``). Nonlinearities must be modules (``nn.ReLU``, ``nn.GELU``, ``nn.ELU``, ``nn.Softplus``,
        ``nn.Sigmoid``, ``nn.Tanh``, ``nn.SiLU``, DRG's exponential, ...); max pooling as ``nn.MaxPool1d/2d``
        or DRG's ``Pool1d(mode="max")``. Other nonlinear operations (softmax-weighted pooling, attention,
        functional calls) are differentiated at the reference; the convergence check warns when that matters.
    X
        One-hot sequences ``(N, 4, L)`` (numpy or torch).
    tracks
        Output columns to explain; ``None`` for all. One forward pass is shared by all tracks.
    n_shuffles
        Number of dinucleotide shuffles per sequence when ``references="shuffle"``.
    gauge
        How the multipliers ``m`` of each reference ``r`` are reported (all averaged over references):
        ``"hypothetical"``: hypothetical contributions of every base, ``h(b, l) = sum_c m(c, l) (e_b(c) -
        r(c, l))`` (DeepSHAP's); ``"input"``: ``h * X``, the contribution of the observed base only;
        ``"global"``: ``m * (x - r)`` per base (sums to ``f(x) - mean f(r)``); ``"local"``: ``m``;
        ``"corrected"``: ``m`` minus its mean over the 4 bases.
    baseline, references
        The references (give at most one): ``None`` or ``"shuffle"`` (dinucleotide shuffles),
        ``"uniform"`` (one reference of 0.25 per base), ``"zero"`` or an array, see :func:`make_references`.
    seed
        Seed of the shuffles.
    batch_size
        Sequence-reference pairs per forward/backward pass.
    device
        Device to compute on (default: the device of the model's parameters).
    head
        Which output of a model returning a list/tuple.
    warn_threshold
        Per-example convergence tolerance: a :class:`~drg.errors.DRGWarning` is raised when
        ``|mean_r sum(m * (x - r)) - (f(x) - mean_r f(r))| > warn_threshold * max(1, |f(x) - mean_r f(r)|)``.
    verbose
        Show a progress bar over batches.

    Returns
    -------
    numpy.ndarray
        ``(N, T, 4, L)`` float32 attributions for the ``T`` selected tracks.

    See Also
    --------
    drg.attribution.integrated.integrated_gradients : path-integrated gradients.
    """
    import torch

    from drg.utils import progress

    Xt = _as_tensor(X)
    N, _, L = Xt.shape
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if gauge not in GAUGES:
        raise InputError(f"gauge {gauge!r} is not available for DeepLIFT-SHAP; expected one of {', '.join(GAUGES)}")
    if baseline is not None and references is not None:
        raise InputError("give the references either as baseline= or as references=, not both")
    references = "shuffle" if baseline is None and references is None else (
        baseline if references is None else references)
    R = torch.from_numpy(make_references(Xt, references, n_shuffles, seed))
    n_ref = R.shape[1]
    dev = _model_device(model, device)
    out = None
    sums = fx_all = fr_mean = None
    rewire = _Rewire(model)
    grids = _grid_batches(N, n_ref, batch_size)
    try:
        with _inference_state(model, dev), torch.enable_grad():
            for i0, b, j0, k in progress(grids, total=len(grids), description="DeepLIFT-SHAP", verbose=verbose):
                xb = Xt[i0:i0 + b].to(dev)
                rewire.record()
                with torch.no_grad():
                    fx = _select_output(model(xb), head)
                if out is None:
                    cols = _resolve_tracks(tracks, fx.shape[1])
                    out = np.zeros((N, len(cols), 4, L), dtype=np.float32)
                    sums, fx_all, fr_mean = (np.zeros((N, len(cols)), dtype=np.float64) for _ in range(3))
                fx_all[i0:i0 + b] = fx[:, cols].double().cpu().numpy()
                rb = R[i0:i0 + b, j0:j0 + k].reshape(b * k, 4, L).to(dev).requires_grad_(True)
                rewire.apply(k)
                fr = _select_output(model(rb), head)[:, cols]
                rewire.mode = "off"
                fr_mean[i0:i0 + b] += fr.detach().double().reshape(b, k, -1).sum(1).cpu().numpy() / n_ref
                for t in range(len(cols)):
                    (m,) = torch.autograd.grad(fr[:, t].sum(), rb, retain_graph=t < len(cols) - 1)
                    with torch.no_grad():
                        m = m.reshape(b, k, 4, L)
                        r = rb.detach().reshape(b, k, 4, L)
                        contrib = (m * (xb.unsqueeze(1) - r)).sum(dim=(2, 3)).sum(1)
                        if gauge in ("hypothetical", "input"):
                            value = m - (m * r).sum(dim=2, keepdim=True)
                        elif gauge == "global":
                            value = m * (xb.unsqueeze(1) - r)
                        else:
                            value = m
                        value = value.sum(1)
                    sums[i0:i0 + b, t] += contrib.double().cpu().numpy() / n_ref
                    out[i0:i0 + b, t] += value.cpu().numpy() / n_ref
                del fr, rb
                rewire.cache = {}
    finally:
        rewire.close()
    diff = fx_all - fr_mean
    _check_convergence(sums - diff, diff, warn_threshold, "DeepLIFT-SHAP convergence")
    if gauge == "input":
        out *= Xt.numpy()[:, None]
    elif gauge == "corrected":
        out -= out.mean(axis=2, keepdims=True)
    return out

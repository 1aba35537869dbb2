"""Embeddings: a model's intermediate representation of each sequence, and 2-D maps of it.

- :func:`extract_embeddings` records the output of one named layer (by default the representation the
  output heads read) with a forward hook, one vector per sequence.
- :func:`track_vectors` reads one vector per output track: the rows of the last linear layer's weight.
- :func:`embed_2d` projects vectors to two dimensions with PCA, UMAP or t-SNE.

Examples
--------
>>> values = extract_embeddings(model, X)            # doctest: +SKIP
>>> emb = embed_2d(values, method="pca")             # doctest: +SKIP
>>> emb.coordinates.shape, emb.explained_variance_ratio   # doctest: +SKIP
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from drg.errors import DRGError, InputError
from drg.utils import progress

Reduce = Literal["mean", "max", "flatten"]
Method = Literal["pca", "umap", "tsne"]
REDUCTIONS = ("mean", "max", "flatten")
METHODS = ("pca", "umap", "tsne")


class _Captured(Exception):
    """Stops a forward pass once the hooked layer has produced its output."""


def layer_names(model: Any) -> list[str]:
    """Dotted names of every sub-module of ``model`` (``model.named_modules()`` without the root).

    Parameters
    ----------
    model
        A ``torch.nn.Module``.

    Returns
    -------
    list of str
        Names such as ``first_layer``, ``tower.layers.0.conv`` or ``heads.0.linear``, in module order.
    """
    return [name for name, _ in model.named_modules() if name]


def _heads(model: Any) -> list[Any] | None:
    heads = getattr(model, "heads", None)
    try:
        items = list(heads) if heads is not None else []
    except TypeError:
        return None
    return items or None


def _default_layer(model: Any) -> tuple[Any, str, bool]:
    """(module, description, capture its input) of the representation before the output heads."""
    from torch import nn

    heads = _heads(model)
    if heads is not None:
        return heads[0], "input of heads.0", True
    linear = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if linear:
        name, module = linear[-1]
        return module, f"input of {name}", True
    raise InputError("the model has no 'heads' and no linear layer, so there is no default representation; "
                     f"give a layer name (one of: {_choices(layer_names(model))})")


def _choices(names: list[str], limit: int = 60) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def find_layer(model: Any, layer: str) -> Any:
    """The sub-module of ``model`` called ``layer`` (dotted name, as :func:`layer_names` lists them).

    Raises
    ------
    InputError
        When there is no such layer; the message suggests the closest name and lists the valid ones.
    """
    modules = dict(model.named_modules())
    if layer and layer in modules:
        return modules[layer]
    names = layer_names(model)
    close = difflib.get_close_matches(layer, names, n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(f"the model has no layer {layer!r}{hint}; layers: {_choices(names)}")


def _reduce(value: Any, reduce: str, where: str) -> np.ndarray:
    import torch

    if isinstance(value, (tuple, list)) or not isinstance(value, torch.Tensor):
        raise InputError(f"{where} returns {type(value).__name__}, not one tensor; choose a sub-module that "
                         "returns a tensor")
    x = value.detach().to("cpu", torch.float32)
    if x.ndim == 2:
        return x.numpy()
    if x.ndim < 2:
        raise InputError(f"{where} returns shape {tuple(x.shape)}; expected (N, D) or (N, C, L)")
    if reduce == "flatten":
        return x.reshape(x.shape[0], -1).numpy()
    if x.ndim != 3:
        raise InputError(f"{where} returns shape {tuple(x.shape)}; reduce='{reduce}' needs (N, C, L) "
                         "(use reduce='flatten')")
    return (x.mean(dim=-1) if reduce == "mean" else x.amax(dim=-1)).numpy()


def extract_embeddings(
    model: Any,
    X: Any,
    *,
    layer: str | None = None,
    reduce: Reduce = "mean",
    batch_size: int = 64,
    device: Any = None,
    verbose: bool = False,
) -> np.ndarray:
    """One vector per sequence: the output of a layer of ``model``, recorded with a forward hook.

    The model itself is used (not a copy): a hook is registered on the layer, each batch is run until the
    layer has produced its output (later layers are skipped), and the hook is removed afterwards. The model
    runs in eval mode without gradients; its train/eval mode is restored.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` taking ``(N, 4, L)`` float input.
    X
        ``(N, 4, L)`` one-hot sequences (numpy array of any numeric dtype, memmap or tensor); converted to
        float32 one batch at a time.
    layer
        Dotted name of the layer whose output is recorded (see :func:`layer_names`). Default: the
        representation the output heads read, i.e. the input of ``heads.0`` (for :class:`drg.models.CNN`,
        the trunk's output after the length reduction and shared FC layers), or the input of the last
        linear layer of a model without ``heads``.
    reduce
        How a ``(N, C, L)`` output becomes ``(N, D)``: ``mean`` or ``max`` over the length axis (the last
        axis; outputs are channels first) giving ``D = C``, or ``flatten`` giving ``D = C * L`` (channel
        major). ``(N, D)`` outputs are used as they are.
    batch_size
        Sequences per forward pass.
    device
        Device to run on (None: CUDA when available, else CPU). The model is moved there.
    verbose
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        ``(N, D)`` float32.

    Raises
    ------
    InputError
        For an unknown layer (the message names the closest one), an unknown ``reduce``, input that is
        not ``(N, C, L)``, or a layer that does not return one tensor.

    See Also
    --------
    embed_2d : 2-D map of the vectors.
    track_vectors : one vector per output track.
    """
    import torch

    from drg.attribution.gradients import inference_state, resolve_device

    if reduce not in REDUCTIONS:
        raise InputError(f"unknown reduce {reduce!r}; expected one of {', '.join(REDUCTIONS)}")
    if batch_size < 1:
        raise InputError(f"batch_size must be positive; got {batch_size}")
    if not isinstance(X, torch.Tensor):
        X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.ndim != 3:
        raise InputError(f"X has shape {tuple(X.shape)}; expected (N, 4, L) one-hot sequences")
    if layer is None:
        module, where, pre = _default_layer(model)
    else:
        module, where, pre = find_layer(model, layer), f"layer {layer!r}", False
    captured: list[Any] = []

    def keep_output(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append(output)
        raise _Captured

    def keep_input(_module: Any, inputs: Any) -> None:
        captured.append(inputs[0] if len(inputs) == 1 else inputs)
        raise _Captured

    handle = module.register_forward_pre_hook(keep_input) if pre else module.register_forward_hook(keep_output)
    dev = resolve_device(device)
    N = int(X.shape[0])
    starts = range(0, N, batch_size)
    blocks: list[np.ndarray] = []
    try:
        with inference_state(model, dev), torch.no_grad():
            for lo in progress(starts, total=len(starts), description="embeddings", verbose=verbose):
                part = X[lo:lo + batch_size]
                if isinstance(part, torch.Tensor):
                    x = part.to(dev, torch.float32)
                else:
                    x = torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)).to(dev)
                captured.clear()
                try:
                    model(x)
                except _Captured:
                    pass
                if not captured:
                    raise InputError(f"{where} was not used in the forward pass")
                blocks.append(_reduce(captured[0], reduce, where))
    finally:
        handle.remove()
    if not blocks:
        return np.zeros((0, 0), dtype=np.float32)
    widths = {b.shape[1] for b in blocks}
    if len(widths) > 1:
        raise InputError(f"{where} gave vectors of different sizes {sorted(widths)} across batches; use "
                         "reduce='mean' or 'max' for inputs of different lengths")
    return np.concatenate(blocks).astype(np.float32, copy=False)


@dataclass
class TrackVectors:
    """One vector per output track.

    Attributes
    ----------
    values
        ``(T, D)`` float32: row ``t`` is the weight vector the final linear layer uses for track ``t``.
    names
        ``(T,)`` track names (``model.output_names`` or ``track_<i>``).
    layers
        Names of the linear layers the rows come from.
    """

    values: np.ndarray
    names: np.ndarray
    layers: list[str]


def track_vectors(model: Any, *, head: int | str | None = None) -> TrackVectors:
    """The rows of the last linear layer's weight: one ``D``-vector per output track.

    Tracks whose vectors point the same way are predicted from the same direction of the shared
    representation, so a 2-D map of these vectors groups tracks the model treats alike.

    Parameters
    ----------
    model
        A ``torch.nn.Module``. With ``heads`` (as :class:`drg.models.CNN`) each head's last linear layer is
        used; otherwise the last ``nn.Linear`` of the model.
    head
        Index or name of one head (default: every head, which must then read vectors of the same size).

    Returns
    -------
    TrackVectors
    """
    from torch import nn

    prefix = {id(module): name for name, module in model.named_modules()}

    def last_linear(module: Any) -> tuple[str, Any]:
        found = [m for m in module.modules() if isinstance(m, nn.Linear)]
        if not found:
            raise InputError(f"{prefix.get(id(module)) or 'the model'} has no linear layer to read track "
                             "vectors from")
        return prefix[id(found[-1])], found[-1]

    heads = _heads(model)
    if heads is None:
        if head is not None:
            raise InputError(f"head={head!r} given but the model has no 'heads'")
        chosen = [last_linear(model)]
    else:
        head_names = list(getattr(model, "head_names", [str(i) for i in range(len(heads))]))
        if head is None:
            picks = list(range(len(heads)))
        elif isinstance(head, str) and head in head_names:
            picks = [head_names.index(head)]
        elif isinstance(head, int) and -len(heads) <= head < len(heads):
            picks = [head % len(heads)]
        else:
            raise InputError(f"unknown head {head!r}; the model's heads are {head_names}")
        chosen = [last_linear(heads[i]) for i in picks]
    widths = {module.in_features for _, module in chosen}
    if len(widths) > 1:
        raise InputError(f"the heads' last linear layers read vectors of different sizes {sorted(widths)}; "
                         "choose one head")
    values = np.concatenate([module.weight.detach().to("cpu").float().numpy() for _, module in chosen])
    names = getattr(model, "output_names", None)
    if heads is not None and head is not None:
        offsets = np.cumsum([0, *[int(last_linear(h)[1].out_features) for h in heads]])
        i = picks[0]
        names = names[offsets[i]:offsets[i + 1]] if names is not None and len(names) == offsets[-1] else None
    if names is None or len(names) != len(values):
        names = [f"track_{i}" for i in range(len(values))]
    return TrackVectors(values.astype(np.float32), np.asarray(names).astype(str), [name for name, _ in chosen])


@dataclass
class Embedding2D:
    """A 2-D map of vectors.

    Attributes
    ----------
    coordinates
        ``(N, 2)`` float64 positions.
    method
        ``pca``, ``umap`` or ``tsne``.
    explained_variance
        ``(2,)`` variance along each principal component (PCA only, else None).
    explained_variance_ratio
        ``(2,)`` fraction of the total variance along each component (PCA only, else None).
    """

    coordinates: np.ndarray
    method: str
    explained_variance: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None

    def axis_labels(self) -> tuple[str, str]:
        """Axis titles (``PC1 (42.0%)``, ``UMAP 1``, ``t-SNE 1``, ...)."""
        if self.method == "pca":
            ratio = self.explained_variance_ratio
            return tuple(f"PC{i + 1}" + (f" ({100 * ratio[i]:.1f}%)" if ratio is not None else "")
                         for i in range(2))  # type: ignore[return-value]
        name = {"umap": "UMAP", "tsne": "t-SNE"}.get(self.method, self.method)
        return f"{name} 1", f"{name} 2"


def _pca(values: np.ndarray) -> Embedding2D:
    """PCA by SVD of the centred matrix; each axis's sign makes its largest |loading| positive."""
    centred = values - values.mean(axis=0, keepdims=True)
    U, S, Vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(S))
    signs = np.sign(Vt[np.arange(k), np.argmax(np.abs(Vt[:k]), axis=1)])
    signs[signs == 0] = 1.0
    coords = np.zeros((len(values), 2))
    coords[:, :k] = U[:, :k] * (S[:k] * signs)
    n = max(len(values) - 1, 1)
    variance = np.zeros(2)
    variance[:k] = S[:k] ** 2 / n
    total = float((S ** 2).sum() / n)
    ratio = variance / total if total > 0 else np.zeros(2)
    return Embedding2D(coords, "pca", variance, ratio)


def embed_2d(
    values: Any,
    *,
    method: Method = "pca",
    seed: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float | None = None,
    max_iter: int = 1000,
    standardize: bool = False,
) -> Embedding2D:
    """Project ``(N, D)`` vectors to two dimensions.

    Parameters
    ----------
    values
        ``(N, D)`` vectors (e.g. from :func:`extract_embeddings` or :attr:`TrackVectors.values`); N >= 2,
        finite.
    method
        ``pca`` (exact, by SVD of the centred matrix; deterministic), ``umap`` (needs the ``umap-learn``
        package) or ``tsne`` (scikit-learn, initialised with PCA).
    seed
        Random seed of UMAP and t-SNE.
    n_neighbors
        UMAP neighbourhood size (clipped to N - 1).
    min_dist
        UMAP minimum distance between embedded points.
    perplexity
        t-SNE perplexity (default ``min(30, (N - 1) / 3)``); must be below N.
    max_iter
        t-SNE optimisation steps (at least 250).
    standardize
        Scale every column to unit variance first (constant columns are left at 0).

    Returns
    -------
    Embedding2D
        ``coordinates`` (N, 2); for PCA also the variance (and its fraction) along each axis. PCA axes
        carry a sign convention: the largest |loading| of each component is positive.

    Raises
    ------
    DRGError
        For ``umap`` when ``umap-learn`` is not installed (the message names the package).
    InputError
        For fewer than two rows, non-finite values or an unknown method.
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise InputError(f"values have shape {values.shape}; expected (N, D)")
    if values.shape[0] < 2 or values.shape[1] < 1:
        raise InputError(f"need at least 2 vectors of at least 1 value for a 2-D map; got shape {values.shape}")
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise InputError(f"{int(bad.sum())} of {len(values)} vectors hold NaN or infinite values (first rows "
                         f"{np.flatnonzero(bad)[:5].tolist()}, 0-based)")
    if standardize:
        centred = values - values.mean(axis=0)
        scale = values.std(axis=0)
        values = np.divide(centred, scale, out=np.zeros_like(centred), where=scale > 0)
    N = len(values)
    if method == "pca":
        return _pca(values)
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise DRGError("method='umap' needs the umap-learn package, which is not installed; install it "
                           "with 'pip install umap-learn', or use method='pca' or 'tsne'") from None
        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbors, N - 1)), min_dist=min_dist,
                            random_state=seed)
        return Embedding2D(np.asarray(reducer.fit_transform(values), dtype=np.float64), "umap")
    from sklearn.manifold import TSNE

    if perplexity is None:
        perplexity = max(min(30.0, (N - 1) / 3), 0.5)
    if not 0 < perplexity < N:
        raise InputError(f"perplexity must be between 0 and the number of vectors ({N}); got {perplexity}")
    if max_iter < 250:
        raise InputError(f"t-SNE needs max_iter >= 250; got {max_iter}")
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=max_iter)
    from threadpoolctl import threadpool_limits

    # For small N, OpenMP threads cost more in start-up and waiting than they save.
    with threadpool_limits(1 if N < 2000 else None):
        coords = tsne.fit_transform(values)
    return Embedding2D(np.asarray(coords, dtype=np.float64), "tsne")

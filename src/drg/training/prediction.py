"""Predictions of a trained model for one-hot arrays, DRG ``.npz`` files, memmap caches, FASTA files or
genome regions, optionally averaged over both strands and small shifts, written as target files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.utils import PathLike

__all__ = ["predict", "predict_dataset", "predict_array", "write_predictions"]


def _device(device: Any) -> Any:
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _split_outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _as_float(block: Any, dev: Any) -> Any:
    import torch

    if isinstance(block, torch.Tensor):
        return block.to(dev, torch.float32)
    return torch.from_numpy(np.asarray(block, dtype=np.float32)).to(dev)


def predict_array(model: Any, X: Any, *, batch_size: int = 256, device: Any = None, rc: Any = False,
                  shift: Any = 0, verbose: bool = False) -> list[np.ndarray]:
    """Predictions for an ``(N, 4, L)`` one-hot array (int8/float, numpy, memmap or tensor).

    For a multi-input model ``X`` is a list of ``(N, 4, L_i)`` arrays with matching rows, and ``rc`` /
    ``shift`` may give one value per input (see :func:`drg.training.module.forward_averaged`).
    Returns one float32 array per output head (``(N, T)``, or ``(N, T, L')`` for positional outputs).
    Batches are sliced straight from the array (no DataLoader), converted to float32 on the fly.
    """
    import torch

    from drg.training.module import forward_averaged
    from drg.utils import progress

    dev = _device(device)
    model = model.to(dev).eval()
    multi = isinstance(X, (list, tuple))
    if multi:
        sizes = {int(x.shape[0]) for x in X}
        if len(sizes) != 1:
            raise InputError(f"the inputs have different numbers of sequences {sorted(sizes)}; expected one row "
                             "per example in every input")
        n = sizes.pop()
    else:
        n = int(X.shape[0])
    chunks: list[list[np.ndarray]] = []
    starts = range(0, n, batch_size)
    with torch.inference_mode():
        for lo in progress(starts, total=len(starts), description="predicting", verbose=verbose):
            if multi:
                xb: Any = [_as_float(x[lo:lo + batch_size], dev) for x in X]
            else:
                xb = _as_float(X[lo:lo + batch_size], dev)
            out = forward_averaged(model, xb, rc=rc, shift=shift)
            chunks.append([o.float().cpu().numpy() for o in _split_outputs(out)])
    if not chunks:
        raise InputError("no sequences to predict")
    return [np.concatenate([c[h] for c in chunks]) for h in range(len(chunks[0]))]


def predict_dataset(model: Any, dataset: Any, *, batch_size: int = 256, device: Any = None, rc: Any = False,
                    shift: Any = 0, num_workers: int = 0, verbose: bool = False) -> list[np.ndarray]:
    """Predictions for a dataset whose items are ``(4, L)`` tensors (no targets), in dataset order.

    A dataset with a true ``multi_input`` attribute (:class:`drg.training.inputs.MultiInputDataset`) yields
    a tuple of inputs per item; the batch goes to the model as a list of ``(B, 4, L_i)`` tensors.
    """
    import torch
    from torch.utils.data import DataLoader

    from drg.training.module import forward_averaged
    from drg.utils import progress

    dev = _device(device)
    model = model.to(dev).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=dev.type == "cuda")
    chunks: list[list[np.ndarray]] = []
    with torch.inference_mode():
        multi = bool(getattr(dataset, "multi_input", False))
        for xb in progress(loader, total=len(loader), description="predicting", verbose=verbose):
            if multi:
                xb = [x.to(dev, non_blocking=True) for x in xb]
            else:
                if isinstance(xb, (list, tuple)):
                    xb = xb[0]
                xb = xb.to(dev, non_blocking=True)
            out = forward_averaged(model, xb, rc=rc, shift=shift)
            chunks.append([o.float().cpu().numpy() for o in _split_outputs(out)])
    if not chunks:
        raise InputError("no sequences to predict")
    return [np.concatenate([c[h] for c in chunks]) for h in range(len(chunks[0]))]


def _output_names(model: Any, model_dir: Path | None, sizes: list[int]) -> tuple[list[str], list[list[str]]]:
    """Modality and track names of each head, from the checkpoint's outputs.json or the model config."""
    outputs: dict[str, Any] = {}
    if model_dir is not None:
        from drg.training.checkpoint import read_outputs

        outputs = read_outputs(model_dir)
    modalities = list(outputs.get("modalities") or [])
    tracks = [list(t) for t in outputs.get("tracks") or []]
    if len(tracks) != len(sizes) or any(len(t) != s for t, s in zip(tracks, sizes)):
        tracks = []
        flat = getattr(model, "output_names", None)
        if flat is not None and len(flat) == sum(sizes) and not isinstance(flat[0], (list, tuple)):
            pos = 0
            for s in sizes:
                tracks.append([str(x) for x in flat[pos:pos + s]])
                pos += s
        else:
            tracks = [[f"track_{i}" for i in range(s)] for s in sizes]
    if len(modalities) != len(sizes):
        heads = getattr(getattr(model, "config", None), "heads", None)
        if heads is not None and len(heads) == len(sizes):
            modalities = [str(getattr(h, "name", f"output{i}")) for i, h in enumerate(heads)]
        else:
            modalities = ["predictions"] if len(sizes) == 1 else [f"output{i}" for i in range(len(sizes))]
    return modalities, tracks


def _input_list(X: Any) -> list[Any] | None:
    """The inputs of a multi-input ``X``: a list/tuple, or a path string joining several paths with commas."""
    if isinstance(X, (list, tuple)):
        return list(X)
    if isinstance(X, (str, Path)) and "," in str(X) and not Path(X).exists():
        return [part.strip() for part in str(X).split(",") if part.strip()]
    return None


def _multi_source(items: list[Any], length: int | None, names: Any) -> tuple[str, Any, np.ndarray]:
    """Several inputs (paths or arrays): rows of files are matched by name, arrays are taken row by row."""
    if all(isinstance(x, (str, Path)) for x in items):
        from drg.data import read_sequences
        from drg.training.inputs import match_inputs

        arrays, all_names = [], []
        for path in items:
            data = read_sequences(path, length=length)
            arrays.append(data.X)
            all_names.append(np.asarray(data.names).astype(str))
        match = match_inputs(all_names, [str(p) for p in items], missing="error")
        if all((r == np.arange(len(r))).all() and len(r) == len(a) for r, a in zip(match.rows, arrays)):
            return "array", arrays, match.names
        return "array", [a[r] for a, r in zip(arrays, match.rows)], match.names
    arrays = []
    for i, x in enumerate(items):
        if isinstance(x, (str, Path)):
            raise InputError("give every input as a path, or every input as an array; not a mix")
        arr = x.X if hasattr(x, "X") and hasattr(x, "names") else x
        if getattr(arr, "ndim", 0) != 3:
            raise InputError(f"input {i} has shape {tuple(getattr(arr, 'shape', ()))}; expected (N, 4, L) one-hot")
        arrays.append(arr)
    n = {int(a.shape[0]) for a in arrays}
    if len(n) != 1:
        raise InputError(f"the inputs have {sorted(n)} sequences; arrays must hold the same examples in the same "
                         "order (pass files to match rows by name)")
    count = n.pop()
    if names is None and hasattr(items[0], "names"):
        names = items[0].names
    out_names = np.asarray(names).astype(str) if names is not None else np.array([f"seq_{i}" for i in range(count)])
    if len(out_names) != count:
        raise InputError(f"{len(out_names)} names for {count} sequences")
    return "array", arrays, out_names


def _source(X: Any, genome: Any, regions: Any, length: int | None, names: Any) -> tuple[str, Any, np.ndarray]:
    """(kind, data, names) where kind is 'array' or 'dataset'."""
    if genome is not None or regions is not None:
        if genome is None or regions is None:
            raise InputError("genome predictions need both genome and regions")
        import pandas as pd

        from drg.data import GenomeDataset
        from drg.genome import prepare_regions
        from drg.training.inputs import example_names

        table = regions if isinstance(regions, pd.DataFrame) else prepare_regions(regions, length=length)
        dataset = GenomeDataset(genome, table, None, length=length)
        return "dataset", dataset, example_names(table)
    if X is None:
        raise InputError("nothing to predict: give X (array or file) or genome + regions")
    items = _input_list(X)
    if items is not None:
        return _multi_source(items, length, names)
    if isinstance(X, (str, Path)):
        from drg.data import read_sequences

        data = read_sequences(X, length=length)
        return "array", data.X, np.asarray(data.names).astype(str)
    if hasattr(X, "X") and hasattr(X, "names"):
        return "array", X.X, np.asarray(X.names).astype(str)
    arr = X
    if getattr(arr, "ndim", 0) != 3:
        raise InputError(f"X has shape {tuple(getattr(arr, 'shape', ()))}; expected (N, 4, L) one-hot")
    n = int(arr.shape[0])
    out_names = np.asarray(names).astype(str) if names is not None else np.array([f"seq_{i}" for i in range(n)])
    if len(out_names) != n:
        raise InputError(f"{len(out_names)} names for {n} sequences")
    return "array", arr, out_names


def predict(
    model: Any,
    X: Any = None,
    *,
    genome: Any = None,
    regions: Any = None,
    length: int | None = None,
    names: Any = None,
    batch_size: int = 256,
    device: Any = None,
    rc_average: bool | list[bool] = False,
    shift_average: int | list[int] = 0,
    num_workers: int = 0,
    verbose: bool = False,
) -> list[Any]:
    """Predict with a model or checkpoint and return one :class:`~drg.data.Targets` per output head.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` or a checkpoint / run directory (loaded with :func:`drg.training.load`).
    X
        ``(N, 4, L)`` one-hot array or tensor, a :class:`~drg.data.OneHotSet`, or the path of a DRG
        ``.npz``, a memmap cache directory or a FASTA file (sequences of equal length, or give
        ``length`` to centre-pad/crop them). For a multi-input model: a list with one of these per input
        (files are matched by sequence name, every file must hold the same names; arrays must share their
        row order), or one string of comma-separated paths (``"promoter.npz,enhancer.npz"``).
    genome, regions, length
        Instead of ``X``: a FASTA genome and a region file or table (0-based half-open), resized to
        ``length`` around the centre.
    names
        ``(N,)`` names for an array ``X`` (default ``seq_0``, ...).
    batch_size, device
        Inference batch size and device (default: CUDA if available).
    rc_average, shift_average
        Average the predictions of both strands, and over shifts ``-s, 0, s`` (one value per input, or a
        list of them for a multi-input model).
    num_workers
        DataLoader workers for genome data.
    verbose
        Progress bar.

    Returns
    -------
    list of Targets
        One per output head: ``values`` ``(N, T)`` float32, ``names``, ``tracks`` (from the checkpoint's
        ``outputs.json`` or the model's ``output_names``) and ``modality``.
    """
    from drg.data import Targets

    model_dir = None
    if isinstance(model, (str, Path)):
        from drg.training.checkpoint import find_checkpoint, load

        model_dir = find_checkpoint(model)
        model = load(model_dir)
    kind, data, row_names = _source(X, genome, regions, length, names)
    if kind == "array":
        preds = predict_array(model, data, batch_size=batch_size, device=device, rc=rc_average,
                              shift=shift_average, verbose=verbose)
    else:
        preds = predict_dataset(model, data, batch_size=batch_size, device=device, rc=rc_average,
                                shift=shift_average, num_workers=num_workers, verbose=verbose)
    flat = [p.reshape(p.shape[0], -1) for p in preds]
    modalities, tracks = _output_names(model, model_dir, [p.shape[1] for p in flat])
    return [Targets(p, row_names, t, m) for p, t, m in zip(flat, tracks, modalities)]


def write_predictions(predictions: list[Any], path: PathLike) -> list[Path]:
    """Write predictions with :func:`drg.data.write_targets` (npz, tsv, csv by extension).

    One modality goes to ``path``; several go to ``path`` with the modality inserted before the extension
    (``pred.npz`` -> ``pred.atac.npz``, ``pred.rna.npz``). Returns the paths written.
    """
    from drg.data import write_targets

    path = Path(path)
    if len(predictions) == 1:
        return [write_targets(predictions[0], path)]
    name = path.name
    for ext in (".tsv.gz", ".csv.gz", ".txt.gz", ".npz", ".tsv", ".csv", ".txt"):
        if name.endswith(ext):
            stem, suffix = name[: -len(ext)], ext
            break
    else:
        stem, suffix = name, ".npz"
    return [write_targets(p, path.with_name(f"{stem}.{p.modality}{suffix}")) for p in predictions]

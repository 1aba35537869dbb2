"""Assemble a run's data from its :class:`~drg.training.config.DataConfig`: sequences, aligned and normalised
targets, the train/validation/test split, and the datasets and loaders built from them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.training.config import AugmentationConfig, DataConfig, TrainerConfig

__all__ = ["RunData", "example_names", "load_data", "make_dataset", "make_loader", "EpochSampler", "InputMatch",
           "match_inputs", "read_onehot_input", "MultiInputDataset"]


@dataclass
class RunData:
    """Everything a run reads, aligned by example.

    Attributes
    ----------
    names
        ``(N,)`` example names, in data order.
    X
        ``(N, 4, L)`` int8 one-hot array or memory map (None for genome data).
    genome, regions, length
        FASTA path, regions table (N rows, 0-based half-open) and window length for genome data.
    targets
        One :class:`~drg.data.Targets` per modality, rows in ``names`` order, normalised.
    split
        :class:`~drg.data.Split` with index arrays into ``names``.
    normalization
        Per modality, the fitted normalisation parameters (empty list when none).
    inputs
        Paths of every file read (hashed into provenance).
    split_source
        How the split was made (``"folds"``, ``"explicit"``, ``"random"``), with the fold index.
    rows
        ``(N,)`` row of each example in ``X`` (examples without targets are skipped, not copied out).
    X_inputs
        For several sequence inputs (``data.onehot`` a list): one ``(N_i, 4, L_i)`` array or memory map per
        input, ``X_inputs[0] is X``; None for a single input.
    input_rows
        For several inputs: per input, the ``(N,)`` row of each example in ``X_inputs[i]`` (rows are matched
        by name; ``input_rows[0]`` equals ``rows``).
    lengths
        Sequence length of each input (``[length]`` for a single input).
    """

    names: np.ndarray
    X: np.ndarray | None
    genome: str | None
    regions: pd.DataFrame | None
    length: int
    targets: list[Any]
    split: Any
    normalization: list[list[dict[str, Any]]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    split_source: dict[str, Any] = field(default_factory=dict)
    rows: np.ndarray | None = None
    X_inputs: list[Any] | None = None
    input_rows: list[np.ndarray] | None = None
    lengths: list[int] = field(default_factory=list)

    @property
    def modalities(self) -> list[str]:
        """Modality names, one per target file."""
        return [t.modality for t in self.targets]

    @property
    def multi_input(self) -> bool:
        """True when the model receives a tuple of sequence inputs."""
        return self.X_inputs is not None

    @property
    def n_inputs(self) -> int:
        """Number of sequence inputs."""
        return len(self.X_inputs) if self.X_inputs is not None else 1


class InputMatch(NamedTuple):
    """Rows of several inputs that hold the same examples, from :func:`match_inputs`.

    Attributes
    ----------
    names
        ``(N,)`` names kept, in the order of the first input.
    rows
        Per input, the ``(N,)`` row of each kept name in that input.
    """

    names: np.ndarray
    rows: list[np.ndarray]


def _first(items: Any, k: int = 5) -> list[str]:
    return [str(x) for x in list(items)[:k]]


def match_inputs(names: list[np.ndarray], files: list[str], *, missing: str = "error") -> InputMatch:
    """Match the rows of several sequence inputs by name.

    Parameters
    ----------
    names
        One ``(N_i,)`` array of names per input; names must be unique within an input.
    files
        The file each input was read from (named in errors and warnings).
    missing
        ``"error"``: every input must hold exactly the names of the first input (in any order), else
        :class:`~drg.errors.InputError` naming the file and the first missing and extra names; ``"drop"``:
        keep the names present in every input and warn with :class:`~drg.errors.DRGWarning`.

    Returns
    -------
    InputMatch
        Kept names in the first input's order and, per input, their rows.
    """
    for values, path in zip(names, files):
        uniq, counts = np.unique(values, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1]
            raise InputError(f"{len(dup)} sequence name(s) occur more than once (first: {_first(dup)}); rows of "
                             "several inputs are matched by name, so names must be unique", path=path)
    reference = np.asarray(names[0]).astype(str)
    keep = np.ones(len(reference), dtype=bool)
    positions = [np.arange(len(reference), dtype=np.int64)]
    for values, path in zip(names[1:], files[1:]):
        values = np.asarray(values).astype(str)
        pos = pd.Index(values).get_indexer(reference).astype(np.int64)
        absent = reference[pos < 0]
        extra = values[~np.isin(values, reference)]
        if (len(absent) or len(extra)) and missing == "error":
            parts = []
            if len(absent):
                parts.append(f"{len(absent)} name(s) of {files[0]} are missing here (first: {_first(absent)})")
            if len(extra):
                parts.append(f"{len(extra)} name(s) here are not in {files[0]} (first: {_first(extra)})")
            raise InputError("; ".join(parts) + "; the rows of every data.onehot file are matched by name (set "
                             "data.missing: drop to keep only the names common to all inputs)", path=path)
        keep &= pos >= 0
        positions.append(pos)
    if not keep.all():
        lost = reference[~keep]
        warnings.warn(f"{len(lost)} of {len(reference)} examples are not in every sequence input and were dropped "
                      f"(first: {_first(lost)})", DRGWarning, stacklevel=3)
    if not keep.any():
        raise InputError(f"no sequence name is shared by all {len(files)} inputs: {', '.join(map(str, files))}")
    return InputMatch(reference[keep], [p[keep] for p in positions])


def read_onehot_input(path: str | Path) -> tuple[Any, np.ndarray, list[str]]:
    """``(X, names, files read)`` of a DRG one-hot ``.npz`` or a memory-mapped cache directory."""
    path = Path(path)
    if path.is_dir():
        from drg.data import open_onehot_memmap

        data = open_onehot_memmap(path)
        files = [str(path / "X.npy"), str(path / "names.npy")]
    else:
        from drg.data import read_onehot_npz

        data = read_onehot_npz(path)
        files = [str(path)]
    return data.X, np.asarray(data.names).astype(str), files


def _read_names(value: str | list[str], what: str) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    from drg.utils import open_text

    with open_text(value) as handle:
        names = [tok for line in handle if not line.startswith("#") for tok in line.split()]
    if not names:
        raise InputError(f"no names in the {what} list", path=value)
    return names


def example_names(regions: pd.DataFrame) -> np.ndarray:
    """Names of regions: the ``name`` column when every row has a distinct one, else ``chrom:start-end``."""
    from drg.genome import region_names

    if "name" in regions.columns:
        names = regions["name"].astype(str).to_numpy()
        if len(names) and not np.isin(names, ["", ".", "nan", "None"]).any() and len(set(names)) == len(names):
            return names
    return np.asarray(region_names(regions)).astype(str)


def _split(config: DataConfig, names: np.ndarray, seed: int) -> tuple[Any, dict[str, Any]]:
    from drg.data import Split, fold_split, read_folds

    if config.folds is not None:
        sets = read_folds(config.folds)
        return fold_split(list(names), sets, config.fold), {"kind": "folds", "folds": config.folds,
                                                              "fold": config.fold, "k": len(sets)}
    if config.train is not None or config.val is not None or config.test is not None:
        index = pd.Index(names)
        parts: dict[str, np.ndarray] = {}
        for part in ("val", "test"):
            value = getattr(config, part)
            if value is None:
                parts[part] = np.zeros(0, dtype=np.int64)
                continue
            wanted = _read_names(value, part)
            pos = index.get_indexer(wanted)
            if (pos < 0).any():
                lost = [w for w, p in zip(wanted, pos) if p < 0]
                warnings.warn(f"{len(lost)} of {len(wanted)} {part} names are not in the data and were ignored "
                              f"(first: {lost[:5]})", DRGWarning, stacklevel=3)
            parts[part] = np.unique(pos[pos >= 0]).astype(np.int64)
        if config.train is not None:
            pos = index.get_indexer(_read_names(config.train, "train"))
            train = np.unique(pos[pos >= 0]).astype(np.int64)
        else:
            mask = np.ones(len(names), dtype=bool)
            mask[parts["val"]] = False
            mask[parts["test"]] = False
            train = np.flatnonzero(mask).astype(np.int64)
        overlap = np.intersect1d(train, np.union1d(parts["val"], parts["test"]))
        if len(overlap) or len(np.intersect1d(parts["val"], parts["test"])):
            raise InputError("the explicit train/val/test lists overlap; every example may be in one part only")
        return Split(train, parts["val"], parts["test"]), {"kind": "explicit"}
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    n_val = int(round(config.val_fraction * len(names)))
    n_test = int(round(config.test_fraction * len(names)))
    val, test = np.sort(order[:n_val]), np.sort(order[n_val:n_val + n_test])
    train = np.sort(order[n_val + n_test:])
    return Split(train.astype(np.int64), val.astype(np.int64), test.astype(np.int64)), {
        "kind": "random", "val_fraction": config.val_fraction, "test_fraction": config.test_fraction, "seed": seed}


def load_data(config: DataConfig, *, seed: int = 0) -> RunData:
    """Read sequences and targets, align them by name, split and normalise.

    Parameters
    ----------
    config
        The data section of a run config.
    seed
        Seed of the random split (used only without folds or explicit lists).

    Returns
    -------
    RunData
        Examples are those with targets in every modality, in sequence order; normalisation is fitted on
        the training rows and applied to all rows.
    """
    from drg.data import align_targets, normalize, read_targets

    inputs: list[str] = []
    X = None
    regions = None
    arrays: list[Any] = []
    input_rows: list[np.ndarray] = []
    if config.onehot is not None:
        files = config.onehot_files
        all_names = []
        for path in files:
            array, file_names, read = read_onehot_input(path)
            arrays.append(array)
            all_names.append(file_names)
            inputs += read
        X, names = arrays[0], all_names[0]
        if len(files) > 1:
            match = match_inputs(all_names, files, missing=config.missing)
            input_rows = match.rows
            names = match.names
        else:
            input_rows = [np.arange(len(names), dtype=np.int64)]
        length = int(X.shape[2])
    elif config.genome is not None:
        from drg.genome import prepare_regions

        regions = prepare_regions(config.regions, length=config.length)
        names = example_names(regions)
        lengths = np.unique((regions["end"] - regions["start"]).to_numpy())
        if config.length is None and len(lengths) > 1:
            raise InputError(f"regions have {len(lengths)} different lengths; set data.length", path=config.regions)
        length = int(config.length or lengths[0])
        inputs += [str(config.genome), str(config.regions)]
    else:
        raise InputError("the run config has no sequences: set data.onehot, or data.genome and data.regions")
    if not config.targets:
        raise InputError("the run config has no targets: set data.targets to one file per modality")
    targets = read_targets(config.targets, modality=config.modalities,
                           nonfinite=config.nonfinite)
    inputs += list(config.targets)
    keep = np.arange(len(names))
    for t in targets:
        aligned = align_targets(names[keep], t, missing=config.missing)
        keep = keep[aligned.region_index]
    if len(keep) == 0:
        raise InputError("no example has targets in every modality; check that region names match")
    if len(keep) < len(names):
        names = names[keep]
        if regions is not None:
            regions = regions.iloc[keep].reset_index(drop=True)
    targets = [t.subset(names) for t in targets]
    split, source = _split(config, names, seed)
    if config.folds is not None:
        inputs.append(str(config.folds))
    if len(split.train) == 0:
        raise InputError("the training set is empty; check the fold file or split lists")
    norm_params: list[list[dict[str, Any]]] = []
    if config.normalize is not None:
        out = []
        for t in targets:
            methods = (config.normalize.get(t.modality, []) if isinstance(config.normalize, dict)
                       else config.normalize)
            if not methods:
                out.append(t)
                norm_params.append([])
                continue
            fitted = normalize(t.values[split.train], methods, return_params=True)
            values = normalize(t.values, methods, reference=fitted.params)
            out.append(type(t)(np.asarray(values, dtype=np.float32), t.names, t.tracks, t.modality))
            norm_params.append(fitted.params)
        targets = out
    else:
        norm_params = [[] for _ in targets]
    if X is None:
        return RunData(names, X, config.genome, regions, length, targets, split, norm_params, inputs, source,
                       np.arange(len(names)), lengths=[length])
    rows_per_input = [r[keep] for r in input_rows]
    multi = config.multi_input
    return RunData(names, X, config.genome, regions, length, targets, split, norm_params, inputs, source,
                   rows_per_input[0], X_inputs=arrays if multi else None,
                   input_rows=rows_per_input if multi else None, lengths=[int(a.shape[2]) for a in arrays])


class _Subset:
    """Examples ``indices`` of a dataset; augmentation keeps the parent's example identity."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[int(self.indices[i])]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    @property
    def multi_input(self) -> bool:
        """True when items hold a tuple of sequence inputs."""
        return bool(getattr(self.dataset, "multi_input", False))


class MultiInputDataset:
    """Examples made of several sequence inputs, each row looked up in its own dataset.

    Parameters
    ----------
    datasets
        One dataset per input, without targets, whose items are ``(4, L_i)`` tensors (an
        :class:`~drg.data.ArrayDataset` with its own augmentation settings and seed).
    rows
        Per input, the ``(N,)`` row of each example in that input's dataset.
    targets
        None, or one ``(N, T_m)`` float32 array per modality, in example order.

    Notes
    -----
    ``dataset[j]`` is ``(x_1, ..., x_k)`` (a tuple of float32 tensors ``(4, L_i)``) without targets and
    ``((x_1, ..., x_k), [y_1, ..., y_m])`` with them; the default collate turns a batch of them into a list
    of ``(B, 4, L_i)`` tensors, which a multi-input model takes as is. Each input draws its own reverse
    complement and shift (from its dataset's seed and the example's row in that input).
    """

    multi_input = True

    def __init__(self, datasets: list[Any], rows: list[np.ndarray], targets: list[np.ndarray] | None = None) -> None:
        if len(datasets) != len(rows) or not datasets:
            raise InputError(f"{len(datasets)} input datasets for {len(rows)} row arrays; expected one per input")
        self.datasets = list(datasets)
        self.rows = [np.asarray(r, dtype=np.int64) for r in rows]
        n = {len(r) for r in self.rows}
        if len(n) != 1:
            raise InputError(f"the inputs' row arrays have different lengths {sorted(n)}; expected one row per "
                             "example in every input")
        self._n = n.pop()
        self.targets = None if targets is None else [np.asarray(t, dtype=np.float32) for t in targets]
        if self.targets is not None and any(len(t) != self._n for t in self.targets):
            raise InputError(f"targets have {[len(t) for t in self.targets]} rows for {self._n} examples")

    @property
    def n_inputs(self) -> int:
        """Number of sequence inputs."""
        return len(self.datasets)

    def __len__(self) -> int:
        return int(self._n)

    def __getitem__(self, index: int) -> Any:
        import torch

        index = int(index)
        xs = tuple(d[int(r[index])] for d, r in zip(self.datasets, self.rows))
        if self.targets is None:
            return xs
        return xs, [torch.from_numpy(t[index].copy()) for t in self.targets]

    def set_epoch(self, epoch: int) -> None:
        for d in self.datasets:
            d.set_epoch(epoch)


def make_dataset(data: RunData, indices: np.ndarray, *, augmentation: AugmentationConfig | None, seed: int,
                 with_targets: bool = True, reverse_complement: Any = None) -> Any:
    """Dataset over ``indices`` of ``data`` with (training) augmentation when ``augmentation`` is given.

    ``reverse_complement="always"`` with no augmentation builds the strand-flipped copy used for
    test-time averaging (for several inputs it may be a list, one value per input). With several
    sequence inputs the items are a tuple of inputs (see :class:`MultiInputDataset`).
    """
    from drg.data import ArrayDataset, GenomeDataset

    if data.X_inputs is not None:
        return _multi_dataset(data, indices, augmentation=augmentation, seed=seed, with_targets=with_targets,
                              reverse_complement=reverse_complement)

    rows = np.arange(len(data.names)) if data.rows is None else np.asarray(data.rows)
    targets = None
    if with_targets:
        n_rows = len(data.X) if data.X is not None else len(data.names)
        targets = []
        for t in data.targets:
            full = np.zeros((n_rows, t.values.shape[1]), dtype=np.float32)
            full[rows] = t.values
            targets.append(full)
    rc: Any = bool(augmentation.reverse_complement) if augmentation is not None else False
    if reverse_complement is not None:
        rc = reverse_complement
    shift = augmentation.shift if augmentation is not None else 0
    if data.X is not None:
        base: Any = ArrayDataset(data.X, targets, reverse_complement=rc, shift=shift, seed=seed)
    else:
        base = GenomeDataset(data.genome, data.regions, targets, length=data.length, jitter=shift,
                             reverse_complement=rc, seed=seed)
    return _Subset(base, rows[np.asarray(indices, dtype=np.int64)])


def _multi_dataset(data: RunData, indices: np.ndarray, *, augmentation: AugmentationConfig | None, seed: int,
                   with_targets: bool, reverse_complement: Any) -> Any:
    """:class:`MultiInputDataset` over ``indices`` (example indices) of a multi-input ``data``."""
    from drg.data import ArrayDataset

    assert data.X_inputs is not None and data.input_rows is not None
    k = len(data.X_inputs)
    rcs: list[Any] = augmentation.per_input("reverse_complement", k) if augmentation is not None else [False] * k
    shifts: list[int] = augmentation.per_input("shift", k) if augmentation is not None else [0] * k
    if reverse_complement is not None:
        rcs = list(reverse_complement) if isinstance(reverse_complement, (list, tuple)) else [reverse_complement] * k
        if len(rcs) != k:
            raise InputError(f"{len(rcs)} reverse_complement values for {k} inputs")
    datasets = []
    for i, (X, rc, shift) in enumerate(zip(data.X_inputs, rcs, shifts)):
        if shift >= X.shape[2]:
            raise InputError(f"augmentation shift {shift} of input {i} must be smaller than its sequence length "
                             f"{X.shape[2]}")
        input_seed = int(np.random.SeedSequence([int(seed), i]).generate_state(1)[0]) if i else int(seed)
        datasets.append(ArrayDataset(X, None, reverse_complement=rc, shift=shift, seed=input_seed))
    idx = np.asarray(indices, dtype=np.int64)
    targets = [np.asarray(t.values, dtype=np.float32)[idx] for t in data.targets] if with_targets else None
    return MultiInputDataset(datasets, [r[idx] for r in data.input_rows], targets)


class EpochSampler:
    """Shuffled (or ordered) indices that depend only on ``(seed, epoch)``, split across DDP ranks.

    Each rank takes every ``world_size``-th index of the epoch's permutation, padded by wrapping so all
    ranks see the same number of batches. ``set_epoch`` also tells the dataset the epoch, so augmentation
    draws change every epoch.
    """

    def __init__(self, dataset: Any, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.dataset, self.shuffle, self.seed = dataset, shuffle, int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.world_size)

    def __iter__(self):  # type: ignore[no-untyped-def]
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        total = len(self) * self.world_size
        if total > n:
            order = np.concatenate([order, order[: total - n]])
        return iter(order[self.rank::self.world_size].tolist())


def make_loader(dataset: Any, trainer: TrainerConfig, *, shuffle: bool, seed: int, rank: int = 0,
                world_size: int = 1, batch_size: int | None = None, gpu: bool = False) -> Any:
    """DataLoader with an :class:`EpochSampler`, workers and pinned memory (on GPU by default)."""
    from torch.utils.data import DataLoader

    pin = trainer.pin_memory if trainer.pin_memory is not None else gpu
    sampler = EpochSampler(dataset, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)
    kwargs: dict[str, Any] = {}
    if trainer.num_workers > 0:
        kwargs["persistent_workers"] = trainer.persistent_workers
        kwargs["prefetch_factor"] = 4
    return DataLoader(dataset, batch_size=batch_size or trainer.batch_size, sampler=sampler,
                      num_workers=trainer.num_workers, pin_memory=pin, drop_last=False, **kwargs)

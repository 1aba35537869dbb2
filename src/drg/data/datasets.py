"""PyTorch datasets of one-hot sequences: in memory, memory-mapped from disk, or cut from a genome on the fly.

* :func:`write_onehot_memmap` / :func:`open_onehot_memmap`: an int8 ``(N, 4, L)`` cache on disk for data
  that do not fit in memory (800k regions x 2 kb is 6.4 GB), built chunk by chunk from an array, an
  iterator of arrays or an iterator of sequence strings.
* :class:`ArrayDataset`: examples from an ``(N, 4, L)`` array or memory map, with optional random
  reverse complement and random shifts.
* :class:`GenomeDataset`: examples extracted from a genome FASTA as they are needed, with random jitter of
  the window and random reverse complement.

Augmentation is deterministic: the choice for example ``i`` in epoch ``e`` is a hash of ``(seed, e, i)``,
so the same seed gives the same stream whatever the number of DataLoader workers or the order in which
items are requested. Call ``set_epoch(e)`` at the start of each epoch to draw new augmentations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from drg.data.drgio import OneHotSet, _as_int8
from drg.errors import InputError
from drg.utils import PathLike, atomic_directory, progress

__all__ = ["Augmentation", "write_onehot_memmap", "open_onehot_memmap", "ArrayDataset", "GenomeDataset"]

_FORMAT = "drg-onehot-memmap"
_MASK = (1 << 64) - 1
ReverseComplement = bool | Literal["always"]


# ---------------------------------------------------------------------------------------------------------
# memory-mapped cache
# ---------------------------------------------------------------------------------------------------------


def _encode_strings(seqs: list[str], alphabet: str) -> np.ndarray:
    from drg.genome import one_hot_encode

    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise InputError(f"sequences of different lengths {sorted(lengths)[:5]} in one source; a one-hot "
                         "cache needs equal lengths (resize the regions first)")
    return one_hot_encode(seqs, alphabet)


def _batches(source: Any, alphabet: str, chunk_size: int) -> Iterator[np.ndarray]:
    """Yield int8 ``(B, C, L)`` blocks from an array, or from an iterable of arrays or strings."""
    if hasattr(source, "X") and isinstance(getattr(source, "X"), np.ndarray):
        source = source.X
    if isinstance(source, np.ndarray) or (hasattr(source, "shape") and hasattr(source, "ndim")):
        if source.ndim != 3:
            raise InputError(f"source array has shape {tuple(source.shape)}; expected (N, C, L)")
        for lo in range(0, source.shape[0], chunk_size):
            yield _as_int8(np.asarray(source[lo:lo + chunk_size]), "source")
        return
    strings: list[str] = []
    for item in source:
        if isinstance(item, str) or (isinstance(item, (list, tuple)) and item and isinstance(item[0], str)):
            strings.extend([item] if isinstance(item, str) else list(item))
            if len(strings) >= chunk_size:
                yield _encode_strings(strings, alphabet)
                strings = []
            continue
        if strings:
            yield _encode_strings(strings, alphabet)
            strings = []
        block = np.asarray(item)
        if block.ndim == 2:
            block = block[None]
        if block.ndim != 3:
            raise InputError(f"source item has shape {block.shape}; expected (C, L), (B, C, L) or a sequence "
                             "string")
        yield _as_int8(block, "source item")
    if strings:
        yield _encode_strings(strings, alphabet)


def write_onehot_memmap(
    path: PathLike,
    source: np.ndarray | OneHotSet | Iterable[Any],
    names: Sequence[str] | np.ndarray,
    *,
    alphabet: str = "ACGT",
    chunk_size: int = 4096,
    verbose: bool = False,
) -> Path:
    """Write one-hot sequences to a memory-mappable int8 cache directory, chunk by chunk, atomically.

    Parameters
    ----------
    path
        Output directory. It holds ``X.npy`` (``(N, C, L)`` int8), ``names.npy`` (``(N,)`` unicode) and
        ``meta.json``. An existing cache at ``path`` is replaced; any other existing file or directory is
        an error.
    source
        ``(N, C, L)`` array (or memory map, or :class:`~drg.data.OneHotSet`), or an iterable yielding
        ``(C, L)`` arrays, ``(B, C, L)`` batches, sequence strings or lists of strings (encoded with
        :func:`drg.genome.one_hot_encode`; all strings must have the same length). Only one chunk is held
        in memory at a time, so a generator over a :class:`~drg.genome.Genome` builds caches larger than
        RAM.
    names
        ``(N,)`` names; the source must yield exactly ``N`` sequences.
    alphabet
        Letter of each channel (``C == len(alphabet)``).
    chunk_size
        Sequences copied or encoded per step.
    verbose
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> seqs = (genome.fetch(c, s, e) for c, s, e in zip(chroms, starts, ends))  # doctest: +SKIP
    >>> write_onehot_memmap("peaks.onehot", seqs, names)                          # doctest: +SKIP
    >>> data = open_onehot_memmap("peaks.onehot")                                 # doctest: +SKIP
    """
    path = Path(path)
    if chunk_size < 1:
        raise InputError(f"chunk_size must be positive, got {chunk_size}")
    names_arr = np.asarray(names).astype(str).reshape(-1)
    n = names_arr.shape[0]
    if path.exists() and not (path.is_dir() and (path / "meta.json").exists()):
        raise InputError("exists and is not a one-hot cache; refusing to replace it", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(path) as tmp:
        X: np.memmap | None = None
        filled = 0
        n_chunks = -(-n // chunk_size) if n else 0
        for block in progress(_batches(source, alphabet, chunk_size), total=n_chunks,
                              description="writing one-hot cache", verbose=verbose):
            if X is None:
                if block.shape[1] != len(alphabet):
                    raise InputError(f"source has {block.shape[1]} channels but the alphabet {alphabet!r} has "
                                     f"{len(alphabet)} letters")
                X = np.lib.format.open_memmap(tmp / "X.npy", mode="w+", dtype=np.int8,
                                              shape=(n, block.shape[1], block.shape[2]))
            if block.shape[1:] != X.shape[1:]:
                raise InputError(f"source sequence {filled + 1} has shape {block.shape[1:]}, expected "
                                 f"{X.shape[1:]} like the first one")
            if filled + block.shape[0] > n:
                raise InputError(f"source yields more than the {n} sequences named in names")
            X[filled:filled + block.shape[0]] = block
            filled += block.shape[0]
        if filled != n:
            raise InputError(f"source yielded {filled} sequences for {n} names; expected one per name")
        if X is None:
            raise InputError("source yielded no sequences; cannot write an empty one-hot cache")
        X.flush()
        shape = X.shape
        del X
        np.save(tmp / "names.npy", names_arr)
        meta = {"format": _FORMAT, "version": 1, "n": int(shape[0]), "channels": int(shape[1]),
                "length": int(shape[2]), "alphabet": alphabet, "dtype": "int8"}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return path


def open_onehot_memmap(path: PathLike) -> OneHotSet:
    """Open a cache written by :func:`write_onehot_memmap` without reading it into memory.

    Parameters
    ----------
    path
        The cache directory.

    Returns
    -------
    OneHotSet
        ``X`` a read-only ``numpy.memmap`` ``(N, C, L)`` int8, ``names`` ``(N,)`` (in memory), ``alphabet``.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not path.is_dir() or not meta_path.exists():
        raise InputError("not a one-hot cache directory (expected meta.json, X.npy and names.npy)", path=path)
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"meta.json is not valid JSON: {exc}", path=meta_path) from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise InputError(f"meta.json does not describe a {_FORMAT!r} cache", path=meta_path)
    for member in ("X.npy", "names.npy"):
        if not (path / member).exists():
            raise InputError(f"the cache lacks {member}", path=path)
    try:
        X = np.load(path / "X.npy", mmap_mode="r")
        names = np.load(path / "names.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the cache arrays: {exc}", path=path) from None
    expected = (meta.get("n"), meta.get("channels"), meta.get("length"))
    if X.dtype != np.int8 or X.shape != expected or names.shape != (X.shape[0],):
        raise InputError(f"X.npy {X.dtype} {X.shape} and names.npy {names.shape} do not match meta.json "
                         f"(int8 {expected})", path=path)
    return OneHotSet(X, names.astype(str), str(meta.get("alphabet", "ACGT")))


# ---------------------------------------------------------------------------------------------------------
# augmentation
# ---------------------------------------------------------------------------------------------------------


class Augmentation(NamedTuple):
    """The augmentation applied to one example.

    Attributes
    ----------
    reverse_complement
        Whether the example is reverse-complemented.
    shift
        Shift in bases (ArrayDataset: content moves right for positive values; GenomeDataset: the window
        moves towards higher genomic coordinates).
    """

    reverse_complement: bool
    shift: int


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _augmentation(seed: int, epoch: int, index: int, rc: ReverseComplement, shift: int) -> Augmentation:
    h = _splitmix64(_splitmix64(_splitmix64(seed & _MASK) ^ (epoch & _MASK)) ^ (index & _MASK))
    flip = rc == "always" or (rc is True and bool(h >> 63))
    offset = int(_splitmix64(h) % (2 * shift + 1)) - shift if shift else 0
    return Augmentation(flip, offset)


def _shift_columns(x: np.ndarray, s: int) -> np.ndarray:
    """``out[:, j] = x[:, j - s]``; columns shifted in are zero (unknown base)."""
    if s == 0:
        return x
    out = np.zeros_like(x)
    if s > 0:
        out[:, s:] = x[:, :-s]
    else:
        out[:, :s] = x[:, -s:]
    return out


def _check_rc(rc: Any) -> ReverseComplement:
    if rc not in (True, False, "always"):
        raise InputError(f"reverse_complement must be True, False or 'always', got {rc!r}")
    return rc


def _prepare_targets(targets: Any, n: int) -> tuple[list[np.ndarray] | None, bool]:
    """Targets as a list of float32 (N, T) arrays and whether a single array (not a list) was given.

    ``targets`` is None, one (N, T) array or a list of them (one per modality); objects with a ``values``
    attribute (:class:`~drg.data.Targets`, DataFrames) are accepted.
    """
    if targets is None:
        return None, True
    single = not isinstance(targets, (list, tuple))
    out = []
    for t, item in enumerate([targets] if single else targets):
        values = item.values if hasattr(item, "values") and not isinstance(item, np.ndarray) else item
        arr = np.asarray(values, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != n:
            which = "targets" if single else f"targets[{t}]"
            raise InputError(f"{which} has shape {arr.shape}; expected ({n}, T), one row per example")
        out.append(arr)
    return out, single


class _AugmentedDataset(Dataset):
    """Shared epoch, seed, augmentation and target handling."""

    _rc: ReverseComplement
    _shift: int
    _targets: list[np.ndarray] | None
    _single: bool

    def __init__(self, seed: int, reverse_complement: ReverseComplement, shift: int) -> None:
        self.seed = int(seed)
        self.epoch = 0
        self._rc = _check_rc(reverse_complement)
        if int(shift) < 0:
            raise InputError(f"shift/jitter must be >= 0, got {shift}")
        self._shift = int(shift)

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of epoch ``epoch``.

        Call it before creating the epoch's DataLoader iterator: workers copy the dataset when they start,
        so with ``persistent_workers=True`` they keep the epoch they started with.
        """
        self.epoch = int(epoch)

    def augmentation(self, index: int) -> Augmentation:
        """The reverse complement and shift that example ``index`` gets in the current epoch."""
        return _augmentation(self.seed, self.epoch, int(index), self._rc, self._shift)

    def _check_index(self, index: int) -> int:
        n = len(self)  # type: ignore[arg-type]
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} examples")
        return index

    def _output(self, x: np.ndarray, index: int) -> Any:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if self._targets is None:
            return xt
        ys = [torch.from_numpy(t[index].copy()) for t in self._targets]
        return (xt, ys[0]) if self._single else (xt, ys)


class ArrayDataset(_AugmentedDataset):
    """Examples from an in-memory or memory-mapped one-hot array.

    Parameters
    ----------
    X
        ``(N, 4, L)`` one-hot (int8 recommended; a ``numpy.memmap`` from :func:`open_onehot_memmap` or a
        :class:`~drg.data.OneHotSet` works too). Only the requested rows are read.
    targets
        None, an ``(N, T)`` array (or :class:`~drg.data.Targets`), or a list of them for several
        modalities.
    reverse_complement
        ``False``; ``True`` for a random reverse complement with probability 0.5; ``"always"`` to reverse
        complement every example (for test-time strand averaging). Needs A, C, G, T channel order.
    shift
        Random shift in ``[-shift, shift]`` positions; positions shifted in are all-zero (``N``).
    seed
        Seed of the augmentation stream.

    Notes
    -----
    ``dataset[i]`` returns ``x`` (float32 tensor ``(4, L)``) when there are no targets, ``(x, y)`` with ``y``
    a float32 ``(T,)`` tensor for one target array, and ``(x, [y_1, ..., y_m])`` for a list of ``m``. The
    shift is applied before the reverse complement. A memory map is pickled as its file name, so
    DataLoader workers reopen it instead of copying the data.
    """

    def __init__(
        self,
        X: np.ndarray | OneHotSet,
        targets: Any = None,
        *,
        reverse_complement: ReverseComplement = False,
        shift: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(seed, reverse_complement, shift)
        if isinstance(X, OneHotSet):
            X = X.X
        if not isinstance(X, np.ndarray):
            X = np.asarray(X)
        if X.ndim != 3:
            raise InputError(f"X has shape {X.shape}; expected (N, 4, L)")
        if self._rc is not False and X.shape[1] != 4:
            raise InputError(f"reverse complement needs 4 channels (A, C, G, T), X has {X.shape[1]}")
        if self._shift >= X.shape[2]:
            raise InputError(f"shift {self._shift} must be smaller than the sequence length {X.shape[2]}")
        self.X = X
        self._targets, self._single = _prepare_targets(targets, X.shape[0])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, index: int) -> Any:
        index = self._check_index(index)
        aug = self.augmentation(index)
        x = _shift_columns(np.asarray(self.X[index]), aug.shift)
        if aug.reverse_complement:
            x = x[::-1, ::-1]
        return self._output(x, index)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        X = self.X
        if isinstance(X, np.memmap) and X.filename and X.flags.c_contiguous:
            try:
                whole = os.path.getsize(X.filename) == X.offset + X.nbytes
            except OSError:
                whole = False
            if whole:  # the map covers the file's whole array: reopen it instead of copying the data
                state["X"] = None
                state["_memmap"] = (X.filename, X.offset, X.shape, X.dtype.str)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        spec = state.pop("_memmap", None)
        self.__dict__.update(state)
        if spec is not None:
            filename, offset, shape, dtype = spec
            self.X = np.memmap(filename, mode="r", dtype=np.dtype(dtype), shape=shape, offset=offset)


class GenomeDataset(_AugmentedDataset):
    """Examples cut from a genome FASTA on the fly.

    Region ``i`` is resized to ``length`` around its centre (new start = ``start + (old_length - length)
    // 2``, as :func:`drg.genome.resize`), moved by a random jitter in ``[-jitter, jitter]`` bases, fetched
    (``N`` beyond the chromosome ends; reverse-complemented for strand ``"-"``), one-hot encoded and, with
    ``reverse_complement``, reverse-complemented at random.

    Parameters
    ----------
    genome
        A :class:`~drg.genome.Genome` or a FASTA path. Only the path and options are pickled; each
        process (DataLoader worker) opens its own file handles on first use.
    regions
        Regions with ``chrom``, ``start``, ``end`` (0-based half-open) and optionally ``strand``.
    targets
        None, an ``(N, T)`` array (or :class:`~drg.data.Targets`) in region order, or a list of them.
    length
        Window length; default: the regions' own length, which must then be the same for all.
    jitter
        Maximum random shift of the window in bases.
    reverse_complement
        ``False``, ``True`` (random, probability 0.5) or ``"always"``.
    seed
        Seed of the augmentation stream.

    Notes
    -----
    Items have the same form as :class:`ArrayDataset`'s: ``x`` float32 ``(4, L)``, plus targets if given.
    """

    def __init__(
        self,
        genome: Any,
        regions: pd.DataFrame,
        targets: Any = None,
        *,
        length: int | None = None,
        jitter: int = 0,
        reverse_complement: ReverseComplement = False,
        seed: int = 0,
    ) -> None:
        from drg.genome import Genome

        super().__init__(seed, reverse_complement, jitter)
        if not isinstance(genome, Genome):
            genome = Genome(genome)
        self._genome_spec = (str(genome.path), str(genome.cache_dir), bool(genome.uppercase))
        self._genome: Any = genome
        self._pid = os.getpid()
        missing = [c for c in ("chrom", "start", "end") if c not in regions.columns]
        if missing:
            raise InputError(f"regions lack column(s) {missing}; expected chrom, start, end (0-based)")
        starts = regions["start"].to_numpy(np.int64)
        ends = regions["end"].to_numpy(np.int64)
        if length is None:
            lengths = np.unique(ends - starts)
            if len(lengths) > 1:
                raise InputError(f"regions have {len(lengths)} different lengths ({lengths[:5].tolist()}); pass "
                                 "length= to resize them to one window size")
            length = int(lengths[0]) if len(lengths) else 1
        if int(length) <= 0:
            raise InputError(f"length must be positive, got {length}")
        self.length = int(length)
        self._chroms = regions["chrom"].astype(str).to_numpy()
        unknown = sorted(set(self._chroms) - set(genome.chrom_sizes))
        if unknown:
            raise InputError(f"{len(unknown)} chromosome(s) of the regions are not in the genome: "
                             f"{unknown[:5]}", path=genome.path)
        self._starts = starts + (ends - starts - self.length) // 2
        if "strand" in regions.columns:
            self._strands = np.where(regions["strand"].astype(str).to_numpy() == "-", "-", "+")
        else:
            self._strands = np.full(len(regions), "+")
        self._targets, self._single = _prepare_targets(targets, len(regions))

    def __len__(self) -> int:
        return int(self._starts.shape[0])

    @property
    def genome(self) -> Any:
        """The genome, opened in this process on first use."""
        if self._genome is None or self._pid != os.getpid():
            from drg.genome import Genome

            path, cache_dir, uppercase = self._genome_spec
            self._genome = Genome(path, cache_dir=cache_dir, uppercase=uppercase)
            self._pid = os.getpid()
        return self._genome

    def window(self, index: int) -> tuple[str, int, int, str]:
        """``(chrom, start, end, strand)`` fetched for example ``index`` in the current epoch (with jitter)."""
        index = self._check_index(index)
        start = int(self._starts[index]) + self.augmentation(index).shift
        return str(self._chroms[index]), start, start + self.length, str(self._strands[index])

    def __getitem__(self, index: int) -> Any:
        from drg.genome import one_hot_encode

        index = self._check_index(index)
        chrom, start, end, strand = self.window(index)
        x = one_hot_encode(self.genome.fetch(chrom, start, end, strand=strand))[0]
        if self.augmentation(index).reverse_complement:
            x = x[::-1, ::-1]
        return self._output(x, index)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_genome"] = None  # file handles are not shared between processes
        return state

"""DRG's one-hot ``.npz`` files.

DRG stores one-hot sequences channels-last:

* ``seqfeatures``: ``(N, L, C)`` int8, ``C`` = number of letters (4 for DNA);
* ``genenames``: ``(N,)`` region names;
* ``featurenames`` (optional): ``(C,)`` the letters, e.g. ``['A', 'C', 'G', 'T']``.

Some DRG scripts save ``seqfeatures`` as the pair ``(seqfeatures, featurenames)``, which numpy stores as a
pickled object array. Unpickling can run arbitrary code, so such files are read only with
``allow_pickle=True``. In memory DRG uses ``(N, C, L)`` (channels first); the conversion happens here.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.utils import PathLike, atomic_write

__all__ = ["OneHotSet", "read_onehot_npz", "write_onehot_npz"]


@dataclass
class OneHotSet:
    """One-hot sequences with their names.

    Attributes
    ----------
    X
        ``(N, C, L)`` int8 one-hot (channels first; ``C = len(alphabet)``), possibly a read-only memory map.
    names
        ``(N,)`` region names (str).
    alphabet
        The letter of each channel, e.g. ``"ACGT"``.
    """

    X: np.ndarray
    names: np.ndarray
    alphabet: str = "ACGT"

    def __len__(self) -> int:
        return int(self.X.shape[0])


def _as_int8(X: Any, what: str, path: PathLike | None = None) -> np.ndarray:
    """Cast to int8, refusing values that int8 would change (e.g. 0.25 or 300)."""
    X = np.asarray(X)
    if X.dtype == np.int8:
        return X
    if X.dtype == bool:
        return X.astype(np.int8)
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise InputError(f"{what} must be numeric one-hot values, got dtype {X.dtype}", path=path)
    cast = X.astype(np.int8)
    if not np.array_equal(cast, X):
        bad = np.flatnonzero(cast.reshape(-1) != X.reshape(-1))[0]
        raise InputError(f"{what} must hold small integers (one-hot 0/1) to be stored as int8; value "
                         f"{X.reshape(-1)[bad]!r} is not", path=path)
    return cast


def _load_member(data: Any, key: str, path: Path, allow_pickle: bool) -> np.ndarray:
    try:
        return data[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(
                f"{key!r} is stored as a pickled object array (DRG sometimes saves the pair "
                "(seqfeatures, featurenames) this way). Unpickling can run arbitrary code: pass "
                "allow_pickle=True only if you trust this file", path=path) from None
        raise InputError(f"cannot read {key!r}: {exc}", path=path) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"cannot read {key!r}, the archive is damaged: {exc}", path=path) from None


def read_onehot_npz(path: PathLike, *, allow_pickle: bool = False) -> OneHotSet:
    """Read a DRG one-hot ``.npz`` file into channels-first layout.

    Parameters
    ----------
    path
        ``.npz`` with ``seqfeatures`` ``(N, L, C)`` and ``genenames`` ``(N,)`` (other keys are ignored).
    allow_pickle
        Allow reading the pickled ``(seqfeatures, featurenames)`` variant. Only for trusted files.

    Returns
    -------
    OneHotSet
        ``X`` ``(N, C, L)`` int8, ``names`` ``(N,)`` str, ``alphabet`` from ``featurenames`` (``"ACGT"`` when
        absent and ``C == 4``).

    Raises
    ------
    InputError
        Missing file or key, a pickled array without ``allow_pickle``, wrong shapes, non-integral values.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    try:
        data = np.load(path, allow_pickle=allow_pickle)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"not a readable .npz archive: {exc}", path=path) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError("expected an .npz archive (several named arrays), found a single .npy array",
                         path=path)
    with data:
        keys = list(data.files)
        for key in ("seqfeatures", "genenames"):
            if key not in keys:
                raise InputError(f"missing key {key!r}; expected 'seqfeatures' (N, L, 4) and 'genenames' "
                                 f"(N,); the file holds {keys}", path=path)
        X = _load_member(data, "seqfeatures", path, allow_pickle)
        names = _load_member(data, "genenames", path, allow_pickle)
        features = _load_member(data, "featurenames", path, allow_pickle) if "featurenames" in keys else None

    if X.dtype == object:
        # DRG's (seqfeatures, featurenames) pair
        if X.shape[:1] != (2,):
            raise InputError(f"'seqfeatures' is an object array of shape {X.shape}; expected the pair "
                             "(seqfeatures, featurenames) or a numeric (N, L, C) array", path=path)
        X, features = np.asarray(X[0]), np.asarray(X[1])
        if X.dtype == object:
            raise InputError("'seqfeatures' holds sequences of different lengths; expected one (N, L, C) "
                             "array", path=path)
    if X.ndim != 3:
        raise InputError(f"'seqfeatures' has shape {X.shape}; expected 3 dimensions (N, L, C)", path=path)
    names = np.asarray(names).astype(str).reshape(-1)
    if names.shape[0] != X.shape[0]:
        raise InputError(f"'genenames' has {names.shape[0]} entries but 'seqfeatures' has {X.shape[0]} "
                         "sequences; expected one name per sequence", path=path)
    n_channels = X.shape[2]
    if features is None:
        if n_channels != 4:
            raise InputError(f"'seqfeatures' has {n_channels} channels and no 'featurenames'; expected 4 "
                             "(A, C, G, T) or a 'featurenames' array", path=path)
        alphabet = "ACGT"
    else:
        letters = [str(f) for f in np.asarray(features).reshape(-1)]
        if len(letters) != n_channels:
            raise InputError(f"'featurenames' has {len(letters)} entries for {n_channels} channels of "
                             "'seqfeatures'", path=path)
        if any(len(f) != 1 for f in letters):
            raise InputError(f"'featurenames' {letters[:8]} are not single letters; only sequence one-hot "
                             "files are supported", path=path)
        alphabet = "".join(letters)
    X = _as_int8(X, "'seqfeatures'", path)
    return OneHotSet(np.ascontiguousarray(X.transpose(0, 2, 1)), names, alphabet)


def write_onehot_npz(
    path: PathLike,
    X: np.ndarray,
    names: Any,
    *,
    alphabet: str = "ACGT",
    compressed: bool = True,
) -> None:
    """Write one-hot sequences as a DRG ``.npz`` (channels last), atomically.

    Parameters
    ----------
    path
        Output file, written exactly at this path (no ``.npz`` is appended).
    X
        ``(N, C, L)`` one-hot with ``C == len(alphabet)``; values must fit int8 exactly.
    names
        ``(N,)`` region names.
    alphabet
        The letter of each channel; stored as ``featurenames``.
    compressed
        Use ``np.savez_compressed`` (one-hot compresses about 10x).

    Notes
    -----
    Keys written: ``seqfeatures`` ``(N, L, C)`` int8, ``genenames`` ``(N,)`` unicode, ``featurenames``
    ``(C,)`` unicode. No object arrays, so the file reads without ``allow_pickle``.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise InputError(f"X has shape {X.shape}; expected (N, C, L)")
    if X.shape[1] != len(alphabet):
        raise InputError(f"X has {X.shape[1]} channels but the alphabet {alphabet!r} has {len(alphabet)} "
                         "letters; expected X as (N, C, L) channels first")
    names = np.asarray(names).astype(str).reshape(-1)
    if names.shape[0] != X.shape[0]:
        raise InputError(f"{names.shape[0]} names for {X.shape[0]} sequences; expected one name each")
    seqfeatures = np.ascontiguousarray(_as_int8(X, "X").transpose(0, 2, 1))
    featurenames = np.array(list(alphabet), dtype=str)
    save = np.savez_compressed if compressed else np.savez
    with atomic_write(path, "wb") as handle:
        save(handle, seqfeatures=seqfeatures, genenames=names, featurenames=featurenames)


def read_sequences(path: PathLike, *, length: int | None = None) -> OneHotSet:
    """One-hot sequences with names from a DRG ``.npz``, a memory-mapped cache directory or a FASTA file.

    Parameters
    ----------
    path
        The file (or cache directory).
    length
        FASTA sequences are centre-padded/cropped to this length (without it they must all have the same
        length); ``.npz`` and cache sequences must already have it.

    Returns
    -------
    OneHotSet
        ``X`` (N, 4, L) int8 (a read-only memmap for a cache directory) and ``names``.
    """
    path = Path(path)
    if path.is_dir():
        from drg.data.datasets import open_onehot_memmap

        data = open_onehot_memmap(path)
    elif not path.exists():
        raise InputError("file not found", path=path)
    elif path.name.endswith(".npz"):
        data = read_onehot_npz(path)
    else:
        from drg.genome import one_hot_encode, read_fasta

        records = read_fasta(path)
        if not records.sequences:
            raise InputError("no sequences found", path=path)
        lengths = sorted({len(s) for s in records.sequences})
        if length is None and len(lengths) > 1:
            raise InputError(f"sequences have {len(lengths)} different lengths ({lengths[:5]}); give a length "
                             "to centre-pad/crop them to the model's input length", path=path)
        return OneHotSet(one_hot_encode(records.sequences, length=length), np.asarray(records.names).astype(str))
    if length is not None and data.X.shape[-1] != length:
        raise InputError(f"sequences have length {data.X.shape[-1]}, expected {length}", path=path)
    return data

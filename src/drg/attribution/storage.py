"""Attribution files: dense ``.npz``, chunked HDF5 for large sets, top-k sparse values, bigWig export.

Layout (DRG's attribution ``.npz`` extended with provenance):

- ``names`` ``(N,)`` region names; ``experiments`` ``(T,)`` track names;
- ``values`` ``(N, T, 4, L)`` float (bases A,C,G,T), or top-k ``(N, T, 5, k)``: channels 0-3 are the four base
  values at the kept positions and channel 4 holds the positions (0-based), as DRG stores sparse attributions;
- ``metadata``: a JSON string with ``layout`` (``dense``/``topk``), ``length`` L, ``method``, ``gauge`` and
  ``model_info``;
- optional ``X`` ``(N, 4, L)`` int8 one-hot and ``chrom``/``start``/``end`` region coordinates (0-based,
  half-open, the first base of ``values`` at ``start``).

HDF5 files (``.h5``/``.hdf5``, needs the optional ``h5py``) hold the same datasets, ``values`` chunked one
region at a time and growable, written region chunk by region chunk with :class:`AttributionWriter`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np

from drg.errors import InputError

_HDF5_SUFFIXES = (".h5", ".hdf5")


@dataclass
class Attributions:
    """Attribution values and their provenance, as read by :func:`read_attributions`.

    Attributes
    ----------
    values
        ``(N, T, 4, L)`` dense or ``(N, T, 5, k)`` top-k values (an ``h5py.Dataset`` when read lazily).
    names
        ``(N,)`` region names.
    tracks
        ``(T,)`` track names.
    method, gauge
        How the values were computed.
    model_info
        Free-form model provenance (checkpoint path, config hash, ...).
    layout
        ``"dense"`` or ``"topk"``.
    length
        Sequence length L (also for top-k values).
    X
        ``(N, 4, L)`` int8 one-hot sequences, if stored.
    coordinates
        ``{"chrom", "start", "end"}`` arrays (0-based half-open), if stored.
    """

    values: Any
    names: np.ndarray
    tracks: np.ndarray
    method: str = ""
    gauge: str = ""
    model_info: dict[str, Any] = field(default_factory=dict)
    layout: str = "dense"
    length: int = 0
    X: np.ndarray | None = None
    coordinates: dict[str, np.ndarray] | None = None

    def dense(self) -> np.ndarray:
        """The values as a dense ``(N, T, 4, L)`` array (top-k values are expanded with :func:`densify`)."""
        values = np.asarray(self.values)
        return densify(values, self.length) if self.layout == "topk" else values


def _coordinates(coordinates: Any, n: int) -> dict[str, np.ndarray] | None:
    if coordinates is None:
        return None
    if hasattr(coordinates, "columns"):
        missing = [c for c in ("chrom", "start", "end") if c not in coordinates.columns]
        if missing:
            raise InputError(f"coordinates need columns chrom, start, end; missing {', '.join(missing)}")
        chrom, start, end = (coordinates[c].to_numpy() for c in ("chrom", "start", "end"))
    elif isinstance(coordinates, dict):
        chrom, start, end = (np.asarray(coordinates[c]) for c in ("chrom", "start", "end"))
    else:
        rows = list(coordinates)
        if any(len(r) < 3 for r in rows):
            raise InputError("coordinates must be rows of (chrom, start, end)")
        chrom, start, end = (np.asarray([r[i] for r in rows]) for i in range(3))
    if not len(chrom) == len(start) == len(end) == n:
        raise InputError(f"coordinates describe {len(chrom)} regions, values have {n}")
    return {"chrom": np.asarray(chrom).astype(str), "start": np.asarray(start, dtype=np.int64),
            "end": np.asarray(end, dtype=np.int64)}


def _metadata(layout: str, length: int, method: str, gauge: str, model_info: dict[str, Any] | None) -> str:
    return json.dumps({"layout": layout, "length": int(length), "method": method, "gauge": gauge,
                       "model_info": model_info or {}}, sort_keys=True, default=str)


def _check_values(values: np.ndarray, names: Any, tracks: Any) -> tuple[np.ndarray, np.ndarray, str]:
    if values.ndim != 4 or values.shape[2] not in (4, 5):
        raise InputError(f"values must be (N, T, 4, L) dense or (N, T, 5, k) top-k; got shape {values.shape}")
    names = np.asarray(names).astype(str)
    tracks = np.asarray(tracks).astype(str)
    if names.shape != (values.shape[0],):
        raise InputError(f"{len(names)} names for {values.shape[0]} regions")
    if tracks.shape != (values.shape[1],):
        raise InputError(f"{len(tracks)} track names for {values.shape[1]} tracks")
    return names, tracks, "dense" if values.shape[2] == 4 else "topk"


def write_attributions(
    path: str | os.PathLike[str],
    values: Any,
    names: Any,
    tracks: Any,
    *,
    method: str,
    gauge: str,
    model_info: dict[str, Any] | None = None,
    X: Any = None,
    coordinates: Any = None,
    length: int | None = None,
    dtype: Any = np.float32,
) -> Path:
    """Write attributions to ``.npz`` (dense or top-k) or, for ``.h5``/``.hdf5``, a chunked HDF5 file.

    Parameters
    ----------
    path
        Output file; written atomically.
    values
        ``(N, T, 4, L)`` dense values or ``(N, T, 5, k)`` top-k values from :func:`to_topk`.
    names
        ``(N,)`` region names.
    tracks
        ``(T,)`` track names.
    method, gauge
        The attribution method and gauge, stored as provenance.
    model_info
        JSON-serialisable model provenance.
    X
        Optional ``(N, 4, L)`` one-hot sequences (stored as int8).
    coordinates
        Optional region coordinates: a DataFrame with ``chrom``, ``start``, ``end`` columns, such a dict, or
        rows ``(chrom, start, end)``; 0-based half-open.
    length
        Sequence length L; required for top-k values unless ``X`` is given.
    dtype
        Storage dtype of dense values (``float32`` or ``float16``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    values = np.asarray(values)
    names, tracks, layout = _check_values(values, names, tracks)
    if length is None:
        length = values.shape[3] if layout == "dense" else (None if X is None else np.shape(X)[-1])
    if length is None:
        raise InputError("length= is needed to store top-k values without X")
    path = Path(path)
    if path.suffix.lower() in _HDF5_SUFFIXES:
        with AttributionWriter(path, tracks, length, method=method, gauge=gauge, model_info=model_info,
                               topk=values.shape[3] if layout == "topk" else None, dtype=dtype) as writer:
            writer.write(values, names, X=X, coordinates=coordinates)
        return path
    from drg.utils import atomic_path

    arrays: dict[str, Any] = {
        "names": names, "experiments": tracks,
        "values": values.astype(dtype if layout == "dense" else np.float32, copy=False),
        "metadata": np.asarray(_metadata(layout, length, method, gauge, model_info)),
    }
    if X is not None:
        arrays["X"] = np.asarray(X).astype(np.int8)
    coords = _coordinates(coordinates, len(names))
    if coords is not None:
        arrays.update(coords)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def _h5py():
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise InputError("HDF5 attribution files need the optional package h5py (pip install h5py); "
                         "use a .npz path instead") from err
    return h5py


class AttributionWriter:
    """Write attributions to a chunked HDF5 file region chunk by region chunk (for sets larger than memory).

    Use as a context manager; the file appears at ``path`` only when the block succeeds.

    Parameters
    ----------
    path
        Output ``.h5``/``.hdf5`` file.
    tracks
        ``(T,)`` track names.
    length
        Sequence length L.
    method, gauge, model_info
        Provenance, as for :func:`write_attributions`.
    topk
        ``k`` when top-k ``(n, T, 5, k)`` chunks are written, else ``None`` for dense ``(n, T, 4, L)``.
    dtype
        Storage dtype of dense values.

    Examples
    --------
    >>> with AttributionWriter("attr.h5", tracks, 1000, method="tism", gauge="hypothetical") as w:  # doctest: +SKIP
    ...     for values, names in chunks:
    ...         w.write(values, names)
    """

    def __init__(self, path: str | os.PathLike[str], tracks: Any, length: int, *, method: str, gauge: str,
                 model_info: dict[str, Any] | None = None, topk: int | None = None, dtype: Any = np.float32) -> None:
        self.path = Path(path)
        self.tracks = np.asarray(tracks).astype(str)
        self.length, self.topk = int(length), topk
        self.dtype = np.float32 if topk is not None else np.dtype(dtype)
        self.meta = _metadata("dense" if topk is None else "topk", length, method, gauge, model_info)
        self.n = 0
        self._file = None
        self._tmp: Path | None = None

    def __enter__(self) -> Self:
        h5py = _h5py()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        f = self._file = h5py.File(self._tmp, "w")
        T = len(self.tracks)
        inner = (T, 4, self.length) if self.topk is None else (T, 5, self.topk)
        f.create_dataset("values", shape=(0, *inner), maxshape=(None, *inner), chunks=(1, *inner),
                         dtype=self.dtype, compression="gzip", compression_opts=1, shuffle=True)
        text = h5py.string_dtype()
        f.create_dataset("names", shape=(0,), maxshape=(None,), dtype=text, chunks=(1024,))
        f.create_dataset("experiments", data=self.tracks.astype(object), dtype=text)
        f.attrs["metadata"] = self.meta
        return self

    def write(self, values: Any, names: Any, *, X: Any = None, coordinates: Any = None) -> None:
        """Append ``values`` ``(n, T, 4, L)`` (or top-k ``(n, T, 5, k)``) of regions ``names`` ``(n,)``.

        ``X`` and ``coordinates`` must be given for every chunk or for none.
        """
        if self._file is None:
            raise InputError("AttributionWriter.write must be called inside its with block")
        values = np.asarray(values)
        names, _tracks, _layout = _check_values(values, names, self.tracks)
        expected = self._file["values"].shape[1:]
        if values.shape[1:] != expected:
            raise InputError(f"chunk of shape {values.shape} does not fit the file's (n, {expected})")
        f, n0, n = self._file, self.n, values.shape[0]
        self._append("values", values.astype(self.dtype, copy=False))
        self._append("names", names.astype(object))
        if X is not None:
            if "X" not in f:
                if n0:
                    raise InputError("X was not given for the earlier chunks")
                f.create_dataset("X", shape=(0, 4, self.length), maxshape=(None, 4, self.length),
                                 chunks=(1, 4, self.length), dtype=np.int8, compression="gzip")
            self._append("X", np.asarray(X).astype(np.int8))
        coords = _coordinates(coordinates, n)
        if coords is not None:
            for key, arr in coords.items():
                if key not in f:
                    if n0:
                        raise InputError("coordinates were not given for the earlier chunks")
                    dt = _h5py().string_dtype() if key == "chrom" else np.int64
                    f.create_dataset(key, shape=(0,), maxshape=(None,), dtype=dt, chunks=(1024,))
                self._append(key, arr.astype(object) if key == "chrom" else arr)
        self.n = n0 + n

    def _append(self, key: str, data: np.ndarray) -> None:
        ds = self._file[key]
        n0 = ds.shape[0]
        ds.resize(n0 + len(data), axis=0)
        ds[n0:] = data

    def __exit__(self, exc_type, exc, tb) -> None:
        f, self._file = self._file, None
        partial = [k for k in ("X", "chrom", "start", "end") if f is not None and k in f and f[k].shape[0] != self.n]
        if f is not None:
            f.close()
        if exc_type is None and not partial:
            os.replace(self._tmp, self.path)
            return
        if self._tmp is not None and self._tmp.exists():
            os.unlink(self._tmp)
        if exc_type is None:
            raise InputError(f"{partial[0]} was given for only some chunks", path=self.path)


def read_attributions(path: str | os.PathLike[str], *, lazy: bool = False) -> Attributions:
    """Read a file written by :func:`write_attributions` or :class:`AttributionWriter`.

    Parameters
    ----------
    path
        ``.npz`` or ``.h5``/``.hdf5`` file. DRG's own ``.npz`` files (``names``, ``values``, ``experiments``
        without metadata) are read too.
    lazy
        For HDF5: return ``values`` as an open ``h5py.Dataset`` (sliced on demand) instead of loading it.

    Returns
    -------
    Attributions
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.suffix.lower() in _HDF5_SUFFIXES:
        h5py = _h5py()
        f = h5py.File(path, "r")
        get = {k: f[k] for k in f}
        meta = json.loads(f.attrs.get("metadata", "{}"))
        values = get["values"] if lazy else get["values"][()]

        def arr(key):
            return get[key][()] if key in get else None

        names = np.asarray(arr("names")).astype(str)
        tracks = np.asarray(arr("experiments")).astype(str)
        X = arr("X")
        coords = {k: arr(k) for k in ("chrom", "start", "end")} if "chrom" in get else None
        if coords is not None:
            coords["chrom"] = np.asarray(coords["chrom"]).astype(str)
        if not lazy:
            f.close()
    else:
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise InputError(f"not a readable .npz file ({err})", path=path) from err
        with data:
            missing = [k for k in ("names", "values") if k not in data.files]
            if missing:
                raise InputError(f"missing arrays {', '.join(missing)}; expected names, values, experiments",
                                 path=path)
            values, names = data["values"], data["names"].astype(str)
            tracks = data["experiments"].astype(str) if "experiments" in data.files else np.asarray(
                [str(i) for i in range(values.shape[1])])
            meta = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
            X = data["X"] if "X" in data.files else None
            coords = ({k: data[k] for k in ("chrom", "start", "end")} if "chrom" in data.files else None)
    layout = meta.get("layout", "dense" if values.shape[2] == 4 else "topk")
    length = int(meta.get("length", values.shape[3] if layout == "dense" else 0))
    return Attributions(values=values, names=names, tracks=tracks, method=meta.get("method", ""),
                        gauge=meta.get("gauge", ""), model_info=meta.get("model_info", {}), layout=layout,
                        length=length, X=X, coordinates=coords)


def to_topk(
    values: Any, k: int, *, by: Literal["max_abs_ref", "max_abs", "sum_abs"] = "max_abs_ref", X: Any = None
) -> np.ndarray:
    """Keep the ``k`` most important positions of every region and track (DRG's sparse layout).

    Parameters
    ----------
    values
        ``(N, T, 4, L)`` attributions.
    k
        Positions to keep (``1 <= k <= L``).
    by
        Position score: ``"max_abs_ref"`` |value at the observed base| (needs ``X``), ``"max_abs"`` the largest
        |value| over the 4 bases, ``"sum_abs"`` the sum of |values|. Ties go to the lower position.
    X
        ``(N, 4, L)`` one-hot sequences, for ``by="max_abs_ref"``.

    Returns
    -------
    numpy.ndarray
        ``(N, T, 5, k)`` float32: channels 0-3 the base values at the kept positions, channel 4 the positions,
        in increasing order.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 4 or values.shape[2] != 4:
        raise InputError(f"values must be (N, T, 4, L); got shape {values.shape}")
    N, _T, _, L = values.shape
    if not 1 <= k <= L:
        raise InputError(f"k must be between 1 and L={L}, got {k}")
    if L >= 2**24:
        raise InputError(f"positions up to {L} are not exact in float32; split the regions")
    if by == "max_abs_ref":
        if X is None:
            raise InputError("by='max_abs_ref' needs the one-hot sequences X")
        Xa = np.asarray(X, dtype=np.float32)
        if Xa.shape != (N, 4, L):
            raise InputError(f"X must have shape {(N, 4, L)}, got {Xa.shape}")
        score = np.abs((values * Xa[:, None]).sum(axis=2))
    elif by == "max_abs":
        score = np.abs(values).max(axis=2)
    elif by == "sum_abs":
        score = np.abs(values).sum(axis=2)
    else:
        raise InputError(f"by must be 'max_abs_ref', 'max_abs' or 'sum_abs', got {by!r}")
    order = np.argsort(-score, axis=-1, kind="stable")[..., :k]
    pos = np.sort(order, axis=-1)
    kept = np.take_along_axis(values, pos[:, :, None, :].repeat(4, axis=2), axis=-1)
    return np.concatenate([kept, pos[:, :, None, :].astype(np.float32)], axis=2)


def densify(topk: Any, length: int) -> np.ndarray:
    """Expand top-k values ``(N, T, 5, k)`` back to dense ``(N, T, 4, length)``, zero at dropped positions.

    Raises
    ------
    InputError
        Positions that are not integers in ``[0, length)``.
    """
    topk = np.asarray(topk, dtype=np.float32)
    if topk.ndim != 4 or topk.shape[2] != 5:
        raise InputError(f"top-k values must be (N, T, 5, k); got shape {topk.shape}")
    pos = topk[:, :, 4]
    ipos = pos.astype(np.int64)
    if np.any(ipos != pos) or np.any(ipos < 0) or np.any(ipos >= length):
        raise InputError(f"top-k positions must be integers in [0, {length})")
    N, T, _, _k = topk.shape
    out = np.zeros((N, T, 4, length), dtype=np.float32)
    np.put_along_axis(out, ipos[:, :, None, :].repeat(4, axis=2), topk[:, :, :4], axis=-1)
    return out


def export_bigwig(
    attributions: Attributions,
    out_dir: str | os.PathLike[str],
    *,
    chrom_sizes: dict[str, int] | None = None,
    prefix: str = "",
) -> list[Path]:
    """Write one bigWig per track with the attribution of the observed base at every covered position.

    Parameters
    ----------
    attributions
        Values with ``coordinates`` and ``X`` (the observed base is the one-hot 1; a position whose column of
        ``X`` is all zero gets 0). Regions must have length L (``end - start == L``). Where regions overlap,
        the region that starts first provides the value.
    out_dir
        Directory for ``{prefix}{track}.bw``.
    chrom_sizes
        Chromosome lengths for the bigWig header; default: the largest region end per chromosome.
    prefix
        File name prefix.

    Returns
    -------
    list of pathlib.Path
        The bigWig files, in track order.
    """
    import pyBigWig

    from drg.utils import atomic_path

    a = attributions
    if a.coordinates is None or a.X is None:
        raise InputError("bigWig export needs region coordinates and the one-hot sequences X")
    coords = a.coordinates
    chrom = np.asarray(coords["chrom"]).astype(str)
    start = np.asarray(coords["start"], dtype=np.int64)
    end = np.asarray(coords["end"], dtype=np.int64)
    L = a.length
    bad = np.flatnonzero(end - start != L)
    if bad.size:
        i = int(bad[0])
        raise InputError(f"region {a.names[i]!r} spans {end[i] - start[i]} bases, the attributions {L}",
                         record=str(a.names[i]))
    sizes = dict(chrom_sizes or {})
    for c in np.unique(chrom):
        top = int(end[chrom == c].max())
        if c not in sizes:
            sizes[c] = top
        elif sizes[c] < top:
            raise InputError(f"regions on {c} end at {top}, beyond its size {sizes[c]}")
    order_chroms = sorted(sizes, key=lambda c: (c not in set(chrom), c))
    rank = {c: i for i, c in enumerate(order_chroms)}
    order = sorted(range(len(chrom)), key=lambda i: (rank[chrom[i]], start[i]))
    X = np.asarray(a.X, dtype=np.float32)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, track in enumerate(a.tracks):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(track))
        path = out_dir / f"{prefix}{safe}.bw"
        with atomic_path(path, suffix=".bw") as tmp:
            bw = pyBigWig.open(str(tmp), "w")
            bw.addHeader([(c, int(sizes[c])) for c in order_chroms])
            last_chrom, last_end = None, 0
            for i in order:
                values = a.values[i, t]
                values = densify(np.asarray(values)[None, None], L)[0, 0] if a.layout == "topk" else \
                    np.asarray(values, dtype=np.float32)
                ref = (values * X[i]).sum(axis=0)
                s0 = int(start[i])
                if chrom[i] == last_chrom and s0 < last_end:
                    ref, s0 = ref[last_end - s0:], last_end
                if ref.size:
                    bw.addEntries(str(chrom[i]), s0, values=ref.astype(np.float64).tolist(), span=1, step=1)
                last_chrom, last_end = chrom[i], max(int(end[i]), last_end if chrom[i] == last_chrom else 0)
            bw.close()
        paths.append(path)
    return paths

"""Small shared helpers: atomic file output, transparent gzip input, seeding, hashing and progress bars."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import random
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from drg.errors import InputError

T = TypeVar("T")
PathLike = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_beside(path: Path, suffix: str) -> str:
    """Create an empty temporary file beside ``path`` with the permissions a plain ``open`` would give."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return tmp


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and move it onto ``path`` only if the block succeeds.

    A crash or exception inside the block leaves any existing ``path`` untouched and no partial file behind.
    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary); ``kwargs`` go to :func:`open`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path, ".tmp")
    try:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, gzip-compressed when the name ends with ``.gz``."""
    data = text.encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for libraries that write files themselves (``np.savez``).

    ``suffix`` is kept on the temporary name (defaults to the suffix of ``path``) because some writers
    append an extension when it is missing. The file is moved onto ``path`` when the block succeeds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    tmp = _temporary_beside(path, f".tmp{suffix}")
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; when the block succeeds it replaces ``path``.

    An existing directory at ``path`` is swapped out and removed only after the new one is in place, so
    readers never see a half-written directory; on failure the temporary directory is removed.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_gzip(path: PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (plain gzip and bgzip alike)."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_text(path: PathLike) -> IO[str]:
    """Open a text file for reading, decompressing gzip/bgzip transparently.

    Raises :class:`InputError` naming the path when it does not exist or is a directory.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path=path)
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch (if imported) from one integer; return a numpy Generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)


def file_sha256(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (used for data provenance in ``run.json``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def progress(
    iterable: Iterable[T], *, total: int | None = None, description: str = "", verbose: bool = True
) -> Iterator[T]:
    """Iterate with a rich progress bar (shown only when ``verbose`` and stderr is a terminal or forced)."""
    if not verbose:
        yield from iterable
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)

"""Provenance records: every output directory holds ``run.json`` and, for pipelines, ``summary.json``.

``run.json`` says which code, command, seed and input files (with SHA-256) produced a directory and how long
each step took. ``summary.json`` is a machine-readable summary with one section per pipeline stage
(``data``, later ``training``, ``attribution``, ...); :func:`update_summary` adds or replaces one section
without touching the others.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drg.utils import PathLike, atomic_write, file_sha256


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths so ``json.dumps`` accepts them."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def write_json(path: PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON atomically and return the path."""
    path = Path(path)
    with atomic_write(path) as handle:
        json.dump(_jsonable(payload), handle, indent=2)
        handle.write("\n")
    return path


class RunRecord:
    """Collects what a command did, then writes it as ``run.json``.

    Parameters
    ----------
    command
        The command line or API call that produced the directory.
    seed
        The seed the run used, if any.

    Examples
    --------
    >>> record = RunRecord("drg simulate multitask --out sim", seed=0)  # doctest: +SKIP
    >>> with record.step("simulate"):                                     # doctest: +SKIP
    ...     ...
    >>> record.write("sim")                                               # doctest: +SKIP
    """

    def __init__(self, command: str | None = None, *, seed: int | None = None) -> None:
        from drg import __version__

        self.data: dict[str, Any] = {
            "drg_version": __version__,
            "command": command if command is not None else " ".join(sys.argv),
            "seed": seed,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "inputs": {},
            "outputs": {},
            "timings_s": {},
        }

    def add_inputs(self, paths: Iterable[PathLike]) -> None:
        """Record input files with their size and SHA-256."""
        for path in paths:
            path = Path(path)
            if path.is_file():
                self.data["inputs"][str(path)] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}

    def add_outputs(self, outputs: dict[str, PathLike]) -> None:
        """Record named output files."""
        self.data["outputs"].update({name: str(path) for name, path in outputs.items()})

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a named step."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.data["timings_s"][name] = round(time.perf_counter() - start, 3)

    def write(self, out_dir: PathLike) -> Path:
        """Write ``out_dir/run.json``."""
        self.data["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return write_json(Path(out_dir) / "run.json", self.data)


def update_summary(out_dir: PathLike, section: str, payload: dict[str, Any]) -> Path:
    """Add or replace ``section`` in ``out_dir/summary.json``, keeping the other sections."""
    path = Path(out_dir) / "summary.json"
    summary: dict[str, Any] = {}
    if path.exists():
        summary = json.loads(path.read_text())
    summary[section] = payload
    return write_json(path, summary)

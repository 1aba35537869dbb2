"""Attributions computed over several devices or processes with Lightning's strategies (e.g. DDP).

Every process attributes a contiguous shard of the sequences in ``predict_step``; each shard's values are saved
next to the output file, and process 0 merges them back into the original order once all processes are done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from drg.errors import InputError


class DistributedAttributions(NamedTuple):
    """Result of :func:`attribute_distributed` on process 0.

    Attributes
    ----------
    values
        Float32 ``(N, T, 4, L)`` attributions in the order of the input sequences.
    world_size
        Number of processes that shared the work.
    """

    values: np.ndarray
    world_size: int


class _Indexed:
    """``torch.utils.data.Dataset`` of ``(index, float32 (4, L) sequence)`` pairs."""

    def __init__(self, X: Any) -> None:
        self.X = X

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        return i, np.asarray(self.X[i], dtype=np.float32)


def shard(n: int, rank: int, world_size: int) -> range:
    """Contiguous block of ``range(n)`` of one process; blocks of all ranks cover ``range(n)`` exactly once.

    Parameters
    ----------
    n
        Number of items.
    rank, world_size
        This process's rank and the number of processes.

    Returns
    -------
    range
        The indices of ``rank``, empty when there are more processes than items.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise InputError(f"rank {rank} is not in a world of {world_size} process(es)")
    base, extra = divmod(n, world_size)
    lo = rank * base + min(rank, extra)
    return range(lo, lo + base + (rank < extra))


def _shard_path(out: Path, rank: int) -> Path:
    return out.with_name(f".{out.name}.rank{rank}.npz")


def attribute_distributed(
    model: Any,
    X: Any,
    method: str,
    tracks: Any,
    gauge: str,
    *,
    out: Path,
    devices: Any,
    strategy: str | None = None,
    accelerator: str | None = None,
    batch_size: int | None = None,
    chunk_size: int = 1024,
    head: int | None = None,
    verbose: bool = False,
    **kwargs: Any,
) -> DistributedAttributions | None:
    """Attributions of every sequence computed by :func:`drg.attribution.attribute` on several devices.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` to the model's outputs.
    X
        ``(N, 4, L)`` one-hot sequences (int8 or float; numpy or memmap).
    method, tracks, gauge, batch_size, head, **kwargs
        As for :func:`drg.attribution.attribute`.
    out
        The final output file; each process's values are kept in a hidden file next to it until merged.
    devices, strategy, accelerator
        Lightning ``Trainer`` settings: number (or list) of devices, e.g. ``"ddp"``, and ``cpu``/``gpu``/``auto``.
        A launcher re-runs the calling program in the other processes.
    chunk_size
        Sequences per ``predict_step`` on each device.
    verbose
        Lightning's progress bar and device summary.

    Returns
    -------
    DistributedAttributions or None
        On process 0 the float32 ``(N, T, 4, L)`` values in the order of ``X`` and the number of processes;
        None on the other processes.
    """
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, Sampler

    from drg.attribution.api import attribute
    from drg.training.fitting import _close_process_group, _quiet_lightning

    n = int(X.shape[0])
    if n == 0:
        raise InputError("no sequences to attribute")

    class _Shard(Sampler):
        def __init__(self, indices: range) -> None:
            self.indices = indices

        def __iter__(self) -> Any:
            return iter(self.indices)

        def __len__(self) -> int:
            return len(self.indices)

    class _Attribution(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model
            self.parts: list[tuple[np.ndarray, np.ndarray]] = []

        def predict_dataloader(self) -> Any:
            indices = shard(n, self.trainer.global_rank, self.trainer.world_size)
            return DataLoader(_Indexed(X), batch_size=chunk_size, sampler=_Shard(indices))

        def predict_step(self, batch: Any, batch_idx: int) -> None:
            index, xb = batch
            with torch.enable_grad():
                values = attribute(self.net, xb, method, tracks, gauge, None, batch_size, self.device,
                                   head=head, **kwargs)
            self.parts.append((index.cpu().numpy().astype(np.int64), np.asarray(values, dtype=np.float32)))

    _quiet_lightning(verbose)
    trainer = pl.Trainer(accelerator=accelerator or "auto", devices=devices, strategy=strategy or "auto",
                         logger=False, enable_checkpointing=False, enable_progress_bar=verbose,
                         enable_model_summary=False, use_distributed_sampler=False, inference_mode=False,
                         default_root_dir=str(out.parent))
    module = _Attribution()
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*predict returned None.*")
        trainer.predict(module, return_predictions=False)
    rank, world = trainer.global_rank, trainer.world_size
    from drg.utils import atomic_path

    if module.parts:
        index = np.concatenate([p[0] for p in module.parts])
        values = np.concatenate([p[1] for p in module.parts])
    else:
        index, values = np.zeros(0, dtype=np.int64), None
    path = _shard_path(out, rank)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, index=index, **({"values": values} if values is not None else {}))
    _close_process_group()  # a barrier: every shard is on disk once it returns
    if rank != 0:
        return None
    merged: np.ndarray | None = None
    seen = np.zeros(n, dtype=bool)
    try:
        for r in range(world):
            with np.load(_shard_path(out, r)) as part:
                idx = part["index"]
                if not len(idx):
                    continue
                vals = part["values"]
                if merged is None:
                    merged = np.empty((n, *vals.shape[1:]), dtype=np.float32)
                merged[idx] = vals
                seen[idx] = True
    finally:
        for r in range(world):
            _shard_path(out, r).unlink(missing_ok=True)
    if merged is None or not seen.all():
        raise InputError(f"{int((~seen).sum())} of {n} sequences were not attributed by any process")
    return DistributedAttributions(merged, world)

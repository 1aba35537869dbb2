"""Tiny deterministic training data and run configs shared by the training-engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MOTIFS = ("GATA", "CACGTG")


def make_dataset(root: Path, n: int = 240, length: int = 40, seed: int = 0, k_folds: int = 4) -> dict[str, Path]:
    """Random sequences whose two target tracks count planted motifs (track 2 also their product).

    Writes ``seqs.npz`` (DRG layout), ``targets.tsv`` (2 tracks), ``counts.tsv`` (1 track, a second
    modality) and ``folds.txt`` (``k_folds`` sets) under ``root``.
    """
    from drg.data import Targets, write_folds, write_onehot_npz, write_targets
    from drg.genome import one_hot_encode

    rng = np.random.default_rng(seed)
    seqs, y = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        counts = []
        for motif in MOTIFS:
            k = int(rng.integers(0, 3))
            for _ in range(k):
                pos = int(rng.integers(0, length - len(motif)))
                s[pos:pos + len(motif)] = list(motif)
            counts.append(k)
        seqs.append("".join(s))
        y.append(counts)
    seq_text = seqs
    y = np.asarray(y, dtype=np.float32)
    names = np.array([f"r{i}" for i in range(n)])
    X = one_hot_encode(seq_text)
    root.mkdir(parents=True, exist_ok=True)
    write_onehot_npz(root / "seqs.npz", X, names)
    values = np.stack([seq.count("GATA") + 0.1 * rng.normal(size=None) for seq in seq_text])
    t1 = np.column_stack([values, np.array([s.count("CACGTG") for s in seq_text], dtype=np.float32)])
    write_targets(Targets(t1.astype(np.float32), names, ["gata", "ebox"], "activity"), root / "targets.tsv")
    write_targets(Targets((y.sum(1, keepdims=True)).astype(np.float32), names, ["total"], "counts"),
                  root / "counts.tsv")
    order = rng.permutation(n)
    write_folds([list(names[order[i::k_folds]]) for i in range(k_folds)], root / "folds.txt")
    return {"onehot": root / "seqs.npz", "targets": root / "targets.tsv", "counts": root / "counts.tsv",
            "folds": root / "folds.txt", "X": X, "names": names}


def tiny_model(length: int = 40, n_kernels: int = 8) -> dict[str, Any]:
    return {"input_length": length, "first_layer": {"n_kernels": n_kernels, "kernel_size": 7},
            "reduction": "max"}


def run_config(paths: dict[str, Any], out: Path, **updates: Any) -> dict[str, Any]:
    """A plain-dict run config over the tiny data; ``updates`` replace top-level sections."""
    config: dict[str, Any] = {
        "seed": 0,
        "out_dir": str(out),
        "data": {"onehot": str(paths["onehot"]), "targets": [str(paths["targets"])], "folds": str(paths["folds"]),
                 "fold": 0},
        "model": tiny_model(),
        "losses": [{"name": "mse"}],
        "optimizer": {"name": "adam", "lr": 0.01},
        "stopping": {"max_epochs": 3, "patience": 5},
        "trainer": {"accelerator": "cpu", "batch_size": 32, "progress_bar": False, "threads": 1},
    }
    config.update(updates)
    return config

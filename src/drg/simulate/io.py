"""Write a simulated data set in DRG's file formats, ready for ``drg train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from drg.errors import InputError
from drg.simulate.multitask import MultitaskSimulation
from drg.simulate.synthetic import SyntheticCode
from drg.utils import PathLike, atomic_path, atomic_write

FILE_NAMES = {
    "sequences": "sequences.npz",
    "fasta": "sequences.fa",
    "targets": "targets.tsv",
    "ground_truth": "ground_truth.npz",
    "instances": "instances.tsv",
    "motifs": "motifs.meme",
    "folds": "folds.txt",
    "json": "simulation.json",
}


def decode_sequences(X: np.ndarray) -> list[str]:
    """(N, 4, L) one-hot -> N strings over ACGT (positions without a one are written ``N``)."""
    X = np.asarray(X)
    lookup = np.frombuffer(b"ACGTN", dtype=np.uint8)
    codes = np.where(X.max(axis=1) > 0, X.argmax(axis=1), 4)
    text = np.ascontiguousarray(lookup[codes]).view(f"S{X.shape[2]}").reshape(-1)
    return [s.decode() for s in text]


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def write_simulation(
    sim: SyntheticCode | MultitaskSimulation,
    out_dir: PathLike,
    *,
    k_folds: int = 10,
    seed: int = 0,
) -> dict[str, Path]:
    """Write a simulation to ``out_dir`` (every file atomically).

    Files
    -----
    ``sequences.npz``
        DRG one-hot archive: ``seqfeatures`` (N, L, 4) int8 (channels last), ``genenames``.
    ``sequences.fa``
        The same sequences as FASTA.
    ``targets.tsv``
        Header ``#name<TAB>track...``, one row per sequence (the label for :class:`SyntheticCode`).
    ``ground_truth.npz``
        ``names``, ``probabilities`` (N, 4, L) float32 (channels first: the per-base probabilities the
        sequences were sampled from), ``motif_ids``, ``motif_names``; for a :class:`MultitaskSimulation`
        also ``tracks``, ``effects`` (M, T), ``interaction_pairs`` (P, 2), ``interaction_effects`` (P, T),
        ``motif_counts`` (N, M), ``clean`` (N, T) and ``noise_sd`` (T,); for :class:`SyntheticCode` also
        ``labels`` (N,) and ``core`` (core motif ids).
    ``instances.tsv``
        The planted-instance table (0-based half-open ``start``/``end`` on the forward strand).
    ``motifs.meme``
        The motifs that could be planted, in MEME format.
    ``folds.txt``
        ``k_folds`` random sets in DRG's ``# Set_i`` format.
    ``simulation.json``
        Parameters, seeds, counts and file names.

    Parameters
    ----------
    sim
        A :func:`~drg.simulate.synthetic_code` or :func:`~drg.simulate.multitask_regression` result.
    out_dir
        Output directory (created).
    k_folds
        Number of random fold sets.
    seed
        Seed of the fold assignment.

    Returns
    -------
    dict of str to Path
        Keys ``sequences, fasta, targets, ground_truth, instances, motifs, folds, json``.
    """
    from drg.data import Targets, random_folds, write_folds, write_onehot_npz, write_targets
    from drg.genome import write_fasta
    from drg.motifs.io import write_meme

    if not isinstance(sim, (SyntheticCode, MultitaskSimulation)):
        raise InputError(f"expected a SyntheticCode or MultitaskSimulation, got {type(sim).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in FILE_NAMES.items()}
    names = np.asarray(sim.names).astype(str)

    write_onehot_npz(paths["sequences"], sim.X, names)
    write_fasta(names, decode_sequences(sim.X), paths["fasta"])
    tracks = list(sim.tracks)
    write_targets(Targets(values=np.asarray(sim.targets), names=names, tracks=np.array(tracks)), paths["targets"])

    arrays: dict[str, np.ndarray] = {
        "names": names,
        "probabilities": np.asarray(sim.ground_truth, dtype=np.float32),
        "motif_ids": np.array([m.id for m in sim.motifs]),
        "motif_names": np.array([m.name for m in sim.motifs]),
    }
    if isinstance(sim, MultitaskSimulation):
        arrays.update(
            tracks=np.array(tracks),
            effects=sim.effects,
            interaction_pairs=sim.interaction_pairs,
            interaction_effects=sim.interaction_effects,
            motif_counts=sim.motif_counts,
            clean=sim.clean,
            noise_sd=sim.noise_sd,
        )
    else:
        arrays.update(labels=sim.y[:, 0], core=np.array(sim.core))
    with atomic_path(paths["ground_truth"], suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)

    with atomic_write(paths["instances"]) as handle:
        sim.instances.to_csv(handle, sep="\t", index=False, lineterminator="\n")
    write_meme(sim.motifs, paths["motifs"])
    write_folds(random_folds(list(names), k_folds, seed=seed), paths["folds"])

    record = {
        "params": _json_ready(sim.params),
        "n_sequences": int(len(names)),
        "length": int(sim.X.shape[2]),
        "tracks": tracks,
        "n_instances": int(len(sim.instances)),
        "n_motifs": len(sim.motifs),
        "k_folds": k_folds,
        "fold_seed": seed,
        "files": {key: path.name for key, path in paths.items()},
    }
    with atomic_write(paths["json"]) as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
    return paths

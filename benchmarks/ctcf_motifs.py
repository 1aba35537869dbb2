"""Real-data motif check: CTCF ChIP-seq peaks vs dinucleotide-shuffled peaks (../shared/data/sequences).

Trains a small reverse-complement CNN to tell 100-bp CTCF peaks from their dinucleotide shuffles, then asks
whether the model learned CTCF: the largest seqlet cluster of its TISM attributions and its most important
first-layer kernel (largest knock-out effect) are compared with the bundled JASPAR 2024 collection by Tomtom.
The check passes when both match CTCF (MA0139) at q < 0.05.

    python benchmarks/ctcf_motifs.py [--data ../shared/data/sequences/ctcf_chipseq_peaks_100bp.fa.gz] [--out /tmp/drg_ctcf]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from drg.attribution import attribute
from drg.data import Targets, write_onehot_npz, write_targets
from drg.genome import dinucleotide_shuffle, one_hot_encode, read_fasta
from drg.motifs import (
    call_seqlets,
    cluster_seqlets,
    kernel_effects,
    kernel_pwms_from_activations,
    load_bundled_jaspar,
    tomtom,
)
from drg.training import fit

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sequences" / "ctcf_chipseq_peaks_100bp.fa.gz"


def ctcf_match(motifs: list, database: list) -> tuple[bool, float]:
    """Whether any of ``motifs`` matches a JASPAR CTCF matrix (MA0139.*) at q < 0.05, and the best q."""
    hits = tomtom(motifs, database)
    ctcf = hits[hits["target"].astype(str).str.startswith("MA0139")]
    best = float(ctcf["q_value"].min()) if len(ctcf) else 1.0
    return best < 0.05, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--out", type=Path, default=Path("/tmp/drg_ctcf"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-attribute", type=int, default=2000)
    args = parser.parse_args()
    start = time.time()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    records = read_fasta(args.data)
    X_pos = one_hot_encode(records.sequences, length=100)
    X_neg = dinucleotide_shuffle(X_pos, n=1, seed=0)[:, 0]
    names = np.array([f"peak{i}" for i in range(len(X_pos))] + [f"shuffled{i}" for i in range(len(X_neg))])
    X = np.concatenate([X_pos, X_neg])
    y = np.concatenate([np.ones(len(X_pos)), np.zeros(len(X_neg))]).astype(np.float32)[:, None]
    write_onehot_npz(out / "seqs.npz", X, names)
    write_targets(Targets(y, names, ["ctcf"], "bound"), out / "bound.tsv")

    config = {
        "seed": 0, "out_dir": str(out / "run"),
        "data": {"onehot": str(out / "seqs.npz"), "targets": [str(out / "bound.tsv")],
                 "val_fraction": 0.05, "test_fraction": 0.05},
        "model": {"input_length": 100, "activation": "relu",
                  "first_layer": {"n_kernels": 32, "kernel_size": 19, "reverse_complement": True,
                                  "pooling": {"mode": "max", "size": 4}},
                  "tower": {"n_layers": 1, "kernel_size": 5, "batch_norm": True, "residual_every": 1},
                  "reduction": "max",
                  "heads": [{"name": "bound", "n_outputs": 1, "fc_layers": 1, "fc_size": 32}]},
        "losses": [{"name": "bce"}],
        "optimizer": {"name": "adamw", "lr": 2e-3},
        "augmentation": {"reverse_complement": True},
        "stopping": {"max_epochs": args.epochs, "patience": 2},
        "trainer": {"accelerator": "cpu", "batch_size": 256, "progress_bar": False},
    }
    result = fit(config, verbose=False)
    model = result.model

    rng = np.random.default_rng(0)
    chosen = rng.choice(len(X_pos), size=min(args.n_attribute, len(X_pos)), replace=False)
    Xa = X_pos[chosen].astype(np.float32)
    values = attribute(model, Xa, "tism", gauge="corrected", batch_size=256)
    seqlets = call_seqlets(values, Xa, method="pvalue")
    clusters = cluster_seqlets(seqlets, values, Xa, name=False)
    largest = int(np.argmax([int(n) for n in clusters.table["n_seqlets"]]))
    database = load_bundled_jaspar()
    cluster_ok, cluster_q = ctcf_match([clusters.motifs[largest]], database)

    kernels = kernel_pwms_from_activations(model, Xa)
    effects = kernel_effects(model, Xa)
    best_kernel = int(np.argmax(effects.mean_abs[:, 0]))
    kernel_ok, kernel_q = ctcf_match([kernels[best_kernel]], database)

    report = {
        "n_peaks": int(len(X_pos)),
        "test_auroc": result.metrics.get("test_bound", {}).get("auroc_mean"),
        "test_auprc": result.metrics.get("test_bound", {}).get("auprc_mean"),
        "n_seqlets": int(len(seqlets)),
        "largest_cluster": {"n_seqlets": int(clusters.table["n_seqlets"].iloc[largest]),
                            "consensus": str(clusters.table["consensus"].iloc[largest]),
                            "ctcf_q_value": cluster_q, "matches_ctcf": cluster_ok},
        "best_kernel": {"index": best_kernel, "consensus": kernels[best_kernel].consensus,
                        "ctcf_q_value": kernel_q, "matches_ctcf": kernel_ok},
        "seconds": round(time.time() - start, 1),
    }
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()

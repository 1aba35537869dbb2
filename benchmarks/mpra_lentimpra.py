"""Held-out accuracy on real MPRA data: lentiMPRA WTC11 (Agarwal et al. 2025) from ../shared/data/mpra.

Trains a small RC-scanning CNN on the 4,617-sequence split (10% of it held out at random for early stopping)
and tests on the 4,622-sequence split; prints the held-out Pearson r and the wall time.

    python benchmarks/mpra_lentimpra.py [--data ../shared/data/mpra] [--out /tmp/drg_mpra]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from drg.data import Targets, write_onehot_npz, write_targets
from drg.genome import one_hot_encode
from drg.training import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "mpra")
parser.add_argument("--out", type=Path, default=Path("/tmp/drg_mpra"))
args = parser.parse_args()
root = args.data
tr = pd.read_csv(root / "lentiMPRA_Agarwal2025_val_WTC11.tsv.gz", sep="\t")
te = pd.read_csv(root / "lentiMPRA_Agarwal2025_test_WTC11.tsv.gz", sep="\t")
df = pd.concat([tr, te], ignore_index=True)
names = df["seq_id"].astype(str).to_numpy()
out = args.out
out.mkdir(parents=True, exist_ok=True)
write_onehot_npz(out / "seqs.npz", one_hot_encode(list(df["seq"])), names)
write_targets(Targets(df[["mean_value"]].to_numpy(np.float32), names, ["activity"], "activity"), out / "activity.tsv")
rng = np.random.default_rng(0)
train_names = tr["seq_id"].astype(str).to_numpy()
val_mask = rng.random(len(train_names)) < 0.1
config = {
    "seed": 0, "out_dir": str(out / "run"),
    "data": {"onehot": str(out / "seqs.npz"), "targets": [str(out / "activity.tsv")],
             "train": list(train_names[~val_mask]), "val": list(train_names[val_mask]),
             "test": list(te["seq_id"].astype(str))},
    "model": {"input_length": 230, "activation": "gelu",
              "first_layer": {"n_kernels": 128, "kernel_size": 15, "reverse_complement": True,
                              "pooling": {"mode": "max", "size": 3}},
              "tower": {"n_layers": 3, "kernel_size": 5, "dilations": [1, 2, 4], "batch_norm": True,
                        "dropout": 0.1, "residual_every": 1, "pool_every": 3, "pooling": {"mode": "max", "size": 2}},
              "reduction": "mean",
              "heads": [{"name": "activity", "n_outputs": 1, "fc_layers": 1, "fc_size": 64, "dropout": 0.2}]},
    "losses": [{"name": "mse"}],
    "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-3},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "augmentation": {"reverse_complement": True, "shift": 3, "predict_rc": True},
    "stopping": {"max_epochs": 25, "patience": 5},
    "trainer": {"accelerator": "cpu", "batch_size": 64, "progress_bar": False},
}
t = time.time()
result = fit(config, verbose=False)
print(json.dumps({"seconds": round(time.time() - t, 1), **{k: v for k, v in result.metrics.items() if not isinstance(v, dict)}}, indent=1))

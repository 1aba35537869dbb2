"""Training and inference throughput: drg's fit loop and predict vs minimal hand-written PyTorch loops.

Usage::

    python benchmarks/training.py [--batches 20] [--warmup 3] [--threads 2] [--rounds 2] [--results benchmarks/RESULTS.md]

Model: the shared reference CNN (``../shared/bench/refcnn.py``: conv 256x15, two dilated residual blocks,
L = 1000, 16 tracks), Adam, MSE, batch 64, in one process. Data: the same random one-hot sequences for both
loops, (a) in memory (int8, converted per batch) and (b) cut on the fly from a random genome FASTA
(``GenomeDataset``; the bare loop fetches and encodes the same windows itself). Throughput is
``batch / median time between consecutive batch starts`` over ``--batches`` batches after ``--warmup``
batches, so data loading between batches counts while bursts of load from other processes do not.
Inference: ``drg.training.predict`` on an array vs ``model(x)`` under ``inference_mode`` on the same batches.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _results import write_section  # benchmarks/ is on sys.path when run as a script

SECTION = "Training"
HERE = Path(__file__).resolve().parent
L, BATCH, TRACKS = 1000, 64, 16


def refcnn_module():
    sys.path.insert(0, str(HERE.parent.parent / "shared" / "bench"))
    import refcnn

    return refcnn


def bare_train(model, get_batch, n_batches: int, warmup: int) -> float:
    """Sequences/s of a minimal loop: batch -> float32 tensor -> forward -> MSE -> backward -> Adam step."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    model.train()
    stamps = []
    for b in range(warmup + n_batches):
        stamps.append(time.perf_counter())
        x, y = get_batch(b)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    stamps.append(time.perf_counter())
    return _rate(stamps[warmup:])


def _rate(stamps: list[float]) -> float:
    """Sequences/s from the median time between consecutive batch starts (robust to bursts of load from
    other processes on a shared machine)."""
    return BATCH / float(np.median(np.diff(stamps)))


def drg_train(model, config: dict, n_batches: int, warmup: int) -> float:
    """Sequences/s of ``drg.training.fit`` over the same number of batches (timed by a callback)."""
    import lightning.pytorch as pl

    from drg.training import fit

    class Timer(pl.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.end = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.starts.append(time.perf_counter())

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.end = time.perf_counter()
            if batch_idx == trainer.num_training_batches - 1:
                self.starts.append(self.end)

    timer = Timer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(config, model=model, callbacks=[timer], verbose=False)
    return _rate(timer.starts[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating bare/drg repeats (best kept)")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from drg.data import Targets, write_onehot_npz, write_targets
    from drg.genome import Genome, one_hot_encode, write_fasta

    refcnn = refcnn_module()
    torch.set_num_threads(args.threads)
    total = args.batches + args.warmup
    n = total * BATCH
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="drg_bench_train_"))
    # data: one random chromosome, n windows of L bp; the same sequences as an in-memory array
    spacing = L + 50
    chrom = "".join(rng.choice(list("ACGT"), size=n * spacing + 100))
    write_fasta(["chrB"], [chrom], tmp / "genome.fa")
    starts = np.arange(n) * spacing + 50
    names = np.array([f"w{i}" for i in range(n)])
    with open(tmp / "regions.bed", "w") as handle:
        for s, name in zip(starts, names):
            handle.write(f"chrB\t{s}\t{s + L}\t{name}\n")
    X = one_hot_encode([chrom[s:s + L] for s in starts])
    Y = rng.normal(size=(n, TRACKS)).astype(np.float32)
    write_onehot_npz(tmp / "x.npz", X, names)
    write_targets(Targets(Y, names, [f"t{i}" for i in range(TRACKS)], "y"), tmp / "y.npz")
    order = np.random.default_rng(1).permutation(n)  # the bare loops shuffle like the sampler does

    def array_batch(b):
        idx = np.sort(order[b * BATCH:(b + 1) * BATCH])
        return torch.from_numpy(X[idx].astype(np.float32)), torch.from_numpy(Y[idx])

    genome = Genome(tmp / "genome.fa")

    def genome_batch(b):
        idx = np.sort(order[b * BATCH:(b + 1) * BATCH])
        seqs = [genome.fetch("chrB", int(starts[i]), int(starts[i]) + L) for i in idx]
        return torch.from_numpy(one_hot_encode(seqs).astype(np.float32)), torch.from_numpy(Y[idx])

    base = {
        "seed": 0,
        "data": {"targets": [str(tmp / "y.npz")], "val_fraction": 0.0, "test_fraction": 0.0},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "losses": [{"name": "mse"}],
        "stopping": {"max_epochs": 1},
        "trainer": {"accelerator": "cpu", "batch_size": BATCH, "limit_train_batches": total,
                    "progress_bar": False, "threads": args.threads},
    }
    mem_cfg = {**base, "out_dir": str(tmp / "run_mem"), "data": {**base["data"], "onehot": str(tmp / "x.npz")}}
    gen_cfg = {**base, "out_dir": str(tmp / "run_gen"),
               "data": {**base["data"], "genome": str(tmp / "genome.fa"), "regions": str(tmp / "regions.bed")}}

    rows = []
    for label, kind in (("in-memory", "mem"), ("on-the-fly genome", "gen")):
        bare_runs, ours_runs = [], []
        for _ in range(args.rounds):  # alternate, keep the best of each: the machine's load drifts
            bare_runs.append(bare_train(refcnn.make_model(0, eval_mode=False),
                                        array_batch if kind == "mem" else genome_batch, args.batches, args.warmup))
            ours_runs.append(drg_train(refcnn.make_model(0, eval_mode=False), mem_cfg if kind == "mem" else gen_cfg,
                                       args.batches, args.warmup))
        rows.append((f"train, {label}", max(bare_runs), max(ours_runs)))

    # inference
    from drg.training import predict

    model = refcnn.make_model(0)
    Xt = [torch.from_numpy(X[b * BATCH:(b + 1) * BATCH].astype(np.float32)) for b in range(total)]

    def bare_infer() -> float:
        with torch.inference_mode():
            for b in range(args.warmup):
                model(Xt[b])
            stamps = []
            for b in range(args.warmup, total):
                stamps.append(time.perf_counter())
                model(torch.from_numpy(X[b * BATCH:(b + 1) * BATCH].astype(np.float32)))
            stamps.append(time.perf_counter())
        return _rate(stamps)

    def drg_infer() -> float:
        predict(model, X[: args.warmup * BATCH], batch_size=BATCH, device="cpu")
        stamps = []
        for b in range(args.warmup, total):  # one call per batch, so the median is per batch as well
            stamps.append(time.perf_counter())
            predict(model, X[b * BATCH:(b + 1) * BATCH], batch_size=BATCH, device="cpu")
        stamps.append(time.perf_counter())
        return _rate(stamps)

    bi, di = bare_infer(), drg_infer()
    rows.append(("inference, in-memory", bi, di))

    lines = [
        f"`python benchmarks/training.py --batches {args.batches} --warmup {args.warmup} --threads {args.threads} "
        f"--rounds {args.rounds}` "
        f"on {time.strftime('%a %b %d %H:%M:%S %Z %Y')}.",
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, lightning {_version('lightning')}.",
        "",
        f"RefCNN (L = {L}, batch {BATCH}, {TRACKS} tracks), Adam + MSE; {args.batches} timed batches after "
        f"{args.warmup} warm-up batches, best of {args.rounds} alternating rounds; drg = `drg.training.fit` (Lightning, manual optimisation with the "
        "non-finite checks) / `drg.training.predict`; bare = minimal PyTorch loop on the same data.",
        "",
        "| work | bare seq/s | drg seq/s | drg / bare |",
        "|---|---:|---:|---:|",
    ]
    for label, bare, ours in rows:
        lines.append(f"| {label} | {bare:.1f} | {ours:.1f} | {ours / bare:.3f} |")
    lines.append("")
    lines.append("Overhead = 1 - drg/bare; target < 10%. The machine is shared and noisy: compare ratios from one "
                 "run.")
    text = "\n".join(lines)
    print(text)
    if args.results is not None:
        write_section(SECTION, f"## {SECTION}\n\n{text}", args.results)


def _version(name: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "n/a"


if __name__ == "__main__":
    main()

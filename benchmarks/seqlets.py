"""Seqlet calling and seqlet clustering speed.

Times ``drg.motifs.recursive_seqlet_spans`` against ``tangermeme.seqlet.recursive_seqlets`` on the same
attributions (random normal projected scores with one planted bump per sequence, L = 1000) in the same
process, both with ``n_bins=1000``, ``min_len=4``, ``max_len=25`` and the empirical null, alternating the two
callers and keeping the best of ``--repeats``. Checks that both call the same seqlets. Optionally times
``drg.motifs.cluster_motifs`` on ``--cluster-n`` planted seqlet CWMs.

Appends a "Seqlets" section to benchmarks/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime, timezone

import numpy as np
from _results import write_section  # benchmarks/ is on sys.path when run as a script


def scores(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, length)).astype(np.float32)
    pos = rng.integers(0, length - 20, n)
    for i, p in enumerate(pos):
        x[i, p:p + 12] += 3
    return x


def best(fn, repeats: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def cluster_bench(n: int, seed: int = 0) -> tuple[float, int, float]:
    import tracemalloc

    from drg.motifs import cluster_motifs

    rng = np.random.default_rng(seed)
    base = [np.eye(4)[rng.integers(0, 4, 12)] for _ in range(30)]
    mats = [np.concatenate([rng.normal(0, 0.05, (rng.integers(0, 5), 4)),
                            base[i % 30] * rng.uniform(0.5, 1.5) + rng.normal(0, 0.1, (12, 4))])
            for i in range(n)]
    tracemalloc.start()
    t0 = time.perf_counter()
    cl = cluster_motifs(mats, 0.4)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    return dt, cl.n_clusters, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="numbers of 1-kb sequences")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cluster-n", type=int, default=0, help="also cluster this many seqlets")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import tangermeme
    from tangermeme.seqlet import recursive_seqlets

    from drg.motifs import recursive_seqlet_spans

    warm = scores(20, 1000, 1)
    recursive_seqlets(warm)
    recursive_seqlet_spans(warm)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        x = scores(n, 1000)
        t_tm = t_drg = np.inf
        for _ in range(args.repeats):  # alternate, so that machine noise hits both
            a, ref = best(lambda: recursive_seqlets(x), 1)
            b, ours = best(lambda: recursive_seqlet_spans(x), 1)
            t_tm, t_drg = min(t_tm, a), min(t_drg, b)
        ref = ref.sort_values(["example_idx", "start"])
        ours = ours.sort_values(["row", "start"])
        same = len(ref) == len(ours) and (ref.start.to_numpy() == ours.start.to_numpy()).all() and \
            (ref.end.to_numpy() == ours.end.to_numpy()).all()
        rows.append((n, len(ours), t_tm, t_drg, same))
        print(f"N={n}: tangermeme {n / t_tm:,.0f} seq/s, drg {n / t_drg:,.0f} seq/s, "
              f"ratio {t_tm / t_drg:.2f}x, same seqlets: {same}")
    cluster = None
    if args.cluster_n:
        cluster = (args.cluster_n, *cluster_bench(args.cluster_n))
        print(f"cluster_motifs on {cluster[0]:,} seqlets: {cluster[1]:.1f} s, {cluster[2]} clusters, "
              f"peak Python memory {cluster[3]:.2f} GiB")
    if args.no_write:
        return
    import numba

    lines = [
        "## Seqlets", "",
        f"`python benchmarks/seqlets.py --sizes {args.sizes} --repeats {args.repeats}"
        + (f" --cluster-n {args.cluster_n}" if args.cluster_n else "")
        + f"` on {datetime.now(timezone.utc):%a %b %d %H:%M:%S UTC %Y}.",
        f"Machine: 2 cores, {platform.machine()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, tangermeme {tangermeme.__version__}.", "",
        "Random normal projected scores (L = 1000) with one +3 bump of 12 positions per sequence; both callers "
        "with the empirical null, n_bins = 1000, lengths 4-25, threshold 0.01; best of alternating repeats.", "",
        "| sequences | seqlets | tangermeme seq/s | drg seq/s | drg / tangermeme speed | same calls |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for n, k, a, b, same in rows:
        lines.append(f"| {n:,} | {k:,} | {n / a:,.0f} | {n / b:,.0f} | {a / b:.2f}x | {same} |")
    if cluster:
        lines += ["", f"- `cluster_motifs` on {cluster[0]:,} planted seqlet CWMs (30 motifs, threshold 0.4): "
                      f"{cluster[1]:.1f} s, {cluster[2]} clusters, peak traced memory {cluster[3]:.2f} GiB."]
    write_section("Seqlets", "\n".join(lines))


if __name__ == "__main__":
    main()

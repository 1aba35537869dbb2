"""Time one-hot encoding: drg vs tangermeme vs a plain numpy lookup table, on the same random sequence.

Usage::

    python benchmarks/onehot.py --mbp 10 --repeats 7 [--results benchmarks/RESULTS.md]

Every encoder produces a C-contiguous ``(4, L)`` int8 array (tangermeme's ``(4, L)`` view of an
``(L, 4)`` array is made contiguous, as a model input would need). Times are the best of ``--repeats``
runs after one warm-up run. The cold cost (fresh interpreter: import plus first call, using numba's
on-disk cache) and many short sequences are timed for drg as well.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _results import cpu_model, write_section  # benchmarks/ is on sys.path when run as a script

SECTION = "One-hot encoding"


def best_time(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time in seconds over ``repeats`` calls after one warm-up, and the last output."""
    out = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def cold_start_seconds() -> float:
    """Seconds for a fresh interpreter to import drg's encoder and encode one short sequence."""
    code = (
        "import time; t = time.perf_counter(); from drg.genome import one_hot_encode; "
        "one_hot_encode('ACGTN'); print(time.perf_counter() - t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mbp", type=float, default=10.0, help="sequence length in mega-bases")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per encoder (best is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short", type=int, default=100_000, help="number of 200-bp sequences for the batch case")
    parser.add_argument("--results", type=Path, default=None, help="write the section into this Markdown file")
    args = parser.parse_args()

    from tangermeme.utils import one_hot_encode as tm_one_hot_encode

    from drg.genome import one_hot_encode

    rng = np.random.default_rng(args.seed)
    length = int(args.mbp * 1_000_000)
    seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, length)].tobytes().decode("ascii")

    table = np.zeros((4, 256), dtype=np.int8)
    for i, letter in enumerate("ACGT"):
        table[i, ord(letter)] = table[i, ord(letter.lower())] = 1

    encoders: dict[str, Callable[[], np.ndarray]] = {
        "drg": lambda: one_hot_encode(seq)[0],
        "tangermeme": lambda: np.ascontiguousarray(tm_one_hot_encode(seq).numpy()),
        "numpy LUT": lambda: np.ascontiguousarray(table[:, np.frombuffer(seq.encode("ascii"), np.uint8)]),
    }
    times, outputs = {}, {}
    for name, fn in encoders.items():
        times[name], outputs[name] = best_time(fn, args.repeats)
    for name, out in outputs.items():
        if out.shape != (4, length) or out.dtype != np.int8 or not out.flags.c_contiguous:
            raise SystemExit(f"{name}: unexpected output {out.shape} {out.dtype}")
        if not np.array_equal(out, outputs["drg"]):
            raise SystemExit(f"{name}: output differs from drg")

    pool = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, args.short * 200)].tobytes().decode("ascii")
    short = [pool[i * 200 : (i + 1) * 200] for i in range(args.short)]
    t_short, _ = best_time(lambda: one_hot_encode(short), max(1, args.repeats // 2))
    cold = min(cold_start_seconds() for _ in range(3))

    rows = []
    for name in encoders:
        ms = times[name] * 1000
        rows.append(f"| {name} | {ms:.1f} | {length / times[name] / 1e6:.0f} |")
        print(f"{name:12s} {ms:8.1f} ms  {length / times[name] / 1e6:8.0f} Mbp/s")
    ratio = times["tangermeme"] / times["drg"]
    lut_ratio = times["numpy LUT"] / times["drg"]
    short_rate = len(short) * 200 / t_short / 1e6
    print(f"time ratio drg / tangermeme: {1 / ratio:.3f} (drg {ratio:.2f}x as fast)")
    print(f"drg vs numpy LUT: {lut_ratio:.2f}x as fast")
    print(f"drg, {len(short)} x 200 bp: {t_short * 1000:.1f} ms ({short_rate:.0f} Mbp/s)")
    print(f"drg cold start (fresh interpreter, import + first call, numba cache warm): {cold:.2f} s")

    if args.results is not None:
        import numba
        import tangermeme

        date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
        body = "\n".join(
            [
                f"## {SECTION}",
                "",
                f"`python benchmarks/onehot.py --mbp {args.mbp:g} --repeats {args.repeats}` on {date}.",
                f"Machine: {os.cpu_count()} cores (nproc), {cpu_model()}; Python {platform.python_version()}, "
                f"numpy {np.__version__}, numba {numba.__version__}, tangermeme {tangermeme.__version__}.",
                "",
                f"One random {length / 1e6:g}-Mbp ACGT sequence (seed {args.seed}) encoded to a C-contiguous "
                "(4, L) int8 array; best of the repeats after a warm-up; all outputs checked equal.",
                "",
                "| encoder | ms | Mbp/s |",
                "|---|---:|---:|",
                *rows,
                "",
                f"- Time ratio drg / tangermeme = {1 / ratio:.3f}: drg is **{ratio:.2f}x** as fast as tangermeme "
                f"(`one_hot_encode(seq).numpy()` made contiguous) and {lut_ratio:.2f}x as fast as the numpy "
                "lookup table.",
                f"- drg on {len(short):,} sequences of 200 bp: {t_short * 1000:.1f} ms ({short_rate:.0f} Mbp/s).",
                f"- drg cold start, fresh interpreter (import + first call, numba cache present): {cold:.2f} s.",
                "",
            ]
        )
        write_section(SECTION, body, args.results)
        print(f"wrote section '{SECTION}' to {args.results}")


if __name__ == "__main__":
    main()

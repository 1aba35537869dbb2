"""DeepLIFT-SHAP of drg vs tangermeme ``deep_lift_shap`` on the reference CNN (../shared/bench/refcnn.py).

Usage::

    python benchmarks/attribution_deeplift.py [--n 32] [--n-shuffles 20] [--repeats 2]

RefCNN (conv 256x15 + GELU + maxpool 5, two dilated residual blocks, 16 tracks), L = 1000, random one-hot
inputs, 2 CPU threads. Both implementations get the same dinucleotide-shuffled references; one track is timed
for both (tangermeme explains one target per call) and all 16 tracks for drg (one forward pass shared by the
tracks). ``bench_deeplift_shap(model, X, args)`` returns the Markdown section and can be registered in
``benchmarks/attribution.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


@dataclass
class Section:
    """Markdown lines of one method's subsection."""

    title: str
    lines: list[str] = field(default_factory=list)


def _best(fn, repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_deeplift_shap(model: Any, X: Any, args: argparse.Namespace) -> Section:
    """drg ``deeplift_shap`` vs tangermeme ``deep_lift_shap`` (same references), 1 and 16 tracks."""
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap as tm_deep_lift_shap

    from drg.attribution.deeplift import deeplift_shap, make_references

    n_shuffles = getattr(args, "n_shuffles", 20)
    repeats = max(1, getattr(args, "repeats", 2))
    n = X.shape[0]
    R = make_references(X, "shuffle", n_shuffles, seed=0)
    Rt = torch.from_numpy(R)

    def ours_one() -> np.ndarray:
        return deeplift_shap(model, X, [0], references=R, batch_size=32, device="cpu")

    def theirs_one() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tm_deep_lift_shap(model, X, target=0, references=Rt, hypothetical=True, batch_size=32,
                                     device="cpu").numpy()

    def ours_all() -> np.ndarray:
        return deeplift_shap(model, X, None, references=R, batch_size=32, device="cpu")

    ours_one()  # warm-up
    best: dict[str, float] = {}
    outs: dict[str, np.ndarray] = {}
    for _ in range(repeats):  # interleaved so that load from other jobs hits both alike
        for key, fn in (("ours", ours_one), ("theirs", theirs_one)):
            t, outs[key] = _best(fn, 1)
            best[key] = min(best.get(key, float("inf")), t)
    t_all, all_tracks = _best(ours_all, 1)
    diff = float(np.abs(outs["ours"] [:, 0] - outs["theirs"]).max())
    scale = float(np.abs(outs["theirs"]).max())
    same_all = float(np.abs(all_tracks[:, :1] - outs["ours"]).max())
    r_ours, r_tm, r_all = n / best["ours"], n / best["theirs"], n / t_all
    print(f"DeepLIFT-SHAP ({n_shuffles} shuffles, N={n}): drg {r_ours:.2f} seq/s, tangermeme {r_tm:.2f} seq/s "
          f"-> {r_ours / r_tm:.2f}x; max |drg - tangermeme| {diff:.1e} (values up to {scale:.1e})")
    print(f"drg all 16 tracks: {r_all:.2f} seq/s ({16 * r_all / r_tm:.1f}x sixteen tangermeme calls)")
    return Section(
        "DeepLIFT-SHAP",
        [
            "| method | tracks | seq/s | ratio |",
            "|---|---:|---:|---:|",
            f"| tangermeme `deep_lift_shap` ({n_shuffles} shuffles, batch 32 pairs) | 1 | {r_tm:.2f} | 1.00x |",
            f"| drg `deeplift_shap` (same references) | 1 | {r_ours:.2f} | **{r_ours / r_tm:.2f}x** |",
            (f"| drg `deeplift_shap`, one forward for all tracks | 16 | {r_all:.2f} | "
            f"**{16 * r_all / r_tm:.1f}x** sixteen tangermeme calls |"),
            "",
            (f"- Hypothetical contributions equal tangermeme's to {diff:.1e} (values up to {scale:.1e}); the "
            f"16-track run equals the 1-track run to {same_all:.1e}. Peer figure: tangermeme 2.4 seq/s."),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--n-shuffles", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    from refcnn import make_model, random_onehot, setup

    setup(args.threads)
    section = bench_deeplift_shap(make_model(seed=0), random_onehot(args.n, 1000, seed=0), args)
    print("\n".join([f"### {section.title}", "", *section.lines]))


if __name__ == "__main__":
    main()

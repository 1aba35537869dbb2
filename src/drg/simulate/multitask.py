"""Multi-task regression simulation: regions x tracks ("cell types") driven by planted motifs.

Each motif has a track-specific effect vector (some motifs act in every track, others in a subset; some
repress), optional pairs of motifs add an extra effect when both are present, and Gaussian noise of a stated
signal-to-noise ratio is added. Everything that generated the targets is kept, so that models,
attributions and motif discovery can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.motifs.motif import Motif
from drg.simulate.synthetic import (
    draw_entries,
    instances_frame,
    layout_instances,
    one_hot_from_codes,
    plant,
    resolve_motifs,
    sequence_names,
)

DEFAULT_MOTIFS = ("CTCF", "GATA1", "SPI1", "CEBPB", "FOXA1", "HNF4A", "SOX2", "NRF1")
"""Default motif set: well-known, mutually distinct JASPAR 2024 motifs (looked up by name)."""


@dataclass
class MultitaskSimulation:
    """A simulated regions x tracks regression set with its generating model.

    Attributes
    ----------
    X
        (N, 4, L) int8 one-hot sequences.
    targets
        (N, T) float32 noisy targets (``clean`` + noise).
    names
        (N,) region names.
    tracks
        (T,) track names.
    ground_truth
        (N, 4, L) float32 per-base probabilities the sequences were drawn from (motif rows at instances,
        the background composition elsewhere).
    instances
        One row per planted motif (``seq_index, seq_name, motif_id, motif_name, start, end, strand, site,
        motif_index``); coordinates 0-based half-open on the forward strand.
    motifs
        (M,) the motifs, row order of ``effects``.
    effects
        (M, T) float32 effect of one instance of motif m on track t.
    roles
        (M,) ``"shared activator"``, ``"specific repressor"``, ...
    interaction_pairs
        (P, 2) int motif indices of the interacting pairs.
    interaction_effects
        (P, T) float32 extra effect when both motifs of pair p are present (at least one instance each).
    motif_counts
        (N, M) int16 number of instances of each motif per region.
    clean
        (N, T) float32 noise-free targets.
    noise_sd
        (T,) float32 standard deviation of the added noise per track.
    params
        The arguments used (for ``simulation.json``).
    """

    X: np.ndarray
    targets: np.ndarray
    names: np.ndarray
    tracks: list[str]
    ground_truth: np.ndarray
    instances: pd.DataFrame
    motifs: list[Motif]
    effects: np.ndarray
    roles: list[str]
    interaction_pairs: np.ndarray
    interaction_effects: np.ndarray
    motif_counts: np.ndarray
    clean: np.ndarray
    noise_sd: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def effects_frame(self) -> pd.DataFrame:
        """``effects`` as a DataFrame indexed by motif id, one column per track, plus ``name`` and ``role``."""
        frame = pd.DataFrame(self.effects, index=[m.id for m in self.motifs], columns=self.tracks)
        frame.insert(0, "role", self.roles)
        frame.insert(0, "name", [m.name for m in self.motifs])
        return frame


def expected_signal(
    motif_counts: np.ndarray,
    effects: np.ndarray,
    interaction_pairs: np.ndarray,
    interaction_effects: np.ndarray,
    saturation: float | None = None,
) -> np.ndarray:
    """Noise-free targets from motif counts: the model :func:`multitask_regression` samples from.

    ``raw = counts @ effects + sum_p [count_a > 0 and count_b > 0] * interaction_effects[p]`` and
    ``clean = raw`` or ``saturation * tanh(raw / saturation)`` when ``saturation`` is set.

    Parameters
    ----------
    motif_counts
        (N, M) instances per motif and region.
    effects
        (M, T) per-instance effects.
    interaction_pairs, interaction_effects
        (P, 2) motif index pairs and their (P, T) effects.
    saturation
        Scale of the tanh saturation, or None for a purely additive model.

    Returns
    -------
    numpy.ndarray
        (N, T) float64.
    """
    counts = np.asarray(motif_counts, dtype=np.float64)
    raw = counts @ np.asarray(effects, dtype=np.float64)
    pairs = np.asarray(interaction_pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs):
        both = (counts[:, pairs[:, 0]] > 0) & (counts[:, pairs[:, 1]] > 0)
        raw += both.astype(np.float64) @ np.asarray(interaction_effects, dtype=np.float64)
    if saturation is not None:
        raw = saturation * np.tanh(raw / saturation)
    return raw


def _effect_matrix(
    n_motifs: int,
    n_tracks: int,
    shared_fraction: float,
    repressive_fraction: float,
    rng: np.random.Generator,
    effect_size: tuple[float, float] = (1.0, 1.5),
) -> tuple[np.ndarray, list[str]]:
    n_shared = int(round(shared_fraction * n_motifs))
    n_repressive = int(round(repressive_fraction * n_motifs))
    shared = np.zeros(n_motifs, dtype=bool)
    shared[rng.permutation(n_motifs)[:n_shared]] = True
    sign = np.ones(n_motifs)
    sign[rng.permutation(n_motifs)[:n_repressive]] = -1.0
    magnitude = rng.uniform(effect_size[0], effect_size[1], size=n_motifs)
    effects = np.zeros((n_motifs, n_tracks))
    roles = []
    max_subset = max(1, n_tracks // 2)
    for m in range(n_motifs):
        jitter = rng.uniform(0.75, 1.25, size=n_tracks)
        if shared[m]:
            active = np.ones(n_tracks, dtype=bool)
        else:
            active = np.zeros(n_tracks, dtype=bool)
            active[rng.permutation(n_tracks)[: rng.integers(1, max_subset + 1)]] = True
        effects[m] = np.where(active, sign[m] * magnitude[m] * jitter, 0.0)
        roles.append(f"{'shared' if shared[m] else 'specific'} {'repressor' if sign[m] < 0 else 'activator'}")
    return effects, roles


def multitask_regression(
    n: int = 20000,
    length: int = 200,
    n_tracks: int = 8,
    *,
    motifs: Sequence[Motif | str] | None = None,
    shared_fraction: float = 0.25,
    repressive_fraction: float = 0.25,
    effect_size: tuple[float, float] = (1.0, 1.5),
    interactions: int = 2,
    interaction_strength: float = 1.0,
    mean_motifs: float = 2.0,
    max_motifs: int = 6,
    saturation: float | None = None,
    noise: float = 0.5,
    gc: float = 0.5,
    database: Sequence[Motif] | None = None,
    seed: int = 0,
    name_prefix: str = "region",
) -> MultitaskSimulation:
    """Simulate ``n`` regions x ``n_tracks`` continuous targets from motifs planted in random DNA.

    Generative model:

    1. **Effects.** Each of the ``M`` motifs gets a magnitude ``a ~ U(effect_size)``. A random
       ``round(shared_fraction * M)`` motifs are *shared* (active in every track), the others *specific*
       (active in a random subset of 1 to ``max(1, T // 2)`` tracks). A random
       ``round(repressive_fraction * M)`` motifs are *repressors* (negative sign). The effect on an active
       track is ``sign * a * U(0.75, 1.25)``, 0 on inactive tracks.
    2. **Interactions.** ``interactions`` distinct motif pairs are drawn; when both motifs of a pair are
       present the region gains ``interaction_strength * U(0.5, 1.5)`` on every track where either motif is
       active.
    3. **Sequences.** Background bases are drawn i.i.d. with G and C each ``gc / 2``, A and T each
       ``(1 - gc) / 2``. Each region gets ``k ~ Poisson(mean_motifs)`` instances (capped at ``max_motifs``),
       each a uniformly chosen motif on a random strand, sampled from its probability matrix and placed
       without overlap at random positions (draws that do not fit are redrawn).
    4. **Targets.** ``clean = expected_signal(counts, effects, pairs, interaction_effects, saturation)``
       (additive per instance, optionally tanh-saturated); ``targets = clean + e`` with
       ``e ~ N(0, (noise * sd_t)^2)`` where ``sd_t`` is the standard deviation of ``clean`` on track t. The
       signal-to-noise ratio (variance) is therefore ``1 / noise**2`` on every track (4 by default);
       ``noise=0`` gives ``targets == clean``.

    Parameters
    ----------
    n, length, n_tracks
        Regions, sequence length and tracks.
    motifs
        Motif objects or ids/names in ``database``; default :data:`DEFAULT_MOTIFS`.
    shared_fraction, repressive_fraction
        Fractions of shared and of repressive motifs.
    effect_size
        ``(low, high)`` range of the motif magnitudes ``a``. The default keeps every motif within 1.5x of
        the others (2x with the per-track jitter): a motif at a third of the strongest one's effect, active
        in a single track, explains a few percent of that track's variance, so whether a model of a
        20,000-sequence set learns it depends on the training run rather than on the method being checked.
    interactions
        Number of interacting motif pairs (at most ``M (M - 1) / 2``).
    interaction_strength
        Scale of the interaction effects.
    mean_motifs, max_motifs
        Poisson mean and cap of the number of instances per region.
    saturation
        tanh saturation scale, or None for additive targets.
    noise
        Noise standard deviation relative to the clean signal's, per track.
    gc
        GC content of the background.
    database
        Motif collection for names (default: bundled JASPAR 2024 vertebrates).
    seed
        Seed of the numpy generator; the same seed gives the same data set.
    name_prefix
        Region names are ``prefix`` + index.

    Returns
    -------
    MultitaskSimulation
    """
    if n < 1 or length < 1 or n_tracks < 1:
        raise InputError(f"n, length and n_tracks must be positive, got {n}, {length}, {n_tracks}")
    if not 0.0 <= gc <= 1.0:
        raise InputError(f"gc must lie in [0, 1], got {gc}")
    if noise < 0 or mean_motifs < 0 or max_motifs < 0:
        raise InputError("noise, mean_motifs and max_motifs must be non-negative")
    for name, value in (("shared_fraction", shared_fraction), ("repressive_fraction", repressive_fraction)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must lie in [0, 1], got {value}")
    if not 0 < effect_size[0] <= effect_size[1]:
        raise InputError(f"effect_size must be (low, high) with 0 < low <= high, got {effect_size}")
    if saturation is not None and saturation <= 0:
        raise InputError(f"saturation must be positive or None, got {saturation}")
    rng = np.random.default_rng(seed)
    motif_list = resolve_motifs(DEFAULT_MOTIFS if motifs is None else motifs, database)
    n_motifs = len(motif_list)
    if n_motifs == 0:
        raise InputError("at least one motif is needed")
    n_pairs_max = n_motifs * (n_motifs - 1) // 2
    if not 0 <= interactions <= n_pairs_max:
        raise InputError(f"interactions must lie in [0, {n_pairs_max}] for {n_motifs} motifs, got {interactions}")

    effects, roles = _effect_matrix(n_motifs, n_tracks, shared_fraction, repressive_fraction, rng,
                                    (float(effect_size[0]), float(effect_size[1])))
    all_pairs = np.array([(a, b) for a in range(n_motifs) for b in range(a + 1, n_motifs)], dtype=np.int64)
    pairs = all_pairs[np.sort(rng.permutation(len(all_pairs))[:interactions])] if interactions else all_pairs[:0]
    pairs = pairs.reshape(-1, 2)
    pair_effects = np.zeros((len(pairs), n_tracks))
    for p, (a, b) in enumerate(pairs):
        active = (effects[a] != 0) | (effects[b] != 0)
        pair_effects[p] = np.where(active, interaction_strength * rng.uniform(0.5, 1.5, size=n_tracks), 0.0)

    # pool entries: motif m forward = 2m, reverse complement = 2m + 1
    matrices = []
    for m in motif_list:
        matrices.extend([m.ppm, m.reverse_complement().ppm])
    pool_widths = np.array([mat.shape[0] for mat in matrices], dtype=np.int64)
    if pool_widths.max() > length:
        raise InputError(f"motif longer ({pool_widths.max()}) than the sequence length {length}")
    k = np.minimum(rng.poisson(mean_motifs, size=n), max_motifs).astype(np.int64)
    if k.max(initial=0) > 0:
        entries = draw_entries(pool_widths, k, length, rng)
    else:
        entries = np.full((n, 0), -1, dtype=np.int64)
    widths = np.where(entries >= 0, pool_widths[np.maximum(entries, 0)], 0)
    starts = layout_instances(widths, length, rng)
    used = entries >= 0
    seq_index = np.nonzero(used)[0]
    flat_entries, flat_starts = entries[used], starts[used]
    motif_index = flat_entries // 2

    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes = rng.choice(4, size=(n, length), p=background).astype(np.uint8)
    truth = np.empty((n, 4, length), dtype=np.float32)
    truth[:] = background.astype(np.float32)[None, :, None]
    sites = plant(codes, truth, matrices, flat_entries, seq_index, flat_starts, rng)
    names = sequence_names(n, name_prefix)
    strands = np.where(flat_entries % 2 == 0, "+", "-")
    instances = instances_frame(
        seq_index,
        names,
        motif_list,
        motif_index,
        flat_starts,
        pool_widths[flat_entries],
        strands,
        sites,
        extra={"motif_index": motif_index},
    )

    counts = np.zeros((n, n_motifs), dtype=np.int16)
    np.add.at(counts, (seq_index, motif_index), 1)
    clean = expected_signal(counts, effects, pairs, pair_effects, saturation)
    noise_sd = noise * clean.std(axis=0)
    targets = clean + rng.standard_normal(clean.shape) * noise_sd[None, :]
    tracks = [f"track_{t}" for t in range(n_tracks)]
    params = {
        "design": "multitask_regression",
        "n": n,
        "length": length,
        "n_tracks": n_tracks,
        "motifs": [m.id for m in motif_list],
        "motif_names": [m.name for m in motif_list],
        "shared_fraction": shared_fraction,
        "repressive_fraction": repressive_fraction,
        "effect_size": [float(effect_size[0]), float(effect_size[1])],
        "interactions": interactions,
        "interaction_strength": interaction_strength,
        "mean_motifs": mean_motifs,
        "max_motifs": max_motifs,
        "saturation": saturation,
        "noise": noise,
        "snr": None if noise == 0 else 1.0 / noise**2,
        "gc": gc,
        "seed": seed,
        "n_instances": int(len(instances)),
    }
    return MultitaskSimulation(
        X=one_hot_from_codes(codes),
        targets=targets.astype(np.float32),
        names=names,
        tracks=tracks,
        ground_truth=truth,
        instances=instances,
        motifs=motif_list,
        effects=effects.astype(np.float32),
        roles=roles,
        interaction_pairs=pairs,
        interaction_effects=pair_effects.astype(np.float32),
        motif_counts=counts,
        clean=clean.astype(np.float32),
        noise_sd=noise_sd.astype(np.float32),
        params=params,
    )

"""The "synthetic code" classification data set of Koo & Ploenzke (2021) with per-base ground truth.

Koo, P. K. & Ploenzke, M. "Improving representations of genomic sequence motifs in convolutional networks
with exponential activations", Nature Machine Intelligence 3, 258-266 (2021). Their synthetic set plants
JASPAR motifs sampled from their probability matrices into uniform random DNA; the positive class is built
from a small set of "core" motifs only, the negative class from a larger pool. This module rebuilds that
design from the bundled JASPAR 2024 CORE vertebrates collection and keeps, for every sequence, the exact
probability matrix it was drawn from and a table of the planted motif instances, so that attribution and
motif-discovery methods can be scored against the truth.

The building blocks here (layout of non-overlapping instances, sampling from probability matrices) are shared with
:mod:`drg.simulate.multitask`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.genome.onehot import reverse_complement_sequence
from drg.motifs.motif import Motif

DEFAULT_CORE = ("SP1", "GABPA", "CEBPB", "MAX", "YY1")
"""Core motifs of Koo & Ploenzke's synthetic code (names in the bundled JASPAR 2024 file)."""

DEFAULT_MOTIF_COUNTS = (3, 4, 5, 6, 7)
DEFAULT_MOTIF_COUNT_PROBS = (0.5, 0.25, 0.17, 0.05, 0.03)
_INSTANCE_COLUMNS = ["seq_index", "seq_name", "motif_id", "motif_name", "start", "end", "strand", "site"]


# ------------------------------------------------------------------------------------------- shared building blocks
def resolve_motifs(motifs: Sequence[Motif | str], database: Sequence[Motif] | None = None) -> list[Motif]:
    """Turn a mix of :class:`Motif` objects and ids/names into motifs.

    Strings are looked up in ``database`` (default: the bundled JASPAR 2024 collection) by exact id, else by
    name ignoring case (the first match in file order, i.e. the lowest matrix id, when a name repeats).

    Raises
    ------
    InputError
        When a name is not in the database (the message suggests close names).
    """
    from drg.motifs.io import find_motif, load_bundled_jaspar

    db = None
    out = []
    for item in motifs:
        if isinstance(item, Motif):
            out.append(item)
            continue
        if db is None:
            db = list(database) if database is not None else load_bundled_jaspar()
        out.append(find_motif(db, str(item)))
    return out


def sequence_names(n: int, prefix: str = "seq") -> np.ndarray:
    """``prefix`` + zero-padded index, e.g. ``seq00000`` ... ``seq19999``; (n,) str array."""
    width = max(1, len(str(max(n - 1, 0))))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)])


def layout_instances(widths: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Random non-overlapping start positions for motifs placed in the given order.

    For a sequence with ``k`` motifs of total width ``W`` the ``R = length - W`` free bases are split into
    ``k + 1`` gaps uniformly over all compositions (stars and bars: ``k`` slots are drawn without
    replacement from ``R + k``), so every arrangement of the ordered motifs is equally likely.

    Parameters
    ----------
    widths
        (N, K) motif widths in planting order; 0 marks an unused slot (used slots come first in each row).
    length
        Sequence length; every row must satisfy ``widths.sum(1) <= length``.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        (N, K) int64 0-based starts (undefined, 0, for unused slots).
    """
    widths = np.asarray(widths, dtype=np.int64)
    n, kmax = widths.shape
    used = widths > 0
    k = used.sum(axis=1)
    free = length - widths.sum(axis=1)
    if (free < 0).any():
        raise InputError(f"motifs of a sequence are longer in total than the sequence length {length}")
    slots = free + k
    keys = rng.random((n, int(slots.max()) if n else 0))
    keys[np.arange(keys.shape[1])[None, :] >= slots[:, None]] = np.inf
    chosen = np.argsort(keys, axis=1, kind="stable")[:, :kmax] if kmax else np.zeros((n, 0), dtype=np.int64)
    chosen = np.where(used, chosen, np.iinfo(np.int64).max)
    chosen.sort(axis=1)
    before = np.cumsum(widths, axis=1) - widths
    starts = chosen - np.arange(kmax)[None, :] + before
    return np.where(used, starts, 0)


def _cumulative(ppm: np.ndarray) -> np.ndarray:
    """(w, 3) thresholds so that ``code = (u >= thresholds).sum(-1)`` samples rows of ``ppm`` exactly.

    A letter with probability 0 can never be drawn (its interval is empty even after rounding).
    """
    p = ppm / ppm.sum(axis=1, keepdims=True)
    cum = np.cumsum(p, axis=1)[:, :3].copy()
    tail = np.cumsum(p[:, ::-1], axis=1)[:, ::-1]  # tail[:, j] = sum of p[:, j:]
    for j in range(3):
        cum[:, j] = np.where(tail[:, j + 1] == 0, 1.0, cum[:, j])
    return cum


def plant(
    codes: np.ndarray,
    truth: np.ndarray,
    matrices: Sequence[np.ndarray],
    entry: np.ndarray,
    seq_index: np.ndarray,
    starts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample motif instances into integer-coded sequences and record their probability rows.

    Parameters
    ----------
    codes
        (N, L) uint8 sequences (0..3 = A, C, G, T), modified in place.
    truth
        (N, 4, L) float32 per-base probabilities, modified in place (motif rows written at instances).
    matrices
        Probability matrices (w, 4) of the pool entries, already in the planted orientation.
    entry, seq_index, starts
        (I,) pool entry, sequence and 0-based start of each instance.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        (I,) object array of the planted bases on the forward strand.
    """
    sites = np.empty(len(entry), dtype=object)
    lookup = np.frombuffer(b"ACGT", dtype=np.uint8)
    for e in np.unique(entry):
        rows = np.nonzero(entry == e)[0]
        ppm = matrices[e]
        w = ppm.shape[0]
        u = rng.random((rows.size, w))
        sampled = (u[:, :, None] >= _cumulative(ppm)[None, :, :]).sum(axis=2).astype(np.uint8)
        seqs = seq_index[rows][:, None]
        pos = starts[rows][:, None] + np.arange(w)[None, :]
        codes[seqs, pos] = sampled
        truth[seqs, :, pos] = ppm.astype(np.float32)
        text = np.ascontiguousarray(lookup[sampled]).view(f"S{w}").reshape(-1)
        sites[rows] = [s.decode() for s in text]
    return sites


def one_hot_from_codes(codes: np.ndarray) -> np.ndarray:
    """(N, L) codes 0..3 -> (N, 4, L) int8 one-hot, channels A, C, G, T."""
    return (codes[:, None, :] == np.arange(4, dtype=codes.dtype)[None, :, None]).astype(np.int8)


def instances_frame(
    seq_index: np.ndarray,
    names: np.ndarray,
    motifs: Sequence[Motif],
    motif_index: np.ndarray,
    starts: np.ndarray,
    widths: np.ndarray,
    strands: np.ndarray,
    forward_sites: np.ndarray,
    extra: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Table of planted instances; ``site`` is read 5'->3' on the motif's own strand."""
    sites = [s if strand == "+" else reverse_complement_sequence(s) for s, strand in zip(forward_sites, strands)]
    frame = pd.DataFrame(
        {
            "seq_index": seq_index.astype(np.int64),
            "seq_name": names[seq_index],
            "motif_id": [motifs[m].id for m in motif_index],
            "motif_name": [motifs[m].name for m in motif_index],
            "start": starts.astype(np.int64),
            "end": (starts + widths).astype(np.int64),
            "strand": strands,
            "site": sites,
        }
    )
    for key, value in (extra or {}).items():
        frame[key] = value
    return frame.sort_values(["seq_index", "start"], kind="stable").reset_index(drop=True)


def column_similarity(a: np.ndarray, b: np.ndarray, min_overlap: int = 6) -> float:
    """Best mean column Pearson correlation of two (w, 4) matrices over all ungapped alignments.

    Alignments overlap by at least ``min(min_overlap, len(a), len(b))`` columns; constant (uniform) columns
    correlate 0 with anything. Used to keep look-alikes of the core motifs out of the background pool.
    """

    def standardize(m: np.ndarray) -> np.ndarray:
        centred = m - m.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        out = np.zeros_like(centred)
        np.divide(centred, norm, out=out, where=norm > 1e-12)
        return out

    corr = standardize(a) @ standardize(b).T
    overlap = min(min_overlap, a.shape[0], b.shape[0])
    best = -1.0
    for offset in range(-(a.shape[0] - overlap), b.shape[0] - overlap + 1):
        diagonal = np.diagonal(corr, offset=offset)
        if diagonal.size >= overlap:
            best = max(best, float(diagonal.mean()))
    return best


def draw_entries(
    pool_widths: np.ndarray,
    counts: np.ndarray,
    length: int,
    rng: np.random.Generator,
    pool_size: int | None = None,
    max_tries: int = 1000,
) -> np.ndarray:
    """Draw pool entries uniformly with replacement, ``counts[i]`` per sequence, redrawing rows that do not fit.

    Returns (N, K) int64 entry indices with -1 in unused slots (K = counts.max()).
    """
    n = counts.shape[0]
    kmax = int(counts.max()) if n else 0
    size = len(pool_widths) if pool_size is None else pool_size
    entries = np.full((n, kmax), -1, dtype=np.int64)
    pending = np.arange(n)
    slot = np.arange(kmax)[None, :]
    for _ in range(max_tries):
        if pending.size == 0:
            return entries
        draw = rng.integers(0, size, size=(pending.size, kmax))
        draw = np.where(slot < counts[pending, None], draw, -1)
        total = np.where(draw >= 0, pool_widths[np.maximum(draw, 0)], 0).sum(axis=1)
        entries[pending] = draw
        pending = pending[total > length]
    raise InputError(
        f"could not fit {int(counts.max())} motifs into sequences of length {length}; use longer sequences or "
        "fewer motifs per sequence"
    )


# ------------------------------------------------------------------------------------------- synthetic code
@dataclass
class SyntheticCode:
    """A simulated binary classification set with known motif ground truth.

    Attributes
    ----------
    X
        (N, 4, L) int8 one-hot sequences.
    y
        (N, 1) float32 labels (1 = built from core motifs only).
    names
        (N,) sequence names.
    ground_truth
        (N, 4, L) float32: the probability matrix each sequence was sampled from (motif rows at planted
        positions in the planted orientation, 0.25 elsewhere).
    instances
        One row per planted motif: ``seq_index, seq_name, motif_id, motif_name, start, end`` (0-based,
        half-open, forward-strand coordinates), ``strand`` (``-`` = reverse complement planted), ``site``
        (the planted bases read on the motif's strand) and ``core`` (bool).
    motifs
        The motifs that can be planted, core first, in their forward orientation.
    core
        Ids of the core motifs.
    params
        The arguments used (for ``simulation.json``).
    """

    X: np.ndarray
    y: np.ndarray
    names: np.ndarray
    ground_truth: np.ndarray
    instances: pd.DataFrame
    motifs: list[Motif]
    core: list[str]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> np.ndarray:
        """(N, 1) float32, the labels (same as :attr:`y`)."""
        return self.y

    @property
    def tracks(self) -> list[str]:
        """Target column names: ``["label"]``."""
        return ["label"]

    @property
    def core_names(self) -> list[str]:
        """Names of the core motifs (as spelled in the database, e.g. ``"Yy1"``)."""
        core = set(self.core)
        return [m.name for m in self.motifs if m.id in core]

    @property
    def background_motifs(self) -> list[Motif]:
        """The non-core motifs of the negative pool."""
        core = set(self.core)
        return [m for m in self.motifs if m.id not in core]


def _background_pool(
    database: Sequence[Motif],
    core: Sequence[Motif],
    n_background: int,
    similarity_threshold: float,
    max_width: int,
    rng: np.random.Generator,
) -> list[Motif]:
    core_ids = {m.id for m in core}
    core_names = {m.name.lower() for m in core}
    core_matrices = [m.ppm for m in core] + [m.reverse_complement().ppm for m in core]
    chosen: list[Motif] = []
    for index in rng.permutation(len(database)):
        motif = database[index]
        if motif.id in core_ids or motif.name.lower() in core_names or motif.length > max_width:
            continue
        if any(column_similarity(motif.ppm, c) >= similarity_threshold for c in core_matrices):
            continue
        chosen.append(motif)
        if len(chosen) == n_background:
            return chosen
    raise InputError(
        f"only {len(chosen)} database motifs are unlike the core motifs (similarity < {similarity_threshold}); "
        f"{n_background} background motifs were requested"
    )


def synthetic_code(
    n: int = 20000,
    length: int = 200,
    *,
    core: Sequence[Motif | str] = DEFAULT_CORE,
    n_background: int = 50,
    motif_counts: Sequence[int] = DEFAULT_MOTIF_COUNTS,
    motif_count_probs: Sequence[float] = DEFAULT_MOTIF_COUNT_PROBS,
    negatives_include_core: bool = True,
    similarity_threshold: float = 0.75,
    database: Sequence[Motif] | None = None,
    seed: int = 0,
    name_prefix: str = "seq",
) -> SyntheticCode:
    """Simulate Koo & Ploenzke's (2021) "synthetic code" binary classification task.

    Design (as in the authors' generation notebook, with the motifs taken from JASPAR 2024):

    1. **Motif pools.** The *core pool* holds the core motifs (default SP1, GABPA, CEBPB, MAX, YY1) and their
       reverse complements (10 entries). The *background pool* adds ``n_background`` (50) other database
       motifs and their reverse complements (100 entries); candidates are drawn in random order and skipped
       when their name matches a core motif or their :func:`column_similarity` to a core motif (either
       strand) reaches ``similarity_threshold``, mirroring the authors' removal of core look-alikes.
    2. **Motifs per sequence.** ``k`` is drawn from ``motif_counts`` with ``motif_count_probs``
       (3-7 motifs with probabilities 0.5, 0.25, 0.17, 0.05, 0.03).
    3. **Sequences.** Half of the sequences (``n // 2``) are positives: ``k`` entries drawn uniformly with
       replacement from the core pool. The rest are negatives: ``k`` entries drawn uniformly with
       replacement from the core + background pool (110 entries), or from the background pool alone when
       ``negatives_include_core`` is False. Draws whose total width exceeds ``length`` are redrawn. The
       motifs are placed in draw order without overlap, with the free bases split into gaps uniformly at
       random (:func:`layout_instances`). Each motif base is sampled from its probability row, every other
       base uniformly (0.25 each).
    4. **Labels.** ``y = 1`` for sequences built from the core pool only, ``y = 0`` otherwise. With the
       default pools a negative holds at least one core instance with probability ``1 - (100/110)^k``
       (about 25 % for ``k = 3``): the class is the *grammar* (only core motifs), not the mere presence of
       a core motif. With ``negatives_include_core=False`` the rule becomes "contains a core motif".

    Sequence order is shuffled so that names do not reveal the class.

    Parameters
    ----------
    n, length
        Number of sequences and their length.
    core
        Core motifs (objects, or ids/names looked up in ``database``).
    n_background
        Number of non-core motifs in the negative pool.
    motif_counts, motif_count_probs
        Support and probabilities of the number of motifs per sequence.
    negatives_include_core
        Whether negatives draw from core motifs too (the published design).
    similarity_threshold
        Background candidates at least this similar to a core motif are skipped.
    database
        Motif collection for names and background motifs (default: bundled JASPAR 2024 vertebrates).
    seed
        Seed of the numpy generator; the same seed gives the same data set.
    name_prefix
        Sequence names are ``prefix`` + index.

    Returns
    -------
    SyntheticCode
    """
    if n < 2:
        raise InputError(f"n must be at least 2 (one sequence per class), got {n}")
    counts_support = np.asarray(motif_counts, dtype=np.int64)
    probs = np.asarray(motif_count_probs, dtype=np.float64)
    if counts_support.shape != probs.shape or (counts_support < 1).any() or (probs < 0).any() or probs.sum() <= 0:
        raise InputError("motif_counts must be positive integers with one non-negative probability each")
    probs = probs / probs.sum()
    rng = np.random.default_rng(seed)
    from drg.motifs.io import load_bundled_jaspar

    db = list(database) if database is not None else load_bundled_jaspar()
    core_motifs = resolve_motifs(core, db)
    background = _background_pool(db, core_motifs, n_background, similarity_threshold, length // 2, rng)
    motifs = core_motifs + background
    # pool entries: (motif index, strand); core entries first
    entry_motif = np.repeat(np.arange(len(motifs)), 2)
    entry_strand = np.tile(np.array(["+", "-"]), len(motifs))
    matrices = []
    for m in motifs:
        matrices.extend([m.ppm, m.reverse_complement().ppm])
    pool_widths = np.array([mat.shape[0] for mat in matrices], dtype=np.int64)
    n_core_entries = 2 * len(core_motifs)

    n_pos = n // 2
    label = np.zeros(n, dtype=np.float32)
    label[:n_pos] = 1.0
    k = counts_support[rng.choice(len(probs), size=n, p=probs)]
    entries = np.full((n, int(k.max())), -1, dtype=np.int64)
    pos = draw_entries(pool_widths, k[:n_pos], length, rng, pool_size=n_core_entries)
    entries[:n_pos, : pos.shape[1]] = pos
    if negatives_include_core:
        neg = draw_entries(pool_widths, k[n_pos:], length, rng)
    else:
        neg = draw_entries(pool_widths[n_core_entries:], k[n_pos:], length, rng)
        neg = np.where(neg >= 0, neg + n_core_entries, -1)
    entries[n_pos:, : neg.shape[1]] = neg
    order = rng.permutation(n)
    entries, label, k = entries[order], label[order], k[order]

    widths = np.where(entries >= 0, pool_widths[np.maximum(entries, 0)], 0)
    starts = layout_instances(widths, length, rng)
    used = entries >= 0
    seq_index = np.nonzero(used)[0]
    flat_entries, flat_starts = entries[used], starts[used]

    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    truth = np.full((n, 4, length), 0.25, dtype=np.float32)
    sites = plant(codes, truth, matrices, flat_entries, seq_index, flat_starts, rng)
    names = sequence_names(n, name_prefix)
    instances = instances_frame(
        seq_index,
        names,
        motifs,
        entry_motif[flat_entries],
        flat_starts,
        pool_widths[flat_entries],
        entry_strand[flat_entries],
        sites,
        extra={"core": flat_entries < n_core_entries},
    )
    params = {
        "design": "synthetic_code",
        "n": n,
        "length": length,
        "core": [m.id for m in core_motifs],
        "core_names": [m.name for m in core_motifs],
        "background": [m.id for m in background],
        "n_background": n_background,
        "motif_counts": counts_support.tolist(),
        "motif_count_probs": probs.tolist(),
        "negatives_include_core": negatives_include_core,
        "similarity_threshold": similarity_threshold,
        "seed": seed,
        "n_positive": int(label.sum()),
        "n_instances": int(len(instances)),
    }
    return SyntheticCode(
        X=one_hot_from_codes(codes),
        y=label[:, None],
        names=names,
        ground_truth=truth,
        instances=instances,
        motifs=motifs,
        core=[m.id for m in core_motifs],
        params=params,
    )

"""In-silico experiments: implant motifs into background sequences, measure their marginal effects, scan the
spacing and orientation of motif pairs, and ablate sites.

All sequences are one-hot ``(N, 4, L)`` in A, C, G, T order; positions are 0-based and motif sites half-open.
Effects are differences of model predictions (``with - without`` for implants, ``original - ablated`` for
ablations), per track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.design.variants import predict_tracks, resolve_model, select_tracks
from drg.errors import InputError
from drg.utils import progress

__all__ = ["AblationEffects", "MarginalEffects", "SpacingScan", "ablate", "implant", "marginalize",
           "motif_matrix", "spacing_scan"]

Orientation = Literal["+", "-"]


# --------------------------------------------------------------------------------------------- implanting
def motif_matrix(motif: Any) -> tuple[np.ndarray, str]:
    """``(m, 4)`` probability matrix and name of a :class:`~drg.motifs.Motif`, a DNA string or an ``(m, 4)`` array.

    A string gives a matrix of 0/1 rows; ``N`` gives a uniform row (drawn at random in ``mode="sample"``,
    written as ``A``, the first of the tied bases, in ``mode="consensus"``).
    """
    if hasattr(motif, "ppm"):
        return np.asarray(motif.ppm, dtype=np.float64), str(getattr(motif, "name", "motif"))
    if isinstance(motif, str):
        text = motif.upper()
        if not text or any(ch not in "ACGTN" for ch in text):
            raise InputError(f"motif string {motif!r} must be letters A, C, G, T or N")
        ppm = np.full((len(text), 4), 0.25)
        for i, ch in enumerate(text):
            if ch != "N":
                ppm[i] = 0.0
                ppm[i, "ACGT".index(ch)] = 1.0
        return ppm, motif
    arr = np.asarray(motif, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise InputError(f"a motif matrix must have shape (m, 4) (columns A, C, G, T); got {arr.shape}")
    if (arr < 0).any() or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-3):
        raise InputError("a motif matrix must hold probabilities: non-negative rows summing to 1")
    return arr, "motif"


def _centre_start(length: int, width: int) -> int:
    return length // 2 - width // 2


def implant(
    X: Any,
    motif: Any,
    position: int | Sequence[int] | np.ndarray | None = None,
    *,
    orientation: Orientation = "+",
    mode: Literal["consensus", "sample"] = "consensus",
    seed: int | None = 0,
) -> np.ndarray:
    """Write a motif into one-hot sequences (a substitution: the sequence keeps its length).

    Parameters
    ----------
    X
        ``(N, 4, L)`` or ``(4, L)`` one-hot sequences (numpy or torch).
    motif
        A :class:`~drg.motifs.Motif`, a DNA string (``N`` is a uniform row; see :func:`motif_matrix`), or an
        ``(m, 4)`` probability matrix (columns A, C, G, T).
    position
        0-based start of the motif: one integer for every sequence or ``(N,)`` integers; None centres the
        motif (start ``L // 2 - m // 2``, as tangermeme's ``substitute``).
    orientation
        ``"+"`` writes the motif as given, ``"-"`` its reverse complement.
    mode
        ``"consensus"`` writes the most probable base at each position (the first of tied bases in A, C, G, T
        order); ``"sample"`` draws every sequence's bases independently from the matrix rows.
    seed
        Seed of the draws for ``mode="sample"``.

    Returns
    -------
    numpy.ndarray
        A copy of ``X`` (same shape and dtype) with columns ``[position, position + m)`` replaced.

    Raises
    ------
    InputError
        A motif longer than the sequences, a position that puts it (partly) outside them, or bad arguments.
    """
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    arr = np.array(X, copy=True)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise InputError(f"X must have shape (N, 4, L) or (4, L); got {np.shape(X)}")
    if orientation not in ("+", "-"):
        raise InputError(f"orientation must be '+' or '-', got {orientation!r}")
    if mode not in ("consensus", "sample"):
        raise InputError(f"mode must be 'consensus' or 'sample', got {mode!r}")
    ppm, name = motif_matrix(motif)
    if orientation == "-":
        ppm = ppm[::-1, ::-1]
    n, _, length = arr.shape
    m = ppm.shape[0]
    if m > length:
        raise InputError(f"motif {name!r} ({m} bp) is longer than the sequences ({length} bp)")
    starts = np.full(n, _centre_start(length, m), dtype=np.int64) if position is None else \
        np.broadcast_to(np.asarray(position, dtype=np.int64), (n,)).copy()
    if position is not None and np.ndim(position) == 1 and len(position) != n:
        raise InputError(f"{len(position)} positions for {n} sequences")
    bad = (starts < 0) | (starts + m > length)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"motif {name!r} ({m} bp) at position {starts[i]} does not fit in sequence {i} of "
                         f"length {length} (0 <= position <= {length - m})")
    if mode == "consensus":
        bases = np.broadcast_to(ppm.argmax(axis=1), (n, m))
    else:
        rng = np.random.default_rng(seed)
        cdf = np.cumsum(ppm / ppm.sum(axis=1, keepdims=True), axis=1)
        u = rng.random((n, m))
        bases = np.minimum((u[:, :, None] > cdf[None]).sum(axis=2), 3)
    cols = starts[:, None] + np.arange(m)[None]
    rows = np.arange(n)[:, None]
    arr[rows, :, cols] = 0
    arr[rows, bases, cols] = 1
    return arr[0] if single else arr


# --------------------------------------------------------------------------------------------- helpers
def _backgrounds(background: Any, shuffle: bool, n: int, seed: int | None, verbose: bool) -> np.ndarray:
    """``(N', 4, L)`` float32 backgrounds: ``n`` dinucleotide shuffles per sequence, or the sequences as is."""
    if hasattr(background, "detach"):
        background = background.detach().cpu().numpy()
    X = np.asarray(background)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != 4 or X.shape[0] == 0:
        raise InputError(f"background must be one-hot (N, 4, L) with N > 0; got shape {np.shape(background)}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if not shuffle:
        return X.astype(np.float32)
    from drg.genome import dinucleotide_shuffle

    shuffled = dinucleotide_shuffle(X, n=int(n), seed=seed, verbose=verbose)
    return shuffled.reshape(-1, 4, X.shape[-1]).astype(np.float32)


class _Scorer:
    """Predictions of selected tracks for one-hot batches, with fixed averaging and device settings."""

    def __init__(self, model: Any, tracks: Any, rc_average: bool, shift_average: int, batch_size: int,
                 device: Any) -> None:
        if isinstance(batch_size, bool) or batch_size < 1:
            raise InputError(f"batch_size must be positive, got {batch_size!r}")
        self.model = resolve_model(model, device)
        self.tracks = tracks
        self.kwargs = {"rc_average": rc_average, "shift_average": shift_average, "batch_size": batch_size,
                       "device": device}
        self.index: list[int] | None = None
        self.names: list[str] = []

    def __call__(self, X: np.ndarray) -> np.ndarray:
        values, names = predict_tracks(self.model, X, **self.kwargs)
        if self.index is None:
            self.index = select_tracks(names, self.tracks)
            self.names = [names[i] for i in self.index]
        return values[:, self.index]


def _orientations(orientation: str) -> list[str]:
    if orientation == "both":
        return ["+", "-"]
    if orientation not in ("+", "-"):
        raise InputError(f"orientation must be '+', '-' or 'both', got {orientation!r}")
    return [orientation]


# --------------------------------------------------------------------------------------------- marginalize
@dataclass
class MarginalEffects:
    """Marginal effects of motifs implanted into background sequences.

    Attributes
    ----------
    motifs
        ``(M,)`` motif names.
    tracks
        ``(T,)`` track names.
    mean, sd
        ``(M, T)`` mean and standard deviation (ddof 1; 0 for one background) over backgrounds of the effect.
    deltas
        ``(M, N, T)`` per-background effect: prediction with the motif minus prediction of the background
        (averaged over both orientations for ``orientation="both"``).
    before
        ``(N, T)`` predictions of the backgrounds.
    """

    motifs: list[str]
    tracks: list[str]
    mean: np.ndarray
    sd: np.ndarray
    deltas: np.ndarray
    before: np.ndarray

    def table(self) -> pd.DataFrame:
        """Long table: ``motif``, ``track``, ``mean``, ``sd``, ``sem``, ``n``."""
        m, t = self.mean.shape
        n = self.deltas.shape[1]
        return pd.DataFrame({
            "motif": np.repeat(self.motifs, t), "track": np.tile(self.tracks, m),
            "mean": self.mean.ravel(), "sd": self.sd.ravel(),
            "sem": self.sd.ravel() / np.sqrt(n), "n": n,
        })


def _sd(values: np.ndarray, axis: int) -> np.ndarray:
    return values.std(axis=axis, ddof=1) if values.shape[axis] > 1 else np.zeros(np.delete(values.shape, axis))


def marginalize(
    model: Any,
    motifs: Any,
    background: Any,
    *,
    position: int | None = None,
    n: int = 1,
    shuffle: bool = True,
    orientation: Literal["+", "-", "both"] = "+",
    mode: Literal["consensus", "sample"] = "consensus",
    tracks: Any = None,
    rc_average: bool = False,
    shift_average: int = 0,
    batch_size: int = 256,
    device: Any = None,
    seed: int | None = 0,
    verbose: bool = False,
) -> MarginalEffects:
    """Marginal effect of each motif: prediction with the motif implanted minus prediction without it.

    Parameters
    ----------
    model
        ``torch.nn.Module`` or checkpoint / model directory.
    motifs
        One motif or a list: :class:`~drg.motifs.Motif`, DNA string or ``(m, 4)`` matrix (see :func:`implant`).
    background
        ``(N, 4, L)`` one-hot sequences.
    position
        0-based motif start; None centres each motif (``L // 2 - m // 2``).
    n
        Dinucleotide shuffles per background sequence (with ``shuffle``).
    shuffle
        Dinucleotide-shuffle the backgrounds first (default), which keeps their composition but removes their
        motifs; ``False`` uses them as given (``n`` must then be 1).
    orientation
        ``"+"``, ``"-"`` or ``"both"`` (the per-background effect is the mean of the two orientations).
    mode
        ``"consensus"`` or ``"sample"`` (see :func:`implant`; samples are drawn per background).
    tracks
        None for all, or indices / names.
    rc_average, shift_average, batch_size, device
        Prediction settings (see :func:`drg.training.predict`).
    seed
        Seed of the shuffles and of sampled motifs.
    verbose
        Progress bar over motifs.

    Returns
    -------
    MarginalEffects
        ``mean``/``sd`` ``(M, T)``, ``deltas`` ``(M, N', T)`` with ``N' = N * n`` and the background predictions.
    """
    if not shuffle and n != 1:
        raise InputError("n > 1 copies need shuffle=True (unshuffled backgrounds would repeat)")
    motif_list = list(motifs) if isinstance(motifs, (list, tuple)) else [motifs]
    if not motif_list:
        raise InputError("no motifs given")
    strands = _orientations(orientation)
    X = _backgrounds(background, shuffle, n, seed, verbose=False)
    score = _Scorer(model, tracks, rc_average, shift_average, batch_size, device)
    before = score(X)
    names, deltas = [], []
    for k, motif in enumerate(progress(motif_list, total=len(motif_list), description="implanting motifs",
                                       verbose=verbose)):
        names.append(motif_matrix(motif)[1])
        after = [score(implant(X, motif, position, orientation=s, mode=mode,
                               seed=None if seed is None else seed + 1 + k)) for s in strands]  # type: ignore[arg-type]
        deltas.append(np.mean(after, axis=0) - before)
    d = np.stack(deltas)
    return MarginalEffects(names, score.names, d.mean(axis=1), _sd(d, 1), d, before)


# --------------------------------------------------------------------------------------------- spacing
@dataclass
class SpacingScan:
    """Joint and single effects of a motif pair over spacings and orientations.

    Attributes
    ----------
    motif_a, motif_b
        Motif names.
    spacings
        ``(S,)`` gaps in bp between the last base of A and the first base of B.
    orientations
        ``(O,)`` orientation pairs such as ``"+-"`` (A forward, B reverse complement).
    tracks
        ``(T,)`` track names.
    joint, effect_a, effect_b, interaction
        ``(S, O, T)`` means over backgrounds of: both motifs minus background, A alone minus background,
        B alone minus background, and ``joint - effect_a - effect_b`` (0 for an additive model).
    interaction_sd
        ``(S, O, T)`` standard deviation over backgrounds of the per-background interaction.
    start_a, start_b
        ``(S,)`` 0-based starts of A and B (the pair is centred in the sequence).
    """

    motif_a: str
    motif_b: str
    spacings: np.ndarray
    orientations: list[str]
    tracks: list[str]
    joint: np.ndarray
    effect_a: np.ndarray
    effect_b: np.ndarray
    interaction: np.ndarray
    interaction_sd: np.ndarray
    start_a: np.ndarray
    start_b: np.ndarray

    def table(self) -> pd.DataFrame:
        """Long table: ``spacing``, ``orientation``, ``track``, ``start_a``, ``start_b``, ``joint``,
        ``effect_a``, ``effect_b``, ``interaction``, ``interaction_sd``."""
        s, o, t = self.joint.shape
        return pd.DataFrame({
            "spacing": np.repeat(self.spacings, o * t), "orientation": np.tile(np.repeat(self.orientations, t), s),
            "track": np.tile(self.tracks, s * o), "start_a": np.repeat(self.start_a, o * t),
            "start_b": np.repeat(self.start_b, o * t), "joint": self.joint.ravel(), "effect_a": self.effect_a.ravel(),
            "effect_b": self.effect_b.ravel(), "interaction": self.interaction.ravel(),
            "interaction_sd": self.interaction_sd.ravel(),
        })


def spacing_scan(
    model: Any,
    motif_a: Any,
    motif_b: Any,
    background: Any,
    spacings: Sequence[int] | np.ndarray,
    orientations: Sequence[str] = ("++", "+-", "-+", "--"),
    *,
    n: int = 1,
    shuffle: bool = True,
    mode: Literal["consensus", "sample"] = "consensus",
    tracks: Any = None,
    rc_average: bool = False,
    shift_average: int = 0,
    batch_size: int = 256,
    device: Any = None,
    seed: int | None = 0,
    verbose: bool = False,
) -> SpacingScan:
    """Effects of motif A, motif B and both, for every spacing and orientation pair, and their interaction.

    For spacing ``g`` the pair spans ``w = m_a + g + m_b`` bases and is centred: A starts at
    ``L // 2 - w // 2`` and B at ``start_a + m_a + g``. The single effects are measured with each motif alone at
    the same position as in the pair, so ``interaction = joint - effect_a - effect_b`` isolates the
    cooperativity (positive: synergy, negative: competition or redundancy).

    Parameters
    ----------
    model
        ``torch.nn.Module`` or checkpoint / model directory.
    motif_a, motif_b
        Motifs (see :func:`implant`).
    background
        ``(N, 4, L)`` one-hot sequences (dinucleotide-shuffled ``n`` times each unless ``shuffle=False``).
    spacings
        Non-negative gaps in bp between A's last base and B's first base.
    orientations
        Pairs of ``+``/``-`` for A and B: ``"+-"`` writes A forward and B reverse-complemented.
    n, shuffle, mode, tracks, rc_average, shift_average, batch_size, device, seed
        As for :func:`marginalize`.
    verbose
        Progress bar over spacings.

    Returns
    -------
    SpacingScan
        ``(S, O, T)`` arrays of joint, single and interaction effects.
    """
    gaps = np.asarray(list(spacings), dtype=np.int64).reshape(-1)
    if gaps.size == 0 or (gaps < 0).any():
        raise InputError(f"spacings must be non-negative integers (gap in bp between the motifs); got {list(spacings)}")
    orients = [str(o) for o in orientations]
    for o in orients:
        if len(o) != 2 or any(ch not in "+-" for ch in o):
            raise InputError(f"orientation {o!r} must be two of '+'/'-', such as '+-'")
    if not orients:
        raise InputError("no orientations given")
    if not shuffle and n != 1:
        raise InputError("n > 1 copies need shuffle=True (unshuffled backgrounds would repeat)")
    ppm_a, name_a = motif_matrix(motif_a)
    ppm_b, name_b = motif_matrix(motif_b)
    ma, mb = ppm_a.shape[0], ppm_b.shape[0]
    X = _backgrounds(background, shuffle, n, seed, verbose=False)
    length = X.shape[-1]
    starts_a = length // 2 - (ma + gaps + mb) // 2
    starts_b = starts_a + ma + gaps
    if (starts_a < 0).any() or (starts_b + mb > length).any():
        widest = int(gaps.max())
        raise InputError(f"the pair {name_a!r} + {widest} bp + {name_b!r} ({ma + widest + mb} bp) does not fit in "
                         f"sequences of length {length}")
    score = _Scorer(model, tracks, rc_average, shift_average, batch_size, device)
    before = score(X)
    S = gaps.size
    joint, eff_a, eff_b, inter, inter_sd = ([None] * S for _ in range(5))
    for i in progress(range(S), total=S, description="spacing scan", verbose=verbose):
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("joint", "a", "b", "i", "isd")}
        for o in orients:
            sa = seed if seed is None else seed + 1
            sb = seed if seed is None else seed + 2
            Xa = implant(X, motif_a, int(starts_a[i]), orientation=o[0], mode=mode, seed=sa)  # type: ignore[arg-type]
            Xb = implant(X, motif_b, int(starts_b[i]), orientation=o[1], mode=mode, seed=sb)  # type: ignore[arg-type]
            Xab = implant(Xa, motif_b, int(starts_b[i]), orientation=o[1], mode=mode, seed=sb)  # type: ignore[arg-type]
            ya = score(Xa) - before
            yb = score(Xb) - before
            yab = score(Xab) - before
            d = yab - ya - yb
            rows["joint"].append(yab.mean(0))
            rows["a"].append(ya.mean(0))
            rows["b"].append(yb.mean(0))
            rows["i"].append(d.mean(0))
            rows["isd"].append(_sd(d, 0))
        joint[i], eff_a[i], eff_b[i], inter[i], inter_sd[i] = (np.stack(rows[k]) for k in ("joint", "a", "b", "i", "isd"))
    return SpacingScan(name_a, name_b, gaps, orients, score.names, np.stack(joint), np.stack(eff_a), np.stack(eff_b),
                       np.stack(inter), np.stack(inter_sd), starts_a, starts_b)


# --------------------------------------------------------------------------------------------- ablation
@dataclass
class AblationEffects:
    """Effects of removing sites from sequences.

    Attributes
    ----------
    table
        The sites (input columns plus ``seq_index``, ``start``, ``end`` 0-based half-open) with one
        ``effect.<track>`` column per track and ``max_abs_effect``.
    effect
        ``(S, T)`` mean over ablation draws of ``original - ablated`` prediction: positive when the site raises
        the prediction.
    sd
        ``(S, T)`` standard deviation over draws (0 for ``method="zero"`` or one draw).
    original
        ``(S, T)`` predictions of the unablated sequence of each site.
    tracks
        ``(T,)`` track names.
    """

    table: pd.DataFrame
    effect: np.ndarray
    sd: np.ndarray
    original: np.ndarray
    tracks: list[str]


def _site_table(sites: Any, n_seq: int, length: int, names: Sequence[str] | None) -> pd.DataFrame:
    """Sites with integer ``seq_index``, ``start``, ``end`` (0-based half-open); FIMO-style tables converted."""
    if not isinstance(sites, pd.DataFrame):
        raise InputError(f"sites must be a table with seq_index, start, end; got {type(sites).__name__}")
    table = sites.reset_index(drop=True).copy()
    if "stop" in table.columns and "end" not in table.columns:  # scan_motifs / FIMO: 1-based inclusive
        table["start"] = table["start"].astype(np.int64) - 1
        table["end"] = table["stop"].astype(np.int64)
    if "seq_index" not in table.columns:
        if "example_idx" in table.columns:  # seqlet tables
            table["seq_index"] = table["example_idx"]
        elif "sequence_name" in table.columns:
            lookup = {str(k): i for i, k in enumerate(names if names is not None else
                                                       [f"seq{i + 1}" for i in range(n_seq)])}
            missing = sorted(set(table["sequence_name"].astype(str)) - set(lookup))
            if missing:
                raise InputError(f"{len(missing)} sequence name(s) of the sites are not among the sequences: "
                                 f"{missing[:5]}")
            table["seq_index"] = table["sequence_name"].astype(str).map(lookup)
        else:
            raise InputError("sites need a seq_index (or example_idx, or sequence_name) column")
    for column in ("start", "end"):
        if column not in table.columns:
            raise InputError(f"sites need a {column!r} column (0-based half-open)")
    try:
        idx, start, end = (table[c].to_numpy(np.int64) for c in ("seq_index", "start", "end"))
    except (TypeError, ValueError):
        raise InputError("seq_index, start and end of the sites must be integers") from None
    bad = (idx < 0) | (idx >= n_seq) | (start < 0) | (end > length) | (end <= start)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"site {i + 1} (seq_index {idx[i]}, start {start[i]}, end {end[i]}) is invalid for "
                         f"{n_seq} sequences of length {length} (need 0 <= start < end <= {length}); "
                         f"{int(bad.sum())} site(s) affected", record=str(i + 1))
    table["seq_index"], table["start"], table["end"] = idx, start, end
    return table


def ablate(
    model: Any,
    X: Any,
    sites: pd.DataFrame,
    *,
    method: Literal["shuffle", "zero", "background"] = "shuffle",
    background: Any = None,
    n: int = 10,
    names: Sequence[str] | None = None,
    tracks: Any = None,
    rc_average: bool = False,
    shift_average: int = 0,
    batch_size: int = 256,
    device: Any = None,
    seed: int | None = 0,
    verbose: bool = False,
) -> AblationEffects:
    """Effect of each site: prediction of the sequence minus prediction with the site ablated.

    Parameters
    ----------
    model
        ``torch.nn.Module`` or checkpoint / model directory.
    X
        ``(N, 4, L)`` one-hot sequences the sites refer to.
    sites
        One row per site: ``seq_index`` (row of ``X``), ``start``, ``end`` (0-based half-open), as a seqlet
        table (``example_idx`` is accepted for ``seq_index``). A :func:`drg.motifs.scan_motifs` table
        (``sequence_name``, ``start``/``stop`` 1-based inclusive) is converted; its names are matched to
        ``names`` (default ``seq1``, ``seq2``, ..., scan_motifs's own default).
    method
        ``"shuffle"``: the site's bases are replaced by ``n`` dinucleotide shuffles of themselves;
        ``"zero"``: the site becomes all-zero columns (``N``); ``"background"``: the site is replaced by the
        same columns of ``n`` background sequences (``background`` ``(B, 4, L)``, drawn at random; default:
        dinucleotide shuffles of the site's own sequence).
    n
        Ablation draws per site (``"zero"`` uses one).
    names
        Sequence names, for sites given by ``sequence_name``.
    tracks, rc_average, shift_average, batch_size, device
        As for :func:`marginalize`.
    seed
        Seed of the shuffles and of the background draws.
    verbose
        Progress bar over sites.

    Returns
    -------
    AblationEffects
        ``effect``/``sd`` ``(S, T)`` and the site table with ``effect.<track>`` columns.
    """
    if method not in ("shuffle", "zero", "background"):
        raise InputError(f"method must be 'shuffle', 'zero' or 'background', got {method!r}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"X must have shape (N, 4, L); got {X.shape}")
    N, _, L = X.shape
    table = _site_table(sites, N, L, names)
    draws = 1 if method == "zero" else int(n)
    bg = None
    if method == "background" and background is not None:
        bg = np.asarray(background.detach().cpu().numpy() if hasattr(background, "detach") else background)
        if bg.ndim == 2:
            bg = bg[None]
        if bg.ndim != 3 or bg.shape[1:] != (4, L):
            raise InputError(f"background must have shape (B, 4, {L}); got {bg.shape}")
    from drg.genome import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    score = _Scorer(model, tracks, rc_average, shift_average, batch_size, device)
    original = score(X.astype(np.float32))
    S = len(table)
    idx, start, end = (table[c].to_numpy() for c in ("seq_index", "start", "end"))
    per_site = max(1, 4096 // draws)
    means, sds = [], []
    blocks = range(0, S, per_site)
    for lo in progress(blocks, total=len(blocks), description="ablating sites", verbose=verbose):
        hi = min(lo + per_site, S)
        batch = np.repeat(X[idx[lo:hi]].astype(np.float32), draws, axis=0)  # (k * draws, 4, L)
        for j, s in enumerate(range(lo, hi)):
            a, b = int(start[s]), int(end[s])
            rows = slice(j * draws, (j + 1) * draws)
            if method == "zero":
                batch[rows, :, a:b] = 0
            elif method == "shuffle":
                batch[rows, :, a:b] = dinucleotide_shuffle(X[idx[s], :, a:b], n=draws,
                                                           seed=int(rng.integers(2**63)))[0]
            elif bg is not None:
                pick = rng.integers(0, bg.shape[0], size=draws)
                batch[rows, :, a:b] = bg[pick, :, a:b]
            else:
                batch[rows, :, a:b] = dinucleotide_shuffle(X[idx[s]], n=draws,
                                                           seed=int(rng.integers(2**63)))[0][:, :, a:b]
        ablated = score(batch).reshape(hi - lo, draws, -1)
        effect = original[idx[lo:hi], None, :] - ablated
        means.append(effect.mean(axis=1))
        sds.append(_sd(effect, 1) if draws > 1 else np.zeros_like(effect[:, 0]))
    mean = np.concatenate(means) if means else np.zeros((0, len(score.names)))
    sd = np.concatenate(sds) if sds else np.zeros_like(mean)
    columns = {f"effect.{t}": mean[:, k] for k, t in enumerate(score.names)}
    columns["max_abs_effect"] = np.abs(mean).max(axis=1) if mean.size else np.zeros(S)
    out = pd.concat([table, pd.DataFrame(columns)], axis=1)
    return AblationEffects(out, mean, sd, original[idx], score.names)

"""Dinucleotide shuffling of one-hot sequences (Altschul & Erickson, 1985).

A dinucleotide shuffle is a random sequence with exactly the same dinucleotide counts as the original
(and therefore the same mononucleotide counts and the same first and last letters). Such sequences are
the Eulerian trails, from the first letter to the last, of the multigraph whose vertices are letters and
whose edges are the adjacent pairs of the sequence. Altschul & Erickson showed how to draw one uniformly:

1. for every letter other than the last one, choose a "last exit" edge such that the chosen edges form a
   spanning arborescence directed towards the last letter (here with Wilson's loop-erased random walk,
   which draws that arborescence uniformly over labelled edges);
2. put each letter's other out-edges in a uniformly random order before its last exit edge;
3. walk from the first letter, always leaving a letter by its next unused edge.

Every sequence with the given dinucleotide counts is then equally likely.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from drg.errors import InputError
from drg.genome.onehot import _as_numpy, _one_hot_codes, one_hot_encode
from drg.utils import progress

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)

_N_SYMBOLS = 5  # A, C, G, T and the unknown base (all-zero column)


@numba.njit(cache=True, nogil=True)
def _next_u64(state):  # type: ignore[no-untyped-def]
    """splitmix64: advance ``state[0]`` and return 64 random bits."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _below(state, bound):  # type: ignore[no-untyped-def]
    """Uniform integer in ``[0, bound)`` for ``1 <= bound < 2**32`` (Lemire's unbiased multiply-shift)."""
    n = np.uint64(bound)
    m = (_next_u64(state) >> np.uint64(32)) * n
    low = m & _LOW32
    if low < n:
        threshold = (_TWO32 - n) % n
        while low < threshold:
            m = (_next_u64(state) >> np.uint64(32)) * n
            low = m & _LOW32
    return np.int64(m >> np.uint64(32))


@numba.njit(cache=True, nogil=True)
def _shuffle_kernel(codes, seeds, out):  # type: ignore[no-untyped-def]
    """Write ``out (N, n, 4, L)`` (zero on entry) with dinucleotide shuffles of ``codes (N, L)`` (values 0..4)."""
    n_seq, n_shuf, n_chan, length = out.shape
    n_edges = max(length - 1, 0)
    succ = np.empty(n_edges, np.uint8)
    work = np.empty(n_edges, np.uint8)
    deg = np.zeros(_N_SYMBOLS, np.int64)
    start = np.zeros(_N_SYMBOLS, np.int64)
    fill = np.zeros(_N_SYMBOLS, np.int64)
    exit_edge = np.zeros(_N_SYMBOLS, np.int64)
    in_tree = np.zeros(_N_SYMBOLS, np.bool_)
    state = np.zeros(1, np.uint64)
    for s in range(n_seq):
        seq = codes[s]
        state[0] = seeds[s]
        if length == 0:
            continue
        # Out-edges grouped by source letter (counting sort of the successors).
        deg[:] = 0
        for i in range(n_edges):
            deg[seq[i]] += 1
        total = 0
        for v in range(_N_SYMBOLS):
            start[v] = total
            fill[v] = total
            total += deg[v]
        for i in range(n_edges):
            v = seq[i]
            succ[fill[v]] = seq[i + 1]
            fill[v] += 1
        first = seq[0]
        last = seq[length - 1]
        for j in range(n_shuf):
            work[:] = succ
            # Wilson's algorithm: a uniform arborescence of last exit edges directed towards `last`.
            in_tree[:] = False
            in_tree[last] = True
            for v in range(_N_SYMBOLS):
                if deg[v] == 0 or in_tree[v]:
                    continue
                u = v
                while not in_tree[u]:
                    exit_edge[u] = start[u] + _below(state, deg[u])
                    u = work[exit_edge[u]]
                u = v
                while not in_tree[u]:
                    in_tree[u] = True
                    u = work[exit_edge[u]]
            # Put each letter's exit edge last and shuffle the others before it.
            for v in range(_N_SYMBOLS):
                d = deg[v]
                if d == 0:
                    continue
                lo = start[v]
                if v != last:
                    e = exit_edge[v]
                    tmp = work[e]
                    work[e] = work[lo + d - 1]
                    work[lo + d - 1] = tmp
                    d -= 1
                for i in range(d - 1, 0, -1):
                    k = _below(state, i + 1)
                    tmp = work[lo + i]
                    work[lo + i] = work[lo + k]
                    work[lo + k] = tmp
            # Walk the trail.
            fill[:] = start
            u = first
            if u < n_chan:
                out[s, j, u, 0] = 1
            for i in range(1, length):
                nxt = work[fill[u]]
                fill[u] += 1
                u = nxt
                if u < n_chan:
                    out[s, j, u, i] = 1


def dinucleotide_shuffle(
    X: Any,
    n: int = 1,
    seed: int | None = 0,
    *,
    batch_size: int = 1024,
    verbose: bool = False,
) -> np.ndarray:
    """Draw uniform dinucleotide shuffles of one-hot sequences (Altschul-Erickson).

    Each shuffle has exactly the dinucleotide counts of its sequence, counting unknown bases (all-zero
    columns) as a fifth letter, so the number and neighbours of ``N`` are kept too, and the same first and
    last letters. Among all sequences with these counts each is equally likely.

    Parameters
    ----------
    X
        One-hot ``(N, 4, L)`` or a single ``(4, L)`` array (numpy or torch, any numeric dtype, columns
        one-hot or all zero). A string or a list of equal-length strings is one-hot encoded first (int8).
    n
        Number of shuffles per sequence.
    seed
        Seed of the random streams; the same seed gives the same shuffles. Sequence ``i`` of the batch
        uses its own stream, derived from ``seed`` and ``i`` (with :class:`numpy.random.SeedSequence`), so
        it is shuffled the same whatever follows it in the batch. ``None`` draws fresh entropy.
    batch_size
        Sequences processed per compiled call (only affects the progress bar granularity).
    verbose
        Show a progress bar over batches.

    Returns
    -------
    numpy.ndarray
        ``(N, n, 4, L)`` shuffles, dtype of ``X`` (int8 for string input), C-contiguous. A torch input
        gives a numpy result.

    Raises
    ------
    InputError
        ``X`` is not one-hot (the message names the sequence and position), ``n`` is negative, or strings
        of unequal length are given.

    See Also
    --------
    drg.genome.one_hot_encode : to build ``X`` from strings.

    Notes
    -----
    The last exit edges are drawn afresh for every shuffle. Implementations that keep each letter's last
    outgoing pair from the original sequence (such as the deeplift/tangermeme ``dinucleotide_shuffle``)
    preserve the same counts but reach only part of the sequences that have them.

    Altschul, S. F. & Erickson, B. W. (1985). Significance of nucleotide sequence alignments: a method for
    random sequence permutation that preserves dinucleotide and codon usage. Mol. Biol. Evol. 2, 526-538.
    """
    if isinstance(X, (str, bytes, list, tuple)):
        if isinstance(X, (list, tuple)) and len({len(x) for x in X}) > 1:
            raise InputError("strings to shuffle must all have the same length; one-hot encode them first")
        X = one_hot_encode(X)
    X = _as_numpy(X)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    codes = _one_hot_codes(X)
    n_seq, length = codes.shape
    if length >= 2**32:
        raise InputError(f"sequences longer than 2**32 - 1 bases cannot be shuffled (got {length})")
    seeds = np.random.SeedSequence(seed).generate_state(max(n_seq, 1), dtype=np.uint64)[:n_seq]
    out = np.zeros((n_seq, int(n), 4, length), dtype=X.dtype)
    if out.size == 0:
        return out
    starts = range(0, n_seq, batch_size)
    for lo in progress(starts, total=len(starts), description="shuffling", verbose=verbose):
        hi = min(lo + batch_size, n_seq)
        _shuffle_kernel(codes[lo:hi], seeds[lo:hi], out[lo:hi])
    return out

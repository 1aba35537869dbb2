"""Checks of design constraints for every single-base edit of many sequences at once.

Sequences are handled as letter codes ``(N, L)`` uint8 (0..3 = A, C, G, T; 4 = a column that is not a base:
``N`` or padding). For each sequence and each edit ``(base, position)`` the module computes, without a model,
whether the edited sequence would satisfy the constraints: no forbidden motif on either strand, GC content inside
the allowed range, at most ``max_edits`` differences from the start, and no edit of a fixed position.

Constraint violations are summarised as one integer per sequence, ``hits * (L + 1) + gc_gap``, where ``hits``
counts forbidden-motif occurrences (both strands) and ``gc_gap`` is how many G/C bases are missing or in excess
of the allowed range. A valid sequence has violation 0, and an edit of a sequence with violation ``v > 0`` that
lowers ``v`` makes progress toward a valid one (motif occurrences first, then GC content).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drg.errors import InputError

BASES = "ACGT"
IUPAC: dict[str, str] = {
    "A": "A", "C": "C", "G": "G", "T": "T", "U": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}  # fmt: skip
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "U": "A", "R": "Y", "Y": "R", "S": "S", "W": "W",
               "K": "M", "M": "K", "B": "V", "V": "B", "D": "H", "H": "D", "N": "N"}
_IS_GC = np.array([0, 1, 1, 0, 0], dtype=np.int64)


def check_motif(motif: str) -> str:
    """Upper-case IUPAC motif; raises InputError for empty motifs and letters outside the IUPAC code."""
    if not isinstance(motif, str) or not motif.strip():
        raise InputError(f"forbidden motif {motif!r} must be a non-empty IUPAC string such as 'GAATTC'")
    text = motif.strip().upper()
    bad = sorted(set(text) - set(IUPAC))
    if bad:
        raise InputError(f"forbidden motif {motif!r} has letters {bad} outside the IUPAC code "
                         f"({''.join(IUPAC)})")
    if set(text) == {"N"}:
        raise InputError(f"forbidden motif {motif!r} matches every sequence")
    return text


def reverse_complement_motif(motif: str) -> str:
    """Reverse complement of an upper-case IUPAC motif."""
    return "".join(_COMPLEMENT[ch] for ch in reversed(motif))


def mismatch_table(motif: str) -> np.ndarray:
    """``(m, 5)`` bool: True where code ``c`` (0..3, 4 = not a base) does not match motif position ``j``."""
    table = np.ones((len(motif), 5), dtype=bool)
    for j, ch in enumerate(motif):
        for base in IUPAC[ch]:
            table[j, BASES.index(base)] = False
    return table


def strand_patterns(motifs: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """``(label, mismatch table)`` for each motif and its reverse complement (once for palindromes)."""
    patterns: list[tuple[str, np.ndarray]] = []
    seen: set[str] = set()
    for motif in motifs:
        for text, label in ((motif, motif), (reverse_complement_motif(motif), f"{motif} (reverse strand)")):
            if text not in seen:
                seen.add(text)
                patterns.append((label, mismatch_table(text)))
    return patterns


def _window_mismatches(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``(n, L - m + 1)`` number of mismatching positions of the motif placed at every window start."""
    m = table.shape[0]
    width = codes.shape[1] - m + 1
    out = np.zeros((codes.shape[0], max(width, 0)), dtype=np.int64)
    for j in range(m):
        out += table[j][codes[:, j : j + width]]
    return out


@dataclass
class ConstraintChecker:
    """Constraint evaluation for a batch of sequences that share a length.

    Parameters
    ----------
    start
        ``(N, L)`` uint8 codes of the start sequences (Hamming distances are counted from them).
    editable
        ``(N, L)`` bool: positions that may be edited (False at fixed positions and at non-base columns).
    patterns
        Forbidden motifs on both strands, from :func:`strand_patterns`.
    gc_low, gc_high
        ``(N,)`` inclusive bounds on the number of G/C bases (0 and L when there is no GC constraint).
    max_edits
        Maximum Hamming distance from the start (None: unlimited).
    """

    start: np.ndarray
    editable: np.ndarray
    patterns: list[tuple[str, np.ndarray]]
    gc_low: np.ndarray
    gc_high: np.ndarray
    max_edits: int | None

    @property
    def length(self) -> int:
        return int(self.start.shape[1])

    def hits(self, codes: np.ndarray) -> np.ndarray:
        """``(n,)`` number of forbidden-motif occurrences (both strands) in each sequence."""
        total = np.zeros(codes.shape[0], dtype=np.int64)
        for _, table in self.patterns:
            if table.shape[0] <= codes.shape[1]:
                total += (_window_mismatches(codes, table) == 0).sum(1)
        return total

    def gc_gap(self, gc: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """G/C bases missing below or in excess above the allowed range (0 inside it)."""
        return np.maximum(self.gc_low[rows] - gc, 0) + np.maximum(gc - self.gc_high[rows], 0)

    def violation(self, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``(n,)`` violation score of each sequence (0 = every constraint but ``max_edits`` holds)."""
        gc = _IS_GC[codes].sum(1)
        return self.hits(codes) * (self.length + 1) + self.gc_gap(gc, rows)

    def distance(self, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``(n,)`` Hamming distance from the start sequences ``rows``."""
        return (codes != self.start[rows]).sum(1)

    def hits_after(self, codes: np.ndarray) -> np.ndarray:
        """``(n, 4, L)`` forbidden-motif occurrences after each single-base edit."""
        n, length = codes.shape
        out = np.repeat(self.hits(codes)[:, None, None], 4, axis=1)
        out = np.broadcast_to(out, (n, 4, length)).copy()
        for _, table in self.patterns:
            m = table.shape[0]
            width = length - m + 1
            if width <= 0:
                continue
            old = _window_mismatches(codes, table)
            was = (old == 0).astype(np.int64)
            for j in range(m):
                # window starting at s = pos - j covers the edited position pos at motif offset j
                cur = table[j][codes[:, j : j + width]]
                new = old[:, None, :] - cur[:, None, :] + table[j, :4][None, :, None]
                out[:, :, j : j + width] += (new == 0).astype(np.int64) - was[:, None, :]
        return out

    def violation_after(self, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``(n, 4, L)`` violation score after each single-base edit."""
        gc = _IS_GC[codes].sum(1)
        gc_after = gc[:, None, None] - _IS_GC[codes][:, None, :] + _IS_GC[:4][None, :, None]
        low, high = self.gc_low[rows][:, None, None], self.gc_high[rows][:, None, None]
        gap = np.maximum(low - gc_after, 0) + np.maximum(gc_after - high, 0)
        return self.hits_after(codes) * (self.length + 1) + gap

    def allowed(self, codes: np.ndarray, rows: np.ndarray, *, repair: bool = False) -> np.ndarray:
        """``(n, 4, L)`` bool: the edits that may be made to sequences ``codes`` (start sequences ``rows``).

        An edit must change an editable position, keep the Hamming distance from the start within
        ``max_edits`` and give a valid sequence; with ``repair``, sequences that are not valid yet may take any
        edit that lowers their violation score.
        """
        _n, length = codes.shape
        ok = self.editable[rows][:, None, :] & (np.arange(4)[None, :, None] != codes[:, None, :])
        if self.max_edits is not None:
            start = self.start[rows]
            dist = (codes != start).sum(1)
            after = (dist[:, None, None] + (np.arange(4)[None, :, None] != start[:, None, :])
                     - (codes != start)[:, None, :])
            ok &= after <= self.max_edits
        if self.patterns or np.any(self.gc_low[rows] > 0) or np.any(self.gc_high[rows] < length):
            v_after = self.violation_after(codes, rows)
            if repair:
                v_now = self.violation(codes, rows)
                ok &= np.where(v_now[:, None, None] > 0, v_after < v_now[:, None, None], v_after == 0)
            else:
                ok &= v_after == 0
        return ok

    def describe(self, codes: np.ndarray, row: int) -> str:
        """What a sequence violates, in words."""
        parts = []
        one = codes[None]
        for label, table in self.patterns:
            if table.shape[0] <= codes.shape[0]:
                where = np.flatnonzero(_window_mismatches(one, table)[0] == 0)
                if where.size:
                    parts.append(f"forbidden motif {label} at position(s) {where[:5].tolist()} (0-based)")
        gc = int(_IS_GC[codes].sum())
        low, high = int(self.gc_low[row]), int(self.gc_high[row])
        if not low <= gc <= high:
            parts.append(f"{gc} G/C bases, allowed {low}..{high}")
        return "; ".join(parts)


def gc_bounds(codes: np.ndarray, gc_range: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive bounds ``(N,)`` on the G/C count: the fraction range applied to the bases of each sequence."""
    called = (codes < 4).sum(1)
    if gc_range is None:
        return np.zeros(len(codes), dtype=np.int64), np.full(len(codes), codes.shape[1], dtype=np.int64)
    lo, hi = gc_range
    low = np.array([math.ceil(lo * c - 1e-9) for c in called], dtype=np.int64)
    high = np.array([math.floor(hi * c + 1e-9) for c in called], dtype=np.int64)
    return low, high

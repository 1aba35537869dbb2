"""The :class:`Motif` type: a position probability matrix with its name, background and provenance.

Matrices are ``(L, 4)`` with one row per motif position and columns in the order A, C, G, T (the MEME and
JASPAR order, transposed for JASPAR). All derived quantities (log-odds, information content, consensus) are
computed against the motif's own ``background``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from drg.errors import InputError

ALPHABET = "ACGT"
ROW_SUM_TOLERANCE = 0.01
"""Largest accepted deviation of a probability row (or a background) from a sum of 1."""

DEFAULT_NSITES = 20.0
"""Site count assumed by :meth:`Motif.pwm` for motifs that carry none."""

_IUPAC: dict[frozenset[str], str] = {
    frozenset("AC"): "M",
    frozenset("AG"): "R",
    frozenset("AT"): "W",
    frozenset("CG"): "S",
    frozenset("CT"): "Y",
    frozenset("GT"): "K",
    frozenset("ACG"): "V",
    frozenset("ACT"): "H",
    frozenset("AGT"): "D",
    frozenset("CGT"): "B",
}


def uniform_background() -> np.ndarray:
    """The uniform background ``[0.25, 0.25, 0.25, 0.25]`` as a new float64 array."""
    return np.full(4, 0.25)


def _as_matrix(values: Any, what: str, name: str) -> np.ndarray:
    try:
        matrix = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what} is not numeric: {err}", record=name) from None
    if matrix.ndim != 2 or matrix.shape[1] != 4 or matrix.shape[0] == 0:
        raise InputError(f"{what} must have shape (L, 4) with L >= 1, got {matrix.shape}", record=name)
    if not np.isfinite(matrix).all():
        row = int(np.nonzero(~np.isfinite(matrix).all(axis=1))[0][0])
        raise InputError(f"{what} row {row + 1} holds a non-finite value", record=name)
    return matrix


def probabilities_from_weights(weights: np.ndarray) -> np.ndarray:
    """Turn arbitrary per-position scores into probabilities.

    Negative values are clipped to 0 and each row is divided by its sum; a row without any positive value
    becomes uniform (0.25 each). Used for attribution-derived matrices (contribution weight matrices) that
    are not probabilities.

    Parameters
    ----------
    weights
        (L, 4) scores.

    Returns
    -------
    numpy.ndarray
        (L, 4) float64 rows summing to 1.
    """
    positive = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    sums = positive.sum(axis=1, keepdims=True)
    out = np.full_like(positive, 0.25)
    np.divide(positive, sums, out=out, where=sums > 0)
    return out


@dataclass(eq=False, repr=False)
class Motif:
    """A DNA motif as a position probability matrix.

    Parameters
    ----------
    name
        Human-readable name, usually the transcription factor (``"SP1"``). Defaults to ``id`` when empty.
    id
        Database identifier (``"MA0079.5"``); the first word after ``MOTIF`` in MEME files.
    ppm
        (L, 4) position probability matrix, columns A, C, G, T. Each row must sum to 1 within
        :data:`ROW_SUM_TOLERANCE`; values are stored as given (not renormalised), so files round-trip
        exactly. Computations normalise rows internally.
    nsites
        Number of sites the matrix was built from, if known.
    background
        (4,) background letter probabilities; uniform when omitted.
    url
        Link to the motif's database page, if any.
    counts
        (L, 4) raw counts the probabilities were derived from (JASPAR matrices), if any.
    weights
        (L, 4) raw values for matrices that are not probabilities (for example attribution-derived matrices
        with negative entries). When given without ``ppm``, ``ppm`` is derived with
        :func:`probabilities_from_weights` (negatives clipped to 0, rows normalised, empty rows uniform).
    evalue
        The ``E=`` value of a MEME matrix header, if any.

    Raises
    ------
    InputError
        When a matrix has the wrong shape, holds negative or non-finite probabilities, or a row does not sum
        to 1; the message names the motif and the 1-based row.
    """

    name: str
    id: str
    ppm: np.ndarray | None = None
    nsites: float | None = None
    background: np.ndarray = field(default_factory=uniform_background)
    url: str | None = None
    counts: np.ndarray | None = None
    weights: np.ndarray | None = None
    evalue: float | None = None

    def __post_init__(self) -> None:
        self.id = str(self.id)
        self.name = str(self.name) if self.name else self.id
        label = f"{self.id} {self.name}" if self.name != self.id else self.id
        if self.weights is not None:
            self.weights = _as_matrix(self.weights, "weight matrix", label)
        if self.counts is not None:
            self.counts = _as_matrix(self.counts, "count matrix", label)
            if (self.counts < 0).any():
                row = int(np.nonzero((self.counts < 0).any(axis=1))[0][0])
                raise InputError(f"count matrix row {row + 1} holds a negative count", record=label)
        if self.ppm is None:
            if self.weights is not None:
                self.ppm = probabilities_from_weights(self.weights)
            elif self.counts is not None:
                self.ppm = _counts_to_ppm(self.counts, 0.0, label)
            else:
                raise InputError("a motif needs ppm, counts or weights", record=label)
        ppm = _as_matrix(self.ppm, "probability matrix", label)
        if (ppm < 0).any():
            row = int(np.nonzero((ppm < 0).any(axis=1))[0][0])
            raise InputError(
                f"probability matrix row {row + 1} holds a negative value {ppm[row].tolist()}", record=label
            )
        sums = ppm.sum(axis=1)
        bad = np.nonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)[0]
        if bad.size:
            row = int(bad[0])
            raise InputError(
                f"probability matrix row {row + 1} sums to {sums[row]:.6g}, expected 1 "
                f"(within {ROW_SUM_TOLERANCE}); {bad.size} row(s) affected",
                record=label,
            )
        self.ppm = ppm
        for other, what in ((self.counts, "count"), (self.weights, "weight")):
            if other is not None and other.shape != ppm.shape:
                raise InputError(
                    f"{what} matrix shape {other.shape} differs from probability matrix shape {ppm.shape}",
                    record=label,
                )
        background = np.array(self.background, dtype=np.float64).reshape(-1)
        if background.shape != (4,) or not np.isfinite(background).all() or (background <= 0).any():
            raise InputError(f"background must be 4 positive numbers (A, C, G, T), got {background}", record=label)
        if abs(background.sum() - 1.0) > ROW_SUM_TOLERANCE:
            raise InputError(f"background sums to {background.sum():.6g}, expected 1", record=label)
        self.background = background
        if self.nsites is not None:
            self.nsites = float(self.nsites)
            if not np.isfinite(self.nsites) or self.nsites < 0:
                raise InputError(f"nsites must be a non-negative number, got {self.nsites}", record=label)
        if self.evalue is not None:
            self.evalue = float(self.evalue)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_counts(
        cls,
        counts: Any,
        *,
        name: str,
        id: str | None = None,
        pseudocount: float = 0.0,
        background: Any = None,
        url: str | None = None,
    ) -> Motif:
        """Build a motif from a count matrix.

        Parameters
        ----------
        counts
            (L, 4) non-negative counts, columns A, C, G, T (transpose JASPAR's 4 x L layout first).
        name, id
            Motif name and identifier (``id`` defaults to ``name``).
        pseudocount
            Added to every count before normalising: ``ppm = (counts + c) / (row_sum + 4 c)``.
        background
            (4,) background; uniform when omitted.
        url
            Database link.

        Returns
        -------
        Motif
            With ``counts`` kept and ``nsites`` set to the count total of the first position (the JASPAR
            convention; JASPAR matrices have the same total at every position).
        """
        label = name if id is None else id
        matrix = _as_matrix(counts, "count matrix", label)
        if (matrix < 0).any():
            row = int(np.nonzero((matrix < 0).any(axis=1))[0][0])
            raise InputError(f"count matrix row {row + 1} holds a negative count", record=label)
        ppm = _counts_to_ppm(matrix, pseudocount, label)
        return cls(
            name=name,
            id=name if id is None else id,
            ppm=ppm,
            nsites=float(matrix[0].sum()),
            background=uniform_background() if background is None else background,
            url=url,
            counts=matrix,
        )

    # ------------------------------------------------------------------ derived quantities
    @property
    def length(self) -> int:
        """Number of positions ``L``."""
        return int(self.ppm.shape[0])

    def __len__(self) -> int:
        return self.length

    def _normalized(self) -> np.ndarray:
        return self.ppm / self.ppm.sum(axis=1, keepdims=True)

    def pwm(self, pseudocount: float = 0.1, *, nsites: float | None = None) -> np.ndarray:
        """Log2-odds scoring matrix against the motif's background.

        Each probability is first smoothed towards the background as if it were estimated from ``n`` sites:
        ``p' = (p * n + pseudocount * bg) / (n + pseudocount)``, then ``score = log2(p' / bg)``.

        Parameters
        ----------
        pseudocount
            Pseudo-sites spread over the letters in background proportion (0 gives ``-inf`` for zero
            probabilities).
        nsites
            ``n`` above; defaults to the motif's ``nsites``, else :data:`DEFAULT_NSITES`.

        Returns
        -------
        numpy.ndarray
            (L, 4) float64 log2-odds scores.
        """
        n = nsites if nsites is not None else (self.nsites if self.nsites else DEFAULT_NSITES)
        smoothed = (self._normalized() * n + pseudocount * self.background) / (n + pseudocount)
        with np.errstate(divide="ignore"):
            return np.log2(smoothed / self.background)

    @property
    def information_content(self) -> np.ndarray:
        """(L,) information content per position in bits: ``sum_b p_b log2(p_b / bg_b)``.

        This is the relative entropy to the background; with a uniform background it equals
        ``2 - H(p)``. Zero probabilities contribute 0.
        """
        p = self._normalized()
        ratio = np.ones_like(p)
        np.divide(p, self.background, out=ratio, where=p > 0)
        return (p * np.log2(ratio)).sum(axis=1)

    @property
    def total_ic(self) -> float:
        """Sum of :attr:`information_content` over positions, in bits."""
        return float(self.information_content.sum())

    @property
    def consensus(self) -> str:
        """IUPAC consensus string, one letter per position.

        Rule (after Cavener 1987), with the position's probabilities sorted ``p1 >= p2 >= p3 >= p4``:

        * a single base when ``p1 >= 0.5`` and ``p1 >= 2 * p2``;
        * else the two-base IUPAC code (M, R, W, S, Y, K) of the top two when ``p1 + p2 >= 0.75``;
        * else the three-base code (V, H, D, B) of the top three when ``p4 < 0.1`` (``p1 + p2 + p3 > 0.9``);
        * else ``N``.

        Ties are broken in A, C, G, T order.
        """
        letters = []
        for row in self._normalized():
            order = np.argsort(-row, kind="stable")
            p = row[order]
            if p[0] >= 0.5 and p[0] >= 2 * p[1]:
                letters.append(ALPHABET[order[0]])
            elif p[0] + p[1] >= 0.75:
                letters.append(_IUPAC[frozenset(ALPHABET[i] for i in order[:2])])
            elif p[3] < 0.1:
                letters.append(_IUPAC[frozenset(ALPHABET[i] for i in order[:3])])
            else:
                letters.append("N")
        return "".join(letters)

    # ------------------------------------------------------------------ transformations
    def reverse_complement(self) -> Motif:
        """The motif of the opposite strand: positions reversed and A<->T, C<->G swapped.

        Name, id and provenance are kept; the background is complemented too.
        """

        def rc(matrix: np.ndarray | None) -> np.ndarray | None:
            return None if matrix is None else matrix[::-1, ::-1].copy()

        return replace(
            self,
            ppm=rc(self.ppm),
            counts=rc(self.counts),
            weights=rc(self.weights),
            background=self.background[::-1].copy(),
        )

    def trim(self, min_ic: float = 0.3) -> Motif:
        """Remove low-information positions from both ends.

        Parameters
        ----------
        min_ic
            Leading and trailing positions whose :attr:`information_content` is below this many bits are
            dropped; interior positions are kept whatever their information.

        Returns
        -------
        Motif
            A new motif (``counts``/``weights`` trimmed alike).

        Raises
        ------
        InputError
            When no position reaches ``min_ic``.
        """
        keep = np.nonzero(self.information_content >= min_ic)[0]
        if keep.size == 0:
            raise InputError(
                f"no position has information content >= {min_ic} bits (maximum "
                f"{self.information_content.max():.3f})",
                record=self.id,
            )
        lo, hi = int(keep[0]), int(keep[-1]) + 1

        def cut(matrix: np.ndarray | None) -> np.ndarray | None:
            return None if matrix is None else matrix[lo:hi].copy()

        return replace(self, ppm=cut(self.ppm), counts=cut(self.counts), weights=cut(self.weights))

    # ------------------------------------------------------------------ comparison and display
    def allclose(self, other: Motif, atol: float = 1e-6) -> bool:
        """True when names, ids, URLs agree and matrices, background and site counts agree within ``atol``."""
        if not isinstance(other, Motif):
            return False
        if (self.name, self.id, self.url) != (other.name, other.id, other.url):
            return False
        if self.ppm.shape != other.ppm.shape or not np.allclose(self.ppm, other.ppm, rtol=0, atol=atol):
            return False
        if not np.allclose(self.background, other.background, rtol=0, atol=atol):
            return False
        if (self.nsites is None) != (other.nsites is None):
            return False
        return self.nsites is None or abs(self.nsites - other.nsites) <= atol * max(1.0, abs(self.nsites))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Motif):
            return NotImplemented
        arrays_equal = all(
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in (
                (self.ppm, other.ppm),
                (self.counts, other.counts),
                (self.weights, other.weights),
                (self.background, other.background),
            )
        )
        return arrays_equal and (self.name, self.id, self.nsites, self.url, self.evalue) == (
            other.name,
            other.id,
            other.nsites,
            other.url,
            other.evalue,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Motif(id={self.id!r}, name={self.name!r}, length={self.length}, consensus={self.consensus!r})"


def _counts_to_ppm(counts: np.ndarray, pseudocount: float, label: str) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True) + 4 * pseudocount
    if (totals <= 0).any():
        row = int(np.nonzero(totals[:, 0] <= 0)[0][0])
        raise InputError(f"count matrix position {row + 1} has no counts", record=label)
    return (counts + pseudocount) / totals

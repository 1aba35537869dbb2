"""One-hot encoding and decoding of DNA sequences, and reverse complements.

One-hot arrays are ``(N, 4, L)`` (channels first, order A, C, G, T), stored as int8. A column of zeros is an
unknown base (``N``, another IUPAC code, or padding).

The encoder joins all sequences into one byte buffer and fills a preallocated ``(N, A, L)`` array with a
compiled kernel, so that one long chromosome and many short peaks are both encoded without per-base
Python work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numba
import numpy as np

from drg.errors import InputError

Align = Literal["left", "right", "center"]

_ALIGNS = ("left", "right", "center")

# Bytes accepted in a sequence: ASCII letters (those outside the alphabet are unknown bases) and the gap
# characters '-' and '.'. Anything else (digits, whitespace, '>', non-ASCII) is an error, because it almost
# always means a header, a line break or a binary file was passed as a sequence.
_VALID_BYTES = np.zeros(256, dtype=bool)
_VALID_BYTES[ord("A") : ord("Z") + 1] = True
_VALID_BYTES[ord("a") : ord("z") + 1] = True
_VALID_BYTES[[ord("-"), ord(".")]] = True

# IUPAC complements; case is kept. '-' and '.' (gaps) map to themselves.
_IUPAC_PAIRS = {
    "A": "T", "C": "G", "G": "C", "T": "A", "U": "A",
    "R": "Y", "Y": "R", "S": "S", "W": "W", "K": "M", "M": "K",
    "B": "V", "V": "B", "D": "H", "H": "D", "N": "N",
}  # fmt: skip
_COMPLEMENT = {ord(k): v for k, v in _IUPAC_PAIRS.items()}
_COMPLEMENT.update({ord(k.lower()): v.lower() for k, v in _IUPAC_PAIRS.items()})
_COMPLEMENT.update({ord("-"): "-", ord("."): "."})


@numba.njit(cache=True, nogil=True)
def _count_invalid(buffer: np.ndarray) -> int:
    """Number of bytes that are neither ASCII letters nor '-' / '.'."""
    good = 0
    for i in range(buffer.shape[0]):
        b = buffer[i]
        good += (np.uint8((b | 0x20) - 97) < 26) | (b == 45) | (b == 46)
    return buffer.shape[0] - good


@numba.njit(cache=True, nogil=True)
def _encode(buffer, starts, dst, count, letters, unknown, out):  # type: ignore[no-untyped-def]
    """Fill ``out (N, A, L)``: sequence n is ``buffer[starts[n]:starts[n] + count[n]]`` at column ``dst[n]``."""
    n_seq, n_chan, length = out.shape
    for n in range(n_seq):
        s0 = starts[n]
        d0 = dst[n]
        m = count[n]
        src = buffer[s0 : s0 + m]
        for c in range(n_chan):
            row = out[n, c]
            body = row[d0 : d0 + m]
            tail = row[d0 + m :]
            letter = letters[c]
            for i in range(d0):
                row[i] = 0
            for i in range(m):
                body[i] = (src[i] | 0x20) == letter
            for i in range(tail.shape[0]):
                tail[i] = 0
        if unknown != 0:
            for i in range(m):
                x = src[i] | 0x20
                hit = False
                for c in range(n_chan):
                    hit |= x == letters[c]
                if not hit:
                    for c in range(n_chan):
                        out[n, c, d0 + i] = unknown


@numba.njit(cache=True, nogil=True)
def _codes_kernel(X, codes):  # type: ignore[no-untyped-def]
    """Write letter codes of one-hot ``X (N, 4, L)`` into ``codes (N, L)``; return the first bad flat index or -1."""
    n_seq, n_chan, length = X.shape
    for n in range(n_seq):
        for i in range(length):
            code = n_chan
            ones = 0
            for c in range(n_chan):
                v = X[n, c, i]
                if v == 1:
                    code = c
                    ones += 1
                elif v != 0:
                    return n * length + i
            if ones > 1:
                return n * length + i
            codes[n, i] = code
    return -1


def _check_alphabet(alphabet: str | Sequence[str]) -> np.ndarray:
    """Lower-case byte codes of ``alphabet``; raises InputError unless it is distinct ASCII letters."""
    if isinstance(alphabet, str):
        letters = list(alphabet)
    elif isinstance(alphabet, (list, tuple)) and all(isinstance(a, str) and len(a) == 1 for a in alphabet):
        letters = list(alphabet)
    else:
        raise InputError(f"alphabet must be a string of letters such as 'ACGT', got {alphabet!r}")
    if not letters:
        raise InputError("alphabet must contain at least one letter")
    if not all(a.isascii() and a.isalpha() for a in letters):
        raise InputError(f"alphabet must contain only ASCII letters, got {''.join(letters)!r}")
    lower = [a.lower() for a in letters]
    if len(set(lower)) != len(lower):
        raise InputError(f"alphabet letters must be distinct (case is ignored), got {''.join(letters)!r}")
    return np.frombuffer("".join(lower).encode("ascii"), dtype=np.uint8).copy()


def _to_buffer(seqs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Join the sequences into one uint8 buffer; return ``(buffer, offsets)`` with ``offsets`` of length N + 1."""
    if isinstance(seqs, str):
        items: list[Any] = [seqs]
    elif isinstance(seqs, (bytes, bytearray, memoryview)):
        items = [bytes(seqs)]
    elif isinstance(seqs, np.ndarray):
        if seqs.dtype.kind not in "USO":
            raise InputError(
                f"expected sequences as strings, got a numeric array of dtype {seqs.dtype} and shape "
                f"{seqs.shape} (use one_hot_decode to turn a one-hot array into strings)"
            )
        if seqs.ndim > 1:
            raise InputError(f"expected a 1-D array of sequences, got shape {seqs.shape}")
        items = [seqs.item()] if seqs.ndim == 0 else seqs.tolist()
    elif isinstance(seqs, (list, tuple)):
        items = list(seqs)
    else:
        raise InputError(
            f"expected a sequence string, bytes, or a list/tuple/array of them, got {type(seqs).__name__}"
        )

    n = len(items)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.uint8), offsets
    all_str = all(type(s) is str for s in items)
    if not all_str:
        for i, s in enumerate(items):
            if not isinstance(s, (str, bytes, bytearray)):
                raise InputError(
                    f"sequence {i} (0-based) is of type {type(s).__name__}; expected str or bytes"
                )
    np.cumsum(np.fromiter(map(len, items), np.int64, count=n), out=offsets[1:])
    if all_str:
        joined = "".join(items)
        try:
            data = joined.encode("ascii")
        except UnicodeEncodeError as err:
            i = int(np.searchsorted(offsets, err.start, side="right") - 1)
            raise InputError(
                f"sequence {i} (0-based) has the non-ASCII character {joined[err.start]!r} at position "
                f"{err.start - offsets[i]}; expected DNA letters"
            ) from None
    else:
        parts = []
        for i, s in enumerate(items):
            if isinstance(s, str):
                try:
                    s = s.encode("ascii")
                except UnicodeEncodeError as err:
                    raise InputError(
                        f"sequence {i} (0-based) has the non-ASCII character {s[err.start]!r} at position "
                        f"{err.start}; expected DNA letters"
                    ) from None
            parts.append(bytes(s))
        data = b"".join(parts)
    return np.frombuffer(data, dtype=np.uint8), offsets


def _report_invalid(buffer: np.ndarray, offsets: np.ndarray) -> None:
    """Raise InputError naming the first byte of ``buffer`` that is not a letter, '-' or '.'."""
    pos = int(np.argmax(~_VALID_BYTES[buffer]))
    i = int(np.searchsorted(offsets, pos, side="right") - 1)
    raise InputError(
        f"sequence {i} (0-based) has the character {chr(buffer[pos])!r} at position {pos - offsets[i]}; "
        "expected letters (A, C, G, T, N or other IUPAC codes) or the gap characters '-' and '.'"
    )


def one_hot_encode(
    seqs: str | bytes | Sequence[str | bytes] | np.ndarray,
    alphabet: str | Sequence[str] = "ACGT",
    *,
    length: int | None = None,
    align: Align = "center",
    unknown: float = 0.0,
    dtype: Any = np.int8,
) -> np.ndarray:
    """One-hot encode DNA sequences into an ``(N, A, L)`` array.

    Parameters
    ----------
    seqs
        One sequence (``str`` or ``bytes``, giving ``N = 1``) or a list, tuple or 1-D array of them.
        Lower case is encoded as upper case. Letters outside ``alphabet`` (``N`` and the other IUPAC codes)
        and the gap characters ``-`` and ``.`` give an unknown column; any other character (digits,
        whitespace, ``>``, non-ASCII) raises :class:`~drg.errors.InputError`.
    alphabet
        The letters of the channels, in order; default ``"ACGT"`` gives ``A = 4`` channels.
    length
        Output length ``L``. Default: the length of the longest sequence. Shorter sequences are padded with
        all-zero columns and longer ones are cropped, both according to ``align``.
    align
        Where each sequence is placed in the ``L`` columns:

        - ``"left"``: the sequence starts at column 0; padding goes on the right, cropping keeps the first
          ``L`` bases.
        - ``"right"``: the sequence ends at column ``L``; padding goes on the left, cropping keeps the last
          ``L`` bases.
        - ``"center"``: the centres coincide. When the length difference ``d`` is odd, the extra column
          goes to the right: a padded sequence gets ``d // 2`` zero columns on the left and
          ``d - d // 2`` on the right; a cropped sequence loses ``d // 2`` bases on the left and
          ``d - d // 2`` on the right.
    unknown
        Value written in every channel of an unknown column (for example ``0.25``). Padding columns are
        always zero. A value that ``dtype`` cannot represent exactly raises InputError.
    dtype
        Output numpy dtype; default int8.

    Returns
    -------
    numpy.ndarray
        ``X: (N, A, L)``, C-contiguous, of ``dtype``.

    Raises
    ------
    InputError
        Unsupported input types, invalid characters (naming the sequence and position), a bad
        ``alphabet``, ``length``, ``align`` or an ``unknown`` value that does not fit ``dtype``.

    See Also
    --------
    one_hot_decode : the inverse.
    reverse_complement : reverse complement of a one-hot array.

    Examples
    --------
    >>> one_hot_encode("ACGTN")[0]
    array([[1, 0, 0, 0, 0],
           [0, 1, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0]], dtype=int8)
    """
    letters = _check_alphabet(alphabet)
    if align not in _ALIGNS:
        raise InputError(f"align must be one of {', '.join(_ALIGNS)}; got {align!r}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be a numpy dtype, got {dtype!r}") from None
    if out_dtype.kind not in "biuf":
        raise InputError(f"dtype must be a boolean, integer or floating numpy dtype, got {out_dtype}")
    if isinstance(unknown, bool) or not isinstance(unknown, (int, float, np.integer, np.floating)):
        raise InputError(f"unknown must be a number, got {unknown!r}")
    with np.errstate(all="ignore"):
        cast = np.array(unknown).astype(out_dtype)
    if not np.isfinite(unknown) or float(cast) != float(unknown):
        raise InputError(
            f"unknown={unknown!r} cannot be stored exactly in dtype {out_dtype}; use a floating dtype "
            "such as np.float32"
        )

    buffer, offsets = _to_buffer(seqs)
    lengths = np.diff(offsets)
    n = len(lengths)
    if length is None:
        out_len = int(lengths.max()) if n else 0
    else:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise InputError(f"length must be a non-negative integer, got {length!r}")
        out_len = int(length)

    if _count_invalid(buffer) > 0:
        _report_invalid(buffer, offsets)

    excess = np.maximum(lengths - out_len, 0)
    deficit = np.maximum(out_len - lengths, 0)
    if align == "left":
        skip, dst = np.zeros(n, np.int64), np.zeros(n, np.int64)
    elif align == "right":
        skip, dst = excess, deficit
    else:
        skip, dst = excess // 2, deficit // 2
    count = np.minimum(lengths, out_len)

    out = np.empty((n, len(letters), out_len), dtype=out_dtype)
    _encode(buffer, offsets[:-1] + skip, dst, count, letters, cast[()], out)
    return out


def _as_numpy(X: Any, name: str = "X") -> np.ndarray:
    """A numpy view of a numpy array or a (CPU or GPU) torch tensor."""
    if isinstance(X, np.ndarray):
        return X
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        return X.detach().cpu().numpy()
    raise InputError(f"{name} must be a numpy array or torch tensor, got {type(X).__name__}")


def one_hot_decode(X: Any, alphabet: str | Sequence[str] = "ACGT", unknown: str = "N") -> list[str]:
    """Turn one-hot (or score) arrays back into sequence strings.

    Parameters
    ----------
    X
        ``(N, A, L)`` or a single ``(A, L)`` array (numpy or torch) of any numeric dtype.
    alphabet
        Letters of the ``A`` channels, in order.
    unknown
        Single character written where the column has no unique positive maximum: all-zero columns
        (``N`` or padding), columns whose maximum is shared by several channels (ambiguous, such as the
        ``0.25`` columns of an ``unknown=0.25`` encoding) and columns whose maximum is not above zero.

    Returns
    -------
    list of str
        ``N`` strings of length ``L`` (one string for a single ``(A, L)`` input), upper case.

    See Also
    --------
    one_hot_encode : the inverse.
    """
    letters = _check_alphabet(alphabet)
    if not isinstance(unknown, str) or len(unknown) != 1 or not unknown.isascii():
        raise InputError(f"unknown must be a single ASCII character, got {unknown!r}")
    X = _as_numpy(X)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != len(letters):
        raise InputError(f"X must have shape (N, {len(letters)}, L) or ({len(letters)}, L), got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise InputError(f"X must be numeric, got dtype {X.dtype}")
    n, _, length = X.shape
    if X.size == 0:
        return [""] * n if length == 0 or X.shape[1] == 0 else [unknown * length] * n
    best = X.argmax(axis=1)
    top = np.take_along_axis(X, best[:, None, :], axis=1)
    ties = (X == top).sum(axis=1)
    known = (ties == 1) & (top[:, 0, :] > 0)
    table = np.frombuffer(("".join(chr(c) for c in letters).upper() + unknown).encode("ascii"), np.uint8)
    codes = np.where(known, best, len(letters))
    chars = table[codes]
    return [row.tobytes().decode("ascii") for row in chars]


def reverse_complement(X: Any) -> Any:
    """Reverse complement one-hot arrays in A, C, G, T channel order.

    Parameters
    ----------
    X
        numpy array or torch tensor of shape ``(..., 4, L)``: ``(4, L)``, ``(N, 4, L)`` or any leading
        batch axes (such as the ``(N, n, 4, L)`` output of ``dinucleotide_shuffle``).

    Returns
    -------
    Same type, shape and dtype as ``X``: positions reversed and channels reversed (A <-> T, C <-> G).
    A numpy result is a new C-contiguous array; a torch result is ``X.flip(-2, -1)``.

    See Also
    --------
    reverse_complement_sequence : the same for strings.
    """
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) < 2 or shape[-2] != 4:
        raise InputError(f"X must have shape (..., 4, L) in A, C, G, T order, got {shape or type(X).__name__}")
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X[..., ::-1, ::-1])
    if hasattr(X, "flip"):
        return X.flip(dims=(-2, -1))
    raise InputError(f"X must be a numpy array or torch tensor, got {type(X).__name__}")


def reverse_complement_sequence(seq: str) -> str:
    """Reverse complement a DNA sequence string with IUPAC codes, keeping case.

    ``A<->T``, ``C<->G``, ``U->A``, ``R<->Y``, ``K<->M``, ``B<->V``, ``D<->H``; ``S``, ``W``, ``N``,
    ``-`` and ``.`` are their own complements.

    Parameters
    ----------
    seq
        The sequence.

    Returns
    -------
    str
        The reverse complement, same length.

    Raises
    ------
    InputError
        A non-string argument or a character that is not an IUPAC nucleotide code or gap.
    """
    if not isinstance(seq, str):
        raise InputError(f"seq must be a str, got {type(seq).__name__}")
    out = seq.translate(_COMPLEMENT)[::-1]
    if len(out) != len(seq) or not set(seq) <= _IUPAC_CHARS:
        for pos, char in enumerate(seq):
            if char not in _IUPAC_CHARS:
                raise InputError(
                    f"character {char!r} at position {pos} is not an IUPAC nucleotide code "
                    "(ACGTURYSWKMBDHVN, either case, or '-'/'.')"
                )
    return out


_IUPAC_CHARS = frozenset(chr(k) for k in _COMPLEMENT)


def _one_hot_codes(X: Any, name: str = "X") -> np.ndarray:
    """Letter codes ``(N, L)`` uint8 of a one-hot ``(N, 4, L)`` or ``(4, L)`` array; 4 marks an all-zero column.

    Raises InputError naming the sequence and position of the first column that is not one-hot (entries
    other than 0 and 1, or more than one 1).
    """
    X = _as_numpy(X, name)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"{name} must be a one-hot array of shape (N, 4, L) or (4, L), got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric, got dtype {X.dtype}")
    if X.dtype == np.bool_:
        X = X.view(np.uint8)
    codes = np.empty((X.shape[0], X.shape[2]), dtype=np.uint8)
    bad = _codes_kernel(X, codes)
    if bad >= 0:
        i, pos = divmod(int(bad), X.shape[2])
        raise InputError(
            f"{name} is not one-hot: sequence {i} (0-based), position {pos} has column {X[i, :, pos].tolist()}; "
            "expected one 1 and three 0s, or all 0s for an unknown base"
        )
    return codes

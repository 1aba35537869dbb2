"""Cross-validation folds: chromosome hold-out, random and stratified sets, and DRG's fold-set files.

A *fold set* is a list of region names. ``K`` sets define ``K`` folds with DRG's rule: for fold ``f``
the validation names are ``sets[f]``, the test names are ``sets[(f + 1) % K]`` and every other name in the
data is training. Names that are in no set (for example regions on chromosomes excluded from hold-out)
are therefore always training unless :func:`fold_split` is told ``exclude_unassigned=True``.

File format (DRG's)::

    # Set_0
    region_a region_b region_c
    # Set_1
    region_d region_e

Headers ``# Set_<i>`` (also ``#Set_<i>``) number the sets consecutively; the names of a set are
separated by whitespace and may span several lines; blank lines are ignored.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.utils import PathLike, atomic_write, open_text

__all__ = [
    "Split",
    "chromosome_folds",
    "random_folds",
    "stratified_folds",
    "read_folds",
    "write_folds",
    "fold_split",
    "fold_balance",
    "FoldBalance",
]

_HEADER = re.compile(r"^#\s*set[_\s]?(\d+)\s*$", re.IGNORECASE)


class Split(NamedTuple):
    """Indices of one fold's training, validation and test examples.

    Attributes
    ----------
    train, val, test
        Sorted ``int64`` index arrays into the ``names`` given to :func:`fold_split`.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


class FoldBalance(NamedTuple):
    """Sizes of fold sets and how unequal they are.

    Attributes
    ----------
    sizes
        ``(K,)`` size of each set (number of regions, or bases, as requested).
    mean
        Mean set size.
    imbalance
        ``(max - min) / mean``; 0 for perfectly equal sets.
    """

    sizes: np.ndarray
    mean: float
    imbalance: float


def _check_k(k: int, available: int, what: str) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise InputError(f"k must be an integer, got {k!r}")
    if k < 2:
        raise InputError(f"k must be at least 2 to form validation and test sets, got {k}")
    if k > available:
        raise InputError(f"k={k} sets requested but only {available} {what} are available")


def _check_unique(names: Sequence[str], what: str = "names") -> list[str]:
    names = [str(n) for n in names]
    series = pd.Series(names)
    dup = series[series.duplicated()]
    if len(dup):
        first = ", ".join(repr(x) for x in dup.unique()[:5])
        raise InputError(f"{what} must be unique to be assigned to folds; {dup.nunique()} duplicated "
                         f"(first: {first})")
    return names


# ---------------------------------------------------------------------------------------------------------
# balancing
# ---------------------------------------------------------------------------------------------------------


def _partition(weights: np.ndarray, k: int, rng: np.random.Generator) -> list[list[int]]:
    """Split items with ``weights`` into ``k`` non-empty groups of nearly equal total weight.

    Largest-first greedy placement into the currently lightest group (ties broken at random), then local
    search: single moves and pairwise swaps between two groups, each applied when it lowers the sum of
    squared group totals. Such a step only ever brings two totals closer together, so the final spread
    ``max - min`` stays at most the largest weight (the greedy bound).
    """
    n = len(weights)
    w = weights.astype(np.float64)
    # random permutation first, then a stable sort: equal weights are ordered at random
    perm = rng.permutation(n)
    order = perm[np.argsort(-w[perm], kind="stable")]
    loads = np.zeros(k)
    groups: list[list[int]] = [[] for _ in range(k)]
    for item in order:
        lightest = np.flatnonzero(loads == loads.min())
        counts = np.array([len(groups[g]) for g in lightest])
        lightest = lightest[counts == counts.min()]  # an empty group first, so that none stays empty
        g = int(lightest[rng.integers(len(lightest))]) if len(lightest) > 1 else int(lightest[0])
        groups[g].append(int(item))
        loads[g] += w[item]

    # local improvement; each accepted step strictly lowers sum(loads**2), so it terminates
    eps = 1e-9 * max(1.0, float(w.sum()))
    for _ in range(10_000):
        best_gain, best = eps, None
        for a in range(k):
            for b in range(k):
                if a == b or loads[a] <= loads[b]:
                    continue
                gap = loads[a] - loads[b]
                ia = np.asarray(groups[a])
                wa = w[ia]
                # move one item from a to b (a keeps at least one item)
                if len(ia) > 1:
                    gains = 2 * wa * (gap - wa)
                    t = int(np.argmax(gains))
                    if gains[t] > best_gain:
                        best_gain, best = float(gains[t]), (a, b, int(ia[t]), None)
                # swap an item of a with an item of b; the best partner of item i has the weight closest to
                # w[i] - gap / 2, found by binary search in b's sorted weights
                ib = np.asarray(groups[b])
                sort_b = np.argsort(w[ib], kind="stable")
                ib, wb = ib[sort_b], w[ib][sort_b]
                pos = np.searchsorted(wb, wa - gap / 2)
                for cand in (np.clip(pos - 1, 0, len(wb) - 1), np.clip(pos, 0, len(wb) - 1)):
                    d = wa - wb[cand]
                    gains = np.where(d > 0, 2 * d * (gap - d), -np.inf)
                    t = int(np.argmax(gains))
                    if gains[t] > best_gain:
                        best_gain, best = float(gains[t]), (a, b, int(ia[t]), int(ib[cand[t]]))
        if best is None:
            break
        a, b, i, j = best
        groups[a].remove(i)
        groups[b].append(i)
        loads[a] -= w[i]
        loads[b] += w[i]
        if j is not None:
            groups[b].remove(j)
            groups[a].append(j)
            loads[b] -= w[j]
            loads[a] += w[j]
    # the seed also decides which group becomes set 0, 1, ...: different seeds pair validation and
    # test sets differently even when the balanced partition itself is unique
    return [sorted(groups[g]) for g in rng.permutation(k)]


def fold_balance(sets: Sequence[Sequence[str]], sizes: dict[str, float] | None = None) -> FoldBalance:
    """Measure how equal fold sets are.

    Parameters
    ----------
    sets
        ``K`` lists of names.
    sizes
        Optional weight per name (for example region length); every name counts 1 when omitted.

    Returns
    -------
    FoldBalance
        Per-set sizes, their mean and ``(max - min) / mean``.
    """
    if sizes is None:
        totals = np.array([len(s) for s in sets], dtype=np.float64)
    else:
        totals = np.array([sum(float(sizes[n]) for n in s) for s in sets], dtype=np.float64)
    mean = float(totals.mean()) if len(totals) else 0.0
    spread = float(totals.max() - totals.min()) if len(totals) else 0.0
    return FoldBalance(totals, mean, spread / mean if mean > 0 else 0.0)


# ---------------------------------------------------------------------------------------------------------
# fold construction
# ---------------------------------------------------------------------------------------------------------


def chromosome_folds(
    regions: pd.DataFrame,
    k: int,
    *,
    seed: int = 0,
    exclude: Sequence[str] = ("chrX", "chrY", "chrM"),
    sizes: Literal["regions", "bases"] = "regions",
    verbose: bool = False,
) -> list[list[str]]:
    """Hold out whole chromosomes: ``k`` sets of region names with nearly equal sizes.

    Each eligible chromosome goes entirely into one set. Sets are balanced by the number of regions per
    chromosome (``sizes="regions"``) or by the bases they cover (``sizes="bases"``): largest chromosome
    first into the currently smallest set, then moves and swaps between sets while they reduce the
    imbalance. The difference between the largest and the smallest set is at most the size of the largest
    chromosome.

    Parameters
    ----------
    regions
        Regions with columns ``chrom``, ``start``, ``end`` (0-based half-open) and ``name``; names must be
        unique.
    k
        Number of sets, ``2 <= k <=`` number of eligible chromosomes.
    seed
        Breaks ties between equally sized chromosomes or sets and decides the order of the sets (which
        set is validation and which is test in each fold); the same seed gives the same sets.
    exclude
        Chromosomes never held out. Their regions are in no set, so :func:`fold_split` puts them in
        training (or drops them with ``exclude_unassigned=True``).
    sizes
        ``"regions"`` or ``"bases"``.
    verbose
        Print each set's chromosomes and size, and the imbalance ``(max - min) / mean``.

    Returns
    -------
    list of list of str
        ``k`` lists of region names, each in the order of ``regions``.

    See Also
    --------
    fold_split : turn sets into train/validation/test indices.
    fold_balance : measure the balance of any sets.
    """
    missing = [c for c in ("chrom", "name") + (("start", "end") if sizes == "bases" else ())
               if c not in regions.columns]
    if missing:
        raise InputError(f"regions lack column(s) {missing}; expected chrom, start, end, name")
    if sizes not in ("regions", "bases"):
        raise InputError(f"sizes must be 'regions' or 'bases', got {sizes!r}")
    names = _check_unique(regions["name"].tolist(), "region names")
    chrom = regions["chrom"].astype(str).to_numpy()
    eligible = ~np.isin(chrom, np.asarray(list(exclude), dtype=str))
    if sizes == "bases":
        weight = (regions["end"].to_numpy(np.int64) - regions["start"].to_numpy(np.int64)).astype(np.float64)
    else:
        weight = np.ones(len(regions))
    chroms, inverse = np.unique(chrom[eligible], return_inverse=True)
    _check_k(k, len(chroms), "eligible chromosomes (after excluding " + ", ".join(exclude) + ")")
    chrom_weight = np.bincount(inverse, weights=weight[eligible], minlength=len(chroms))
    groups = _partition(chrom_weight, k, np.random.default_rng(seed))
    chrom_set = np.full(len(chroms), -1)
    for s, members in enumerate(groups):
        chrom_set[members] = s
    region_set = np.full(len(regions), -1)
    region_set[eligible] = chrom_set[inverse]
    names_arr = np.asarray(names, dtype=object)
    sets = [names_arr[region_set == s].tolist() for s in range(k)]
    if verbose:
        totals = np.array([chrom_weight[g].sum() for g in groups])
        mean = totals.mean()
        for s, members in enumerate(groups):
            print(f"Set_{s}: {totals[s]:.0f} {sizes} on {', '.join(chroms[members])}")
        print(f"imbalance (max - min) / mean = {(totals.max() - totals.min()) / mean:.4f}; "
              f"{int((~eligible).sum())} regions on excluded chromosomes are in no set")
    return sets


def random_folds(names: Sequence[str], k: int, *, seed: int = 0) -> list[list[str]]:
    """Split names at random into ``k`` sets whose sizes differ by at most one.

    Parameters
    ----------
    names
        ``(N,)`` unique names.
    k
        Number of sets, ``2 <= k <= N``.
    seed
        The same seed gives the same sets.

    Returns
    -------
    list of list of str
        ``k`` lists, each in the order of ``names``.
    """
    names = _check_unique(names)
    _check_k(k, len(names), "names")
    rng = np.random.default_rng(seed)
    assign = np.empty(len(names), dtype=np.int64)
    assign[rng.permutation(len(names))] = np.arange(len(names)) % k
    arr = np.asarray(names, dtype=object)
    return [arr[assign == s].tolist() for s in range(k)]


def stratified_folds(
    names: Sequence[str], labels: Sequence[Hashable], k: int, *, seed: int = 0
) -> list[list[str]]:
    """Split names into ``k`` sets so that every class of ``labels`` is spread evenly.

    Within each class the members are shuffled and dealt round-robin, continuing where the previous class
    stopped, so each set receives ``floor`` or ``ceil`` of ``n_class / k`` members of every class and the
    total set sizes differ by at most one.

    Parameters
    ----------
    names
        ``(N,)`` unique names.
    labels
        ``(N,)`` class of each name (any hashable values).
    k
        Number of sets, ``2 <= k <= N``.
    seed
        The same seed gives the same sets.

    Returns
    -------
    list of list of str
        ``k`` lists, each in the order of ``names``.
    """
    names = _check_unique(names)
    labels = list(labels)
    if len(labels) != len(names):
        raise InputError(f"got {len(labels)} labels for {len(names)} names; expected one label per name")
    _check_k(k, len(names), "names")
    rng = np.random.default_rng(seed)
    codes, _ = pd.factorize(pd.Series(labels, dtype=object), sort=False)
    if (codes < 0).any():
        raise InputError(f"labels contain {int((codes < 0).sum())} missing values; every name needs a class")
    assign = np.empty(len(names), dtype=np.int64)
    position = int(rng.integers(k))
    for c in rng.permutation(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == c))
        assign[members] = (position + np.arange(len(members))) % k
        position += len(members)
    arr = np.asarray(names, dtype=object)
    return [arr[assign == s].tolist() for s in range(k)]


# ---------------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------------


def read_folds(path: PathLike) -> list[list[str]]:
    """Read a DRG fold-set file.

    Parameters
    ----------
    path
        Text file (optionally gzipped) with ``# Set_<i>`` headers, each followed by the whitespace-separated
        names of that set (on one or several lines). Set numbers must be consecutive, starting at 0 or 1.

    Returns
    -------
    list of list of str
        The sets in file order.

    Raises
    ------
    InputError
        Names before the first header, a ``#`` line that is not a set header, non-consecutive set numbers,
        a name listed twice (naming both sets and the line), or a file without sets.
    """
    sets: list[list[str]] = []
    numbers: list[int] = []
    where: dict[str, int] = {}
    with open_text(path) as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                match = _HEADER.match(line)
                if match is None:
                    raise InputError(f"expected a set header like '# Set_0', got {line[:60]!r}",
                                     path=path, line=lineno)
                number = int(match.group(1))
                if numbers and number != numbers[-1] + 1:
                    raise InputError(f"set numbers must be consecutive: Set_{number} follows "
                                     f"Set_{numbers[-1]}", path=path, line=lineno)
                if not numbers and number not in (0, 1):
                    raise InputError(f"the first set must be Set_0 (or Set_1), got Set_{number}",
                                     path=path, line=lineno)
                numbers.append(number)
                sets.append([])
                continue
            if not sets:
                raise InputError("names before the first '# Set_<i>' header", path=path, line=lineno)
            current = len(sets) - 1
            for name in line.split():
                previous = where.get(name)
                if previous is not None:
                    if previous == current:
                        msg = f"name {name!r} is listed twice in Set_{numbers[current]}"
                    else:
                        msg = (f"name {name!r} is in both Set_{numbers[previous]} and "
                               f"Set_{numbers[current]}; a region can be held out in only one set")
                    raise InputError(msg, path=path, line=lineno, record=name)
                where[name] = current
                sets[current].append(name)
    if not sets:
        raise InputError("no '# Set_<i>' blocks found; expected a DRG fold-set file", path=path)
    empty = [f"Set_{numbers[i]}" for i, s in enumerate(sets) if not s]
    if empty:
        warnings.warn(f"{path}: {len(empty)} of {len(sets)} sets are empty ({', '.join(empty[:5])})",
                      DRGWarning, stacklevel=2)
    return sets


def write_folds(sets: Sequence[Sequence[str]], path: PathLike) -> None:
    """Write fold sets in DRG's format (``# Set_0`` ... one line of names per set), atomically.

    Parameters
    ----------
    sets
        ``K`` lists of names; names must not contain whitespace and may appear in only one set.
    path
        Output file.
    """
    seen: dict[str, int] = {}
    for s, members in enumerate(sets):
        for name in members:
            name = str(name)
            if not name or any(ch.isspace() for ch in name):
                raise InputError(f"name {name!r} in set {s} is empty or contains whitespace; "
                                 "the fold-set format separates names by whitespace")
            if name in seen:
                raise InputError(f"name {name!r} is in both set {seen[name]} and set {s}")
            seen[name] = s
    with atomic_write(path) as handle:
        for s, members in enumerate(sets):
            handle.write(f"# Set_{s}\n{' '.join(str(n) for n in members)}\n")


# ---------------------------------------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------------------------------------


def fold_split(
    names: Sequence[str],
    sets: Sequence[Sequence[str]],
    fold: int,
    *,
    exclude_unassigned: bool = False,
) -> Split:
    """Indices of the training, validation and test examples of one fold (DRG's rule).

    Validation is ``sets[fold]``, test is ``sets[(fold + 1) % K]``, training is every other example. Names
    that appear in a set but not in ``names`` are ignored; a :class:`~drg.errors.DRGWarning` says how
    many.

    Parameters
    ----------
    names
        ``(N,)`` names of the examples, in data order.
    sets
        ``K >= 2`` lists of names (from :func:`read_folds` or a ``*_folds`` function).
    fold
        Fold index, ``0 <= fold < K``.
    exclude_unassigned
        When True, examples whose name is in no set are left out of training (they are never in
        validation or test either way).

    Returns
    -------
    Split
        ``train``, ``val``, ``test``: sorted ``int64`` indices into ``names``.
    """
    n_sets = len(sets)
    if n_sets < 2:
        raise InputError(f"need at least 2 fold sets (validation and test), got {n_sets}")
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < n_sets:
        raise InputError(f"fold must be an integer in [0, {n_sets - 1}] for {n_sets} sets, got {fold!r}")
    mapping: dict[str, int] = {}
    for s, members in enumerate(sets):
        for name in members:
            mapping[str(name)] = s
    series = pd.Series(np.asarray(names, dtype=object)).astype(str)
    membership = series.map(mapping).fillna(-1).to_numpy(np.int64)
    present = set(series.tolist())
    lost = [name for name in mapping if name not in present]
    if lost:
        first = ", ".join(repr(x) for x in lost[:5])
        warnings.warn(f"{len(lost)} of {len(mapping)} names in the fold sets are not in the data and were "
                      f"ignored (first: {first})", DRGWarning, stacklevel=2)
    val_set, test_set = int(fold), (int(fold) + 1) % n_sets
    val = np.flatnonzero(membership == val_set)
    test = np.flatnonzero(membership == test_set)
    train_mask = (membership != val_set) & (membership != test_set)
    if exclude_unassigned:
        train_mask &= membership >= 0
    train = np.flatnonzero(train_mask)
    for part, idx in (("validation", val), ("test", test)):
        if len(idx) == 0:
            warnings.warn(f"fold {fold}: the {part} set has no examples in the data", DRGWarning, stacklevel=2)
    return Split(train.astype(np.int64), val.astype(np.int64), test.astype(np.int64))

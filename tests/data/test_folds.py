from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from drg.data.folds import (
    Split,
    _partition,
    chromosome_folds,
    fold_balance,
    fold_split,
    random_folds,
    read_folds,
    stratified_folds,
    write_folds,
)
from drg.errors import DRGWarning, InputError


def _regions_from_sizes(sizes: dict[str, int], per: int = 10_000) -> pd.DataFrame:
    """Regions every ``per`` bases of each chromosome (a genome-wide peak set stand-in)."""
    rows = []
    for chrom, size in sizes.items():
        n = max(1, size // per)
        start = np.arange(n, dtype=np.int64) * per
        rows.append(pd.DataFrame({"chrom": chrom, "start": start, "end": start + 200,
                                  "name": [f"{chrom}:{s}" for s in start], "strand": "."}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def hg19_regions(shared) -> pd.DataFrame:
    table = pd.read_csv(shared("tracks/hg19.chrom.sizes"), sep="\t", header=None, names=["chrom", "size"])
    table = table[~table["chrom"].str.contains("_")]
    return _regions_from_sizes(dict(zip(table["chrom"], table["size"], strict=True)), per=20_000)


def _toy_regions(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(c, i * 100, i * 100 + 50, f"{c}_{i}") for c, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "name"])


# ------------------------------------------------------------------------------------------------------------
# chromosome folds


@pytest.mark.parametrize("k", [3, 5, 10])
def test_chromosome_folds_balance_on_hg19(hg19_regions, k):
    sets = chromosome_folds(hg19_regions, k, seed=1)
    assert len(sets) == k and all(sets)
    counts = hg19_regions[~hg19_regions.chrom.isin(["chrX", "chrY", "chrM"])].groupby("chrom").size()
    sizes = np.array([len(s) for s in sets])
    # greedy bound: spread at most the largest chromosome; in practice far better
    assert sizes.max() - sizes.min() <= counts.max()
    balance = fold_balance(sets)
    assert balance.imbalance == pytest.approx((sizes.max() - sizes.min()) / sizes.mean())
    assert balance.imbalance < (0.02 if k <= 5 else 0.15)
    # every eligible region in exactly one set, whole chromosomes together, excluded ones nowhere
    flat = [n for s in sets for n in s]
    assert len(flat) == len(set(flat)) == counts.sum()
    chrom_of = dict(zip(hg19_regions["name"], hg19_regions["chrom"], strict=True))
    per_set = [{chrom_of[n] for n in s} for s in sets]
    for a, b in itertools.combinations(per_set, 2):
        assert not a & b
    assert not set().union(*per_set) & {"chrX", "chrY", "chrM"}


def test_chromosome_folds_beats_random_assignment(hg19_regions):
    counts = hg19_regions[~hg19_regions.chrom.isin(["chrX", "chrY", "chrM"])].groupby("chrom").size()
    ours = fold_balance(chromosome_folds(hg19_regions, 5)).imbalance
    rng = np.random.default_rng(0)
    random_spreads = []
    for _ in range(200):
        assign = np.arange(len(counts)) % 5
        rng.shuffle(assign)
        totals = np.bincount(assign, weights=counts.to_numpy(), minlength=5)
        random_spreads.append((totals.max() - totals.min()) / totals.mean())
    assert ours <= min(random_spreads)


def test_partition_matches_brute_force_on_small_instances():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n, k = int(rng.integers(4, 8)), int(rng.integers(2, 4))
        w = rng.integers(1, 50, size=n).astype(float)
        groups = _partition(w, k, np.random.default_rng(0))
        assert sorted(i for g in groups for i in g) == list(range(n))
        assert all(groups)
        ours = np.array([w[g].sum() for g in groups])
        best = np.inf
        for assign in itertools.product(range(k), repeat=n):
            if len(set(assign)) < k:
                continue
            tot = np.bincount(assign, weights=w, minlength=k)
            best = min(best, tot.max() - tot.min())
        # local search is not exact, but never worse than the greedy bound and near the optimum
        assert ours.max() - ours.min() <= w.max()
        assert ours.max() - ours.min() <= best + w.min()


def test_partition_finds_perfect_split():
    w = np.arange(1, 9, dtype=float)  # total 36: 18 + 18 exists
    groups = _partition(w, 2, np.random.default_rng(0))
    assert sorted(w[g].sum() for g in groups) == [18, 18]


def test_chromosome_folds_deterministic_and_seeded(hg19_regions):
    a = chromosome_folds(hg19_regions, 5, seed=7)
    b = chromosome_folds(hg19_regions, 5, seed=7)
    assert a == b
    others = [chromosome_folds(hg19_regions, 5, seed=s) for s in range(8, 12)]
    assert any(o != a for o in others)


def test_chromosome_folds_by_bases():
    regions = pd.DataFrame({
        "chrom": ["c1", "c1", "c2", "c3", "c4"],
        "start": [0, 0, 0, 0, 0],
        "end": [5, 5, 100, 60, 50],
        "name": list("abcde"),
    })
    by_bases = chromosome_folds(regions, 2, sizes="bases", exclude=())
    totals = sorted(sum(int(regions.set_index("name").loc[n, "end"]) for n in s) for s in by_bases)
    assert totals == [110, 110]  # {c2, c1} vs {c3, c4}


def test_chromosome_folds_errors():
    regions = _toy_regions({"chr1": 3, "chr2": 2, "chrX": 4})
    with pytest.raises(InputError, match="only 2 eligible"):
        chromosome_folds(regions, 3)
    with pytest.raises(InputError, match="at least 2"):
        chromosome_folds(regions, 1)
    dup = pd.concat([regions, regions.iloc[:1]])
    with pytest.raises(InputError, match="unique"):
        chromosome_folds(dup, 2)
    with pytest.raises(InputError, match="column"):
        chromosome_folds(regions.drop(columns="name"), 2)


# ------------------------------------------------------------------------------------------------------------
# random and stratified


def test_random_folds():
    names = [f"r{i}" for i in range(103)]
    sets = random_folds(names, 10, seed=0)
    sizes = [len(s) for s in sets]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 103
    assert sorted(n for s in sets for n in s) == sorted(names)
    assert random_folds(names, 10, seed=0) == sets
    assert random_folds(names, 10, seed=1) != sets
    order = {n: i for i, n in enumerate(names)}
    assert all([order[n] for n in s] == sorted(order[n] for n in s) for s in sets)
    with pytest.raises(InputError):
        random_folds(names[:3], 4)


def test_stratified_folds_spread_each_class():
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], size=200, p=[0.7, 0.2, 0.1])
    names = [f"r{i}" for i in range(200)]
    sets = stratified_folds(names, labels, 7, seed=4)
    label_of = dict(zip(names, labels, strict=True))
    sizes = [len(s) for s in sets]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 200
    for cls in "abc":
        per_set = [sum(label_of[n] == cls for n in s) for s in sets]
        assert max(per_set) - min(per_set) <= 1
    assert stratified_folds(names, labels, 7, seed=4) == sets
    assert stratified_folds(names, labels, 7, seed=5) != sets
    with pytest.raises(InputError, match="labels"):
        stratified_folds(names, labels[:10], 7)


# ------------------------------------------------------------------------------------------------------------
# files


def test_fold_file_round_trip(tmp_path):
    sets = [["a", "b"], ["c"], ["d", "e", "f"]]
    path = tmp_path / "folds.txt"
    write_folds(sets, path)
    assert path.read_text() == "# Set_0\na b\n# Set_1\nc\n# Set_2\nd e f\n"
    assert read_folds(path) == sets


def test_read_folds_tolerates_layout_variants(tmp_path):
    path = tmp_path / "folds.txt"
    path.write_text("\n#Set_1\na b\nc\n\n# set_2\n  d\te  \n# Set_3\nf\n")
    assert read_folds(path) == [["a", "b", "c"], ["d", "e"], ["f"]]


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("a b\n# Set_0\nc\n", 1, "before the first"),
        ("# Set_0\na\n# Set_2\nb\n", 3, "consecutive"),
        ("# Set_0\na b\n# Set_1\nc a\n", 4, "both Set_0 and Set_1"),
        ("# Set_0\na a\n", 2, "twice"),
        ("# Set_0\na\n# comment\nb\n", 3, "header"),
        ("# Set_5\na\n", 1, "first set"),
    ],
)
def test_read_folds_malformed(tmp_path, text, line, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        read_folds(path)
    assert info.value.line == line
    assert info.value.path == str(path)


def test_read_folds_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(InputError, match="no '# Set_<i>'"):
        read_folds(path)


def test_write_folds_rejects_bad_names(tmp_path):
    with pytest.raises(InputError, match="whitespace"):
        write_folds([["a b"], ["c"]], tmp_path / "f.txt")
    with pytest.raises(InputError, match="both"):
        write_folds([["a"], ["a"]], tmp_path / "f.txt")
    assert not (tmp_path / "f.txt").exists()


def test_chromosome_folds_file_round_trip(tmp_path, hg19_regions):
    sets = chromosome_folds(hg19_regions, 4)
    write_folds(sets, tmp_path / "f.txt")
    assert read_folds(tmp_path / "f.txt") == sets


# ------------------------------------------------------------------------------------------------------------
# splitting


def test_fold_split_drg_semantics():
    names = ["a", "b", "c", "d", "e", "f", "x"]  # x is in no set
    sets = [["a", "b"], ["c"], ["d", "e"], ["f"]]
    index = {n: i for i, n in enumerate(names)}
    for fold in range(4):
        split = fold_split(names, sets, fold)
        assert isinstance(split, Split)
        assert split.val.tolist() == [index[n] for n in sets[fold]]
        assert split.test.tolist() == [index[n] for n in sets[(fold + 1) % 4]]
        expected_train = sorted(set(range(7)) - set(split.val) - set(split.test))
        assert split.train.tolist() == expected_train
        assert index["x"] in split.train
        assert split.train.dtype == np.int64
    last = fold_split(names, sets, 3)
    assert last.test.tolist() == [0, 1]  # wraps round to set 0
    no_unassigned = fold_split(names, sets, 0, exclude_unassigned=True)
    assert index["x"] not in no_unassigned.train


def test_fold_split_counts_missing_names_and_checks_fold():
    names = ["a", "c", "d"]
    sets = [["a", "b"], ["c", "z", "y"], ["d"]]
    with pytest.warns(DRGWarning, match="3 of 6 names"):
        split = fold_split(names, sets, 0)
    assert split.val.tolist() == [0] and split.test.tolist() == [1] and split.train.tolist() == [2]
    with pytest.raises(InputError, match=r"\[0, 2\]"):
        fold_split(names, sets, 3)
    with pytest.raises(InputError):
        fold_split(names, sets, -1)
    with pytest.raises(InputError, match="at least 2"):
        fold_split(names, [["a"]], 0)


def test_fold_split_no_warning_when_all_present():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fold_split(["a", "b", "c"], [["a"], ["b"], ["c"]], 1)

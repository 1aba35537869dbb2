"""Tests of the Koo & Ploenzke synthetic-code simulation and the shared planting functions."""

from __future__ import annotations

import json
import time
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from drg.errors import InputError
from drg.genome import reverse_complement_sequence
from drg.motifs import Motif, read_meme
from drg.simulate import SyntheticCode, synthetic_code, write_simulation
from drg.simulate.synthetic import (
    _cumulative,
    column_similarity,
    layout_instances,
    one_hot_from_codes,
)

N = 2000


@pytest.fixture(scope="module")
def sim() -> SyntheticCode:
    return synthetic_code(N, 200, seed=7)


def _motif_by_id(sim) -> dict[str, Motif]:
    return {m.id: m for m in sim.motifs}


def check_instances(X: np.ndarray, truth: np.ndarray, instances: pd.DataFrame, motifs: dict[str, Motif]) -> None:
    """Every planted instance is in X at its position/strand, drawn from the matrix support, with truth rows."""
    codes = X.argmax(axis=1)
    for row in instances.itertuples():
        motif = motifs[row.motif_id]
        ppm = motif.ppm if row.strand == "+" else motif.reverse_complement().ppm
        assert row.end - row.start == motif.length
        window = codes[row.seq_index, row.start : row.end]
        forward = "".join("ACGT"[c] for c in window)
        assert (forward if row.strand == "+" else reverse_complement_sequence(forward)) == row.site
        assert (ppm[np.arange(motif.length), window] > 0).all(), (row.motif_id, row.site)
        np.testing.assert_array_equal(truth[row.seq_index][:, row.start : row.end], ppm.T.astype(np.float32))


def test_shapes_and_types(sim):
    assert sim.X.shape == (N, 4, 200) and sim.X.dtype == np.int8
    assert (sim.X.sum(axis=1) == 1).all()
    assert sim.y.shape == (N, 1) and sim.y.dtype == np.float32
    assert sim.ground_truth.shape == (N, 4, 200) and sim.ground_truth.dtype == np.float32
    np.testing.assert_allclose(sim.ground_truth.sum(axis=1), 1.0, atol=1e-5)
    assert len(set(sim.names)) == N and sim.names[0] == "seq0000"
    assert sim.tracks == ["label"] and sim.targets is sim.y


def test_deterministic_for_a_seed():
    a, b, c = synthetic_code(300, seed=3), synthetic_code(300, seed=3), synthetic_code(300, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.ground_truth, b.ground_truth)
    pd.testing.assert_frame_equal(a.instances, b.instances)
    assert not np.array_equal(a.X, c.X)


def test_core_and_background_pools(sim):
    assert [m.name.upper() for m in sim.motifs[:5]] == ["SP1", "GABPA", "CEBPB", "MAX", "YY1"]
    assert sim.core == [m.id for m in sim.motifs[:5]]
    assert sim.core_names == ["SP1", "GABPA", "CEBPB", "MAX", "Yy1"]
    background = sim.background_motifs
    assert len(background) == 50 and len({m.id for m in background}) == 50
    core_names = {m.name.upper() for m in sim.motifs[:5]}
    for motif in background:
        assert motif.name.upper() not in core_names
        for core in sim.motifs[:5]:
            for matrix in (core.ppm, core.reverse_complement().ppm):
                assert column_similarity(motif.ppm, matrix) < 0.75


def test_planted_instances_are_in_the_sequences(sim):
    check_instances(sim.X, sim.ground_truth, sim.instances, _motif_by_id(sim))


def test_background_is_uniform_outside_instances(sim):
    covered = np.zeros((N, 200), dtype=bool)
    for row in sim.instances.itertuples():
        covered[row.seq_index, row.start : row.end] = True
    assert (sim.ground_truth.transpose(0, 2, 1)[~covered] == 0.25).all()
    counts = sim.X.transpose(0, 2, 1)[~covered].sum(axis=0)
    np.testing.assert_allclose(counts / counts.sum(), 0.25, atol=0.01)


def test_instances_do_not_overlap_and_fit(sim):
    frame = sim.instances.sort_values(["seq_index", "start"])
    assert (frame["start"] >= 0).all() and (frame["end"] <= 200).all()
    same = frame["seq_index"].to_numpy()[1:] == frame["seq_index"].to_numpy()[:-1]
    assert (frame["start"].to_numpy()[1:][same] >= frame["end"].to_numpy()[:-1][same]).all()


def test_label_rule_and_balance(sim):
    assert sim.y.sum() == N // 2
    per_seq = sim.instances.groupby("seq_index")
    all_core = per_seq["core"].all().reindex(range(N))
    any_core = per_seq["core"].any().reindex(range(N))
    positive = sim.y[:, 0] == 1
    assert all_core[positive].all()  # positives: core motifs only
    assert not all_core[~positive].all() and any_core[~positive].any()  # negatives mix both pools
    # negatives draw from 10 core + 100 background entries
    negative_core = sim.instances.loc[~positive[sim.instances["seq_index"]], "core"].mean()
    assert negative_core == pytest.approx(10 / 110, abs=0.02)
    # strands are balanced
    assert (sim.instances["strand"] == "+").mean() == pytest.approx(0.5, abs=0.03)
    # labels are not sorted by name
    assert 0.3 < sim.y[: N // 2].mean() < 0.7


def test_number_of_motifs_per_sequence(sim):
    k = sim.instances.groupby("seq_index").size().reindex(range(N), fill_value=0)
    assert k.min() >= 3 and k.max() <= 7
    freq = k.value_counts(normalize=True)
    assert freq[3] == pytest.approx(0.5, abs=0.04) and freq[4] == pytest.approx(0.25, abs=0.04)


def test_negatives_without_core_give_presence_rule():
    sim = synthetic_code(400, seed=1, negatives_include_core=False, n_background=10)
    any_core = sim.instances.groupby("seq_index")["core"].any().reindex(range(400))
    np.testing.assert_array_equal(any_core.to_numpy(), sim.y[:, 0] == 1)


def test_errors():
    with pytest.raises(InputError, match="no motif with id or name 'NOTATF'"):
        synthetic_code(10, core=("SP1", "NOTATF"))
    with pytest.raises(InputError, match="background motifs were requested"):
        synthetic_code(10, n_background=5000)
    with pytest.raises(InputError, match="could not fit"):
        synthetic_code(10, length=30, n_background=3)
    with pytest.raises(InputError, match="at least 2"):
        synthetic_code(1)


def test_generation_is_fast():
    start = time.perf_counter()
    sim = synthetic_code(20000, 200, seed=0)
    elapsed = time.perf_counter() - start
    assert sim.X.shape == (20000, 4, 200)
    assert elapsed < 10.0  # about 0.5 s on the reference machine


# ------------------------------------------------------------------------------------------ building blocks
def test_layout_is_uniform_over_arrangements():
    rng = np.random.default_rng(0)
    widths = np.tile([2, 3], (12000, 1))
    starts = layout_instances(widths, 7, rng)
    # 2 free bases around 2 ordered motifs: C(4, 2) = 6 arrangements, brute-force enumerated
    expected = set()
    for a in range(0, 6):
        for b in range(a + 2, 5):
            expected.add((a, b))
    assert len(expected) == 6
    seen = Counter(map(tuple, starts.tolist()))
    assert set(seen) == expected
    for count in seen.values():
        assert count / 12000 == pytest.approx(1 / 6, abs=0.02)


def test_layout_respects_unused_slots():
    rng = np.random.default_rng(1)
    widths = np.array([[5, 0, 0], [3, 3, 0], [2, 2, 2], [10, 0, 0]])
    starts = layout_instances(widths, 10, rng)
    assert starts[3, 0] == 0
    for w, s in zip(widths, starts):
        spans = [(b, b + x) for x, b in zip(w, s) if x > 0]
        assert all(0 <= b and e <= 10 for b, e in spans)
        assert all(e1 <= b2 for (_, e1), (b2, _) in combinations(spans, 2))


def test_sampling_never_draws_zero_probability_letters():
    ppm = np.array([[0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0], [0.2, 0.3, 0.0, 0.5], [1 / 3, 1 / 3, 1 / 3, 0.0]])
    cum = _cumulative(ppm)
    u = np.random.default_rng(0).random((50000, 4))
    u[:5] = np.nextafter(1.0, 0.0)  # the largest possible uniform draw
    codes = (u[:, :, None] >= cum[None]).sum(axis=2)
    for position in range(4):
        freq = np.bincount(codes[:, position], minlength=4) / len(codes)
        assert (freq[ppm[position] == 0] == 0).all()
        np.testing.assert_allclose(freq, ppm[position], atol=0.01)


def test_column_similarity():
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(4), size=8)
    assert column_similarity(a, a) == pytest.approx(1.0)
    flanked = np.vstack([rng.dirichlet(np.ones(4), size=3), a, rng.dirichlet(np.ones(4), size=2)])
    assert column_similarity(a, flanked) == pytest.approx(1.0)
    assert column_similarity(a, np.full((8, 4), 0.25)) == 0.0
    # brute-force twin: every offset with >= 6 overlapping columns, np.corrcoef per column pair
    for _ in range(5):
        x, y = rng.dirichlet(np.ones(4), size=rng.integers(6, 12)), rng.dirichlet(np.ones(4), size=rng.integers(6, 12))
        best = -1.0
        for shift in range(-len(y) + 1, len(x)):
            pairs = [(i, i - shift) for i in range(len(x)) if 0 <= i - shift < len(y)]
            if len(pairs) >= 6:
                best = max(best, float(np.mean([np.corrcoef(x[i], y[j])[0, 1] for i, j in pairs])))
        assert column_similarity(x, y) == pytest.approx(best)


def test_one_hot_from_codes():
    codes = np.array([[0, 1, 2, 3, 0]], dtype=np.uint8)
    expected = np.eye(4, dtype=np.int8)[codes].transpose(0, 2, 1)
    np.testing.assert_array_equal(one_hot_from_codes(codes), expected)


# ------------------------------------------------------------------------------------------ files
def test_write_simulation_files_are_readable(tmp_path):
    from drg.data import read_folds, read_onehot_npz, read_targets
    from drg.genome import read_fasta

    sim = synthetic_code(500, 120, seed=2, n_background=10)
    paths = write_simulation(sim, tmp_path / "sim", k_folds=5, seed=1)
    assert set(paths) == {"sequences", "fasta", "targets", "ground_truth", "instances", "motifs", "folds", "json"}
    onehot = read_onehot_npz(paths["sequences"])
    np.testing.assert_array_equal(np.asarray(onehot.X), sim.X)
    np.testing.assert_array_equal(np.asarray(onehot.names).astype(str), sim.names)
    fasta = read_fasta(paths["fasta"])
    assert list(fasta.names) == list(sim.names)
    assert one_hot_from_codes(np.array([["ACGT".index(c) for c in fasta.sequences[0]]], dtype=np.uint8)).tolist() == [
        sim.X[0].tolist()
    ]
    targets = read_targets(paths["targets"])
    np.testing.assert_array_equal(targets.values, sim.y)
    assert list(targets.tracks) == ["label"]
    truth = np.load(paths["ground_truth"])
    np.testing.assert_array_equal(truth["probabilities"], sim.ground_truth)
    np.testing.assert_array_equal(truth["labels"], sim.y[:, 0])
    assert list(truth["core"]) == sim.core
    instances = pd.read_csv(paths["instances"], sep="\t")
    pd.testing.assert_frame_equal(instances, sim.instances, check_dtype=False)
    motifs = read_meme(paths["motifs"])
    assert [m.id for m in motifs] == [m.id for m in sim.motifs]
    folds = read_folds(paths["folds"])
    assert len(folds) == 5 and sorted(n for s in folds for n in s) == sorted(sim.names)
    record = json.loads(paths["json"].read_text())
    assert record["n_sequences"] == 500 and record["params"]["seed"] == 2 and record["fold_seed"] == 1

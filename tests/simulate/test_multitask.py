"""Tests of the multi-task regression simulation."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from drg.errors import InputError
from drg.genome import reverse_complement_sequence
from drg.motifs import Motif, read_meme
from drg.simulate import MultitaskSimulation, multitask_regression, write_simulation
from drg.simulate.multitask import DEFAULT_MOTIFS, expected_signal

N = 3000


@pytest.fixture(scope="module")
def clean_sim() -> MultitaskSimulation:
    return multitask_regression(N, 150, 6, noise=0.0, interactions=3, seed=11)


def test_shapes_and_default_motifs(clean_sim):
    sim = clean_sim
    assert sim.X.shape == (N, 4, 150) and sim.X.dtype == np.int8 and (sim.X.sum(axis=1) == 1).all()
    assert sim.targets.shape == (N, 6) and sim.targets.dtype == np.float32
    assert sim.ground_truth.shape == (N, 4, 150) and sim.ground_truth.dtype == np.float32
    assert sim.effects.shape == (8, 6) and sim.interaction_pairs.shape == (3, 2)
    assert sim.interaction_effects.shape == (3, 6) and sim.motif_counts.shape == (N, 8)
    assert [m.name.upper() for m in sim.motifs] == list(DEFAULT_MOTIFS)
    assert sim.tracks == [f"track_{t}" for t in range(6)]
    frame = sim.effects_frame()
    assert list(frame.columns[:2]) == ["name", "role"] and frame.shape == (8, 8)


def test_deterministic_for_a_seed():
    a, b = multitask_regression(200, seed=5), multitask_regression(200, seed=5)
    c = multitask_regression(200, seed=6)
    for field in ("X", "targets", "ground_truth", "effects", "interaction_effects", "motif_counts"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    pd.testing.assert_frame_equal(a.instances, b.instances)
    assert not np.array_equal(a.targets, c.targets)


def test_noise_free_targets_reproduce_from_the_effect_matrix(clean_sim):
    sim = clean_sim
    # counts from the instance table
    counts = np.zeros_like(sim.motif_counts)
    ids = [m.id for m in sim.motifs]
    for row in sim.instances.itertuples():
        counts[row.seq_index, ids.index(row.motif_id)] += 1
    np.testing.assert_array_equal(counts, sim.motif_counts)
    # brute-force sum of effects per region
    brute = np.zeros((N, 6))
    for i in range(N):
        for m in range(8):
            brute[i] += counts[i, m] * sim.effects[m].astype(np.float64)
        for (a, b), extra in zip(sim.interaction_pairs, sim.interaction_effects):
            if counts[i, a] > 0 and counts[i, b] > 0:
                brute[i] += extra
    np.testing.assert_allclose(sim.targets, brute, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(sim.targets, sim.clean)
    assert (sim.noise_sd == 0).all()
    np.testing.assert_allclose(
        expected_signal(sim.motif_counts, sim.effects, sim.interaction_pairs, sim.interaction_effects),
        brute,
        atol=1e-6,
    )


def test_saturation_bounds_the_signal():
    sim = multitask_regression(500, noise=0.0, saturation=1.5, mean_motifs=4, seed=2)
    raw = expected_signal(sim.motif_counts, sim.effects, sim.interaction_pairs, sim.interaction_effects)
    np.testing.assert_allclose(sim.clean, 1.5 * np.tanh(raw / 1.5), atol=1e-6)
    assert np.abs(sim.clean).max() < 1.5


def test_noise_gives_the_stated_snr():
    sim = multitask_regression(4000, noise=0.5, seed=3)
    residual = sim.targets - sim.clean
    np.testing.assert_allclose(residual.std(axis=0), 0.5 * sim.clean.std(axis=0), rtol=0.06)
    np.testing.assert_allclose(sim.noise_sd, 0.5 * sim.clean.astype(np.float64).std(axis=0), rtol=1e-4)
    assert sim.params["snr"] == pytest.approx(4.0)


def test_effect_structure():
    sim = multitask_regression(50, 200, 10, shared_fraction=0.25, repressive_fraction=0.25, seed=4)
    active = sim.effects != 0
    shared = active.all(axis=1)
    assert shared.sum() == 2  # round(0.25 * 8)
    assert (active[~shared].sum(axis=1) <= 5).all() and (active.sum(axis=1) >= 1).all()
    signs = np.sign(sim.effects.sum(axis=1))
    assert (signs < 0).sum() == 2
    for row, role, sign in zip(active, sim.roles, signs):
        assert role == f"{'shared' if row.all() else 'specific'} {'repressor' if sign < 0 else 'activator'}"
    # interactions act where either partner acts
    for (a, b), extra in zip(sim.interaction_pairs, sim.interaction_effects):
        np.testing.assert_array_equal(extra != 0, active[a] | active[b])


def test_planted_instances_and_ground_truth(clean_sim):
    sim = clean_sim
    codes = sim.X.argmax(axis=1)
    by_id = {m.id: m for m in sim.motifs}
    covered = np.zeros((N, 150), dtype=bool)
    for row in sim.instances.itertuples():
        motif = by_id[row.motif_id]
        ppm = motif.ppm if row.strand == "+" else motif.reverse_complement().ppm
        window = codes[row.seq_index, row.start : row.end]
        forward = "".join("ACGT"[c] for c in window)
        assert (forward if row.strand == "+" else reverse_complement_sequence(forward)) == row.site
        assert (ppm[np.arange(motif.length), window] > 0).all()
        np.testing.assert_array_equal(sim.ground_truth[row.seq_index][:, row.start : row.end], ppm.T.astype(np.float32))
        assert not covered[row.seq_index, row.start : row.end].any()  # no overlap
        covered[row.seq_index, row.start : row.end] = True
    assert (sim.ground_truth.transpose(0, 2, 1)[~covered] == 0.25).all()


def test_gc_background():
    sim = multitask_regression(1000, 200, 2, gc=0.7, mean_motifs=0.0, seed=8)
    assert len(sim.instances) == 0 and (sim.targets == 0).all()
    freq = sim.X.sum(axis=(0, 2)) / (1000 * 200)
    np.testing.assert_allclose(freq, [0.15, 0.35, 0.35, 0.15], atol=0.005)
    np.testing.assert_allclose(sim.ground_truth[0, :, 0], [0.15, 0.35, 0.35, 0.15], atol=1e-7)


def test_motif_count_distribution():
    sim = multitask_regression(5000, mean_motifs=2.0, max_motifs=4, seed=9)
    k = sim.motif_counts.sum(axis=1)
    assert k.max() <= 4
    assert (k == 0).mean() == pytest.approx(np.exp(-2.0), abs=0.02)
    assert (sim.instances["strand"] == "+").mean() == pytest.approx(0.5, abs=0.03)


def test_custom_motifs_and_errors():
    custom = [Motif("AAA", "m1", [[1, 0, 0, 0]] * 3), Motif("TTT", "m2", [[0, 0, 0, 1]] * 3), "CTCF"]
    sim = multitask_regression(100, 40, 3, motifs=custom, interactions=1, seed=0)
    assert [m.id for m in sim.motifs] == ["m1", "m2", "MA0139.2"]
    with pytest.raises(InputError, match="interactions"):
        multitask_regression(10, motifs=custom, interactions=4)
    with pytest.raises(InputError, match="NOPE"):
        multitask_regression(10, motifs=["NOPE"])
    with pytest.raises(InputError, match="gc"):
        multitask_regression(10, gc=1.5)
    with pytest.raises(InputError, match="longer"):
        multitask_regression(10, length=10)


def test_generation_is_fast():
    multitask_regression(10)  # motif database parsed and cached
    start = time.perf_counter()
    sim = multitask_regression(20000, 200, 8, seed=0)
    elapsed = time.perf_counter() - start
    assert sim.X.shape == (20000, 4, 200)
    assert elapsed < 10.0  # about 0.6 s on the reference machine


def test_write_simulation_files_are_readable(tmp_path):
    from drg.data import read_folds, read_onehot_npz, read_targets

    sim = multitask_regression(300, 100, 4, seed=1)
    paths = write_simulation(sim, tmp_path, k_folds=3)
    np.testing.assert_array_equal(np.asarray(read_onehot_npz(paths["sequences"]).X), sim.X)
    targets = read_targets(paths["targets"])
    np.testing.assert_array_equal(targets.values, sim.targets)
    assert list(targets.tracks) == sim.tracks and list(targets.names) == list(sim.names)
    assert paths["targets"].read_text().splitlines()[0] == "#name\t" + "\t".join(sim.tracks)
    truth = np.load(paths["ground_truth"])
    for key in ("effects", "interaction_pairs", "interaction_effects", "motif_counts", "clean", "noise_sd"):
        np.testing.assert_array_equal(truth[key], getattr(sim, key))
    np.testing.assert_array_equal(truth["probabilities"], sim.ground_truth)
    assert list(truth["tracks"]) == sim.tracks
    assert [m.id for m in read_meme(paths["motifs"])] == [m.id for m in sim.motifs]
    assert len(read_folds(paths["folds"])) == 3
    record = json.loads(paths["json"].read_text())
    assert record["params"]["design"] == "multitask_regression" and record["tracks"] == sim.tracks
    assert record["n_instances"] == len(sim.instances)


def test_effect_size_range():
    """Magnitudes lie in effect_size times the per-track jitter; the range only rescales the same draws."""
    for low, high in ((1.0, 1.5), (0.2, 0.4)):
        sim = multitask_regression(50, 60, 8, effect_size=(low, high), seed=2)
        mags = np.abs(sim.effects[sim.effects != 0])
        assert mags.min() >= low * 0.75 - 1e-6 and mags.max() <= high * 1.25 + 1e-6
        assert sim.params["effect_size"] == [low, high]
    a = multitask_regression(50, 60, 8, effect_size=(1.0, 1.5), seed=2)
    b = multitask_regression(50, 60, 8, effect_size=(0.2, 0.4), seed=2)
    np.testing.assert_array_equal(a.effects != 0, b.effects != 0)
    np.testing.assert_array_equal(np.sign(a.effects), np.sign(b.effects))
    np.testing.assert_array_equal(a.X, b.X)
    with pytest.raises(InputError):
        multitask_regression(10, 60, 2, effect_size=(0.0, 1.0))
    with pytest.raises(InputError):
        multitask_regression(10, 60, 2, effect_size=(2.0, 1.0))

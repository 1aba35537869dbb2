"""First-layer kernels: motifs from weights and activations, knock-out effects, replicate models, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from drg.errors import InputError
from drg.models import build, motif_kernels
from drg.motifs import (
    Motif,
    combine_kernels,
    find_first_conv,
    kernel_effects,
    kernel_pwms_from_activations,
    kernel_pwms_from_weights,
    load_bundled_jaspar,
    random_onehot,
    read_meme,
    tomtom,
    weights_to_ppm,
)
from drg.motifs.io import find_motif

KERNEL = 19
LENGTH = 120


@pytest.fixture(scope="module")
def jaspar():
    return load_bundled_jaspar()


@pytest.fixture(scope="module")
def planted(jaspar):
    """CTCF and SPI1 log-odds kernels in an RC CNN; random sequences with reverse-strand instances only."""
    motifs = [find_motif(jaspar, "CTCF"), find_motif(jaspar, "SPI1")]
    model = build({"input_length": LENGTH, "first_layer": {"n_kernels": 2, "kernel_size": KERNEL, "activation": "relu",
                                                           "reverse_complement": True},
                   "reduction": "max", "heads": [{"n_outputs": 2}]}).eval()
    model.first_layer.conv.set_kernels(torch.from_numpy(motif_kernels(motifs, KERNEL)))
    with torch.no_grad():
        model.first_layer.conv.bias.zero_()
    rng = np.random.default_rng(3)
    X = random_onehot(800, LENGTH, seed=4)
    for i in range(X.shape[0]):
        ppm = motifs[i % 2].ppm / motifs[i % 2].ppm.sum(1, keepdims=True)
        site = 3 - np.array([rng.choice(4, p=row) for row in ppm])[::-1]  # reverse strand
        pos = rng.integers(0, LENGTH - site.size)
        X[i, :, pos:pos + site.size] = 0
        X[i, site, pos + np.arange(site.size)] = 1
    return motifs, model, X


def _centre(ppm: np.ndarray, length: int) -> np.ndarray:
    start = (KERNEL - length) // 2
    return ppm[start:start + length]


# ------------------------------------------------------------------------------------------ weights
def test_log_odds_transform_inverts_motif_pwm(jaspar):
    motif = find_motif(jaspar, "CTCF")
    recovered = weights_to_ppm(motif.pwm(0.1), "log_odds")
    n = motif.nsites
    smoothed = (motif.ppm / motif.ppm.sum(1, keepdims=True) * n + 0.1 * 0.25) / (n + 0.1)
    np.testing.assert_allclose(recovered, smoothed, atol=1e-12)


@pytest.mark.parametrize("transform,scale", [("log_odds", 3.0), ("softmax", 2.0), ("centered", 1.0)])
def test_one_hot_kernel_gives_its_consensus(transform, scale):
    word = "ACGTTGCAAG"
    kernel = np.zeros((1, 4, len(word)))
    kernel[0, ["ACGT".index(b) for b in word], np.arange(len(word))] = 1.0
    (motif,) = kernel_pwms_from_weights(kernel, transform=transform, scale=scale)
    assert motif.consensus == word
    np.testing.assert_array_equal(motif.weights, kernel[0].T)
    np.testing.assert_allclose(motif.ppm.sum(1), 1.0)
    assert motif.id == "kernel_0"


def test_softmax_and_centered_values():
    w = np.array([[1.0, 0.0, 0.0, -1.0]])
    np.testing.assert_allclose(weights_to_ppm(w, "softmax"), np.exp(w) / np.exp(w).sum())
    np.testing.assert_allclose(weights_to_ppm(w, "centered"), [[1.0, 0, 0, 0]])
    np.testing.assert_allclose(weights_to_ppm(np.zeros((1, 4)), "centered"), [[0.25] * 4])
    with pytest.raises(InputError, match="transform"):
        weights_to_ppm(w, "nope")  # type: ignore[arg-type]


def test_weight_motifs_from_model_match_kernels(planted):
    motifs, model, _ = planted
    out = kernel_pwms_from_weights(model)
    assert [m.id for m in out] == ["kernel_0", "kernel_1"]
    for k, (got, motif) in enumerate(zip(out, motifs)):
        start = (KERNEL - motif.length) // 2
        smoothed = (motif.ppm / motif.ppm.sum(1, keepdims=True) * motif.nsites + 0.025) / (motif.nsites + 0.1)
        np.testing.assert_allclose(got.ppm[start:start + motif.length], smoothed, atol=1e-5)
        assert got.consensus == "N" * start + motif.consensus + "N" * (KERNEL - start - motif.length)
        raw = model.first_layer.conv.kernels()[k].detach().numpy().T
        np.testing.assert_allclose(got.weights, raw, atol=1e-6)


# ------------------------------------------------------------------------------------------ activations
@pytest.mark.parametrize("method", ["threshold", "zscore"])
def test_activation_pwms_recover_planted_motifs(planted, jaspar, method):
    motifs, model, X = planted
    found = kernel_pwms_from_activations(model, X, method=method, batch_size=100)
    for got, motif in zip(found, motifs):
        truth = motif.ppm / motif.ppm.sum(1, keepdims=True)
        r = np.corrcoef(_centre(got.ppm, motif.length).ravel(), truth.ravel())[0, 1]
        assert r > 0.9, (motif.name, r)
        hits = tomtom([got], jaspar)
        assert hits.iloc[0]["target"] == motif.id and hits.iloc[0]["q_value"] < 0.05
        assert got.nsites > 100


def test_single_strand_scan_misses_reverse_sites(planted):
    motifs, model, X = planted
    both = kernel_pwms_from_activations(model, X)
    one = kernel_pwms_from_activations(model, X, both_strands=False)
    truth = motifs[0].ppm / motifs[0].ppm.sum(1, keepdims=True)
    r_both = np.corrcoef(_centre(both[0].ppm, motifs[0].length).ravel(), truth.ravel())[0, 1]
    r_one = np.corrcoef(_centre(one[0].ppm, motifs[0].length).ravel(), truth.ravel())[0, 1]
    assert r_both > 0.9 and r_both > r_one
    assert both[0].nsites > 2 * one[0].nsites


def _brute_force_counts(weights, bias, X, frac, both):
    K, _, w = weights.shape
    strands = [weights] + ([weights[:, ::-1, ::-1]] if both else [])
    scores = [[[(weights_k * X[n, :, p:p + w]).sum() + bias[k] for p in range(X.shape[2] - w + 1)]
               for n in range(X.shape[0])] for weights_k, k in ((s[k], k) for s in strands for k in range(K))]
    scores = np.array(scores).reshape(len(strands), K, X.shape[0], -1)
    counts = np.zeros((K, 4, w))
    sites = np.zeros(K)
    for k in range(K):
        top = scores[:, k].max()
        for s in range(len(strands)):
            for n, p in zip(*np.nonzero(scores[s, k] >= frac * top)):
                window = X[n, :, p:p + w]
                counts[k] += scores[s, k, n, p] * (window if s == 0 else window[::-1, ::-1])
                sites[k] += 1
    return counts, sites


@pytest.mark.parametrize("both", [False, True])
def test_activation_counts_match_brute_force(both):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU())
    X = random_onehot(12, 30, seed=1)
    found = kernel_pwms_from_activations(model, X, threshold=0.6, both_strands=both, batch_size=5)
    weights = model[0].weight.detach().double().numpy()
    counts, sites = _brute_force_counts(weights, model[0].bias.detach().double().numpy(), X, 0.6, both)
    for k, motif in enumerate(found):
        np.testing.assert_allclose(motif.counts, counts[k].T, rtol=1e-5, atol=1e-6)
        assert motif.nsites == sites[k]
        np.testing.assert_allclose(motif.weights, weights[k].T, atol=1e-7)


def test_dead_kernel_is_uniform_and_kept():
    model = nn.Sequential(nn.Conv1d(4, 2, 3))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[0, 0] = 1.0
        model[0].bias.fill_(-10.0)
    found = kernel_pwms_from_activations(model, random_onehot(5, 20))
    assert len(found) == 2
    assert all(m.nsites == 0 and np.allclose(m.ppm, 0.25) for m in found)


def test_find_first_conv_and_errors(planted):
    _, model, _ = planted
    assert find_first_conv(model) is model.first_layer.conv
    assert find_first_conv(model, "first_layer.conv") is model.first_layer.conv
    seq = nn.Sequential(nn.Linear(3, 3), nn.Conv1d(4, 2, 3))
    assert find_first_conv(seq) is seq[1]
    with pytest.raises(InputError, match="no layer"):
        find_first_conv(model, "nope")
    with pytest.raises(InputError, match="no Conv1d"):
        find_first_conv(nn.Sequential(nn.Linear(3, 3)))
    with pytest.raises(InputError, match="dilation"):
        kernel_pwms_from_weights(nn.Sequential(nn.Conv1d(4, 2, 3, dilation=2)))
    with pytest.raises(InputError, match=r"\(N, 4, L\)"):
        kernel_pwms_from_activations(model, np.zeros((3, 5, 40), dtype=np.float32))


# ------------------------------------------------------------------------------------------ effects
class TrackPerKernel(nn.Module):
    """conv (3 kernels) -> ReLU -> max over length -> diagonal linear head: kernel k feeds track k only."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv1d(4, 3, 4)
        self.head = nn.Linear(3, 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.diag(torch.tensor([1.5, -2.0, 0.7])))

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).amax(-1))


def _brute_force_effects(model, X, targets):
    X = torch.as_tensor(X)
    with torch.no_grad():
        act = model.conv(X)
        base = model.head(torch.relu(act).amax(-1)).double().numpy()
        out = []
        for k in range(act.shape[1]):
            ko = act.clone()
            ko[:, k] = act[:, k].mean()
            out.append(model.head(torch.relu(ko).amax(-1)).double().numpy())
    out = np.array(out)
    delta = out - base[None]

    def r(a, b):  # a constant prediction has correlation 0
        return np.array([0.0 if np.ptp(a[:, t]) == 0 else np.corrcoef(a[:, t], b[:, t])[0, 1]
                         for t in range(a.shape[1])])

    dr = np.array([r(o, targets) - r(base, targets) for o in out])
    return np.abs(delta).mean(1), delta.mean(1), dr


def test_knockout_changes_only_the_fed_track_and_matches_brute_force():
    model = TrackPerKernel().eval()
    X = random_onehot(37, 25, seed=2)
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(37, 3))
    targets[:, 0] += model(torch.as_tensor(X)).detach().numpy()[:, 0]
    res = kernel_effects(model, X, targets, batch_size=8, kernel_batch=2)
    mask = ~np.eye(3, dtype=bool)
    assert np.all(res.mean_abs[mask] == 0) and np.all(np.diag(res.mean_abs) > 0)
    assert np.all(res.delta_r[mask] == pytest.approx(0, abs=1e-9))
    mean_abs, mean, dr = _brute_force_effects(model, X, targets)
    np.testing.assert_allclose(res.mean_abs, mean_abs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.delta_r, dr, atol=1e-6)
    assert res.delta_r[0, 0] < 0  # kernel 0 carries the signal of track 0
    assert res.kernels == ["kernel_0", "kernel_1", "kernel_2"] and res.n_sequences == 37


def test_effects_subset_tables_and_cnn_first_layer(planted, tmp_path):
    _, model, X = planted
    res = kernel_effects(model, X[:60], kernels=[1], kernel_batch=4)
    assert res.mean.shape == (1, 2) and res.delta_r is None and res.kernels == ["kernel_1"]
    full = kernel_effects(model, X[:60])
    np.testing.assert_allclose(full.mean[1], res.mean[0], atol=1e-10)
    paths = full.write(tmp_path)
    assert sorted(p.name for p in paths) == ["kernel_effects_mean.tsv", "kernel_effects_mean_abs.tsv"]
    back = pd.read_csv(tmp_path / "kernel_effects_mean.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(back.to_numpy(), full.mean, rtol=1e-5)
    with pytest.raises(InputError, match="outside"):
        kernel_effects(model, X[:5], kernels=[7])
    with pytest.raises(InputError, match="tracks"):
        kernel_effects(model, X[:5], np.zeros((5, 3)))


# ------------------------------------------------------------------------------------------ replicates
def _replicates(jaspar, flip_effect=False):
    base = [find_motif(jaspar, n) for n in ("CTCF", "SPI1", "REST")]
    rng = np.random.default_rng(0)
    effect = np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.5], [0.5, 0.5, 1.0]])
    sets, effects = [], []
    for r in range(3):
        motifs = []
        for i, m in enumerate(base):
            p = m.ppm / m.ppm.sum(1, keepdims=True)
            p = 0.85 * p + 0.15 * rng.dirichlet(np.ones(4), size=p.shape[0])
            p = np.vstack([np.full((2, 4), 0.25), p, np.full((3, 4), 0.25)])
            motif = Motif(name=f"k{i}", id=f"k{i}", ppm=p, nsites=100)
            motifs.append(motif.reverse_complement() if r == 1 and i == 0 else motif)
        motifs.append(Motif(name="k3", id="k3", ppm=rng.dirichlet(np.ones(4), size=10), nsites=100))
        e = np.vstack([effect + 0.05 * rng.normal(size=effect.shape), rng.normal(size=3)])
        if flip_effect and r == 2:
            e[0] *= -1
        sets.append(motifs)
        effects.append(pd.DataFrame(e, columns=["a", "b", "c"]))
    return sets, effects


def test_combine_groups_replicated_kernels_and_names_them(jaspar):
    sets, effects = _replicates(jaspar)
    res = combine_kernels(sets, effects)
    top = res.table[res.table["n_models"] == 3]
    assert len(top) == 3 and set(top["best_match"]) == {"MA0139.2", "MA0080.7", "MA0138.3"}
    assert (top["best_q_value"] < 0.05).all() and (top["reproducibility"] == 1.0).all()
    ctcf = top[top["best_match"] == "MA0139.2"].iloc[0]
    assert ctcf["name"].split("/")[0] == "CTCF"
    assert set(ctcf["members"].split(",")) == {"model_0:k0", "model_1:k0", "model_2:k0"}
    assert (res.table["n_models"] == 1).sum() == 3  # the random kernels stay apart
    assert (res.assignments["cluster"] >= 0).all() and len(res.assignments) == 12
    assert list(res.effects.columns) == ["a", "b", "c"] and res.effects.shape == (6, 3)
    merged = res.motifs[int(ctcf["cluster"])]
    hit = tomtom([merged], jaspar).iloc[0]
    assert hit["target"] == "MA0139.2"


def test_combine_splits_kernels_with_opposite_effects(jaspar):
    sets, effects = _replicates(jaspar, flip_effect=True)
    res = combine_kernels(sets, effects, database=None)
    ctcf = res.assignments[res.assignments["kernel"] == "k0"]
    assert ctcf["cluster"].iloc[0] == ctcf["cluster"].iloc[1] != ctcf["cluster"].iloc[2]
    assert (res.table["n_models"] == 3).sum() == 2
    assert (res.table["name"] == res.table["id"]).all()
    no_effects = combine_kernels(sets, None, database=None)
    assert (no_effects.table["n_models"] == 3).sum() == 3 and no_effects.effects is None


def test_combine_min_ic_warns_and_errors(jaspar):
    from drg.errors import DRGWarning

    sets, _ = _replicates(jaspar)
    flat = [s + [Motif(name="u", id="u", ppm=np.full((8, 4), 0.25))] for s in sets]
    with pytest.warns(DRGWarning, match="3 of 15 kernels"):
        res = combine_kernels(flat, min_ic=1.0, database=None)
    assert (res.assignments["cluster"] == -1).sum() == 3
    with pytest.raises(InputError, match="effect matrices"):
        combine_kernels(sets, [None])


# ------------------------------------------------------------------------------------------ CLI
def test_cli_pwms_effects_combine(planted, tmp_path):
    from drg.cli.kernels import app
    from drg.data.drgio import write_onehot_npz
    from drg.data.targets import Targets, write_targets
    from drg.models import save_model

    _, model, X = planted
    dirs = []
    for i in range(2):
        dirs.append(tmp_path / f"m{i}")
        save_model(model, dirs[-1])
    names = [f"r{i}" for i in range(100)]
    write_onehot_npz(tmp_path / "seqs.npz", X[:100].astype(np.int8), names)
    values = model(torch.as_tensor(X[:100])).detach().numpy()
    write_targets(Targets(values[::-1], names[::-1], ["t0", "t1"]), tmp_path / "targets.tsv")
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("pwms", "--model", dirs[0], "--random", 300, "--out", tmp_path / "k.meme")
    assert [m.id for m in read_meme(tmp_path / "k.meme")] == ["kernel_0", "kernel_1"]
    run("pwms", "--model", dirs[0], "--method", "weights", "--out", tmp_path / "w.meme")
    assert len(read_meme(tmp_path / "w.meme")) == 2
    run("effects", "--model", dirs[0], "--npz", tmp_path / "seqs.npz", "--targets", tmp_path / "targets.tsv",
        "--out", tmp_path / "eff")
    table = pd.read_csv(tmp_path / "eff" / "kernel_effects_delta_r.tsv", sep="\t", index_col=0)
    assert table.shape == (2, 2) and (table.to_numpy() < 0).all()  # knocking out a kernel hurts the fit
    assert (tmp_path / "eff" / "kernel_effects_mean.png").stat().st_size > 0
    run("combine", dirs[0], dirs[1], "--npz", tmp_path / "seqs.npz", "--out", tmp_path / "comb")
    clusters = pd.read_csv(tmp_path / "comb" / "clusters.tsv", sep="\t")
    assert len(clusters) == 2 and (clusters["n_models"] == 2).all()
    assert set(clusters["best_match"]) == {"MA0139.2", "MA0080.7"}
    assert (tmp_path / "comb" / "motif_tree.png").exists()

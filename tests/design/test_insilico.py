"""implant, marginalize, spacing_scan and ablate: exact effects of a linear model, tangermeme agreement,
zero interaction of an additive model, ablation oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from drg.design import (
    AblationEffects,
    MarginalEffects,
    SpacingScan,
    ablate,
    implant,
    marginalize,
    spacing_scan,
)
from drg.errors import InputError
from drg.genome import dinucleotide_shuffle, one_hot_decode, one_hot_encode
from drg.motifs import Motif
from tests.attribution._toy import Linear, SmallCNN, make, one_hot


def W_of(model):
    return model.weight.detach().double().numpy()


def linear(model, X):
    return np.einsum("ncl,tcl->nt", np.asarray(X, np.float64), W_of(model)) + model.bias.detach().double().numpy()


def test_implant_consensus_orientation_and_sampling():
    X = one_hot_encode(["AAAAAAAAAA", "CCCCCCCCCC"])
    ppm = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.2, 0.8, 0.0], [0.0, 0.0, 0.0, 1.0]])
    motif = Motif("m", "m", ppm)
    assert one_hot_decode(implant(X, motif, 2)) == ["AAAGTAAAAA", "CCAGTCCCCC"]
    assert one_hot_decode(implant(X, motif, None)) == ["AAAAAGTAAA", "CCCCAGTCCC"]  # 10 // 2 - 3 // 2 = 4
    assert one_hot_decode(implant(X, motif, [0, 7], orientation="-")) == ["ACTAAAAAAA", "CCCCCCCACT"]
    assert implant(X, "GT", 0).dtype == X.dtype and one_hot_decode(X) == ["A" * 10, "C" * 10]  # X untouched
    big = np.repeat(X[:1], 4000, axis=0)
    sampled = implant(big, ppm, 0, mode="sample", seed=3)
    freq = sampled[:, :, :3].mean(axis=0).T
    np.testing.assert_allclose(freq, ppm, atol=0.03)
    np.testing.assert_array_equal(sampled, implant(big, ppm, 0, mode="sample", seed=3))
    with pytest.raises(InputError, match="does not fit"):
        implant(X, motif, 8)
    with pytest.raises(InputError, match="longer than the sequences"):
        implant(X, "A" * 11)


def test_marginalize_linear_effects_are_exact():
    model = make(Linear, 20, 3)
    bg = one_hot(6, 20, seed=1)
    result = marginalize(model, ["ACGT", "TTG"], bg, n=2, seed=5)
    assert isinstance(result, MarginalEffects) and result.deltas.shape == (2, 12, 3)
    X = dinucleotide_shuffle(bg, n=2, seed=5).reshape(-1, 4, 20)
    for k, motif in enumerate(["ACGT", "TTG"]):
        expected = linear(model, implant(X, motif)) - linear(model, X)
        np.testing.assert_allclose(result.deltas[k], expected, atol=2e-5)
        np.testing.assert_allclose(result.mean[k], expected.mean(0), atol=2e-5)
        np.testing.assert_allclose(result.sd[k], expected.std(0, ddof=1), atol=2e-5)
    table = result.table()
    assert list(table.columns) == ["motif", "track", "mean", "sd", "sem", "n"] and len(table) == 6
    # both orientations average the two single-orientation runs
    both = marginalize(model, "ACGT", bg, shuffle=False, orientation="both")
    plus = marginalize(model, "ACGT", bg, shuffle=False, orientation="+")
    minus = marginalize(model, "ACGT", bg, shuffle=False, orientation="-")
    np.testing.assert_allclose(both.mean, (plus.mean + minus.mean) / 2, atol=2e-5)


def test_marginalize_agrees_with_tangermeme():
    from tangermeme.marginalize import marginalize as tm_marginalize

    model = make(SmallCNN, 4)
    bg = one_hot(8, 60, seed=2)
    for motif, start in (("GATTACA", None), ("CCGCGG", 5)):
        ours = marginalize(model, motif, bg, shuffle=False, position=start)
        y = tm_marginalize(model, torch.from_numpy(bg), motif, start=start, batch_size=8)
        expected = (y.y_after - y.y_before).double().numpy()
        np.testing.assert_allclose(ours.deltas[0], expected, atol=1e-5)
        np.testing.assert_allclose(ours.mean[0], expected.mean(0), atol=1e-5)


def test_spacing_interaction_zero_for_an_additive_model_not_for_a_product():
    model = make(Linear, 40, 2)
    bg = one_hot(5, 40, seed=3)
    scan = spacing_scan(model, "ACGTA", "GGC", bg, [0, 3, 10], seed=1)
    assert isinstance(scan, SpacingScan) and scan.joint.shape == (3, 4, 2)
    np.testing.assert_allclose(scan.interaction, 0.0, atol=2e-5)
    np.testing.assert_allclose(scan.joint, scan.effect_a + scan.effect_b, atol=2e-5)
    # placement: the pair is centred; single effects are the exact linear ones at those positions
    assert scan.start_a.tolist() == [20 - 4, 20 - 5, 20 - 9] and (scan.start_b == scan.start_a + 5 + [0, 3, 10]).all()
    X = dinucleotide_shuffle(bg, n=1, seed=1).reshape(-1, 4, 40)
    expected_b = (linear(model, implant(X, "GGC", 23, orientation="-")) - linear(model, X)).mean(0)
    np.testing.assert_allclose(scan.effect_b[1, 1], expected_b, atol=2e-5)  # spacing 3, orientation "+-"
    table = scan.table()
    assert len(table) == 3 * 4 * 2 and set(table["orientation"]) == {"++", "+-", "-+", "--"}

    class Product(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = make(Linear, 40, 1, seed=0), make(Linear, 40, 1, seed=1)

        def forward(self, x):
            return self.a(x) * self.b(x)

    product = spacing_scan(Product().eval(), "ACGTA", "GGC", bg, [0, 3])
    assert np.abs(product.interaction).max() > 1e-2
    with pytest.raises(InputError, match="does not fit"):
        spacing_scan(model, "ACGTA", "GGC", bg, [40])
    with pytest.raises(InputError, match="two of"):
        spacing_scan(model, "ACGTA", "GGC", bg, [1], orientations=["+"])


def test_ablate_zero_and_background_are_exact():
    model = make(Linear, 30, 3)
    X = one_hot(4, 30, seed=4)
    sites = pd.DataFrame({"seq_index": [0, 2, 2], "start": [3, 0, 25], "end": [9, 4, 30], "label": ["x", "y", "z"]})
    result = ablate(model, X, sites, method="zero")
    assert isinstance(result, AblationEffects) and result.effect.shape == (3, 3)
    W = W_of(model)
    for s, (i, a, b) in enumerate(zip(sites.seq_index, sites.start, sites.end)):
        expected = np.einsum("cl,tcl->t", X[i][:, a:b], W[:, :, a:b])
        np.testing.assert_allclose(result.effect[s], expected, atol=2e-5)
    assert result.table["label"].tolist() == ["x", "y", "z"] and "effect.track_1" in result.table
    np.testing.assert_allclose(result.original, linear(model, X)[[0, 2, 2]], atol=2e-5)
    # one background sequence: every draw is that sequence's columns
    bg = one_hot(1, 30, seed=9)
    res_bg = ablate(model, X, sites, method="background", background=bg, n=3)
    for s, (i, a, b) in enumerate(zip(sites.seq_index, sites.start, sites.end)):
        expected = np.einsum("cl,tcl->t", X[i][:, a:b] - bg[0][:, a:b], W[:, :, a:b])
        np.testing.assert_allclose(res_bg.effect[s], expected, atol=2e-5)
        np.testing.assert_allclose(res_bg.sd[s], 0.0, atol=2e-5)


def test_ablate_shuffle_keeps_composition():
    # position-independent weights: a shuffle of a site keeps its composition, hence the prediction
    model = make(Linear, 30, 2)
    with torch.no_grad():
        model.weight.copy_(model.weight[:, :, :1].expand(-1, -1, 30))
    X = one_hot(3, 30, seed=6)
    sites = pd.DataFrame({"seq_index": [0, 1], "start": [2, 10], "end": [12, 22]})
    result = ablate(model, X, sites, method="shuffle", n=5)
    np.testing.assert_allclose(result.effect, 0.0, atol=2e-5)
    # while a general model sees a change
    assert np.abs(ablate(make(Linear, 30, 2), X, sites, n=5).effect).max() > 1e-3


def test_ablate_accepts_scan_motifs_and_seqlet_tables():
    from drg.motifs import scan_motifs

    model = make(Linear, 30, 2)
    X = implant(one_hot(3, 30, seed=7), "GATTACAGG", 10)
    motif = Motif.from_counts(one_hot_encode("GATTACAGG")[0].T * 10.0, name="gat")
    hits = scan_motifs(motif, X, threshold=1e-4, both_strands=False)
    assert len(hits) == 3 and (hits["start"] == 11).all()  # 1-based
    by_hits = ablate(model, X, hits, method="zero")
    manual = ablate(model, X, pd.DataFrame({"seq_index": [0, 1, 2], "start": [10] * 3, "end": [19] * 3}), method="zero")
    order = hits["sequence_name"].map({"seq1": 0, "seq2": 1, "seq3": 2}).to_numpy()
    np.testing.assert_allclose(by_hits.effect, manual.effect[order], atol=1e-6)
    seqlets = pd.DataFrame({"example_idx": [1], "start": [10], "end": [19]})
    np.testing.assert_allclose(ablate(model, X, seqlets, method="zero").effect, manual.effect[[1]], atol=1e-6)
    with pytest.raises(InputError, match="site 1 .*invalid"):
        ablate(model, X, pd.DataFrame({"seq_index": [5], "start": [0], "end": [3]}))

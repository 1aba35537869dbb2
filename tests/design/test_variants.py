"""variant_effects: exact SNV/indel effects of a linear model, window rules by hand, REF checks, regions,
effects, strand averaging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from drg.design import VariantEffects, variant_effects
from drg.design.variants import variant_windows
from drg.errors import DRGWarning, InputError
from drg.genome import Genome, one_hot_decode, one_hot_encode, reverse_complement
from tests.attribution._toy import Linear, TwoHeads, make

TINY = "ACGTACGTAAGGCCTTACGT"


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.fa"
    path.write_text(f">c1\n{TINY}\n>c2\nGGGGGCCCCC\n")
    return Genome(path)


@pytest.fixture(scope="module")
def random_genome(tmp_path_factory):
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), 300))
    path = tmp_path_factory.mktemp("vg") / "g.fa"
    path.write_text(f">chrA\n{seq}\n")
    return Genome(path), seq


def table(*rows):
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])


def linear_prediction(model, X):
    W = model.weight.detach().double().numpy()
    return np.einsum("ncl,tcl->nt", np.asarray(X, dtype=np.float64), W) + model.bias.detach().double().numpy()


@pytest.mark.parametrize("pos,ref,alt,ref_window,alt_window", [
    (5, "C", "T", "ACGTACGTAA", "ACGTATGTAA"),          # SNV at index L // 2
    (5, "C", "CGG", "ACGTACGTAA", "CGTACGGGTA"),        # +2: one base trimmed on each side
    (10, "G", "GTTT", "CGTAAGGCCT", "GTAAGTTTGC"),      # +3: one on the left, two on the right
    (5, "CGTA", "C", "GTACGTAAGG", "ACGTACAGGC"),       # -3: two more on the left, one more on the right
    (1, "C", "G", "NNNNACGTAC", "NNNNAGGTAC"),          # off the chromosome start: N padding
    (17, "CGT", "CAA", "CTTACGTNNN", "CTTACAANNN"),     # MNV off the end
])
def test_window_rule_by_hand(tiny, pos, ref, alt, ref_window, alt_window):
    w = variant_windows(tiny, table(("c1", pos, ref, alt)), 10)
    assert one_hot_decode(w.X_ref) == [ref_window]
    assert one_hot_decode(w.X_alt) == [alt_window]
    assert w.ref_match.tolist() == [True] and w.genome_ref.tolist() == [ref]
    assert ref_window[w.offset_ref[0]:w.offset_ref[0] + len(ref)] == ref
    assert alt_window[w.offset_alt[0]:w.offset_alt[0] + len(alt)] == alt


def test_snv_effects_are_weight_differences(random_genome):
    genome, seq = random_genome
    model = make(Linear, 21, 3)
    positions = [0, 3, 150, 290, 299]
    alts = ["ACGT"[("ACGT".index(seq[p]) + 1 + k) % 4] for k, p in enumerate(positions)]
    variants = table(*[("chrA", p, seq[p], a) for p, a in zip(positions, alts)])
    result = variant_effects(model, genome, variants, length=21, effect="diff")
    assert isinstance(result, VariantEffects) and len(result) == 5
    W = model.weight.detach().double().numpy()
    expected = np.stack([W[:, "ACGT".index(a), 10] - W[:, "ACGT".index(seq[p]), 10] for p, a in zip(positions, alts)])
    np.testing.assert_allclose(result.effects["diff"], expected, atol=2e-5)
    np.testing.assert_allclose(result.table[[f"diff.track_{t}" for t in range(3)]].to_numpy(), expected, atol=2e-5)
    np.testing.assert_allclose(result.table["max_abs_diff"], np.abs(expected).max(axis=1), atol=2e-5)
    ref_windows = [("N" * max(10 - p, 0) + seq[max(p - 10, 0):p + 11]).ljust(21, "N") for p in positions]
    np.testing.assert_allclose(result.ref, linear_prediction(model, one_hot_encode(ref_windows)), atol=2e-5)
    assert result.table["window_start"].tolist() == [p - 10 for p in positions]
    assert result.table["ref_match"].all() and result.tracks == ["track_0", "track_1", "track_2"]


def test_indel_effect_equals_the_hand_windows(tiny):
    model = make(Linear, 10, 2)
    result = variant_effects(model, tiny, table(("c1", 5, "CGTA", "C"), ("c1", 10, "G", "GTTT")), length=10)
    ref = one_hot_encode(["GTACGTAAGG", "CGTAAGGCCT"])
    alt = one_hot_encode(["ACGTACAGGC", "GTAAGTTTGC"])
    np.testing.assert_allclose(result.effects["diff"],
                               linear_prediction(model, alt) - linear_prediction(model, ref), atol=2e-5)


def test_reference_mismatch_error_or_flag(tiny):
    model = make(Linear, 10, 2)
    variants = table(("c1", 5, "C", "T"), ("c1", 6, "A", "T"))  # genome has G at 6
    variants["name"] = ["ok", "bad_one"]
    with pytest.raises(InputError, match=r"variant bad_one \(c1:7 A>T, 1-based\): REF 'A' does not match the genome \('G'\)"):
        variant_effects(model, tiny, variants, length=10)
    flagged = variant_effects(model, tiny, variants, length=10, check_ref="flag")
    assert flagged.table["ref_match"].tolist() == [True, False]
    W = model.weight.detach().double().numpy()
    # the flagged variant is still scored: the genome's G at index 5 replaced by T
    np.testing.assert_allclose(flagged.effects["diff"][1], W[:, 3, 5] - W[:, 2, 5], atol=2e-5)


def test_unknown_chromosome_and_empty_input(tiny):
    model = make(Linear, 10, 2)
    with pytest.raises(InputError, match="chromosome 'chr1' is not in the genome"):
        variant_effects(model, tiny, table(("chr1", 5, "C", "T")), length=10)
    with pytest.raises(InputError, match="no variants"):
        variant_effects(model, tiny, table(), length=10)
    with pytest.raises(InputError, match="input length"):
        variant_effects(model, tiny, table(("c1", 5, "C", "T")))


def test_tracks_and_log2fc(tiny):
    class Exp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = make(Linear, 10, 3)

        def forward(self, x):
            return torch.exp(self.lin(x))

    model = Exp().eval()
    variants = table(("c1", 5, "C", "T"), ("c2", 4, "G", "A"))
    result = variant_effects(model, tiny, variants, length=10, tracks=[2, "track_0"], effect="both",
                             pseudocount=0.5)
    assert result.tracks == ["track_2", "track_0"]
    assert [c for c in result.table.columns if "." in c] == [
        "diff.track_2", "diff.track_0", "log2fc.track_2", "log2fc.track_0"]
    X_ref = one_hot_encode(["ACGTACGTAA", "NGGGGGCCCC"])
    X_alt = one_hot_encode(["ACGTATGTAA", "NGGGGACCCC"])
    ref = np.exp(linear_prediction(model.lin, X_ref))[:, [2, 0]]
    alt = np.exp(linear_prediction(model.lin, X_alt))[:, [2, 0]]
    np.testing.assert_allclose(result.effects["log2fc"], np.log2((alt + 0.5) / (ref + 0.5)), rtol=1e-5)
    np.testing.assert_allclose(result.effects["diff"], alt - ref, rtol=1e-5)
    with pytest.raises(InputError, match="non-negative predictions"):
        variant_effects(make(Linear, 10, 3), tiny, variants, length=10, effect="log2fc")
    with pytest.raises(InputError, match="unknown track 'track_9'"):
        variant_effects(model, tiny, variants, length=10, tracks=["track_9"])


def test_rc_average(random_genome):
    genome, seq = random_genome
    model = make(Linear, 21, 3)
    variants = table(*[("chrA", p, seq[p], "A" if seq[p] != "A" else "G") for p in (40, 80, 120)])
    # an RC-symmetric model: averaging over strands changes nothing
    sym = make(Linear, 21, 3)
    with torch.no_grad():
        sym.weight.copy_((model.weight + model.weight.flip(1, 2)) / 2)
    plain = variant_effects(sym, genome, variants, length=21)
    averaged = variant_effects(sym, genome, variants, length=21, rc_average=True)
    np.testing.assert_allclose(averaged.effects["diff"], plain.effects["diff"], atol=2e-5)
    # a general model: the average of the model and its strand-flipped twin
    flipped = make(Linear, 21, 3)
    with torch.no_grad():
        flipped.weight.copy_(model.weight.flip(1, 2))
        flipped.bias.copy_(model.bias)
    a = variant_effects(model, genome, variants, length=21).effects["diff"]
    b = variant_effects(flipped, genome, variants, length=21).effects["diff"]
    rc = variant_effects(model, genome, variants, length=21, rc_average=True).effects["diff"]
    np.testing.assert_allclose(rc, (a + b) / 2, atol=2e-5)
    assert not np.allclose(rc, a, atol=1e-3)


def test_regions_window_and_strand(random_genome, tmp_path):
    genome, seq = random_genome
    model = make(Linear, 21, 2)
    bed = tmp_path / "r.bed"
    bed.write_text("chrA\t100\t121\tr1\t0\t+\nchrA\t200\t221\tr2\t0\t-\nchrA\t5\t35\tr3\t0\t+\n")
    variants = table(("chrA", 103, seq[103], "N"), ("chrA", 215, seq[215], "A" if seq[215] != "A" else "C"),
                     ("chrA", 60, seq[60], "T" if seq[60] != "T" else "C"), ("chrA", 20, seq[20], "GG"))
    with pytest.warns(DRGWarning, match=r"1 of 4 variant\(s\) lie outside every region.*chrA:61"):
        result = variant_effects(model, genome, variants, length=21, regions=bed)
    assert result.table["pos"].tolist() == [103, 215, 20]
    assert result.table["window_start"].tolist() == [100, 200, 9]  # r3 (30 bp) resized to 21 around its centre
    assert result.table["strand"].tolist() == ["+", "-", "+"]
    w = variant_windows(genome, variants.iloc[[1]], 21, regions=bed)
    forward = seq[200:221]
    alt = forward[:15] + variants["alt"].iat[1] + forward[16:]
    np.testing.assert_array_equal(w.X_ref, reverse_complement(one_hot_encode([forward])))
    np.testing.assert_array_equal(w.X_alt, reverse_complement(one_hot_encode([alt])))
    W = model.weight.detach().double().numpy()
    # an ALT of N removes the REF base's weight
    np.testing.assert_allclose(result.effects["diff"][0], -W[:, "ACGT".index(seq[103]), 3], atol=2e-5)


def test_vcf_path_model_length_and_heads(tmp_path, random_genome):
    from drg.models import build

    genome, seq = random_genome
    vcf = tmp_path / "v.vcf"
    vcf.write_text(f"#CHROM\tPOS\tID\tREF\tALT\nchrA\t51\trsX\t{seq[50]}\tA,C,G,T\n".replace(f"\t{seq[50]}\tA,C,G,T",
                   f"\t{seq[50]}\t" + ",".join(b for b in "ACGT" if b != seq[50])))
    cnn = build({"input_length": 24, "first_layer": {"n_kernels": 4, "kernel_size": 5}, "reduction": "max",
                 "heads": [{"name": "atac", "n_outputs": 2, "track_names": ["a", "b"]}], "seed": 0})
    result = variant_effects(cnn, genome, vcf)
    assert len(result) == 3 and (result.table["window_end"] - result.table["window_start"] == 24).all()
    assert result.table["id"].tolist() == ["rsX"] * 3 and result.tracks == ["a", "b"]
    top = result.top(1)
    assert top["max_abs_diff"].iat[0] == result.table["max_abs_diff"].max()
    heads = variant_effects(make(TwoHeads), genome, table(("chrA", 50, seq[50], "N")), length=30)
    assert heads.ref.shape == (1, 5) and heads.tracks[0].startswith("output0:")

"""FIMO-style scanning: brute-force twin, hand-computed p-values, strands and coordinates, CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.errors import InputError
from drg.motifs import Motif, read_meme
from drg.motifs.scan import _scaled_matrix, scan_motifs

RC = str.maketrans("ACGT", "TGCA")


def _brute(motif, seqs, threshold, pseudocount=0.1, both=True):
    bg = motif.background / motif.background.sum()
    if both:
        bg = (bg + bg[::-1]) / 2
    M, offset, scale = _scaled_matrix(motif, bg, pseudocount)
    w = M.shape[0]
    # exact p-values by enumerating all 4^w words
    scores = {}
    for word in itertools.product(range(4), repeat=w):
        s = int(sum(M[i, b] for i, b in enumerate(word)))
        scores[s] = scores.get(s, 0.0) + float(np.prod([bg[b] for b in word]))
    hits = []
    for name, seq in seqs.items():
        for strand in ("+", "-") if both else ("+",):
            for p in range(len(seq) - w + 1):
                window = seq[p : p + w]
                text = window if strand == "+" else window.translate(RC)[::-1]
                s = int(sum(M[i, "ACGT".index(c)] for i, c in enumerate(text)))
                pv = sum(v for k, v in scores.items() if k >= s)
                if pv <= threshold:
                    hits.append((name, p + 1, p + w, strand, s / scale + w * offset, pv, text))
    return hits


def test_brute_force_twin():
    rng = np.random.default_rng(1)
    motif = Motif(name="m", id="m", ppm=rng.dirichlet(np.ones(4) * 0.5, size=5), nsites=10,
                  background=[0.3, 0.2, 0.2, 0.3])
    seqs = {f"s{i}": "".join(rng.choice(list("ACGT"), size=60)) for i in range(4)}
    expected = _brute(motif, seqs, 0.01)
    ours = scan_motifs(motif, list(seqs.values()), threshold=0.01, names=list(seqs), background="motif")
    assert len(ours) == len(expected) > 0
    got = {(r.sequence_name, r.start, r.stop, r.strand): r for r in ours.itertuples()}
    for name, start, stop, strand, score, pv, text in expected:
        row = got[(name, start, stop, strand)]
        assert row.score == pytest.approx(score) and row.p_value == pytest.approx(pv, rel=1e-9)
        assert row.matched_sequence == text
    assert ours["p_value"].is_monotonic_increasing


def test_hand_computed_single_column():
    # one column, uniform background: P(A) = 1/4 so an A scores best with p = 0.25
    motif = Motif(name="a", id="a", ppm=[[0.97, 0.01, 0.01, 0.01]], nsites=100)
    hits = scan_motifs(motif, ["CCACC"], threshold=0.3, both_strands=False, background="uniform")
    assert list(hits["start"]) == [3] and hits["p_value"].iloc[0] == pytest.approx(0.25)
    both = scan_motifs(motif, ["CCACT"], threshold=0.25, background="uniform")  # p <= threshold
    assert set(zip(both["start"], both["strand"])) == {(3, "+"), (5, "-")}
    assert set(both["matched_sequence"]) == {"A"}


def test_one_hot_input_and_n_windows():
    motif = Motif(name="a", id="a", ppm=[[0.97, 0.01, 0.01, 0.01], [0.01, 0.01, 0.01, 0.97]], nsites=100)
    seq = "GATCCNATGAT"
    X = np.zeros((1, 4, len(seq)), np.int8)
    for i, c in enumerate(seq):
        if c in "ACGT":
            X[0, "ACGT".index(c), i] = 1
    a = scan_motifs(motif, [seq], threshold=0.07, background="uniform")
    b = scan_motifs(motif, X, threshold=0.07, background="uniform")
    pd.testing.assert_frame_equal(a, b)
    assert "N" not in "".join(a["matched_sequence"])
    assert set(zip(a["start"], a["strand"])) == {(s, t) for s in (2, 7, 10) for t in "+-"}


def test_fimo_oracle(shared):
    """MEME 5.4 ``fimo --motif CGGYGGGG --motif GCATCRGRBSAGA --no-qvalue --motif-pseudo 0.01 --thresh 0.01``.

    FIMO's defaults that matter here: the NRDB background averaged over both strands (no ``--bfile``), and
    log-odds scaled to integers over a range of 1000. The motif file FIMO read was ``crp0.meme.xml``; its text
    twin ``crp0.meme.txt`` holds the same motifs (probabilities to 6 decimals, nsites 2 and 3).
    """
    base = "oracles/fimo_meme_tests/"
    motifs = read_meme(shared(base + "crp0.meme.txt"))
    seq = "".join(line.strip() for line in open(shared(base + "spiked.fasta")) if not line.startswith(">"))
    ref = pd.read_csv(shared(base + "fimo-motif23.tsv"), sep="\t", comment="#")
    assert len(ref) == 37
    ours = scan_motifs(motifs[1:3], [seq], threshold=0.01, pseudocount=0.01, names=["Scer"])
    key = ["motif_id", "start", "stop", "strand"]
    merged = ref.merge(ours, on=key, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", key + ["_merge"]]
    assert (merged["matched_sequence_x"] == merged["matched_sequence_y"]).all()
    assert (merged["motif_alt_id_x"] == merged["motif_alt_id_y"]).all()
    # FIMO prints 6 significant digits of the score and 3 of the p-value
    np.testing.assert_allclose(merged["score_x"], merged["score_y"], atol=1e-4)
    np.testing.assert_allclose(merged["p_value"], merged["p-value"], rtol=6e-3)
    # the scaled scores: CGGYGGGG has offset -8 and scale 98, so TGGAGGGG (two mismatches) is 6032 / 98 - 64
    first = merged.loc[(merged["start"] == 1253) & (merged["strand"] == "-")].iloc[0]
    assert first["score_y"] == pytest.approx(6032 / 98 - 64)


def test_background_options():
    motif = Motif(name="a", id="a", ppm=[[0.97, 0.01, 0.01, 0.01]], nsites=100, background=[0.4, 0.1, 0.1, 0.4])
    p = {}
    for option in (None, "nrdb", "motif", "uniform", [0.1, 0.4, 0.4, 0.1]):
        hits = scan_motifs(motif, ["A"], threshold=1.0, both_strands=False, background=option)
        p[str(option)] = hits["p_value"].iloc[0]
    # an A window has the single best score, so its p-value is the background probability of A
    assert p["None"] == p["nrdb"] == pytest.approx(0.281774)
    assert p["motif"] == pytest.approx(0.4) and p["uniform"] == pytest.approx(0.25)
    assert p["[0.1, 0.4, 0.4, 0.1]"] == pytest.approx(0.1)
    # both strands: the background is averaged with its reverse complement (A = T)
    both = scan_motifs(motif, ["A"], threshold=1.0, background=[0.1, 0.4, 0.4, 0.3])
    assert both.loc[both["strand"] == "+", "p_value"].iloc[0] == pytest.approx(0.2 / 1.2)
    with pytest.raises(InputError):
        scan_motifs(motif, ["C"], background="gc")


def test_bad_input():
    motif = Motif(name="a", id="a", ppm=np.full((3, 4), 0.25))
    with pytest.raises(InputError):
        scan_motifs(motif, ["ACGT"], threshold=0)
    with pytest.raises(InputError):
        scan_motifs(motif, ["ACGT"], names=["a", "b"])
    with pytest.raises(InputError):
        scan_motifs(motif, np.zeros((2, 3, 5)))


def test_cli_scan(tmp_path):
    from drg.cli.motifs import app
    from drg.motifs import write_meme

    motif = Motif(name="a", id="a", ppm=[[0.97, 0.01, 0.01, 0.01], [0.01, 0.01, 0.01, 0.97]], nsites=100)
    write_meme([motif], tmp_path / "m.meme")
    (tmp_path / "s.fa").write_text(">x\nGGATGG\n>y\nCCCC\n")
    out = tmp_path / "hits.tsv"
    # default NRDB background averaged over strands: P(AT) = 0.274552^2 = 0.0754 passes 0.08, nothing else does
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "m.meme"), str(tmp_path / "s.fa"), "--out", str(out), "--thresh", "0.08"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    assert set(zip(table["sequence_name"], table["start"], table["strand"])) == {("x", 3, "+"), ("x", 3, "-")}

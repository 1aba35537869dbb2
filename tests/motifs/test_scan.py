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
                if pv < threshold:
                    hits.append((name, p + 1, p + w, strand, s / scale + w * offset, pv, text))
    return hits


def test_brute_force_twin():
    rng = np.random.default_rng(1)
    motif = Motif(name="m", id="m", ppm=rng.dirichlet(np.ones(4) * 0.5, size=5), nsites=10,
                  background=[0.3, 0.2, 0.2, 0.3])
    seqs = {f"s{i}": "".join(rng.choice(list("ACGT"), size=60)) for i in range(4)}
    expected = _brute(motif, seqs, 0.01)
    ours = scan_motifs(motif, list(seqs.values()), threshold=0.01, names=list(seqs))
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
    hits = scan_motifs(motif, ["CCACC"], threshold=0.3, both_strands=False)
    assert list(hits["start"]) == [3] and hits["p_value"].iloc[0] == pytest.approx(0.25)
    both = scan_motifs(motif, ["CCACT"], threshold=0.3)
    assert set(zip(both["start"], both["strand"])) == {(3, "+"), (5, "-")}
    assert set(both["matched_sequence"]) == {"A"}


def test_one_hot_input_and_n_windows():
    motif = Motif(name="a", id="a", ppm=[[0.97, 0.01, 0.01, 0.01], [0.01, 0.01, 0.01, 0.97]], nsites=100)
    seq = "GATCCNATGAT"
    X = np.zeros((1, 4, len(seq)), np.int8)
    for i, c in enumerate(seq):
        if c in "ACGT":
            X[0, "ACGT".index(c), i] = 1
    a = scan_motifs(motif, [seq], threshold=0.07)
    b = scan_motifs(motif, X, threshold=0.07)
    pd.testing.assert_frame_equal(a, b)
    assert "N" not in "".join(a["matched_sequence"])
    assert set(zip(a["start"], a["strand"])) == {(s, t) for s in (2, 7, 10) for t in "+-"}


def test_fimo_oracle_coordinates(shared):
    """Hits that FIMO reports are windows at the same 1-based coordinates with the same strand sequence."""
    base = "oracles/fimo_meme_tests/"
    motifs = read_meme(shared(base + "crp0.meme.txt"))
    seq = "".join(line.strip() for line in open(shared(base + "spiked.fasta")) if not line.startswith(">"))
    ref = pd.read_csv(shared(base + "fimo-motif23.tsv"), sep="\t", comment="#")
    ours = scan_motifs(motifs[1:3], [seq], threshold=1.0, pseudocount=0.01, names=["Scer"])
    merged = ref.merge(ours, on=["motif_id", "start", "strand"], how="left")
    assert (merged["stop_x"] == merged["stop_y"]).all()
    assert (merged["matched_sequence_x"] == merged["matched_sequence_y"]).all()


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
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "m.meme"), str(tmp_path / "s.fa"), "--out", str(out), "--thresh", "0.07"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    assert set(zip(table["sequence_name"], table["start"], table["strand"])) == {("x", 3, "+"), ("x", 3, "-")}

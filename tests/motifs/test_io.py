"""Tests of motif file I/O against real MEME/JASPAR/HOCOMOCO files and MEME Suite test files."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

from drg.errors import DRGWarning, InputError
from drg.motifs import (
    Motif,
    bundled_jaspar_path,
    load_bundled_jaspar,
    read_jaspar,
    read_meme,
    read_motifs,
    write_jaspar,
    write_meme,
)
from drg.motifs.io import find_motif

JASPAR24_MEME = "motifs/JASPAR2024_CORE_vertebrates_non-redundant.meme"
JASPAR24_PFM = "motifs/JASPAR2024_CORE_vertebrates_non-redundant_pfms_jaspar.txt"
JASPAR22 = "motifs/JASPAR2022_CORE_non-redundant_pfms_meme.official.txt"
HOCOMOCO = "motifs/HOCOMOCO_v12_H12CORE.meme"
SAMPLE = "oracles/tomtom_meme_tests/sample.meme"
CRP0 = "oracles/fimo_meme_tests/crp0.meme.txt"

HEADER = (
    "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
    "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n"
)
MATRIX2 = "MOTIF a\nletter-probability matrix: alength= 4 w= 2\n0.1 0.2 0.3 0.4\n"


def _write(tmp_path: Path, text: str, name: str = "m.meme") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ real files
def test_read_jaspar2024_meme(shared):
    motifs = read_meme(shared(JASPAR24_MEME))
    assert len(motifs) == 879
    first = motifs[0]
    assert (first.id, first.name, first.length, first.nsites) == ("MA0002.3", "Runx1", 9, 2000.0)
    np.testing.assert_allclose(first.ppm[0], [0.0615, 0.536, 0.0745, 0.328])
    assert first.url == "https://jaspar.elixir.no/matrix/MA0002.3"
    assert first.evalue == 0.0
    assert all(m.weights is None for m in motifs)


def test_read_jaspar2022_official_and_hocomoco(shared):
    jaspar22 = read_meme(shared(JASPAR22))
    assert len(jaspar22) == 1956
    arnt = jaspar22[0]
    assert (arnt.id, arnt.name, arnt.nsites, arnt.consensus) == ("MA0004.1", "Arnt", 20.0, "CACGTG")
    assert arnt.url == "http://jaspar.genereg.net/matrix/MA0004.1"
    hocomoco = read_meme(shared(HOCOMOCO))
    assert len(hocomoco) == 1443
    ahr = hocomoco[0]
    assert ahr.id == ahr.name == "AHR.H12CORE.0.P.B"
    assert ahr.nsites == 1003.0 and ahr.evalue is None and ahr.length == 10
    assert ahr.ppm[0, 0] == 0.1754735792622134  # full precision kept
    assert ahr.url == "https://hocomoco12.autosome.org/motif/AHR.H12CORE.0.P.B"


def test_read_meme_suite_sample_with_log_odds_blocks(shared):
    motifs = read_meme(shared(SAMPLE))  # MEME version 3.0, log-odds matrix before each probability matrix
    assert [m.id for m in motifs] == ["V_MYOD_01", "V_E47_01", "V_VMYB_01", "V_CMYB_01", "V_AP4_01"]
    assert [m.length for m in motifs[:2]] == [12, 15]
    assert motifs[0].nsites == 5.0 and motifs[1].nsites == 10.0
    np.testing.assert_allclose(motifs[0].ppm[0], [0.208, 0.375, 0.375, 0.042])
    np.testing.assert_allclose(motifs[1].ppm[-1], [0.114, 0.386, 0.205, 0.295])
    assert all(m.weights is None for m in motifs)


def test_read_full_meme_output(shared):
    motifs = read_motifs(shared(CRP0))
    assert [m.id for m in motifs] == ["TKTGANCNABNTCACAHWT", "CGGYGGGG", "GCATCRGRBSAGA"]
    assert [m.name for m in motifs] == ["MEME-1", "MEME-2", "MEME-3"]
    assert [m.length for m in motifs] == [19, 8, 13]
    assert [m.nsites for m in motifs] == [18.0, 2.0, 3.0]
    assert motifs[0].evalue == pytest.approx(4.3e-9)
    for motif in motifs:
        np.testing.assert_allclose(motif.background, [0.304, 0.196, 0.196, 0.304])
    np.testing.assert_allclose(motifs[0].ppm[0], [0.0, 0.111111, 0.111111, 0.777778])
    assert motifs[1].consensus == "CGGYGGGG"


def test_jaspar_counts_match_meme_probabilities(shared):
    from_counts = read_jaspar(shared(JASPAR24_PFM))
    from_meme = read_meme(shared(JASPAR24_MEME))
    assert len(from_counts) == len(from_meme) == 879
    fractional = 0
    for a, b in zip(from_counts, from_meme):
        assert (a.id, a.name, a.length) == (b.id, b.name, b.length)
        np.testing.assert_allclose(a.counts / a.counts.sum(axis=1, keepdims=True), a.ppm, atol=1e-15)
        if np.array_equal(a.counts, np.round(a.counts)):
            np.testing.assert_allclose(a.ppm, b.ppm, atol=1e-6, rtol=0)
            assert a.nsites == b.nsites
        else:
            # a few JASPAR matrices hold fractional counts, which the text file rounds to 2 decimals
            fractional += 1
            np.testing.assert_allclose(a.ppm, b.ppm, atol=5e-5, rtol=0)
            assert a.nsites == pytest.approx(b.nsites, abs=0.05)
    assert fractional < 20
    assert read_motifs(shared(JASPAR24_PFM))[0].id == "MA0002.3"


# ------------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("relative", [JASPAR24_MEME, HOCOMOCO, JASPAR22])
def test_meme_round_trip(shared, tmp_path, relative):
    motifs = read_meme(shared(relative))
    path = write_meme(motifs, tmp_path / "out.meme")
    again = read_meme(path)
    assert len(again) == len(motifs)
    for a, b in zip(motifs, again):
        assert a.allclose(b, atol=1e-6), a.id
        assert a.evalue == b.evalue
    assert [p.name for p in tmp_path.iterdir()] == ["out.meme"]  # no temporary file left behind


def test_write_meme_is_strict_format(tmp_path):
    motifs = [
        Motif("SP1", "MA0079.5", [[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]], nsites=12, url="https://x/y"),
        Motif("X", "X", [[0.25] * 4], background=[0.25] * 4),
    ]
    text = write_meme(motifs, tmp_path / "s.meme").read_text()
    lines = text.splitlines()
    assert lines[0] == "MEME version 4"
    assert "ALPHABET= ACGT" in lines and "strands: + -" in lines
    assert lines[lines.index("Background letter frequencies") + 1] == "A 0.25 C 0.25 G 0.25 T 0.25"
    assert "MOTIF MA0079.5 SP1" in lines and "MOTIF X" in lines
    assert "letter-probability matrix: alength= 4 w= 2 nsites= 12" in lines
    assert "letter-probability matrix: alength= 4 w= 1" in lines
    assert "URL https://x/y" in lines
    again = read_meme(tmp_path / "s.meme")
    assert again[0].allclose(motifs[0]) and again[1].allclose(motifs[1])
    assert again[1].nsites is None


def test_write_meme_rejects_bad_input(tmp_path):
    a = Motif("a", "a", [[0.25] * 4])
    b = Motif("b", "b", [[0.25] * 4], background=[0.3, 0.2, 0.2, 0.3])
    with pytest.raises(InputError, match="different backgrounds"):
        write_meme([a, b], tmp_path / "x.meme")
    written = read_meme(write_meme([a, b], tmp_path / "x.meme", background=[0.3, 0.2, 0.2, 0.3]))
    np.testing.assert_allclose(written[0].background, [0.3, 0.2, 0.2, 0.3])
    with pytest.raises(InputError, match="whitespace"):
        write_meme([Motif("two words", "id", [[0.25] * 4])], tmp_path / "y.meme")
    with pytest.raises(InputError, match="no motifs"):
        write_meme([], tmp_path / "z.meme")
    assert not (tmp_path / "y.meme").exists()


def test_jaspar_round_trip(shared, tmp_path):
    motifs = read_jaspar(shared(JASPAR24_PFM))
    again = read_jaspar(write_jaspar(motifs, tmp_path / "out.jaspar"))
    for a, b in zip(motifs, again):
        assert (a.id, a.name) == (b.id, b.name)
        np.testing.assert_array_equal(a.counts, b.counts)
    # motifs without counts are written as ppm * nsites and read back to the same probabilities
    hocomoco = read_meme(shared(HOCOMOCO))[:20]
    back = read_jaspar(write_jaspar(hocomoco, tmp_path / "h.jaspar"))
    for a, b in zip(hocomoco, back):
        np.testing.assert_allclose(a.ppm, b.ppm, atol=1e-8)
        assert b.nsites == pytest.approx(a.nsites)


def test_read_jaspar_variants(tmp_path):
    text = (
        ">M1 one\nA 1 0 2\nC 0 1 0\nG 1 1 0\nT 0 0 0\n\n"
        ">M2\n1 0\n0 1\n1 1\n0 0\n"
        ">M3 three\nT [ 0 0 ]\nG [1 1]\nC [0 1 ]\nA[ 1 0]\n"
    )
    motifs = read_jaspar(_write(tmp_path, text, "v.jaspar"))
    np.testing.assert_allclose(motifs[0].ppm, [[0.5, 0, 0.5, 0], [0, 0.5, 0.5, 0], [1, 0, 0, 0]])
    assert (motifs[1].id, motifs[1].name) == ("M2", "M2")
    np.testing.assert_allclose(motifs[1].ppm, [[0.5, 0, 0.5, 0], [0, 0.5, 0.5, 0]])
    np.testing.assert_allclose(motifs[2].ppm, [[0.5, 0, 0.5, 0], [0, 0.5, 0.5, 0]])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (">M1\nA 1 2\nC 1 2\nG 1 2\n", 1, "expected 4 count rows"),
        (">M1\nA 1 2\nC 1 2 3\nG 1 2\nT 1 2\n", 1, "different lengths"),
        (">M1\nA 1 2\nC 1 x\nG 1 2\nT 1 2\n", 3, "expected a number"),
        (">M1\nA 1 0\nA 1 2\nG 1 0\nT 1 0\n", 1, "labelled A, C, G and T"),
        (">M1\nA 1 0\nC 1 0\nG 1 0\nT 1 0\n", 1, "position 2 has no counts"),
        ("A 1 0\n", 1, "header line"),
    ],
)
def test_read_jaspar_errors(tmp_path, text, line, message):
    path = _write(tmp_path, text, "bad.jaspar")
    with pytest.raises(InputError, match=message) as err:
        read_jaspar(path)
    assert err.value.line == line and err.value.path == str(path)


# ------------------------------------------------------------------------------------------ tolerance
def test_drg_style_file_with_weights_and_bias(tmp_path):
    text = (
        "MEME version 4 \nALPHABET= ACGT \nstrands: + -\n\n"
        "MOTIF filter0 \nletter-probability matrix: alength= 4 w= 2 bias= 0.37 \n"
        "0.2\t-0.1\t0.6\t0.0\n-1.0\t-2.0\t-0.5\t-0.1\n\n"
        "MOTIF filter1 \nletter-probability matrix: alength= 4 w= 1 bias= -1.2 \n"
        "0.1\t0.2\t0.3\t0.4\n\n"
    )
    with pytest.warns(DRGWarning, match="1 motif"):
        motifs = read_meme(_write(tmp_path, text))
    assert [m.id for m in motifs] == ["filter0", "filter1"]
    np.testing.assert_array_equal(motifs[0].weights, [[0.2, -0.1, 0.6, 0.0], [-1.0, -2.0, -0.5, -0.1]])
    np.testing.assert_allclose(motifs[0].ppm, [[0.25, 0.0, 0.75, 0.0], [0.25] * 4])
    assert motifs[1].weights is None and motifs[1].nsites is None


def test_drg_zero_rows_beyond_w_are_kept_with_warning(tmp_path):
    text = HEADER + "MOTIF k1\nletter-probability matrix: alength= 4 w= 2\n0 0 0 0\n0.1 0.2 0.3 0.4\n0.5 0 0.5 0\n"
    with pytest.warns(DRGWarning) as record:
        motifs = read_meme(_write(tmp_path, text))
    messages = [str(w.message) for w in record]
    assert any("w= 2 but has 3 rows" in m for m in messages)
    assert any("not probabilities" in m for m in messages)  # the all-zero row is not a probability row
    assert motifs[0].length == 3


def test_background_over_several_lines_and_gzip(tmp_path):
    text = (
        "MEME version 5\n\nALPHABET= ACGT\n\nBackground letter frequencies (from file x):\n"
        "A 0.3 C 0.2\nG 0.2 T 0.3\n\nMOTIF a alt\nletter-probability matrix:\n0.1 0.2 0.3 0.4\n"
    )
    path = tmp_path / "m.meme.gz"
    path.write_bytes(gzip.compress(text.encode()))
    (motif,) = read_motifs(path)
    np.testing.assert_allclose(motif.background, [0.3, 0.2, 0.2, 0.3])
    assert (motif.id, motif.name, motif.length) == ("a", "alt", 1)


def test_custom_dna_alphabet_block_is_accepted(tmp_path):
    text = (
        'MEME version 5\n\nALPHABET "DNA" DNA-LIKE\nA "Adenine" CC0000 ~ T "Thymine" 008000\n'
        'C "Cytosine" 0000CC ~ G "Guanine" FFB300\nN "Any base" = ACGT\nEND ALPHABET\n\n'
        "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.1 0.2 0.3 0.4\n"
    )
    assert read_meme(_write(tmp_path, text))[0].length == 1


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("MOTIF a\nletter-probability matrix: alength= 4 w= 3\n0.1 0.2 0.3 0.4\n0.1 0.2 0.3 0.4\n\n", 11, "w= 3 but 2"),
        (MATRIX2 + "0.1 0.2 0.7\n", 13, "expected 4 numbers"),
        (MATRIX2 + "0.1 x 0.3 0.4\n", 13, "expected a number"),
        ("MOTIF a\nletter-probability matrix: alength= 20 w= 1\n" + "0.05 " * 20 + "\n", 11, "alength= 20"),
        ("MOTIF a\nURL x\n\nMOTIF b\nletter-probability matrix: w= 1\n0.1 0.2 0.3 0.4\n", 10, "no letter-probability"),
        ("MOTIF\n", 10, "without an identifier"),
        ("letter-probability matrix: w= 1\n0.1 0.2 0.3 0.4\n", 10, "before any MOTIF"),
        ("MOTIF a\nletter-probability matrix: w= 1\n\n", 11, "no matrix rows"),
    ],
)
def test_read_meme_errors_name_the_line(tmp_path, body, line, message):
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(InputError, match=message) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore", DRGWarning)
        read_meme(path)
    assert err.value.line == line
    assert str(path) in str(err.value)


def test_read_meme_file_level_errors(tmp_path):
    with pytest.raises(InputError, match="MEME version") as err:
        read_meme(_write(tmp_path, "\nMOTIF a\nletter-probability matrix: w= 1\n0.1 0.2 0.3 0.4\n"))
    assert err.value.line == 2
    with pytest.raises(InputError, match="no MOTIF"):
        read_meme(_write(tmp_path, HEADER))
    with pytest.raises(InputError, match="not DNA"):
        read_meme(_write(tmp_path, "MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n"))
    with pytest.raises(InputError, match="background"):
        read_meme(_write(tmp_path, "MEME version 4\nBackground letter frequencies\nA 0.5 C 0.5 G 0.5 T 0.5\n"))
    with pytest.raises(InputError, match="file not found"):
        read_meme(tmp_path / "missing.meme")
    with pytest.raises(InputError, match="cannot tell"):
        read_motifs(_write(tmp_path, "hello\n", "x.txt"))


# ------------------------------------------------------------------------------------------ bundled
def test_bundled_jaspar(shared):
    path = bundled_jaspar_path()
    assert path.is_file() and path.name == "JASPAR2024_CORE_vertebrates_non-redundant.meme"
    motifs = load_bundled_jaspar()
    assert len(motifs) == 879
    again = load_bundled_jaspar()
    assert again is not motifs and again[0] is motifs[0]  # parsed once
    reference = read_meme(shared(JASPAR24_MEME))
    assert all(a == b for a, b in zip(motifs, reference))


def test_find_motif():
    motifs = load_bundled_jaspar()
    assert find_motif(motifs, "MA0139.2").name == "CTCF"
    assert find_motif(motifs, "ctcf").id == "MA0139.2"  # first of several CTCF matrices
    assert find_motif(motifs, "YY1").id == "MA0095.4"  # stored as 'Yy1'
    with pytest.raises(InputError, match="close names"):
        find_motif(motifs, "CTCFF")

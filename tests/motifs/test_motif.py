"""Tests of the Motif type: validation, information content, log-odds, consensus, reverse complement, trim."""

from __future__ import annotations

import numpy as np
import pytest

from drg.errors import InputError
from drg.motifs import Motif, load_bundled_jaspar
from drg.motifs.motif import probabilities_from_weights

_IUPAC_COMPLEMENT = str.maketrans("ACGTMRWSYKVHDBN", "TGCAKYWSRMBDHVN")


def test_information_content_by_hand_uniform_background():
    ppm = [
        [1.0, 0.0, 0.0, 0.0],  # 2 bits
        [0.5, 0.5, 0.0, 0.0],  # 1 bit
        [0.25, 0.25, 0.25, 0.25],  # 0 bits
        [0.5, 0.25, 0.125, 0.125],  # 2 - 1.75 = 0.25 bits
    ]
    motif = Motif("hand", "H1", ppm)
    np.testing.assert_allclose(motif.information_content, [2.0, 1.0, 0.0, 0.25], atol=1e-12)
    assert motif.total_ic == pytest.approx(3.25)
    assert len(motif) == motif.length == 4


def test_information_content_by_hand_with_background():
    bg = [0.4, 0.1, 0.1, 0.4]
    motif = Motif("hand", "H1", [[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.4, 0.1, 0.1, 0.4]], background=bg)
    # log2(1/0.4); 0.5 log2(0.5/0.4) + 0.5 log2(0.5/0.1); the background itself carries 0 bits
    expected = [np.log2(2.5), 0.5 * np.log2(1.25) + 0.5 * np.log2(5.0), 0.0]
    np.testing.assert_allclose(motif.information_content, expected, atol=1e-12)
    assert expected[1] == pytest.approx(1.3219280948873623)


def test_pwm_by_hand():
    motif = Motif("hand", "H1", [[1.0, 0.0, 0.0, 0.0]], nsites=9)
    pwm = motif.pwm(pseudocount=1.0)
    # p' = (p * 9 + 1 * 0.25) / 10
    np.testing.assert_allclose(pwm[0], [np.log2(0.925 / 0.25), np.log2(0.1), np.log2(0.1), np.log2(0.1)])
    # without a site count the default of 20 sites is used
    no_sites = Motif("hand", "H1", [[1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(no_sites.pwm(pseudocount=1.0)[0, 0], np.log2((20 + 0.25) / 21 / 0.25))
    assert np.isneginf(motif.pwm(pseudocount=0.0)[0, 1])


def test_consensus_rule_by_hand():
    ppm = [
        [0.9, 0.05, 0.03, 0.02],  # A
        [0.6, 0.35, 0.05, 0.0],  # p1 < 2 p2, p1 + p2 >= 0.75 -> M (A/C)
        [0.1, 0.45, 0.4, 0.05],  # S (C/G)
        [0.3, 0.3, 0.35, 0.05],  # p4 < 0.1 -> V (A/C/G)
        [0.25, 0.25, 0.25, 0.25],  # N
        [0.2, 0.0, 0.4, 0.4],  # K (G/T)
        [0.5, 0.1, 0.2, 0.2],  # A: p1 >= 0.5 and >= 2 p2
        [0.05, 0.3, 0.3, 0.35],  # B (C/G/T)
        [0.3, 0.3, 0.2, 0.2],  # N
    ]
    assert Motif("hand", "H1", ppm).consensus == "AMSVNKABN"


def test_consensus_of_reverse_complement_is_complemented_consensus():
    for motif in load_bundled_jaspar():
        assert motif.reverse_complement().consensus == motif.consensus.translate(_IUPAC_COMPLEMENT)[::-1]


def test_reverse_complement_by_hand():
    ppm = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 0.2, 0.8]])
    counts = ppm * 10
    motif = Motif("m", "id1", ppm, counts=counts, background=[0.3, 0.2, 0.2, 0.3], nsites=10)
    rc = motif.reverse_complement()
    np.testing.assert_array_equal(rc.ppm, [[0.8, 0.2, 0.0, 0.0], [0.1, 0.1, 0.1, 0.7]])
    np.testing.assert_array_equal(rc.counts, [[8.0, 2.0, 0.0, 0.0], [1.0, 1.0, 1.0, 7.0]])
    np.testing.assert_array_equal(rc.background, [0.3, 0.2, 0.2, 0.3])
    assert (rc.name, rc.id, rc.nsites) == ("m", "id1", 10.0)
    assert rc.reverse_complement() == motif
    assert motif.ppm[0, 0] == 0.7  # original untouched


def test_trim_removes_only_flanks():
    ppm = [
        [0.25, 0.25, 0.25, 0.25],
        [0.3, 0.2, 0.25, 0.25],
        [1.0, 0.0, 0.0, 0.0],
        [0.25, 0.25, 0.25, 0.25],  # interior, kept
        [0.0, 0.0, 0.0, 1.0],
        [0.25, 0.25, 0.25, 0.25],
    ]
    trimmed = Motif("m", "id", ppm, weights=np.array(ppm) - 0.25).trim(min_ic=0.5)
    assert trimmed.consensus == "ANT"
    assert trimmed.weights.shape == (3, 4)
    with pytest.raises(InputError, match="no position"):
        Motif("flat", "flat", [[0.25] * 4] * 3).trim()


def test_from_counts():
    counts = [[3, 1, 0, 0], [0, 0, 4, 0]]
    motif = Motif.from_counts(counts, name="X", id="MA9999.1")
    np.testing.assert_allclose(motif.ppm, [[0.75, 0.25, 0, 0], [0, 0, 1, 0]])
    assert motif.nsites == 4.0
    np.testing.assert_array_equal(motif.counts, counts)
    smoothed = Motif.from_counts(counts, name="X", pseudocount=1.0)
    np.testing.assert_allclose(smoothed.ppm[0], [4 / 8, 2 / 8, 1 / 8, 1 / 8])
    assert smoothed.id == "X"
    with pytest.raises(InputError, match="position 2 has no counts"):
        Motif.from_counts([[1, 0, 0, 0], [0, 0, 0, 0]], name="X")


def test_validation_names_motif_and_row():
    with pytest.raises(InputError) as err:
        Motif("SP1", "MA0079.5", [[0.25] * 4, [0.5, 0.5, 0.5, 0.0]])
    assert "row 2" in str(err.value) and "MA0079.5" in str(err.value) and "sums to 1.5" in str(err.value)
    with pytest.raises(InputError, match="negative"):
        Motif("x", "x", [[1.2, -0.2, 0.0, 0.0]])
    with pytest.raises(InputError, match="shape"):
        Motif("x", "x", [[0.5, 0.5, 0.0]])
    with pytest.raises(InputError, match="non-finite"):
        Motif("x", "x", [[np.nan, 0.5, 0.5, 0.0]])
    with pytest.raises(InputError, match="background"):
        Motif("x", "x", [[0.25] * 4], background=[0.5, 0.5, 0.5, 0.5])
    with pytest.raises(InputError, match="needs ppm"):
        Motif("x", "x")
    # within tolerance (3-decimal files) is accepted and kept as given
    motif = Motif("x", "x", [[0.042, 0.042, 0.042, 0.875]])
    assert motif.ppm.sum() == pytest.approx(1.001)


def test_weights_give_normalised_positive_part():
    weights = np.array([[0.2, -0.1, 0.6, 0.0], [-1.0, -2.0, -0.5, -0.1]])
    np.testing.assert_allclose(probabilities_from_weights(weights), [[0.25, 0.0, 0.75, 0.0], [0.25] * 4])
    motif = Motif("cwm", "cwm", weights=weights)
    np.testing.assert_allclose(motif.ppm[0], [0.25, 0.0, 0.75, 0.0])
    np.testing.assert_array_equal(motif.weights, weights)


def test_equality_and_allclose():
    a = Motif("m", "id", [[0.5, 0.5, 0.0, 0.0]], nsites=3)
    b = Motif("m", "id", [[0.5 + 1e-9, 0.5 - 1e-9, 0.0, 0.0]], nsites=3)
    assert a != b and a.allclose(b)
    assert not a.allclose(Motif("other", "id", [[0.5, 0.5, 0.0, 0.0]], nsites=3))
    assert not a.allclose(Motif("m", "id", [[0.5, 0.5, 0.0, 0.0]]))
    assert a == Motif("m", "id", [[0.5, 0.5, 0.0, 0.0]], nsites=3)
    assert "consensus='M'" in repr(a)

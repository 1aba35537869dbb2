"""Attribution and motif logos: letter heights, layout per track, coordinates, boxes, atomic files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from drg.errors import InputError
from drg.plotting import motif_heights, plot_attribution, plot_motif_logo

BASES = "ACGT"


@pytest.fixture
def hand():
    """Two tracks, five positions, hand-chosen values with negatives and zeros."""
    values = np.array([
        [[1.0, 0.0, -0.5, 0.0, 0.25],
         [0.0, 2.0, 0.0, 0.0, 0.0],
         [0.5, 0.0, 0.0, -1.5, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.75]],
        [[0.0, 0.0, 0.0, 3.0, 0.0],
         [-1.0, 0.0, 0.0, 0.0, 0.0],
         [0.0, 0.5, 0.0, 0.0, 0.0],
         [0.0, 0.0, 1.0, 0.0, -0.25]],
    ])
    X = np.zeros((4, 5), dtype=np.int8)
    X[[0, 1, 0, 2, 3], range(5)] = 1  # A C A G T
    return values, X


def _glyph_heights(ax):
    """Signed glyph heights (L, 4) read back from the drawn logomaker glyphs."""
    glyphs = ax.logo.glyph_df
    out = np.zeros((len(glyphs), 4))
    for i, pos in enumerate(glyphs.index):
        for j, base in enumerate(BASES):
            g = glyphs.loc[pos, base]
            out[i, j] = (g.ceiling - g.floor) * (-1 if g.flip else 1)
    return out


def _logo_axes(fig):
    return [ax for ax in fig.axes if hasattr(ax, "logo")]


def test_letters_drawn_at_the_given_heights(hand):
    values, _ = hand
    fig = plot_attribution(values, track_names=["t0", "t1"], ylabel="grad")
    assert isinstance(fig, Figure)
    logos = _logo_axes(fig)
    assert len(fig.axes) == 2 and len(logos) == 2
    for t, ax in enumerate(logos):
        np.testing.assert_allclose(ax.logo.df.to_numpy(), values[t].T)
        np.testing.assert_allclose(_glyph_heights(ax), values[t].T, atol=1e-12)
        assert ax.get_title(loc="left") == f"t{t}" and ax.get_ylabel() == "grad"
    # position 3 of track 0: G below zero with height 1.5
    g = logos[0].logo.glyph_df.loc[3, "G"]
    assert g.flip and g.ceiling == pytest.approx(0.0) and g.floor == pytest.approx(-1.5)


def test_reference_only_heatmap_and_values_beside(hand):
    values, X = hand
    fig = plot_attribution(values, X=X, heatmap=True, track_names=["t0", "t1"], predicted=[1.5, -0.25],
                           measured=[2.0, 0.0])
    logos = _logo_axes(fig)
    # two logo rows, two heatmap rows, one colour bar per heatmap
    assert len(logos) == 2 and len(fig.axes) == 6
    for t, ax in enumerate(logos):
        np.testing.assert_allclose(_glyph_heights(ax), (values[t] * X).T, atol=1e-12)
        heat_ax = fig.axes[fig.axes.index(ax) + 1]
        np.testing.assert_allclose(np.asarray(heat_ax.images[0].get_array()), values[t])
        assert [tick.get_text() for tick in heat_ax.get_yticklabels()] == list(BASES)
        # observed bases are marked on the heatmap
        marks = heat_ax.collections[0].get_offsets()
        np.testing.assert_array_equal(np.asarray(marks)[:, 1], X.argmax(axis=0))
    assert logos[0].get_title(loc="right") == "pred 1.5  meas 2"
    assert logos[1].get_title(loc="right") == "pred -0.25  meas 0"


def test_seed_readme_call_form(hand):
    grad = hand[0][0]
    fig = plot_attribution(grad, heatmap=grad, ylabel="corrected grad")
    logo, heat = fig.axes[0], fig.axes[1]
    assert logo.get_ylabel() == "corrected grad"
    np.testing.assert_allclose(np.asarray(heat.images[0].get_array()), grad)
    with pytest.raises(InputError, match="heatmap"):
        plot_attribution(grad, heatmap=np.zeros((4, 7)))


def test_genomic_coordinates_and_window(hand):
    values, _ = hand
    fig = plot_attribution(values[0], coordinates=("chr2", 1_000_000))
    ax = fig.axes[0]
    assert list(ax.logo.df.index) == list(range(1_000_000, 1_000_005))
    assert ax.get_xlim() == pytest.approx((999_999.5, 1_000_004.5))
    assert ax.get_xlabel() == "chr2 position (0-based)"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(int(text.replace("−", "-")) >= 999_999 for text in labels)
    fig = plot_attribution(values, coordinates=("chr2", 100), window=(101, 104))
    for t, ax in enumerate(_logo_axes(fig)):
        assert list(ax.logo.df.index) == [101, 102, 103]
        np.testing.assert_allclose(ax.logo.df.to_numpy(), values[t][:, 1:4].T)
    with pytest.raises(InputError, match="does not overlap"):
        plot_attribution(values, coordinates=("chr2", 100), window=(0, 50))


def test_motif_boxes(hand):
    values, _ = hand
    fig = plot_attribution(values, track_names=["t0", "t1"], coordinates=("chr1", 10),
                           motif_boxes=[(11, 14, "GATA"), (12, 13, "EBOX", "t1"), (100, 104, "outside")])
    logos = _logo_axes(fig)
    boxes = [[p for p in ax.patches if p.get_gid() == "motif_box"] for ax in logos]
    labels = [[t.get_text() for t in ax.texts if t.get_gid() == "motif_label"] for ax in logos]
    assert [len(b) for b in boxes] == [1, 2]
    assert labels == [["GATA"], ["GATA", "EBOX"]]
    box = boxes[0][0]  # positions 11, 12, 13 span x = 10.5 .. 13.5
    assert (box.get_x(), box.get_x() + box.get_width()) == pytest.approx((10.5, 13.5))
    with pytest.raises(InputError, match="track names"):
        plot_attribution(values, motif_boxes=[(1, 2, "m", "nope")])
    with pytest.raises(InputError, match="motif box"):
        plot_attribution(values, motif_boxes=[(1, 2)])


def test_bad_inputs(hand):
    values, X = hand
    with pytest.raises(InputError, match=r"\(4, L\)"):
        plot_attribution(np.zeros((3, 5)))
    with pytest.raises(InputError, match="X must be"):
        plot_attribution(values, X=X[:, :4])
    with pytest.raises(InputError, match="track names"):
        plot_attribution(values, track_names=["only one"])
    with pytest.raises(InputError, match="one value per track"):
        plot_attribution(values, predicted=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="NaN"):
        plot_attribution(np.full((4, 3), np.nan))


def test_all_zero_logo_has_a_usable_axis():
    fig = plot_attribution(np.zeros((4, 6)))
    assert fig.axes[0].get_ylim() == (-1.0, 1.0)


def test_files_are_written_atomically(hand, tmp_path):
    values, X = hand
    plot_attribution(values, X=X, heatmap=True, path=tmp_path / "logo.png")
    plot_motif_logo(np.full((3, 4), 0.25), path=tmp_path / "motif.pdf")
    assert (tmp_path / "logo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "motif.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logo.png", "motif.pdf"]
    with pytest.raises(InputError, match="unsupported figure format"):
        plot_attribution(values, path=tmp_path / "logo.txt")
    assert not (tmp_path / "logo.txt").exists()


def test_motif_information_content_heights():
    ppm = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]])
    # hand-computed: IC = 2 - H(p) bits for a uniform background
    ic_last = 2.0 + sum(p * np.log2(p) for p in (0.1, 0.2, 0.3, 0.4))
    expected = np.array([[2.0, 0, 0, 0], [0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.1 * ic_last, 0.2 * ic_last,
                                                                          0.3 * ic_last, 0.4 * ic_last]])
    np.testing.assert_allclose(motif_heights(ppm), expected, atol=1e-12)
    fig = plot_motif_logo(ppm)
    ax = fig.axes[0]
    np.testing.assert_allclose(_glyph_heights(ax), expected, atol=1e-12)
    assert ax.get_ylim() == (0.0, 2.0) and ax.get_ylabel() == "bits"
    # a non-uniform background: IC is the relative entropy to it
    bg = np.array([0.4, 0.1, 0.1, 0.4])
    np.testing.assert_allclose(motif_heights(ppm[:1], background=bg), [[np.log2(1 / 0.4), 0, 0, 0]])
    # probabilities and weights
    fig = plot_motif_logo(ppm, kind="probability")
    np.testing.assert_allclose(_glyph_heights(fig.axes[0]), ppm, atol=1e-12)
    weights = np.array([[1.0, -0.5, 0.0, 0.2], [-1.0, 0.0, 2.0, 0.0]])
    fig = plot_motif_logo(weights, kind="weights")
    np.testing.assert_allclose(_glyph_heights(fig.axes[0]), weights, atol=1e-12)


def test_motif_object_and_given_axes():
    from drg.motifs import Motif
    from drg.plotting._style import new_figure

    motif = Motif("GATA1", "MA0035.1", ppm=np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]))
    fig, axes = new_figure(6, 2, nrows=1, ncols=2)
    out = plot_motif_logo(motif, ax=axes[1])
    assert out is fig and hasattr(axes[1], "logo") and not hasattr(axes[0], "logo")
    assert axes[1].get_title() == "GATA1"
    np.testing.assert_allclose(_glyph_heights(axes[1]), [[0, 0, 2, 0], [2, 0, 0, 0]], atol=1e-12)
    fig = plot_motif_logo(motif, kind="weights")
    np.testing.assert_allclose(fig.axes[0].logo.df.to_numpy(), motif.pwm())


def test_motif_bad_inputs():
    with pytest.raises(InputError, match=r"\(L, 4\)"):
        plot_motif_logo(np.ones((3, 5)))
    with pytest.raises(InputError, match="row 2"):
        plot_motif_logo(np.array([[0.25] * 4, [0.5, -0.1, 0.3, 0.3]]))
    with pytest.raises(InputError, match="kind"):
        plot_motif_logo(np.full((2, 4), 0.25), kind="bits")

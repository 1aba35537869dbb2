"""Motif logo grids, effect heatmaps and motif trees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drg.errors import InputError
from drg.motifs import Motif, load_bundled_jaspar
from drg.motifs.io import find_motif
from drg.plotting import (
    motif_distances,
    plot_effect_heatmap,
    plot_motif_logos,
    plot_motif_tree,
)


@pytest.fixture(scope="module")
def motifs():
    db = load_bundled_jaspar()
    chosen = [find_motif(db, n) for n in ("CTCF", "SPI1", "GATA1", "REST")]
    ctcf = chosen[0]
    near = Motif(name="CTCF_like", id="CTCF_like", ppm=0.9 * ctcf.ppm + 0.025, nsites=20)
    return chosen + [near]


def test_logo_grid_has_one_axes_per_motif(motifs, tmp_path):
    fig = plot_motif_logos(motifs, ncols=2, path=tmp_path / "logos.png")
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == [m.name for m in motifs]
    assert all(hasattr(ax, "logo") for ax in fig.axes)
    assert (tmp_path / "logos.png").stat().st_size > 0
    with pytest.raises(InputError, match="titles"):
        plot_motif_logos(motifs, titles=["a"])
    with pytest.raises(InputError, match="no motifs"):
        plot_motif_logos([])


def test_motif_tree_leaves_logos_and_heatmap_rows_agree(motifs, tmp_path):
    effects = pd.DataFrame(np.arange(15, dtype=float).reshape(5, 3) - 7, columns=["t0", "t1", "t2"])
    fig = plot_motif_tree(motifs, effects, path=tmp_path / "tree.png")
    order = fig.motif_order
    assert sorted(order) == list(range(5)) and len(fig.logo_axes) == 5
    assert [ax.get_ylabel() for ax in fig.logo_axes] == [motifs[i].name for i in order]
    image = fig.heatmap_ax.images[0]
    shown = np.asarray(image.get_array())[::-1]  # origin lower: flip to top-to-bottom
    np.testing.assert_array_equal(shown, effects.to_numpy()[order])
    vmin, vmax = image.get_clim()
    assert vmin == -vmax == -7.0  # diverging, centred at 0
    assert [t.get_text() for t in fig.heatmap_ax.get_xticklabels()] == ["t0", "t1", "t2"]
    assert abs(order.index(0) - order.index(4)) == 1  # CTCF and its near copy are neighbours
    assert len(fig.tree_ax.collections[0].get_paths()) == 4  # M - 1 merges
    assert (tmp_path / "tree.png").stat().st_size > 0


def test_motif_tree_without_effects_and_errors(motifs):
    fig = plot_motif_tree(motifs[:3], distances=np.array([[0, 0.1, 0.9], [0.1, 0, 0.9], [0.9, 0.9, 0]]))
    assert fig.heatmap_ax is None and len(fig.logo_axes) == 3
    assert abs(fig.motif_order.index(0) - fig.motif_order.index(1)) == 1
    single = plot_motif_tree(motifs[:1], np.ones((1, 2)))
    assert single.motif_order == [0]
    with pytest.raises(InputError, match="rows"):
        plot_motif_tree(motifs, np.zeros((2, 3)))
    with pytest.raises(InputError, match="distances"):
        plot_motif_tree(motifs, distances=np.zeros((2, 2)))


def test_motif_distances_symmetric(motifs):
    d = motif_distances(motifs)
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)
    assert d[0, 4] < 1e-6 < d[1, 2]


def test_effect_heatmap_rows(tmp_path):
    values = pd.DataFrame([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]], index=["k0", "k1", "k2"], columns=["a", "b"])
    fig = plot_effect_heatmap(values, path=tmp_path / "heat.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["k2", "k1", "k0"]  # first row at the top
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array())[::-1], values.to_numpy())
    assert ax.images[0].get_clim() == (-3.0, 3.0)
    clustered = plot_effect_heatmap(values.to_numpy(), cluster_rows=True, track_names=["a", "b"])
    assert len(clustered.axes[0].get_yticklabels()) == 3
    with pytest.raises(InputError, match="track names"):
        plot_effect_heatmap(values, track_names=["a"])


def test_motif_tree_rows_line_up_on_the_page(motifs):
    """Leaf k of the tree, logo row k and heatmap row k sit at the same height of the figure."""
    effects = np.arange(15, dtype=float).reshape(5, 3)
    fig = plot_motif_tree(motifs, effects, track_names=["a_long_track_name", "b", "c"], title="t")
    to_fig = fig.transFigure.inverted()
    heat, tree = fig.heatmap_ax, fig.tree_ax
    for row, ax in enumerate(fig.logo_axes):  # top to bottom
        box = ax.get_position()
        logo_y = (box.y0 + box.y1) / 2
        heat_y = to_fig.transform(heat.transData.transform((0, len(motifs) - 1 - row)))[1]
        tree_y = to_fig.transform(tree.transData.transform((0, 10 * (len(motifs) - 1 - row) + 5)))[1]
        assert logo_y == pytest.approx(heat_y, abs=1e-6)
        assert logo_y == pytest.approx(tree_y, abs=1e-6)

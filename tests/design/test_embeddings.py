"""Embeddings: forward-hook extraction against manual forward passes, PCA against scikit-learn, track vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from drg.design.embeddings import (
    Embedding2D,
    embed_2d,
    extract_embeddings,
    find_layer,
    layer_names,
    track_vectors,
)
from drg.errors import DRGError, InputError
from drg.models import build


def _onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), dtype=np.int8)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    return X


def _cnn(**extra):
    cfg = {"input_length": 30, "first_layer": {"n_kernels": 6, "kernel_size": 5},
           "tower": {"n_layers": 2, "kernel_size": 3, "dilations": [1, 2], "batch_norm": True},
           "reduction": "max", "shared_fc": {"n_layers": 1, "size": 12},
           "heads": [{"name": "a", "n_outputs": 3, "track_names": ["t0", "t1", "t2"]},
                     {"name": "b", "n_outputs": 2, "track_names": ["u0", "u1"], "fc_layers": 1, "fc_size": 7}],
           **extra}
    model = build(cfg)
    with torch.no_grad():  # non-trivial batch-norm statistics so eval mode matters
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


def test_default_layer_is_the_heads_input():
    model = _cnn()
    X = _onehot(37, 30)
    got = extract_embeddings(model, X, batch_size=8, device="cpu")
    model.eval()
    with torch.no_grad():
        x = model.features(torch.from_numpy(X.astype(np.float32)))
        manual = model.shared_fc(x.amax(dim=-1)).numpy()
    assert got.dtype == np.float32 and got.shape == (37, 12)
    np.testing.assert_allclose(got, manual, rtol=1e-5, atol=1e-6)
    # The heads' own computation from these vectors reproduces the model output.
    with torch.no_grad():
        out = model(torch.from_numpy(X.astype(np.float32)))
        np.testing.assert_allclose(model.heads[1](torch.from_numpy(got)).numpy(), out[1].numpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("reduce", ["mean", "max", "flatten"])
def test_named_layer_equals_manual_forward_to_it(reduce):
    model = _cnn()
    model.train()
    X = _onehot(11, 30, seed=1)
    got = extract_embeddings(model, X, layer="tower", reduce=reduce, batch_size=4, device="cpu")
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        x = model.tower(model.first_layer(torch.from_numpy(X.astype(np.float32))))
    expected = {"mean": x.mean(-1), "max": x.amax(-1), "flatten": x.reshape(len(X), -1)}[reduce].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not [h for m in model.modules() for h in (m._forward_hooks, m._forward_pre_hooks) if h]


def test_layer_not_called_as_a_module_is_an_error():
    model = _cnn()
    # The tower calls its layers' parts directly, never the layer modules themselves.
    with pytest.raises(InputError, match="'tower.layers.0' was not used in the forward pass"):
        extract_embeddings(model, _onehot(3, 30), layer="tower.layers.0", device="cpu")
    assert not [h for m in model.modules() for h in (m._forward_hooks, m._forward_pre_hooks) if h]


def test_two_dimensional_layer_output_and_tensor_input():
    model = _cnn()
    X = torch.from_numpy(_onehot(5, 30, seed=2).astype(np.float32))
    got = extract_embeddings(model, X, layer="heads.0.linear", device="cpu")
    with torch.no_grad():
        np.testing.assert_allclose(got, model.eval()(X)[0].numpy(), rtol=1e-5, atol=1e-6)


def test_layer_name_error_suggests_closest_and_lists_layers():
    model = _cnn()
    with pytest.raises(InputError, match=r"no layer 'tower.layer.0'; did you mean 'tower.layers.0'\?") as err:
        extract_embeddings(model, _onehot(2, 30), layer="tower.layer.0")
    assert "first_layer.conv" in str(err.value) and "heads.1.linear" in str(err.value)
    assert "heads.0.linear" in layer_names(model) and find_layer(model, "heads.0.linear") is model.heads[0].linear
    with pytest.raises(InputError, match="unknown reduce"):
        extract_embeddings(model, _onehot(2, 30), reduce="median")
    with pytest.raises(InputError, match=r"expected \(N, 4, L\)"):
        extract_embeddings(model, np.zeros((4, 30)))


def test_model_without_heads_uses_last_linear_input():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 8, 6), nn.ReLU(),
                          nn.Linear(6, 2))
    X = _onehot(9, 10, seed=3)
    got = extract_embeddings(model, X, device="cpu")
    with torch.no_grad():
        manual = model[:5](torch.from_numpy(X.astype(np.float32))).numpy()
    np.testing.assert_allclose(got, manual, rtol=1e-6)


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    values = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6)) + 3.0
    emb = embed_2d(values, method="pca")
    ref = PCA(n_components=2).fit(values)
    coords = ref.transform(values)
    for k in range(2):
        sign = np.sign(np.dot(emb.coordinates[:, k], coords[:, k]))
        np.testing.assert_allclose(emb.coordinates[:, k], sign * coords[:, k], atol=1e-9)
    np.testing.assert_allclose(emb.explained_variance, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(emb.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10)
    assert isinstance(emb, Embedding2D) and emb.method == "pca"
    assert emb.axis_labels()[0].startswith("PC1 (")


def test_pca_hand_computed_and_degenerate_cases():
    # Points on a line y = 2x: all variance on PC1, PC2 is zero.
    values = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])
    emb = embed_2d(values)
    np.testing.assert_allclose(np.abs(emb.coordinates[:, 0]), np.sqrt(5) * np.array([1, 0, 1]), atol=1e-12)
    np.testing.assert_allclose(emb.coordinates[:, 1], 0, atol=1e-12)
    np.testing.assert_allclose(emb.explained_variance_ratio, [1.0, 0.0], atol=1e-12)
    one_d = embed_2d(np.array([[1.0], [3.0]]))  # one feature: second axis is 0
    np.testing.assert_allclose(np.abs(one_d.coordinates[:, 0]), [1, 1])
    assert np.all(one_d.coordinates[:, 1] == 0)
    with pytest.raises(InputError, match="at least 2 vectors"):
        embed_2d(np.ones((1, 3)))
    with pytest.raises(InputError, match="NaN or infinite"):
        embed_2d(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_tsne_keeps_clusters_apart_and_umap_needs_its_package():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 0.1, (15, 5)), rng.normal(5, 0.1, (15, 5))])
    emb = embed_2d(values, method="tsne", seed=0, max_iter=300)
    assert emb.coordinates.shape == (30, 2) and emb.explained_variance is None
    # Every point's nearest neighbour on the map comes from its own cluster.
    d = np.linalg.norm(emb.coordinates[:, None] - emb.coordinates[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.array_equal(np.argmin(d, axis=1) // 15, np.arange(30) // 15)
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(DRGError, match="pip install umap-learn"):
            embed_2d(values, method="umap")
    else:
        assert embed_2d(values, method="umap", n_neighbors=5).coordinates.shape == (30, 2)
    with pytest.raises(InputError, match="unknown method"):
        embed_2d(values, method="mds")


def test_track_vectors_are_last_linear_rows():
    model = _cnn()
    # Head "b" has an FC tower of width 7 before its linear layer; head "a" reads the 12-wide shared vector.
    with pytest.raises(InputError, match="different sizes"):
        track_vectors(model)
    one = track_vectors(model, head="b")
    assert list(one.names) == ["u0", "u1"] and one.layers == ["heads.1.linear"]
    np.testing.assert_array_equal(one.values, model.heads[1].linear.weight.detach().numpy())
    a = track_vectors(model, head=0)
    assert list(a.names) == ["t0", "t1", "t2"]
    np.testing.assert_array_equal(a.values, model.heads[0].linear.weight.detach().numpy())
    with pytest.raises(InputError, match="unknown head"):
        track_vectors(model, head="c")
    same = build({"input_length": 20, "first_layer": {"n_kernels": 4, "kernel_size": 5}, "reduction": "mean",
                  "heads": [{"name": "x", "n_outputs": 3}, {"name": "y", "n_outputs": 2}]})
    both = track_vectors(same)
    assert both.values.shape == (5, 4) and list(both.names) == [f"track_{i}" for i in range(5)]
    np.testing.assert_array_equal(both.values[3:], same.heads[1].linear.weight.detach().numpy())
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 6))
    np.testing.assert_array_equal(track_vectors(plain).values, plain[2].weight.detach().numpy())


def test_plot_embedding_legend_colour_bar_and_labels():
    from drg.plotting.embeddings import is_categorical, plot_embedding

    emb = embed_2d(np.random.default_rng(0).normal(size=(9, 3)))
    groups = np.array(["b", "a", "b", None, "a", "b", "", "a", "b"], dtype=object)
    fig = plot_embedding(emb, color=groups, color_name="group")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (3)", "b (4)", "NA (2)"]
    assert ax.get_legend().get_title().get_text() == "group" and ax.get_xlabel().startswith("PC1 (")
    fig = plot_embedding(emb.coordinates, color=np.arange(9.0), color_name="score", labels=list("abcdefghi"),
                         max_labels=4)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "score"  # colour bar
    assert [t.get_text() for t in fig.axes[0].texts] == ["a", "b", "c", "d"]
    assert is_categorical(["x", "y"]) and is_categorical([True, False]) and not is_categorical([1.5, 2.0])
    with pytest.raises(InputError, match="one per point"):
        plot_embedding(emb, color=[1, 2])
    with pytest.raises(InputError, match=r"expected \(N, 2\)"):
        plot_embedding(np.zeros((3, 3)))

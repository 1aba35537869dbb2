from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

import drg.attribution as A
from drg.attribution.tracks import read_track_groups, resolve_tracks
from drg.errors import InputError

from ._toy import SmallCNN, TwoHeads, TwoInputs, make, one_hot

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@pytest.fixture(scope="module")
def model():
    return make(SmallCNN)


@pytest.fixture(scope="module")
def x():
    return one_hot(3, 30, seed=1)


@pytest.mark.parametrize("output", ["corrected", "hypothetical", "local", "global", "tism"])
def test_takegrad_shapes(model, x, output):
    assert A.takegrad(x, model, tracks=2, output=output).shape == (3, 1, 4, 30)
    got = A.takegrad(x, model, tracks=[0, 3], output=output, device="cpu")
    assert got.shape == (3, 2, 4, 30) and got.dtype == np.float32
    assert A.takegrad(x, model, output=output, device="cpu").shape == (3, 4, 4, 30)


def test_takegrad_readme_identity(model, x):
    cor = A.takegrad(x, model, tracks=1, output="corrected", device=None, baseline=None)
    hyp = A.takegrad(x, model, tracks=1, output="hypothetical", device=None, baseline=np.ones(4) * 0.25)
    np.testing.assert_allclose(cor, hyp, atol=1e-6)


def test_input_gauge_and_torch_input(model, x):
    g = A.attribute(model, torch.from_numpy(x), "gradient", gauge="input", device="cpu")
    loc = A.attribute(model, x, "gradient", gauge="local", device="cpu")
    np.testing.assert_allclose(g, loc * x[:, None], atol=1e-7)


def test_track_names_groups_and_all(model, x):
    loc = A.attribute(model, x, "gradient", gauge="local", device="cpu")
    by_name = A.attribute(model, x, "gradient", tracks=["cell3", "cell0"], gauge="local", device="cpu")
    np.testing.assert_allclose(by_name, loc[:, [3, 0]], atol=1e-7)
    np.testing.assert_allclose(A.attribute(model, x, "gradient", tracks="all", gauge="local", device="cpu"), loc)
    grouped = A.attribute(model, x, "gradient", tracks={"ab": ["cell0", "cell1"], "c": [2]}, gauge="local",
                          device="cpu")
    np.testing.assert_allclose(grouped[:, 0], loc[:, :2].mean(1), atol=1e-6)
    np.testing.assert_allclose(grouped[:, 1], loc[:, 2], atol=1e-6)
    ism = A.attribute(model, x, "ism", tracks={"ab": [0, 1]}, gauge="raw", device="cpu")
    np.testing.assert_allclose(ism[:, 0], A.ism(x, model, tracks=[0, 1]).mean(1), atol=1e-6)
    with pytest.raises(InputError, match="did you mean 'cell1'"):
        A.attribute(model, x, "gradient", tracks="cel1", device="cpu")
    with pytest.raises(InputError):
        A.attribute(model, x, "gradient", tracks=9, device="cpu")


def test_read_track_groups(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# track class\ncell0 T\ncell1 T\n\ncell2 B\n")
    assert read_track_groups(path) == {"T": ["cell0", "cell1"], "B": ["cell2"]}
    sel = resolve_tracks(read_track_groups(path), 3, ["cell0", "cell1", "cell2"])
    assert sel.names == ["T", "B"] and sel.groups == [[0, 1], [2]]
    np.testing.assert_allclose(sel.weights(), [[0.5, 0.5, 0], [0, 0, 1]])
    bad = tmp_path / "bad.txt"
    bad.write_text("cell0 T\ncell1 T extra\n")
    with pytest.raises(InputError, match="line 2"):
        read_track_groups(bad)


def test_batch_size_does_not_change_results(model, x):
    for method, gauge in [("gradient", "hypothetical"), ("tism", "raw"), ("ism", "raw")]:
        a = A.attribute(model, x, method, gauge=gauge, batch_size=1, device="cpu")
        b = A.attribute(model, x, method, gauge=gauge, batch_size=64, device="cpu")
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_heads_and_multi_input(x):
    two = make(TwoHeads)
    got = A.attribute(two, x, "gradient", tracks=[1], head=1, gauge="local", device="cpu")
    np.testing.assert_allclose(got, A.attribute(two.body, x, "gradient", tracks=[3], gauge="local", device="cpu"),
                               atol=1e-6)
    multi = make(TwoInputs)
    x2 = one_hot(3, 20, seed=4)
    out = A.attribute(multi, [x, x2], "tism", tracks=[0], gauge="raw", device="cpu")
    assert isinstance(out, list) and out[0].shape == (3, 1, 4, 30) and out[1].shape == (3, 1, 4, 20)


def test_bad_arguments(model, x):
    with pytest.raises(InputError):
        A.attribute(model, x, "saliency")
    with pytest.raises(InputError):
        A.attribute(model, x, "ism", gauge="tism")
    with pytest.raises(InputError):
        A.attribute(model, x[0], "gradient")
    with pytest.raises(InputError):
        A.attribute(model, x, "gradient", baseline=np.ones(3), gauge="hypothetical")


def test_reference_methods_receive_selected_model(monkeypatch, model, x):
    seen = {}

    def fake(wrapped, X, tracks, *, gauge, baseline, device, verbose, **kwargs):
        seen.update(tracks=tracks, gauge=gauge, kwargs=kwargs)
        with torch.no_grad():
            y = wrapped(X)
        seen["y"] = y
        return np.zeros((X.shape[0], len(tracks), *X.shape[1:]), dtype=np.float32)

    fake_module = types.ModuleType("drg.attribution.deeplift")
    fake_module.deeplift_shap = fake
    monkeypatch.setitem(sys.modules, "drg.attribution.deeplift", fake_module)
    out = A.deepliftshap(x, model, tracks={"g": [0, 2]}, n_shuffles=3)
    assert out.shape == (3, 1, 4, 30)
    assert seen["tracks"] == [0] and seen["gauge"] == "hypothetical" and seen["kwargs"] == {"n_shuffles": 3}
    with torch.no_grad():
        want = model(torch.from_numpy(x))[:, [0, 2]].mean(1, keepdim=True)
    np.testing.assert_allclose(seen["y"].numpy(), want.numpy(), atol=1e-6)

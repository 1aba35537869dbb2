"""``drg attribute`` for a multi-input model: one file per input equal to the API's values, rows matched by name,
logos per input, and clear errors for mismatched input counts and unsupported methods."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from drg.attribution import attribute, read_attributions
from drg.cli.main import app
from drg.errors import InputError

N, L0, L1 = 5, 24, 18
TRACKS = ["expr", "other"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["attribute", *[str(a) for a in args]], catch_exceptions=False)


def _onehot(rng, n, length):
    return np.eye(4, dtype=np.int8)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """An untrained two-input model saved as a model directory; the second input's file stores its rows shuffled."""
    from drg.data import write_onehot_npz
    from drg.models import build, save_model

    root = tmp_path_factory.mktemp("attr_multi")
    trunk = {"first_layer": {"n_kernels": 6, "kernel_size": 5}, "reduction": "max", "heads": [{"n_outputs": 3}]}
    model = build({"kind": "multi_input", "n_inputs": 2, "seed": 2,
                   "trunks": [{**trunk, "input_length": L0}, {**trunk, "input_length": L1}],
                   "outputs": [{"name": "rna", "inputs": [0, 1], "function": "network", "n_outputs": 2,
                                "track_names": TRACKS}]})
    save_model(model, root / "model")
    single = build({"input_length": L0, "first_layer": {"n_kernels": 4, "kernel_size": 5}, "reduction": "max",
                    "heads": [{"n_outputs": 2}], "seed": 1})
    save_model(single, root / "single")
    rng = np.random.default_rng(7)
    names = np.array([f"gene{i}" for i in range(N)])
    X0, X1 = _onehot(rng, N, L0), _onehot(rng, N, L1)
    order = np.array([3, 0, 4, 1, 2])
    write_onehot_npz(root / "a.npz", X0, names)
    write_onehot_npz(root / "b.npz", X1, names)
    write_onehot_npz(root / "b_perm.npz", X1[order], names[order])
    write_onehot_npz(root / "b_short.npz", X1[:-1], names[:-1])
    return {"root": root, "model": model, "dir": root / "model", "single": root / "single", "names": names,
            "X": [X0, X1]}


def _oracle(kit, method, tracks, gauge):
    xs = [x.astype(np.float32) for x in kit["X"]]
    return attribute(kit["model"], xs, method, tracks, gauge, device="cpu")


@pytest.mark.parametrize("method,gauge,suffix", [("tism", "raw", ".npz"), ("gradient", "hypothetical", ".h5"),
                                                 ("ism", "raw", ".npz")])
def test_per_input_files_equal_the_api(kit, tmp_path, method, gauge, suffix):
    root = kit["root"]
    out = tmp_path / f"att{suffix}"
    res = invoke("--model", kit["dir"], "--npz", f"{root / 'a.npz'},{root / 'b.npz'}", "--method", method,
                 "--tracks", "other,0", "--out", out, "--device", "cpu", "--chunk-size", 2, "--quiet")
    assert res.exit_code == 0, res.output
    assert not out.exists()
    expected = _oracle(kit, method, ["other", 0], gauge)
    assert len(expected) == 2
    for i, (X, want) in enumerate(zip(kit["X"], expected)):
        a = read_attributions(tmp_path / f"att.input{i}{suffix}")
        assert a.values.shape == (N, 2, 4, X.shape[2])
        np.testing.assert_allclose(np.asarray(a.values), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(a.X), X)
        assert list(a.names) == list(kit["names"]) and list(a.tracks) == ["other", "expr"]
        assert (a.method, a.gauge) == (method, gauge)
        assert a.model_info["model"] == str(kit["dir"].resolve())
        assert a.model_info["input"] == i and a.model_info["n_inputs"] == 2
        assert a.model_info["input_files"] == [str(root / "a.npz"), str(root / "b.npz")]
    if method != "gradient":  # raw deltas are 0 at the observed base of each input
        assert all(np.all(want * X[:, None] == 0) for X, want in zip(kit["X"], expected))


def test_rows_of_the_second_file_are_matched_by_name(kit, tmp_path):
    root = kit["root"]
    res = invoke("--model", kit["dir"], "--npz", f"{root / 'a.npz'},{root / 'b_perm.npz'}", "--method", "tism",
                 "--out", tmp_path / "p.npz", "--device", "cpu", "--quiet")
    assert res.exit_code == 0, res.output
    expected = _oracle(kit, "tism", "all", "raw")
    for i in range(2):
        a = read_attributions(tmp_path / f"p.input{i}.npz")
        assert list(a.names) == list(kit["names"])  # the first file's order
        np.testing.assert_array_equal(np.asarray(a.X), kit["X"][i])
        np.testing.assert_allclose(np.asarray(a.values), expected[i], rtol=1e-5, atol=1e-6)


def test_logos_for_each_input(kit, tmp_path):
    root = kit["root"]
    res = invoke("--model", kit["dir"], "--npz", f"{root / 'a.npz'},{root / 'b.npz'}", "--out", tmp_path / "l.h5",
                 "--plot", 1, "--plot-names", "gene3", "--device", "cpu", "--quiet")
    assert res.exit_code == 0, res.output
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["l.input0.logo.gene0.png", "l.input0.logo.gene3.png", "l.input1.logo.gene0.png",
                    "l.input1.logo.gene3.png"]
    assert all((tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_errors(kit, tmp_path):
    root = kit["root"]
    both = f"{root / 'a.npz'},{root / 'b.npz'}"
    out = tmp_path / "e.npz"
    with pytest.raises(InputError, match=r"takes 2 sequence input\(s\) but --npz gives 1 file"):
        invoke("--model", kit["dir"], "--npz", root / "a.npz", "--out", out, "--quiet")
    with pytest.raises(InputError, match=r"takes 1 sequence input\(s\) but --npz gives 2 file"):
        invoke("--model", kit["single"], "--npz", both, "--out", out, "--quiet")
    with pytest.raises(InputError, match=r"takes 2 sequence inputs but 1 was given"):
        invoke("--model", kit["dir"], "--fasta", root / "x.fa", "--out", out, "--quiet")
    with pytest.raises(InputError, match=r"--method deeplift_shap does not support multi-input models; use one of "
                                         r"gradient, tism, ism"):
        invoke("--model", kit["dir"], "--npz", both, "--method", "deeplift_shap", "--out", out, "--quiet")
    with pytest.raises(InputError, match=r"b_short\.npz.*1 name\(s\) of .*a\.npz are missing here"):
        invoke("--model", kit["dir"], "--npz", f"{root / 'a.npz'},{root / 'b_short.npz'}", "--out", out, "--quiet")
    with pytest.raises(InputError, match="--devices .*single-input models only"):
        invoke("--model", kit["dir"], "--npz", both, "--devices", 2, "--out", out, "--quiet")
    assert not list(tmp_path.iterdir())


def test_single_input_model_unchanged(kit, tmp_path):
    from drg.models import load_model

    root = kit["root"]
    res = invoke("--model", kit["single"], "--npz", root / "a.npz", "--out", tmp_path / "s.npz", "--device", "cpu",
                 "--quiet")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]
    a = read_attributions(tmp_path / "s.npz")
    want = attribute(load_model(kit["single"]), kit["X"][0].astype(np.float32), "tism", "all", "raw", device="cpu")
    np.testing.assert_allclose(a.values, want, rtol=1e-6, atol=1e-7)
    assert "input" not in a.model_info and list(a.names) == list(kit["names"])
